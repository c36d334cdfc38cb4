"""`rating_model` and automatic retraining: a thin layer over ``sidflow_pipeline.training``.

`rating_model` trains a candidate and carries a check: a candidate that does not beat
the published model and the baseline on the held-out songs (training/gate.py) is not
published, and the check fails with a WARN and the reason; the job goes on with the
current model, so the database still gets the new feedback counts.
The sensor and the schedule both request `sidflow_retrain`: retrain → reclassify every
section → rebuild `sidflow_lance`.

When to retrain is the domain's decision (training/retrain.py ``decide``); the sensor
only asks it and requests the job with a run key derived from the content seen, so the
same content never starts two runs. A failed run is retried by Dagster's run retries
(the job's ``dagster/max_retries`` tag; ``run_retries`` is enabled in dagster.yaml),
not by the sensor. Why a sensor and not a declarative automation condition:
CONTRIBUTING.md, "Automation".
"""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings
from sidflow_pipeline.defs.feedback import feedback_aggregates, feedback_events, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.training.model import MODEL_VERSION
from sidflow_pipeline.training.retrain import content_run_key, covered_inputs, decide, observe, rejected_before
from sidflow_pipeline.training.train import last_training, run_training

CHECK_NAME = "not_worse_than_current"
REASON_TAG = "sidflow/retrain-reason"
# A failed retrain run is run again by Dagster (the run retry daemon, part of
# `dagster dev`) at most this many times: three attempts per content in all, as the
# sensor used to count by hand. Retries re-execute from the failed step.
RETRAIN_RUN_RETRIES = 2
RETRY_TAGS = {"dagster/max_retries": str(RETRAIN_RUN_RETRIES), "dagster/retry_strategy": "FROM_FAILURE"}


@dg.asset(
    deps=[audio_features, manual_ratings, feedback_events],
    group_name="training",
    kinds={"python", "lightgbm"},
    description="LightGBM regressors for e/m/c/p trained on manual ratings + feedback (data/model/).",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="rating_model",
            blocking=True,
            description="The new model beats the published one and the baseline on held-out songs "
            "(paired test, ≥ 20 songs); otherwise the current one is kept.",
        )
    ],
)
def rating_model(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    outcome = run_training(config, notes=f"dagster run {context.run.run_id}")
    metadata: dict = {
        "status": outcome.status,
        "reason": outcome.reason,
        "model_version": MODEL_VERSION,
        "train_samples": outcome.train_samples,
        "held_out_samples": outcome.test_samples,
        "path": dg.MetadataValue.path(str(config.layout.model_dir)),
    }
    if outcome.candidate is not None:
        metadata["held_out_metrics"] = dg.MetadataValue.json(outcome.candidate.to_json())
        metadata["mean_mae"] = round(outcome.candidate.mean_mae or 0.0, 4)
    if outcome.baseline is not None:
        metadata["baseline_metrics"] = dg.MetadataValue.json(outcome.baseline.to_json())
    if outcome.current is not None:
        metadata["current_metrics"] = dg.MetadataValue.json(outcome.current.to_json())
    # With no samples there is no candidate to compare: the check says so as a warning
    # (not "Passed"), and a WARN failure does not block the downstream assets.
    nothing = outcome.status == "no-samples"
    check = dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=outcome.status not in ("rejected", "no-samples"),
        # A refused candidate leaves the current model in place, which is fine to build
        # on: WARN, so reclassification and the database rebuild (with the new feedback
        # counts) still run (issue 16: an ERROR here kept the feedback out). With no
        # samples there is nothing to compare: a warning too, not "Passed".
        severity=dg.AssetCheckSeverity.WARN,
        description=f"nothing to check: {outcome.reason}" if nothing else outcome.reason,
        metadata={"status": outcome.status},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


retrain_job = dg.define_asset_job(
    "sidflow_retrain",
    selection=dg.AssetSelection.assets(rating_model, classified, feedback_aggregates, sidflow_lance),
    description="Retrain the rating model, reclassify every section, rebuild the song database.",
    tags={**ALL_SECTIONS_TAGS, **RETRY_TAGS},
)


def _requested_before(context: dg.SensorEvaluationContext, run_key: str) -> bool:
    """Whether a run was already launched for this content (Dagster never launches a run
    key twice; this only picks the message the sensor shows)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # build_sensor_context() without an instance
        return False
    return bool(instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1))


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains when retrain.enabled, ≥ minNewFeedback new ratings/feedback and ≥ intervalHours since the last training.",
)
def retrain_on_feedback(context: dg.SensorEvaluationContext, sidflow: SidflowConfigResource) -> dg.SensorResult:
    config = sidflow.load()
    seen = observe(config)
    cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}

    def cursor_for(requested: bool) -> str:
        return json.dumps({"content": seen.content, "requested": requested}, sort_keys=True)

    if cursor.get("content") == seen.content and cursor.get("requested"):
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                "no new ratings or feedback since the run already requested (Dagster retries it if it fails)"
            )
        )
    last = last_training(config)
    key = content_run_key(seen)
    rejected = rejected_before(seen, last) if _requested_before(context, key) else None
    if rejected is not None:  # a run for this content trained and refused its candidate
        return dg.SensorResult(skip_reason=dg.SkipReason(rejected), cursor=cursor_for(True))
    decision = decide(config.retrain, seen, last, datetime.now(UTC), covered_inputs(config, last))
    if not decision.retrain:
        return dg.SensorResult(skip_reason=dg.SkipReason(decision.reason), cursor=cursor_for(False))
    request = dg.RunRequest(run_key=key, tags={REASON_TAG: decision.reason})
    return dg.SensorResult(run_requests=[request], cursor=cursor_for(True))


@dg.schedule(
    cron_schedule="0 4 * * *",
    job=retrain_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Nightly retrain + reclassify + rebuild (when retrain.enabled), whatever the amount of new feedback.",
)
def retrain_nightly(context: dg.ScheduleEvaluationContext, sidflow: SidflowConfigResource) -> dg.RunRequest | dg.SkipReason:
    config = sidflow.load()
    if not config.retrain.enabled:
        return dg.SkipReason("retraining is disabled (retrain.enabled = false in .sidflow.json)")
    when = context.scheduled_execution_time.strftime("%Y-%m-%d") if context.scheduled_execution_time else "manual"
    return dg.RunRequest(run_key=f"retrain-nightly-{when}")


defs = dg.Definitions(
    assets=[rating_model],
    jobs=[retrain_job],
    sensors=[retrain_on_feedback],
    schedules=[retrain_nightly],
)
