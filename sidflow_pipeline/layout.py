"""Where every file of a SIDFlow project lives: the one owner of the data layout.

Every path of ``docs/artifacts.md`` is spelled here once; assets, the CLI, checks and
tests ask a :class:`Layout` (``config.layout``) instead of joining folder names
themselves, so moving an artifact is a one-line change and nothing can disagree on
where it is. The roots come from ``.sidflow.json`` (``dataPath``, ``hvscPath``,
``wavCachePath``, ``tagsPath``, ``classifiedPath``); everything else is derived.

Domain functions that take a folder (so a test can hand them any folder) join the
file names below themselves; the code that decides *which* folder asks ``Layout``.
``sidflow_pipeline_tests/test_layout.py`` fails when one of these names is spelled as a
path anywhere else in the package. Light on purpose: the CLI imports it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AUTO_TAGS_DIR",
    "AUTO_TAGS_FILE",
    "CACHE_DIR",
    "CATALOG_DIR",
    "CATALOG_FILE",
    "DEFAULT_CLASSIFIED_PATH",
    "DEFAULT_DATA_PATH",
    "DEFAULT_HVSC_PATH",
    "DEFAULT_HVSC_SOURCE",
    "DEFAULT_TAGS_PATH",
    "DEFAULT_WAV_CACHE_PATH",
    "FEATURES_DIR",
    "FEATURE_STATS",
    "FEEDBACK_AGGREGATES",
    "FEEDBACK_DAY_FILE",
    "FEEDBACK_DIR",
    "HVSC_MANIFEST",
    "HVSC_TREE",
    "LANCE_DB",
    "LANCE_MANIFEST",
    "MASTERING_FEEDBACK_DIR",
    "MASTERING_PATTERNS",
    "MASTERING_RATINGS",
    "MODEL_DIR",
    "MODEL_METADATA",
    "PATH_MOVES",
    "PROFILES_DIR",
    "PROFILE_VERSIONS",
    "RENDER_INDEX_DIR",
    "SESSIONS_DIR",
    "SNAPSHOT_FILE",
    "TRAINING_DIR",
    "TRAINING_INPUTS",
    "TRAINING_LOG",
    "TRAINING_SAMPLES",
    "Layout",
    "booster_file",
    "hvsc_downloads",
    "hvsc_staging",
]

# --- the configured roots' defaults (relative to the config file) ----------------------
DEFAULT_DATA_PATH = Path("data")
DEFAULT_HVSC_PATH = Path("data/hvsc")
DEFAULT_HVSC_SOURCE = "data/mirror"
DEFAULT_WAV_CACHE_PATH = Path("data/wav-cache")
DEFAULT_TAGS_PATH = Path("data/tags")
DEFAULT_CLASSIFIED_PATH = Path("data/classified")

# --- names below the roots ------------------------------------------------------------
RENDER_INDEX_DIR = "index"  # below wavCachePath
HVSC_TREE = "C64Music"  # the collection folder, exactly as HVSC ships it
HVSC_MANIFEST = "hvsc-version.json"
PATH_MOVES = "path-moves.jsonl"
CATALOG_DIR = "catalog"
CATALOG_FILE = "sid_catalog.parquet"
FEATURES_DIR = "features"
AUTO_TAGS_DIR = "auto-tags"
AUTO_TAGS_FILE = "auto-tags.json"
MODEL_DIR = "model"
FEATURE_STATS = "feature-stats.json"
MODEL_METADATA = "model-metadata.json"
TRAINING_DIR = "training"
TRAINING_LOG = "training-log.jsonl"
TRAINING_SAMPLES = "training-samples.jsonl"
TRAINING_INPUTS = "training-inputs.jsonl"
FEEDBACK_DIR = "feedback"
FEEDBACK_DAY_FILE = "events.jsonl"  # feedback/YYYY/MM/DD/events.jsonl
FEEDBACK_AGGREGATES = "feedback-aggregates.parquet"
SESSIONS_DIR = "sessions"
LANCE_DB = "sidflow.lance"
LANCE_MANIFEST = "sidflow.lance.manifest.json"
CACHE_DIR = "cache"
SNAPSHOT_FILE = "recommend-snapshot.npz"
PROFILES_DIR = "profiles"
PROFILE_VERSIONS = "versions.json"
MASTERING_FEEDBACK_DIR = "mastering-feedback"
MASTERING_RATINGS = "ratings.jsonl"
MASTERING_PATTERNS = "patterns.json"


def booster_file(model_dir: Path, dim: str) -> Path:
    """One LightGBM booster of the rating model (derived, not in git)."""
    return model_dir / f"model-{dim}.txt"


def hvsc_staging(hvsc_path: Path) -> Path:
    """The tree a sync builds before it swaps it in: a sibling of ``hvscPath`` (same file
    system, so the swap is two renames)."""
    return hvsc_path.with_name(f".{hvsc_path.name}.staging")


def hvsc_downloads(hvsc_path: Path) -> Path:
    """Resumable downloads of a sync, a sibling of ``hvscPath``."""
    return hvsc_path.with_name(f".{hvsc_path.name}.downloads")


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
    def hvsc_tree(self) -> Path:
        """Where a sync installs the collection: ``hvscPath/C64Music``."""
        return self.hvsc / HVSC_TREE

    @property
    def hvsc_root(self) -> Path:
        """The ``C64Music`` folder: ``hvscPath`` may name it or the folder holding it."""
        nested = self.hvsc_tree
        return nested if nested.is_dir() or not (self.hvsc / "DOCUMENTS").is_dir() else self.hvsc

    @property
    def tags_roots(self) -> list[Path]:
        """Where manual ratings are read from, first wins: ``tagsPath``, then beside the SIDs."""
        return [root for root in (self.tags, self.hvsc_root) if root is not None]

    @property
    def hvsc_manifest(self) -> Path:
        """The installed tree's manifest (travels with the tree, not committed)."""
        return self.hvsc / HVSC_MANIFEST

    @property
    def hvsc_manifest_copy(self) -> Path:
        """The committed copy of the manifest in ``dataPath``."""
        return self.data / HVSC_MANIFEST

    @property
    def path_moves(self) -> Path:
        """Append-only history of renamed tunes (old → new path)."""
        return self.hvsc / PATH_MOVES

    @property
    def hvsc_downloads(self) -> Path:
        return hvsc_downloads(self.hvsc)

    @property
    def hvsc_staging(self) -> Path:
        return hvsc_staging(self.hvsc)

    @property
    def hvsc_previous(self) -> Path:
        """The swap's backup of the old tree (named by :func:`sidflow_pipeline.atomic.swap_backup`)."""
        from sidflow_pipeline.atomic import swap_backup

        return swap_backup(self.hvsc)

    # --- catalog, classification ------------------------------------------------------------

    @property
    def catalog(self) -> Path:
        return self.data / CATALOG_DIR / CATALOG_FILE

    @property
    def features_dir(self) -> Path:
        return self.data / FEATURES_DIR

    def render_index_file(self, partition_stem: str) -> Path:
        """One section's render records (which cached excerpt belongs to which song)."""
        return self.wav_cache / RENDER_INDEX_DIR / f"{partition_stem}.jsonl"

    def features_file(self, partition_stem: str) -> Path:
        return self.features_dir / f"{partition_stem}.jsonl"

    def classified_file(self, partition_stem: str) -> Path:
        return self.classified / f"{partition_stem}.jsonl"

    @property
    def auto_tags_dir(self) -> Path:
        return self.classified / AUTO_TAGS_DIR

    # --- the rating model -----------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        return self.data / MODEL_DIR

    @property
    def model_metadata(self) -> Path:
        return self.model_dir / MODEL_METADATA

    @property
    def feature_stats(self) -> Path:
        return self.model_dir / FEATURE_STATS

    def booster(self, dim: str) -> Path:
        return booster_file(self.model_dir, dim)

    @property
    def training_dir(self) -> Path:
        return self.data / TRAINING_DIR

    @property
    def training_log(self) -> Path:
        return self.training_dir / TRAINING_LOG

    @property
    def training_samples(self) -> Path:
        return self.training_dir / TRAINING_SAMPLES

    @property
    def training_inputs(self) -> Path:
        return self.training_dir / TRAINING_INPUTS

    # --- feedback and the database --------------------------------------------------------

    @property
    def feedback_dir(self) -> Path:
        """``YYYY/MM/DD/events.jsonl`` below it, append-only."""
        return self.data / FEEDBACK_DIR

    @property
    def feedback_aggregates(self) -> Path:
        return self.data / FEEDBACK_AGGREGATES

    @property
    def sessions_dir(self) -> Path:
        return self.data / SESSIONS_DIR

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
        return self.data / LANCE_DB

    @property
    def lance_manifest(self) -> Path:
        return self.data / LANCE_MANIFEST

    @property
    def cache_dir(self) -> Path:
        """Derived, disposable speed-ups for the CLI (never committed)."""
        return self.data / CACHE_DIR

    @property
    def recommend_snapshot(self) -> Path:
        """The CLI's numpy copy of the songs table (:mod:`sidflow_pipeline.recommend.snapshot`)."""
        return self.cache_dir / SNAPSHOT_FILE

    # --- mastering ------------------------------------------------------------------------

    @property
    def profiles_dir(self) -> Path:
        return self.data / PROFILES_DIR

    @property
    def profile_versions(self) -> Path:
        return self.profiles_dir / PROFILE_VERSIONS

    @property
    def mastering_feedback_dir(self) -> Path:
        return self.data / MASTERING_FEEDBACK_DIR

    @property
    def mastering_ratings(self) -> Path:
        return self.mastering_feedback_dir / MASTERING_RATINGS

    @property
    def mastering_patterns(self) -> Path:
        return self.mastering_feedback_dir / MASTERING_PATTERNS
