"""rating_model (+ its blocking check), the retrain sensor and schedule, through Dagster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, classified
from sidflow_pipeline.defs.feedback import feedback_aggregates, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.defs.training import CHECK_NAME, rating_model, retrain_nightly, retrain_on_feedback
from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.training.train import append_training_log, is_held_out
from sidflow_pipeline_tests.training.listener import write_project

ASSETS = [rating_model, classified, feedback_aggregates, sidflow_lance]


def _materialize(config: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS, resources={"sidflow": SidflowConfigResource(config_path=str(config))}, tags=ALL_SECTIONS_TAGS, raise_on_error=False
    )


def _classified_rows(data: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((data / "classified").glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_retrain_job_publishes_reclassifies_and_blocks_a_worse_model(tmp_path: Path) -> None:
    config, features, _listener = write_project(tmp_path, count=200)
    data = tmp_path / "data"
    result = _materialize(config)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [(CHECK_NAME, True)]
    meta = result.asset_materializations_for_node("rating_model")[0].metadata
    assert meta["status"].value == "published" and meta["held_out_samples"].value > 10
    rows = _classified_rows(data)
    assert len(rows) == len(features)
    predicted = [r for r in rows if "predicted" in r["sources"].values()]
    assert predicted and all(r["predictor"] == "lightgbm-lgbm-1.0" for r in predicted)
    assert (data / "sidflow.lance.manifest.json").is_file()

    rng = np.random.default_rng(1)
    for path in (data / "tags").rglob("*.tags.json"):
        if not is_held_out(path.relative_to(data / "tags").as_posix()[: -len(".tags.json")]):
            path.write_text(json.dumps({d: int(rng.integers(1, 6)) for d in "emcp"}))
    model_before = (data / "model" / "model-e.txt").read_bytes()
    classified_before = _classified_rows(data)
    blocked = _materialize(config)
    assert not blocked.success
    check = blocked.get_asset_check_evaluations()[0]
    assert not check.passed and "> current" in check.description
    assert (data / "model" / "model-e.txt").read_bytes() == model_before
    assert blocked.asset_materializations_for_node("classified") == []
    assert _classified_rows(data) == classified_before


def _sensor(config: Path, cursor: str | None = None) -> tuple[dg.SensorResult, dg.SensorEvaluationContext]:
    context = dg.build_sensor_context(cursor=cursor, resources={"sidflow": SidflowConfigResource(config_path=str(config))})
    return retrain_on_feedback(context), context


def test_sensor_thresholds_run_keys_and_cursor(tmp_path: Path) -> None:
    config, features, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 30, "intervalHours": 24})
    cfg = load_config(config)
    # 24 rated songs < 30: skip with the reason; the cursor still moves.
    result, _ = _sensor(config)
    assert not result.run_requests and "24 new ratings/feedback events" in result.skip_reason.skip_message
    cursor = json.loads(result.cursor)
    assert cursor["said"] == 24 and cursor["requested"] is False
    # Ten likes later: 34 ≥ 30 → a run, keyed by the content seen.
    keys = sorted(features)
    for i in range(10):
        append_event(cfg.data_path / "feedback", keys[i][0], "like", event_id=f"like-{i}")
    result, _ = _sensor(config, result.cursor)
    assert len(result.run_requests) == 1
    run_key = result.run_requests[0].run_key
    assert run_key.startswith("retrain-") and "34 new" in result.run_requests[0].tags["sidflow/retrain-reason"]
    # Same content again: no second run.
    again, _ = _sensor(config, result.cursor)
    assert not again.run_requests and "already requested" in again.skip_reason.skip_message
    # Without the cursor, the same content yields the same run key (Dagster dedupes on it).
    fresh, _ = _sensor(config)
    assert fresh.run_requests[0].run_key == run_key
    # A training just happened (log entry with the counts): nothing new, and too soon anyway.
    append_training_log(
        cfg.data_path / "training" / "training-log.jsonl",
        {"trainedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "feedbackEvents": 10, "manualSongs": 24},
    )
    append_event(cfg.data_path / "feedback", keys[11][0], "skip", event_id="skip-1")
    after, _ = _sensor(config, result.cursor)
    assert not after.run_requests and "1 new" in after.skip_reason.skip_message
    assert json.loads(after.cursor)["content"] != json.loads(result.cursor)["content"]


def test_sensor_respects_interval_and_switch(tmp_path: Path) -> None:
    config, _, _ = write_project(tmp_path, count=40, retrain={"minNewFeedback": 5, "intervalHours": 24})
    cfg = load_config(config)
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    append_training_log(cfg.data_path / "training" / "training-log.jsonl", {"trainedAt": two_hours_ago, "feedbackEvents": 0, "manualSongs": 0})
    result, _ = _sensor(config)
    assert not result.run_requests and "h ago; next one allowed after 24 h" in result.skip_reason.skip_message
    config.write_text(json.dumps({**json.loads(config.read_text()), "retrain": {"enabled": False}}))
    result, _ = _sensor(config)
    assert "disabled" in result.skip_reason.skip_message


def test_schedule_offers_the_same_run(tmp_path: Path) -> None:
    config, _, _ = write_project(tmp_path, count=20)
    resources = {"sidflow": SidflowConfigResource(config_path=str(config))}
    context = dg.build_schedule_context(resources=resources, scheduled_execution_time=datetime(2026, 12, 2, 4, tzinfo=UTC))
    request = retrain_nightly(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == "retrain-nightly-2026-12-02"
    config.write_text(json.dumps({**json.loads(config.read_text()), "retrain": {"enabled": False}}))
    context = dg.build_schedule_context(resources=resources)
    assert isinstance(retrain_nightly(context), dg.SkipReason)


@pytest.mark.parametrize("name", ["sidflow_retrain", "sidflow_full"])
def test_jobs_include_training(name: str) -> None:
    from sidflow_pipeline.definitions import defs

    job = defs.resolve_job_def(name)
    assert dg.AssetKey("rating_model") in job.asset_layer.executable_asset_keys


@pytest.mark.parametrize("name", ["sidflow_retrain", "hvsc_sync"])
def test_scheduled_jobs_cover_every_section(name: str) -> None:
    from sidflow_pipeline.definitions import defs

    assert ALL_SECTIONS_TAGS.items() <= defs.resolve_job_def(name).tags.items()


def test_retrain_job_runs_as_the_sensor_launches_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job carries its own partition-range tags: a bare RunRequest covers every section."""
    from sidflow_pipeline.definitions import defs

    config, features, _ = write_project(tmp_path, count=60)
    monkeypatch.setenv("SIDFLOW_CONFIG", str(config))
    result = defs.resolve_job_def("sidflow_retrain").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    keys = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert keys == {"rating_model", "classified", "feedback_aggregates", "sidflow_lance"}
    assert len(_classified_rows(tmp_path / "data")) == len(features)
