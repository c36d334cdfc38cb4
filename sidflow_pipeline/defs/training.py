"""`rating_model` and automatic retraining: a thin layer over ``sidflow_pipeline.training``.

`rating_model` trains a candidate and carries a *blocking* check: a candidate worse
than the published model on the same held-out songs is not published, the check fails
with the reason, and nothing downstream (reclassification, the database) runs on it.
The sensor and the schedule both request `sidflow_retrain`: retrain → reclassify every
section → rebuild `sidflow_lance`.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings
from sidflow_pipeline.defs.feedback import feedback_aggregates, feedback_events, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.training.model import MODEL_VERSION
from sidflow_pipeline.training.retrain import content_run_key, decide, observe
from sidflow_pipeline.training.train import last_training, model_dir, run_training

CHECK_NAME = "not_worse_than_current"


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
            description="The new model is not worse (mean held-out MAE) than the published one; otherwise it is not published.",
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
        "path": dg.MetadataValue.path(str(model_dir(config))),
    }
    if outcome.candidate is not None:
        metadata["held_out_metrics"] = dg.MetadataValue.json(outcome.candidate.to_json())
        metadata["mean_mae"] = round(outcome.candidate.mean_mae or 0.0, 4)
    if outcome.baseline is not None:
        metadata["baseline_metrics"] = dg.MetadataValue.json(outcome.baseline.to_json())
    if outcome.current is not None:
        metadata["current_metrics"] = dg.MetadataValue.json(outcome.current.to_json())
    check = dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=outcome.status != "rejected",
        description=outcome.reason,
        metadata={"status": outcome.status},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


retrain_job = dg.define_asset_job(
    "sidflow_retrain",
    selection=dg.AssetSelection.assets(rating_model, classified, feedback_aggregates, sidflow_lance),
    description="Retrain the rating model, reclassify every section, rebuild the song database.",
    tags=ALL_SECTIONS_TAGS,
)


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains when retrain.enabled, ≥ minNewFeedback new ratings/feedback and ≥ intervalHours since the last training.",
)
def retrain_on_feedback(context: dg.SensorEvaluationContext, sidflow: SidflowConfigResource) -> dg.SensorResult:
    config = sidflow.load()
    seen = observe(config)
    cursor = json.loads(context.cursor) if context.cursor else {}
    new_cursor = json.dumps({"content": seen.content, "said": seen.said, "requested": False}, sort_keys=True)
    if cursor.get("content") == seen.content and cursor.get("requested"):
        return dg.SensorResult(skip_reason=dg.SkipReason("no new ratings or feedback since the run already requested"))
    decision = decide(config.retrain, seen, last_training(config), datetime.now(UTC))
    if not decision.retrain:
        return dg.SensorResult(skip_reason=dg.SkipReason(decision.reason), cursor=new_cursor)
    cursor_data = {"content": seen.content, "said": seen.said, "requested": True}
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=content_run_key(seen), tags={"sidflow/retrain-reason": decision.reason})],
        cursor=json.dumps(cursor_data, sort_keys=True),
    )


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
