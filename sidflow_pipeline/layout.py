"""Where every file of a SIDFlow project lives: the one owner of the data layout.

Every path of ``docs/artifacts.md`` is spelled here once; assets, the CLI, checks and
tests ask a :class:`Layout` (``config.layout``) instead of joining folder names
themselves, so moving an artifact is a one-line change and nothing can disagree on
where it is. The roots come from ``.sidflow.json`` (``dataPath``, ``hvscPath``,
``wavCachePath``, ``tagsPath``, ``classifiedPath``); everything else is derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """The project's folders and files under the configured roots."""

    data: Path
    hvsc: Path
    wav_cache: Path
    tags: Path | None
    classified: Path

    # --- HVSC ---------------------------------------------------------------------------

    @property
    def hvsc_root(self) -> Path:
        """The ``C64Music`` folder: ``hvscPath`` may name it or the folder holding it."""
        nested = self.hvsc / "C64Music"
        return nested if nested.is_dir() or not (self.hvsc / "DOCUMENTS").is_dir() else self.hvsc

    @property
    def hvsc_manifest(self) -> Path:
        """The installed tree's manifest (travels with the tree, not committed)."""
        return self.hvsc / "hvsc-version.json"

    @property
    def hvsc_manifest_copy(self) -> Path:
        """The committed copy of the manifest in ``dataPath``."""
        return self.data / "hvsc-version.json"

    @property
    def path_moves(self) -> Path:
        """Append-only history of renamed tunes (old → new path)."""
        return self.hvsc / "path-moves.jsonl"

    @property
    def hvsc_downloads(self) -> Path:
        return self.data / ".hvsc.downloads"

    @property
    def hvsc_staging(self) -> Path:
        return self.data / ".hvsc.staging"

    @property
    def hvsc_previous(self) -> Path:
        return self.data / ".hvsc.previous"

    # --- catalog, classification ------------------------------------------------------------

    @property
    def catalog(self) -> Path:
        return self.data / "catalog" / "sid_catalog.parquet"

    def render_index_file(self, partition_stem: str) -> Path:
        """One section's render records (which cached excerpt belongs to which song)."""
        return self.wav_cache / "index" / f"{partition_stem}.jsonl"

    @property
    def features_dir(self) -> Path:
        return self.data / "features"

    def features_file(self, partition_stem: str) -> Path:
        return self.features_dir / f"{partition_stem}.jsonl"

    def classified_file(self, partition_stem: str) -> Path:
        return self.classified / f"{partition_stem}.jsonl"

    @property
    def auto_tags_dir(self) -> Path:
        return self.classified / "auto-tags"

    # --- the rating model -----------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        return self.data / "model"

    @property
    def training_dir(self) -> Path:
        return self.data / "training"

    @property
    def training_log(self) -> Path:
        return self.training_dir / "training-log.jsonl"

    @property
    def training_samples(self) -> Path:
        return self.training_dir / "training-samples.jsonl"

    @property
    def training_inputs(self) -> Path:
        return self.training_dir / "training-inputs.jsonl"

    # --- feedback and the database --------------------------------------------------------

    @property
    def feedback_dir(self) -> Path:
        """``YYYY/MM/DD/events.jsonl`` below it, append-only."""
        return self.data / "feedback"

    @property
    def feedback_aggregates(self) -> Path:
        return self.data / "feedback-aggregates.parquet"

    @property
    def sessions_dir(self) -> Path:
        return self.data / "sessions"

    @property
    def discovery_history(self) -> Path:
        """Append-only: the songs each radio session surfaced (recommend/history.py), beside the feedback log."""
        return self.data / "discovery-history.jsonl"

    @property
    def station_playlists_dir(self) -> Path:
        """``<station>.m3u`` + ``<station>.json`` per configured station (the station_playlists asset)."""
        return self.data / "playlists" / "stations"

    @property
    def lance_db(self) -> Path:
        return self.data / "sidflow.lance"

    @property
    def lance_manifest(self) -> Path:
        return self.data / "sidflow.lance.manifest.json"

    @property
    def cache_dir(self) -> Path:
        """Derived, disposable speed-ups for the CLI (never committed)."""
        return self.data / "cache"

    # --- mastering ------------------------------------------------------------------------

    @property
    def profiles_dir(self) -> Path:
        return self.data / "profiles"

    @property
    def mastering_feedback_dir(self) -> Path:
        return self.data / "mastering-feedback"
