"""Feedback and the database: `feedback_events` → `feedback_aggregates` → `sidflow_lance`.

`sidflow_lance` also reads every `classified` section; its manifest (in git) is
written from the materialization's metadata, and an asset check compares the
manifest's source checksums with the canonical files on disk. The manifest's
feedback checksum is the one `feedback_aggregates` recorded for the log it read, not
the log's state when the database is built: otherwise rebuilding only
`sidflow_lance` after new feedback would claim freshness for counts it never saw.
"""

from typing import Any

import dagster as dg
import polars as pl

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.classify.analyse import read_jsonl_rows
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.classify import classified
from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.feedback.aggregate import (
    aggregate_events,
    read_aggregates,
    write_aggregates,
)
from sidflow_pipeline.feedback.log import log_checksum, read_config_events
from sidflow_pipeline.hvsc.sync import read_moves
from sidflow_pipeline.lance.build import MANIFEST_NAME, build_database
from sidflow_pipeline.lance.verify import (
    aggregates_path,
    classified_checksum,
    feedback_root,
    lance_path,
    lance_status,
)

# What the manifest records when no aggregates were usable: never equal to a real
# log checksum, so the database shows as stale until feedback_aggregates is built.
UNKNOWN_FEEDBACK = "unknown: feedback_aggregates missing or predates source checksums"


@dg.observable_source_asset(
    group_name="feedback",
    description="The append-only feedback log data/feedback/YYYY/MM/DD/events.jsonl (observed, never produced).",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def feedback_events(sidflow: SidflowConfigResource) -> dg.DataVersion:
    config = sidflow.load()
    return dg.DataVersion(log_checksum(feedback_root(config)).removeprefix("sha256:")[:16])


@dg.asset(
    deps=[feedback_events],
    group_name="feedback",
    kinds={"python", "polars", "parquet"},
    description="likes / dislikes / skips / plays / last_played per song, uuid-deduplicated, renamed paths mapped.",
)
def feedback_aggregates(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    report = read_config_events(config)
    for path, number, reason in report.bad_lines[:20]:
        context.log.warning(f"{path}:{number}: {reason} (skipped)")
    frame = aggregate_events(report, read_moves(config.hvsc_path))
    write_aggregates(frame, aggregates_path(config), feedback_checksum=report.checksum, feedback_events=len(report.events))
    return dg.MaterializeResult(
        metadata={
            "feedback_checksum": report.checksum,
            "events": len(report.events),
            "bad_lines": len(report.bad_lines),
            "duplicates": report.duplicates,
            "songs": frame.height,
            "path": dg.MetadataValue.path(str(aggregates_path(config))),
        }
    )


def _sketches(config: SidflowConfig) -> dict[tuple[str, int], Any]:
    """Each song's ``traceSketch`` (player fingerprint) from the audio_features rows.

    Read line by line and kept as small arrays: ~200 entries per song as Python lists
    would cost over a gigabyte for the whole HVSC.
    """
    import json

    import numpy as np

    out: dict[tuple[str, int], Any] = {}
    folder = config.data_path / "features"
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
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


def _names(config: SidflowConfig) -> dict[tuple[str, int], tuple[str, str]]:
    if not config.catalog_path.is_file():
        return {}
    frame = pl.read_parquet(config.catalog_path, columns=["sid_path", "song_index", "author", "name", "stil_title"])
    return {
        (r["sid_path"], r["song_index"]): (r["author"] or "", r["stil_title"] or r["name"] or "")
        for r in frame.iter_rows(named=True)
    }


@dg.asset(
    deps=[classified, feedback_aggregates, "sid_catalog"],
    group_name="feedback",
    kinds={"python", "lancedb"},
    description="LanceDB table `songs` (vector=[e,m,c,p], similarity_vector, features, feedback) + sidflow.lance.manifest.json.",
)
def sidflow_lance(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    # Checksum first: if a section changes while we read, the manifest names the older
    # state and the database shows as stale instead of claiming rows it never read.
    classified_sum = classified_checksum(config)
    rows: list[dict[str, Any]] = []
    bad = 0
    if config.classified_path.is_dir():
        for path in sorted(config.classified_path.glob("*.jsonl")):
            part, part_bad = read_jsonl_rows(path)
            rows.extend(part)
            bad += part_bad
    # Counts and checksum both come from the aggregates file, so the manifest says
    # exactly which feedback the database reflects.
    saved = read_aggregates(aggregates_path(config))
    if saved.feedback_checksum is None:
        context.log.warning("feedback-aggregates.parquet is missing or has no source checksum; materialize feedback_aggregates")
    sources = {"classified": classified_sum, "feedback": saved.feedback_checksum or UNKNOWN_FEEDBACK}
    with domain_failure():
        result = build_database(
            lance_path(config), rows, saved.rows, _names(config), sources=sources, feedback_events=saved.feedback_events,
            sketches=_sketches(config),
        )
    atomic_write_json(config.data_path / MANIFEST_NAME, result.manifest)
    # The CLI reads recommendations from a numpy snapshot of the table (no lancedb
    # import at start-up); writing it now spares the first `sidflow play` that copy.
    from sidflow_pipeline.recommend.snapshot import snapshot_path, write_snapshot

    write_snapshot(lance_path(config), config.catalog_path, snapshot_path(config.data_path))
    return dg.MaterializeResult(
        metadata={
            "record_count": result.record_count,
            "dagster/row_count": result.record_count,
            "source_checksums": dg.MetadataValue.json(result.manifest["source_checksums"]),
            "stats": dg.MetadataValue.json(result.manifest["stats"]),
            "bad_classified_lines": bad,
            "build_seconds": round(result.seconds, 3),
            "manifest": dg.MetadataValue.path(str(config.data_path / MANIFEST_NAME)),
        }
    )


@dg.asset_check(
    asset=sidflow_lance,
    description="The manifest's source checksums match classified/ and the feedback log on disk, and every row reads back.",
)
def lance_manifest_matches_sources(sidflow: SidflowConfigResource) -> dg.AssetCheckResult:
    status = lance_status(sidflow.load())
    metadata: dict[str, Any] = {"state": status.state, "detail": status.detail}
    if status.fix:
        metadata["fix"] = status.fix
    return dg.AssetCheckResult(passed=status.ok, metadata=metadata)


defs = dg.Definitions(
    assets=[feedback_events, feedback_aggregates, sidflow_lance],
    asset_checks=[lance_manifest_matches_sources],
)
