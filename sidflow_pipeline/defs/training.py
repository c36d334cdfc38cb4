"""`rating_model` and automatic retraining: a thin layer over ``sidflow_pipeline.training``.

`rating_model` trains a candidate and carries a check: a candidate that does not beat
the published model and the baseline on the held-out songs (training/gate.py) is not
published, and the check fails with a WARN and the reason; the job goes on with the
current model, so the database still gets the new feedback counts.
The sensor and the schedule both request `sidflow_retrain`: retrain → reclassify every
section → rebuild `sidflow_lance`.

Every run the sensor requests is tagged with the content it was requested for and the
attempt number, so the next evaluation can ask the instance how it ended: a failed run
is requested again (new run key, at most :data:`MAX_ATTEMPTS` per content) unless it
failed because the candidate was rejected — retraining the same data gives the same
model, so that would only fail again.
"""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings
from sidflow_pipeline.defs.feedback import feedback_aggregates, feedback_events, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.training.model import MODEL_VERSION
from sidflow_pipeline.training.retrain import Observation, content_run_key, covered_inputs, decide, observe, trained_on
from sidflow_pipeline.training.train import last_training, model_dir, run_training

CHECK_NAME = "not_worse_than_current"
CONTENT_TAG = "sidflow/retrain-content"
ATTEMPT_TAG = "sidflow/retrain-attempt"
REASON_TAG = "sidflow/retrain-reason"
MAX_ATTEMPTS = 3


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
        "path": dg.MetadataValue.path(str(model_dir(config))),
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
    tags=ALL_SECTIONS_TAGS,
)


def _runs_for(context: dg.SensorEvaluationContext, key: str) -> list[dg.DagsterRun]:
    """Runs requested for this content, newest first; none when the context has no instance."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # build_sensor_context() without an instance
        return []
    return list(instance.get_runs(filters=dg.RunsFilter(tags={CONTENT_TAG: key})))


def _attempt(run: dg.DagsterRun) -> int:
    try:
        return max(1, int(run.tags.get(ATTEMPT_TAG, "1")))
    except ValueError:
        return 1


def _request(seen: Observation, attempt: int, reason: str) -> dg.RunRequest:
    key = content_run_key(seen)
    return dg.RunRequest(
        run_key=key if attempt == 1 else f"{key}-attempt{attempt}",
        tags={REASON_TAG: reason, CONTENT_TAG: key, ATTEMPT_TAG: str(attempt)},
    )


def _after_previous_runs(
    runs: list[dg.DagsterRun], seen: Observation, last: dict[str, Any] | None, enabled: bool
) -> tuple[dg.RunRequest | None, str]:  # the attempt number lives in the runs' tags, not the cursor
    """A retry of the newest run for this content if it failed and retrying can help, else why not."""
    latest = runs[0]
    attempts = max(_attempt(r) for r in runs)
    name = f"run {latest.run_id[:8]}"
    if not latest.is_finished:
        return None, f"{name} for these ratings/feedback is {latest.status.value.lower()}"
    if latest.status != dg.DagsterRunStatus.FAILURE:
        return None, f"no new ratings or feedback since {name} ({latest.status.value.lower()})"
    if attempts >= MAX_ATTEMPTS:
        return None, (
            f"retraining these ratings/feedback failed {attempts} times (last: {name}); not retried again — "
            "fix the cause, then launch sidflow_retrain or run 'sidflow train'"
        )
    if trained_on(seen, last) and last is not None and not last.get("published", True):
        return (
            None,
            f"{name} failed because the candidate was rejected ({last.get('reason', '')}); retrying the same data gives the same model",
        )
    if not enabled:
        return None, "retraining is disabled (retrain.enabled = false in .sidflow.json)"
    reason = f"retry {attempts + 1}/{MAX_ATTEMPTS}: {name} failed"
    return _request(seen, attempts + 1, reason), reason


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
    last = last_training(config)

    def cursor_for(requested: bool) -> str:
        return json.dumps({"content": seen.content, "requested": requested}, sort_keys=True)

    runs = _runs_for(context, content_run_key(seen))
    if runs:
        retry, reason = _after_previous_runs(runs, seen, last, config.retrain.enabled)
        if retry is None:
            return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor_for(True))
        return dg.SensorResult(run_requests=[retry], cursor=cursor_for(True))
    if cursor.get("content") == seen.content and cursor.get("requested"):
        return dg.SensorResult(skip_reason=dg.SkipReason("no new ratings or feedback since the run already requested"))
    decision = decide(config.retrain, seen, last, datetime.now(UTC), covered_inputs(config, last))
    if not decision.retrain:
        return dg.SensorResult(skip_reason=dg.SkipReason(decision.reason), cursor=cursor_for(False))
    return dg.SensorResult(run_requests=[_request(seen, 1, decision.reason)], cursor=cursor_for(True))


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
