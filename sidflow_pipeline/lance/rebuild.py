"""Rebuild the song database from the project's files: what `sidflow_lance` does.

Gathers every input :func:`~sidflow_pipeline.lance.build.build_database` needs —
every ``classified`` section, the feedback aggregates with the log checksum they were
computed from, composer and title from the catalog, each song's player fingerprint
from the feature rows — builds the table, writes the manifest and the CLI's
recommendation snapshot. Kept apart from ``build.py`` (which knows nothing of where
files live) so the build can be tested on rows and this on a project folder.

The manifest's feedback checksum is the one the aggregates file recorded, not the
log's state now: rebuilding only the database after new feedback must not claim
freshness for counts it never saw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.feedback.aggregate import read_aggregates
from sidflow_pipeline.jsonl import read_jsonl_rows
from sidflow_pipeline.lance.build import BuildResult, build_database
from sidflow_pipeline.lance.verify import classified_checksum

__all__ = ["UNKNOWN_FEEDBACK", "RebuildOutcome", "catalog_names", "rebuild_database", "trace_sketches"]

# What the manifest records when no aggregates were usable: never equal to a real
# log checksum, so the database shows as stale until feedback_aggregates is built.
UNKNOWN_FEEDBACK = "unknown: feedback_aggregates missing or predates source checksums"


@dataclass(frozen=True)
class RebuildOutcome:
    result: BuildResult
    bad_classified_lines: int
    manifest_path: Path


def trace_sketches(features_dir: Path) -> dict[tuple[str, int], Any]:
    """Each song's ``traceSketch`` (player fingerprint) from the audio_features rows.

    Read line by line and kept as small arrays: ~200 entries per song as Python lists
    would cost over a gigabyte for the whole HVSC.
    """
    import numpy as np

    out: dict[tuple[str, int], Any] = {}
    for path in sorted(features_dir.glob("*.jsonl")) if features_dir.is_dir() else ():
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                    sketch = row.get("traceSketch")
                    key = (row["sid_path"], int(row["song_index"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                    continue  # a broken line: read_jsonl_rows counts those for classified
                if sketch:
                    sketch = {
                        "buckets": sketch.get("buckets"),
                        "index": np.asarray(sketch.get("index", ()), dtype=np.int32),
                        "share": np.asarray(sketch.get("share", ()), dtype=np.float64),
                    }
                out[key] = sketch
    return out


def catalog_names(catalog: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(composer, title) per song; the STIL title wins over the header's name."""
    import polars as pl

    if not catalog.is_file():
        return {}
    frame = pl.read_parquet(catalog, columns=["sid_path", "song_index", "author", "name", "stil_title"])
    return {
        (r["sid_path"], r["song_index"]): (r["author"] or "", r["stil_title"] or r["name"] or "")
        for r in frame.iter_rows(named=True)
    }


def rebuild_database(config: SidflowConfig, warn: Callable[[str], None] | None = None) -> RebuildOutcome:
    """Build ``sidflow.lance`` from the project's files, then its manifest and the snapshot.

    Raises :class:`~sidflow_pipeline.lance.build.DatabaseBuildError` before replacing
    anything when the rows cannot make a table.
    """
    layout = config.layout
    # Checksum first: if a section changes while we read, the manifest names the older
    # state and the database shows as stale instead of claiming rows it never read.
    classified_sum = classified_checksum(config)
    rows: list[dict[str, Any]] = []
    bad = 0
    if layout.classified.is_dir():
        for path in sorted(layout.classified.glob("*.jsonl")):
            part, part_bad = read_jsonl_rows(path)
            rows.extend(part)
            bad += part_bad
    # Counts and checksum both come from the aggregates file, so the manifest says
    # exactly which feedback the database reflects.
    saved = read_aggregates(layout.feedback_aggregates)
    if saved.feedback_checksum is None and warn is not None:
        warn("feedback-aggregates.parquet is missing or has no source checksum; materialize feedback_aggregates")
    sources = {"classified": classified_sum, "feedback": saved.feedback_checksum or UNKNOWN_FEEDBACK}
    result = build_database(
        layout.lance_db, rows, saved.rows, catalog_names(layout.catalog), sources=sources,
        feedback_events=saved.feedback_events, sketches=trace_sketches(layout.features_dir),
    )
    atomic_write_json(layout.lance_manifest, result.manifest)
    # The CLI reads recommendations from a numpy snapshot of the table (no lancedb
    # import at start-up); writing it now spares the first `sidflow play` that copy.
    from sidflow_pipeline.recommend.snapshot import write_snapshot

    write_snapshot(layout.lance_db, layout.catalog, layout.recommend_snapshot)
    return RebuildOutcome(result, bad, layout.lance_manifest)
