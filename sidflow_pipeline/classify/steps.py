"""The three classification steps over a set of HVSC sections: render, analyse, classify.

Each step reads its inputs for the sections it is given, calls the per-song code
(:mod:`~sidflow_pipeline.classify.render`, :mod:`~sidflow_pipeline.classify.analyse`,
:mod:`~sidflow_pipeline.classify.classified`), writes one file per section atomically
and returns an outcome with the counts the caller reports. The Dagster assets are thin
shells over these functions, so a step can be run and tested without Dagster, and
re-running a section replaces exactly that section's files.

Sections are handled together (one pool of workers for all their songs) and written
apart: a run over every section and a run per section give the same files.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sidflow_pipeline.classify.analyse import analyse_records, header_facts
from sidflow_pipeline.classify.classified import classify_rows, write_auto_tags
from sidflow_pipeline.classify.predict import Predictor
from sidflow_pipeline.classify.progress import SongProgress
from sidflow_pipeline.classify.render import RenderRecord, jobs_from_rows, render_jobs
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.jsonl import read_jsonl_rows, write_jsonl_rows
from sidflow_pipeline.ratings.tags import Rating, effective_tags_files, load_all_tags, rating_for_song
from sidflow_pipeline.sections import partition_file_stem, partition_of

__all__ = [
    "CatalogMissingError",
    "ClassifyOutcome",
    "FeaturesOutcome",
    "RenderOutcome",
    "analyse_sections",
    "catalog_rows",
    "classify_sections",
    "manual_ratings_for",
    "manual_ratings_version",
    "render_sections",
    "write_per_partition",
]

T = TypeVar("T")
Log = Callable[[str], None]


class CatalogMissingError(SidflowError):
    """The steps read the catalog; without it there is nothing to render or analyse."""


def _label(partitions: Sequence[str]) -> str:
    return partitions[0] if len(partitions) == 1 else f"{len(partitions)} sections"


def catalog_rows(config: SidflowConfig, partition: str) -> list[dict[str, Any]]:
    """One section's catalog rows in ``(sid_path, song_index)`` order."""
    import polars as pl

    path = config.layout.catalog
    if not path.is_file():
        raise CatalogMissingError(f"{path} missing: materialize sid_catalog first")
    frame = pl.read_parquet(path).filter(pl.col("partition") == partition)
    return frame.sort(["sid_path", "song_index"]).to_dicts()


def write_per_partition(
    partitions: Iterable[str],
    items: Sequence[T],
    path_of: Callable[[str], Path],
    to_row: Callable[[T], Mapping[str, Any]],
    sid_path_of: Callable[[T], str],
) -> str:
    """Write each section's rows to its own file; a digest over all of them (the data version).

    Every given section gets its file, empty when it has no songs, so a section that lost
    its songs does not keep stale rows.
    """
    digest = hashlib.sha256()
    for key in partitions:
        rows = [to_row(item) for item in items if partition_of(sid_path_of(item)) == key]
        digest.update(write_jsonl_rows(path_of(key), rows).encode())
    return digest.hexdigest()


# --- render -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderOutcome:
    records: list[RenderRecord]
    digest: str
    seconds: float

    @property
    def rendered(self) -> list[RenderRecord]:
        """Records rendered by this call (the rest came from the cache)."""
        return [r for r in self.records if not r.reused]

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.status] = counts.get(record.status, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def problems(self) -> list[str]:
        """One line per song this call failed to render (cached failures were reported before)."""
        return [
            f"{r.sid_path} #{r.song_index}: {r.status}: {r.message}" for r in self.rendered if r.status in ("timeout", "error")
        ]


def render_sections(config: SidflowConfig, partitions: Sequence[str], log: Log | None = None) -> RenderOutcome:
    """Render every song of ``partitions`` not already in the WAV cache; write each section's index.

    Raises ``SidplayfpNotFound`` (sidplayfp backend without the program),
    ``EngineUnavailable`` / ``WorkerStartError`` (in-process engine) and
    :class:`CatalogMissingError`, before anything is written.
    """
    from sidflow_pipeline.sid.sidplayfp import find_sidplayfp

    binary = find_sidplayfp(config.sidplay_path) if config.render.backend == "sidplayfp" else None
    jobs = [job for key in partitions for job in jobs_from_rows(catalog_rows(config, key), config.layout.hvsc_root)]
    layout = config.layout
    started = time.perf_counter()
    with SongProgress(len(jobs), f"render {_label(partitions)}", log) as progress:
        records = render_jobs(
            jobs, config.render, config.wav_cache_path, workers=config.worker_count, binary=binary,
            progress=lambda _record: progress.advance(),
        )
    seconds = time.perf_counter() - started
    digest = write_per_partition(
        partitions,
        records,
        lambda key: layout.render_index_file(partition_file_stem(key)),
        lambda r: r.to_json(),
        lambda r: r.sid_path,
    )
    return RenderOutcome(records, digest, seconds)


# --- analyse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeaturesOutcome:
    rows: list[dict[str, Any]]
    extracted: int
    reused: int
    digest: str
    seconds: float

    @property
    def with_features(self) -> int:
        return sum(1 for r in self.rows if r["features"] is not None)


def analyse_sections(config: SidflowConfig, partitions: Sequence[str], log: Log | None = None) -> FeaturesOutcome:
    """Feature rows for the rendered songs of ``partitions``; rows whose render did not
    change are reused from the previous file. Writes ``features/<section>.jsonl``."""
    layout = config.layout
    records: list[RenderRecord] = []
    facts: dict[tuple[str, int], dict[str, float]] = {}
    previous: dict[tuple[str, int], dict[str, Any]] = {}
    for key in partitions:
        stem = partition_file_stem(key)
        index_rows, _bad = read_jsonl_rows(layout.render_index_file(stem))
        records.extend(RenderRecord(**row) for row in index_rows)
        facts.update({(r["sid_path"], r["song_index"]): header_facts(r) for r in catalog_rows(config, key)})
        previous_rows, _ = read_jsonl_rows(layout.features_file(stem))
        previous.update({(r["sid_path"], r["song_index"]): r for r in previous_rows})
    started = time.perf_counter()
    counts = {"extracted": 0, "reused": 0}
    with SongProgress(len(records), f"features {_label(partitions)}", log) as progress:

        def tick(_row: dict[str, Any], reused: bool) -> None:
            counts["reused" if reused else "extracted"] += 1
            progress.advance()

        rows = analyse_records(records, config.wav_cache_path, facts, previous, workers=config.worker_count, progress=tick)
    seconds = time.perf_counter() - started
    digest = write_per_partition(
        partitions, rows, lambda key: layout.features_file(partition_file_stem(key)), dict, lambda r: r["sid_path"]
    )
    return FeaturesOutcome(rows, counts["extracted"], counts["reused"], digest, seconds)


# --- classify -----------------------------------------------------------------------------


def manual_ratings_version(config: SidflowConfig) -> str:
    """A short digest of every effective tags file: changes exactly when a rating the
    pipeline would read changes (a file shadowed by ``tagsPath`` does not count)."""
    digest = hashlib.sha256()
    for sid_path, path in effective_tags_files(config.layout.tags_roots):
        digest.update(sid_path.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def manual_ratings_for(
    feature_rows: Iterable[Mapping[str, Any]], tags: Mapping[str, Mapping[int | None, Rating]]
) -> dict[tuple[str, int], Rating]:
    """The listener's rating of each song among ``feature_rows`` that has one (a
    file-wide rating applies to every song of the file, a song's own wins)."""
    manual: dict[tuple[str, int], Rating] = {}
    for row in feature_rows:
        ratings = tags.get(row["sid_path"])
        if ratings:
            rating = rating_for_song(ratings, int(row["song_index"]))
            if rating is not None:
                manual[(row["sid_path"], int(row["song_index"]))] = rating
    return manual


@dataclass(frozen=True)
class ClassifyOutcome:
    rows: list[dict[str, Any]]
    skipped: int
    manual_songs: int
    predictor: str
    auto_tags_files: int
    bad_feature_lines: int
    digest: str
    seconds: float

    @property
    def manual_dimensions(self) -> int:
        return sum(1 for r in self.rows for s in r["sources"].values() if s == "manual")


def classify_sections(
    config: SidflowConfig, partitions: Sequence[str], predictor: Predictor | None, warn: Log | None = None
) -> ClassifyOutcome:
    """Ratings for every analysed song of ``partitions``: manual where the listener spoke,
    ``predictor`` elsewhere (``None``: the baseline). Writes ``classified/<section>.jsonl`` and the sections'
    ``auto-tags.json`` files.

    The caller loads the predictor (``training.model.load_predictor``: the published
    model or the baseline), so classification does not import the training layer above
    it, and an unreadable model fails before anything is read. Raises
    ``FeatureSetMismatchError`` (the model was trained on another feature set) before
    writing anything: no half-classified file. Tags files that cannot be read are
    skipped and told to ``warn``.
    """
    layout = config.layout
    feature_rows: list[dict[str, Any]] = []
    bad = 0
    for key in partitions:
        part_rows, part_bad = read_jsonl_rows(layout.features_file(partition_file_stem(key)))
        feature_rows.extend(part_rows)
        bad += part_bad
    tags, problems = load_all_tags(config.layout.tags_roots)
    for problem in problems:
        if warn is not None:
            warn(f"ignored tags file: {problem}")
    manual = manual_ratings_for(feature_rows, tags)
    started = time.perf_counter()
    rows, skipped = classify_rows(feature_rows, manual, predictor)
    digest = write_per_partition(
        partitions, rows, lambda key: layout.classified_file(partition_file_stem(key)), dict, lambda r: r["sid_path"]
    )
    auto_files = 0
    for key in partitions:
        auto_root = layout.auto_tags_dir / partition_file_stem(key)
        auto_files += write_auto_tags(auto_root, [r for r in rows if partition_of(r["sid_path"]) == key], config.classification_depth)
    return ClassifyOutcome(
        rows=rows,
        skipped=skipped,
        manual_songs=len(manual),
        predictor=predictor.name if predictor is not None else "baseline-1",
        auto_tags_files=auto_files,
        bad_feature_lines=bad,
        digest=digest,
        seconds=time.perf_counter() - started,
    )
