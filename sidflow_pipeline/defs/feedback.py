"""Feedback and the database: `feedback_events` → `feedback_aggregates` → `sidflow_lance`.

Thin shells over ``feedback.aggregate.update_aggregates`` and
``lance.rebuild.rebuild_database``. `sidflow_lance` also reads every `classified`
section; its manifest (in git) records the source checksums, and an asset check
compares them with the canonical files on disk. The manifest's feedback checksum is
the one `feedback_aggregates` recorded for the log it read (see lance/rebuild.py).
"""

from typing import Any

import dagster as dg

from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.classify import classified
from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.feedback.aggregate import update_aggregates
from sidflow_pipeline.feedback.log import log_checksum
from sidflow_pipeline.lance.rebuild import rebuild_database
from sidflow_pipeline.lance.verify import lance_status

__all__ = ["feedback_aggregates", "feedback_events", "lance_manifest_matches_sources", "sidflow_lance"]


@dg.observable_source_asset(
    group_name="feedback",
    description="The append-only feedback log data/feedback/YYYY/MM/DD/events.jsonl (observed, never produced).",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def feedback_events(sidflow: SidflowConfigResource) -> dg.DataVersion:
    return dg.DataVersion(log_checksum(sidflow.load().layout.feedback_dir).removeprefix("sha256:")[:16])


@dg.asset(
    deps=[feedback_events],
    group_name="feedback",
    kinds={"python", "polars", "parquet"},
    description="likes / dislikes / skips / plays / last_played per song, uuid-deduplicated, renamed paths mapped.",
)
def feedback_aggregates(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    update = update_aggregates(sidflow.load())
    report = update.report
    for path, number, reason in report.bad_lines[:20]:
        context.log.warning(f"{path}:{number}: {reason} (skipped)")
    return dg.MaterializeResult(
        metadata={
            "feedback_checksum": report.checksum,
            "events": len(report.events),
            "bad_lines": len(report.bad_lines),
            "duplicates": report.duplicates,
            "songs": update.frame.height,
            "path": dg.MetadataValue.path(str(update.path)),
        }
    )


@dg.asset(
    deps=[classified, feedback_aggregates, "sid_catalog"],
    group_name="feedback",
    kinds={"python", "lancedb"},
    description="LanceDB table `songs` (vector=[e,m,c,p], similarity_vector, features, feedback) + sidflow.lance.manifest.json.",
)
def sidflow_lance(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    with domain_failure():
        outcome = rebuild_database(sidflow.load(), context.log.warning)
    result = outcome.result
    return dg.MaterializeResult(
        metadata={
            "record_count": result.record_count,
            "dagster/row_count": result.record_count,
            "source_checksums": dg.MetadataValue.json(result.manifest["source_checksums"]),
            "stats": dg.MetadataValue.json(result.manifest["stats"]),
            "bad_classified_lines": outcome.bad_classified_lines,
            "build_seconds": round(result.seconds, 3),
            "manifest": dg.MetadataValue.path(str(outcome.manifest_path)),
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
    if status.state == "missing":  # never built: nothing to compare, a warning rather than an error
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata, description=f"nothing to check: {status.detail}"
        )
    return dg.AssetCheckResult(passed=status.ok, metadata=metadata)


defs = dg.Definitions(
    assets=[feedback_events, feedback_aggregates, sidflow_lance],
    asset_checks=[lance_manifest_matches_sources],
)
