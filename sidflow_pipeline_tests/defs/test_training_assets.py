"""rating_model (+ its blocking check), the retrain sensor and schedule, through Dagster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, classified
from sidflow_pipeline.defs.feedback import feedback_aggregates, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.defs.training import CHECK_NAME, rating_model, retrain_nightly, retrain_on_feedback
from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.training.retrain import content_run_key, observe
from sidflow_pipeline.training.train import append_training_log, is_held_out
from sidflow_pipeline_tests.training.listener import write_project

ASSETS = [rating_model, classified, feedback_aggregates, sidflow_lance]


def _materialize(config: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS, resources={"sidflow": SidflowConfigResource(config_path=str(config))}, tags=ALL_SECTIONS_TAGS, raise_on_error=False
    )


def _classified_rows(data: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((data / "classified").glob("*.jsonl")) for line in path.read_text().splitlines()]


def test_retrain_job_publishes_reclassifies_and_keeps_the_model_over_a_worse_one(tmp_path: Path) -> None:
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
    kept = _materialize(config)
    # issue 16: a refused candidate keeps the current model and warns; the rest of the
    # job (reclassification, the database with the new feedback) still runs on it.
    assert kept.success
    check = kept.get_asset_check_evaluations()[0]
    assert not check.passed and "not better than the current model" in check.description
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert (data / "model" / "model-e.txt").read_bytes() == model_before
    assert kept.asset_materializations_for_node("classified") and kept.asset_materializations_for_node("sidflow_lance")
    assert len(_classified_rows(data)) == len(classified_before)


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
    assert cursor == {"content": observe(cfg).content, "requested": False}
    # Ten likes later: 34 ≥ 30 → a run, keyed by the content seen.
    keys = sorted(features)
    for i in range(10):
        append_event(cfg.layout.feedback_dir, keys[i][0], "like", event_id=f"like-{i}")
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
        cfg.layout.training_log,
        {"trainedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "feedbackEvents": 10, "manualSongs": 24},
    )
    append_event(cfg.layout.feedback_dir, keys[11][0], "skip", event_id="skip-1")
    after, _ = _sensor(config, result.cursor)
    assert not after.run_requests and "1 new" in after.skip_reason.skip_message
    assert json.loads(after.cursor)["content"] != json.loads(result.cursor)["content"]


def test_sensor_respects_interval_and_switch(tmp_path: Path) -> None:
    config, _, _ = write_project(tmp_path, count=40, retrain={"minNewFeedback": 5, "intervalHours": 24})
    cfg = load_config(config)
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    append_training_log(
        cfg.layout.training_log,
        {"trainedAt": two_hours_ago, "feedbackEvents": 0, "manualSongs": 0},
    )
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


def _instance_sensor(config: Path, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"sidflow": SidflowConfigResource(config_path=str(config))}
    )
    return retrain_on_feedback(context)


def _store_run(instance: dg.DagsterInstance, request: dg.RunRequest, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """A run as the daemon would have launched it for ``request``, already in ``status``."""
    from dagster._core.utils import make_new_run_id

    tags = {**request.tags, "dagster/run_key": request.run_key}
    return instance.add_run(dg.DagsterRun(job_name="sidflow_retrain", run_id=make_new_run_id(), status=status, tags=tags))


def _project_instance() -> Any:
    """A test instance with the project's own dagster.yaml settings (run retries included)."""
    import yaml

    settings = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster.yaml").read_text())
    return dg.instance_for_test(overrides={k: v for k, v in settings.items() if k != "run_coordinator"})


def test_sensor_fires_at_the_threshold_not_before_on_a_real_instance(tmp_path: Path) -> None:
    """Against a real temporary instance: 25 of 26 → skip; the 26th → one run; the same
    content → no second run; `enabled: false` and `intervalHours` hold it back."""
    config, features, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 26, "intervalHours": 24})
    cfg = load_config(config)
    keys = sorted(features)
    with dg.instance_for_test() as instance:
        append_event(cfg.layout.feedback_dir, keys[0][0], "like", event_id="like-0")
        below = _instance_sensor(config, instance)
        assert not below.run_requests and below.skip_reason.skip_message.startswith("25 new ratings/feedback events")
        append_event(cfg.layout.feedback_dir, keys[1][0], "like", event_id="like-1")
        config.write_text(json.dumps({**json.loads(config.read_text()), "retrain": {"enabled": False, "minNewFeedback": 26}}))
        off = _instance_sensor(config, instance, below.cursor)
        assert not off.run_requests and "disabled" in off.skip_reason.skip_message
        config.write_text(json.dumps({**json.loads(config.read_text()), "retrain": {"enabled": True, "minNewFeedback": 26}}))
        at = _instance_sensor(config, instance, off.cursor)
        (request,) = at.run_requests
        assert request.run_key == content_run_key(observe(cfg)) and request.tags["sidflow/retrain-reason"].startswith("26 new")
        assert not _instance_sensor(config, instance, at.cursor).run_requests
        recent = (datetime.now(UTC) - timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
        append_training_log(cfg.layout.training_log, {"trainedAt": recent, "feedbackEvents": 0, "manualSongs": 0})
        soon = _instance_sensor(config, instance)
        assert not soon.run_requests and "next one allowed after 24 h" in soon.skip_reason.skip_message


def test_the_retrain_job_is_retried_by_dagster_not_by_the_sensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed `sidflow_retrain` run is retried by Dagster's run retries (the project's
    dagster.yaml + the job's tag): twice, so three attempts in all; the sensor requests
    each content once and leaves failures alone."""
    from dagster._core.execution.retries import auto_reexecution_should_retry_run

    from sidflow_pipeline.definitions import defs
    from sidflow_pipeline.defs.training import RETRAIN_RUN_RETRIES
    from sidflow_pipeline.training.model import create_model
    from sidflow_pipeline.training.train import run_training

    config, _, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 5, "intervalHours": 24})
    cfg = load_config(config)
    monkeypatch.setenv("SIDFLOW_CONFIG", str(config))
    job = defs.resolve_job_def("sidflow_retrain")
    assert job.tags["dagster/max_retries"] == str(RETRAIN_RUN_RETRIES) == "2"
    with _project_instance() as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 0  # other jobs: no retries
        # The sensor requests this content once; a failure does not make it request again.
        first = _instance_sensor(config, instance)
        (request,) = first.run_requests
        assert set(request.tags) == {"sidflow/retrain-reason"}
        # A real run of the job that fails: a published model meets feature rows of another set.
        assert run_training(cfg, spec=create_model(num_boost_round=20), force=True).published
        path = min((cfg.layout.features_dir).glob("*.jsonl"))
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows[0]["featureSetVersion"] = "1999-01-01.0"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        failed = job.execute_in_process(instance=instance, tags={"dagster/run_key": request.run_key}, raise_on_error=False)
        assert not failed.success
        run = instance.get_run_by_id(failed.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        # Dagster marks it for retry (the daemon of `dagster dev` launches the retry).
        assert run.tags.get("dagster/will_retry") == "true"
        again = _instance_sensor(config, instance, first.cursor)
        assert not again.run_requests and "Dagster retries it" in again.skip_reason.skip_message
        # The retries Dagster launches form one run group; after two failed retries it stops.
        from dagster._core.utils import make_new_run_id

        parent = run
        for number in range(1, RETRAIN_RUN_RETRIES + 1):
            tags = {**run.tags, "dagster/parent_run_id": parent.run_id, "dagster/root_run_id": run.run_id}
            tags["dagster/retry_number"] = str(number)
            tags.pop("dagster/will_retry", None)
            retry = instance.add_run(
                dg.DagsterRun(
                    job_name="sidflow_retrain", run_id=make_new_run_id(), status=dg.DagsterRunStatus.FAILURE, tags=tags,
                    root_run_id=run.run_id, parent_run_id=parent.run_id,
                )
            )
            expected = number < RETRAIN_RUN_RETRIES
            assert auto_reexecution_should_retry_run(instance, retry, None) is expected, number
            parent = retry


def test_a_run_failed_by_a_rejected_candidate_is_not_retried(tmp_path: Path) -> None:

    config, _, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 5, "intervalHours": 24})
    cfg = load_config(config)
    with dg.instance_for_test() as instance:
        request = _instance_sensor(config, instance).run_requests[0]
        _store_run(instance, request, dg.DagsterRunStatus.FAILURE)
        # The run trained on exactly this content and the blocking check rejected the candidate.
        seen = observe(cfg)
        append_training_log(
            cfg.layout.training_log,
            {
                "trainedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "inputs": {"count": seen.said, "sha256": seen.content},
                "published": False,
                "reason": "candidate mean MAE 0.9 > current 0.5",
            },
        )
        result = _instance_sensor(config, instance)
        assert (
            not result.run_requests
            and "candidate was rejected (candidate mean MAE 0.9 > current 0.5)" in result.skip_reason.skip_message
        )


def test_sensor_sees_nothing_new_after_training_a_multi_song_tune(tmp_path: Path) -> None:
    """A file-wide rating on a 10-song tune and rated songs without features: 0 new after training, then exactly 1."""
    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.jsonl import write_jsonl_rows
    from sidflow_pipeline.ratings.tags import Rating, write_rating
    from sidflow_pipeline.training.model import create_model
    from sidflow_pipeline.training.train import run_training
    from sidflow_pipeline_tests.training.listener import synthetic_features

    config, _, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 1, "intervalHours": 0})
    cfg = load_config(config)
    multi = "MUSICIANS/Z/Zed/Ten_Songs.sid"
    rows = [
        {"sid_path": multi, "song_index": i, "featureSetVersion": FEATURE_SET_VERSION, "features": f, "status": "ok"}
        for i, f in enumerate(synthetic_features(10, seed=9).values(), start=1)
    ]
    write_jsonl_rows(cfg.layout.features_file("extra"), rows)
    (cfg.layout.tags / "MUSICIANS/Z/Zed").mkdir(parents=True)
    (cfg.layout.tags / f"{multi}.tags.json").write_text(json.dumps({"e": 4, "m": 2, "c": 3, "p": 5}))
    for name in ("A", "B"):
        write_rating(cfg.layout.tags / f"MUSICIANS/Z/Zed/Unrendered_{name}.sid.tags.json", 1, 1, Rating(p=2))
    append_event(cfg.layout.feedback_dir, "MUSICIANS/Z/Zed/Unrendered_A.sid", "like", event_id="like-0")
    with dg.instance_for_test() as instance:
        before = _instance_sensor(config, instance)
        assert "28 new" in before.run_requests[0].tags["sidflow/retrain-reason"]
        run_training(cfg, spec=create_model(num_boost_round=20))  # as `sidflow train` would
        after = _instance_sensor(config, instance)
        assert not after.run_requests and after.skip_reason.skip_message.startswith("0 new ratings/feedback events")
        append_event(cfg.layout.feedback_dir, multi, "dislike", song_index=4, event_id="dislike-1")
        one = _instance_sensor(config, instance, after.cursor)
        assert "1 new ratings/feedback events" in one.run_requests[0].tags["sidflow/retrain-reason"]


def test_classified_refuses_rows_of_another_feature_set_than_the_model(tmp_path: Path) -> None:
    from sidflow_pipeline.training.model import create_model
    from sidflow_pipeline.training.train import run_training

    config, _, _ = write_project(tmp_path, count=40)
    cfg = load_config(config)
    assert run_training(cfg, spec=create_model(num_boost_round=20), force=True).published  # too few songs for the gate; not what this tests
    path = min((cfg.layout.features_dir).glob("*.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["featureSetVersion"] = "1999-01-01.0"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = dg.materialize(
        [classified], resources={"sidflow": SidflowConfigResource(config_path=str(config))}, tags=ALL_SECTIONS_TAGS, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert "'1999-01-01.0'" in message and "was trained on" in message and "audio_features" in message
    assert not list((cfg.layout.classified).glob("*.jsonl"))  # nothing half-classified


def test_full_job_carries_every_section() -> None:
    """`dagster job execute -j sidflow_full` needs no partition tags (scripts/run.sh passes none)."""
    from sidflow_pipeline.definitions import defs

    assert ALL_SECTIONS_TAGS.items() <= defs.resolve_job_def("sidflow_full").tags.items()
    assert "--tags" not in (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()


def test_the_model_check_warns_when_there_is_nothing_to_check(tmp_path: Path) -> None:
    config, _features, _listener = write_project(tmp_path, count=20)
    for path in (tmp_path / "data" / "tags").rglob("*.tags.json"):
        path.unlink()
    result = dg.materialize(
        [rating_model], resources={"sidflow": SidflowConfigResource(config_path=str(config))}, raise_on_error=False
    )
    assert result.success  # a warning does not block
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("nothing to check: ")


def test_observable_sources_are_observed_on_their_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The automation sensor is on by default and observes the listener's files every five minutes."""
    import datetime as dt

    from sidflow_pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("sidflow_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    config, _features, _listener = write_project(tmp_path, count=10)
    monkeypatch.setenv("SIDFLOW_CONFIG", str(config))
    observed = {"manual_ratings", "feedback_events", "mastering_ratings"}
    instance = dg.DagsterInstance.ephemeral()
    start = dt.datetime(2026, 12, 5, 12, 1, tzinfo=dt.UTC)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=start)
    later = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=start + dt.timedelta(minutes=5)
    )
    assert first.total_requested == 0  # no five-minute tick has passed yet
    for name in observed:
        assert later.get_num_requested(dg.AssetKey(name)) == 1, name
    # Nothing else is launched by the automation: the pipeline's assets run from jobs.
    assert later.total_requested == len(observed)
