"""Samples, the model lifecycle and one training run, on synthetic features (fast)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.feedback.log import FeedbackEvent, append_event
from sidflow_pipeline.ratings.tags import Rating
from sidflow_pipeline.training.model import (
    ModelError,
    create_model,
    evaluate,
    load_model,
    load_predictor,
    train_model,
)
from sidflow_pipeline.training.samples import FEEDBACK_TARGETS, build_samples, read_samples
from sidflow_pipeline.training.train import is_held_out, load_training_data, read_training_log, run_training
from sidflow_pipeline_tests.training.listener import Listener, synthetic_features, write_project

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _event(path: str, action: str, n: int, song: int = 1) -> FeedbackEvent:
    return FeedbackEvent(ts="2026-11-01T00:00:00.000Z", sid_path=path, song_index=song, action=action, uuid=f"{path}{action}{n}")


def test_samples_fold_feedback_into_p_and_manual_wins() -> None:
    songs = [("A/a.sid", 1), ("A/b.sid", 1), ("A/c.sid", 2), ("A/d.sid", 1), ("A/e.sid", 1)]
    tags = {"A/a.sid": {None: Rating(e=4, m=2)}, "A/b.sid": {None: Rating(p=1)}, "A/c.sid": {2: Rating(e=5, m=5, c=5, p=5)}}
    events = [
        _event("A/a.sid", "like", 1), _event("A/a.sid", "like", 2), _event("A/a.sid", "skip", 3),
        _event("A/b.sid", "like", 1),  # manual p wins
        _event("OLD/d.sid", "dislike", 1),  # renamed to A/d.sid
        _event("A/e.sid", "play", 1),  # neutral: no sample
        _event("A/zzz.sid", "like", 1),  # no features: no sample
    ]  # fmt: skip
    samples = {s.key: s for s in build_samples(songs, tags, events, {"/OLD/d.sid": "/A/d.sid"})}
    assert set(samples) == {("A/a.sid", 1), ("A/b.sid", 1), ("A/c.sid", 2), ("A/d.sid", 1)}
    a = samples[("A/a.sid", 1)]
    like, skip = FEEDBACK_TARGETS["like"], FEEDBACK_TARGETS["skip"]
    expected = (2 * like[1] * like[0] + skip[1] * skip[0]) / (2 * like[1] + skip[1])
    assert a.targets == {"e": 4.0, "m": 2.0, "p": round(expected, 4)}
    assert a.weights == {"e": 1.0, "m": 1.0, "p": 1.0} and a.source == "manual+feedback" and a.events == {"like": 2, "skip": 1}
    assert samples[("A/b.sid", 1)].targets == {"p": 1.0} and samples[("A/b.sid", 1)].source == "manual"
    assert samples[("A/c.sid", 2)].weights == {d: 1.0 for d in "cemp"}
    d = samples[("A/d.sid", 1)]
    assert d.targets == {"p": 1.0} and d.weights == {"p": 0.5} and d.source == "feedback"


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, dict, Listener]:
    return write_project(tmp_path)


def test_training_beats_the_baseline_and_is_deterministic(project: tuple[Path, dict, Listener]) -> None:
    config_path, _features, _listener = project
    config = load_config(config_path)
    first = run_training(config, now=NOW)
    assert first.published and first.reason.startswith("published: beats baseline by")
    assert first.train_samples + first.test_samples == 192 and first.test_samples > 20
    for dim in "emcp":
        assert first.candidate.per_dim[dim]["mae"] < 0.75 * first.baseline.per_dim[dim]["mae"], dim
    files = sorted(p.name for p in (config.layout.model_dir).iterdir())
    assert files == ["feature-stats.json", "model-c.txt", "model-e.txt", "model-m.txt", "model-metadata.json", "model-p.txt"]
    meta = json.loads(config.layout.model_metadata.read_text())
    assert meta["featureSetVersion"] == FEATURE_SET_VERSION and meta["trainedAt"] == "2026-12-01T12:00:00Z"
    assert meta["samples"]["train"] == first.train_samples and 0.05 <= meta["confidence"] <= 0.95
    booster_text = (config.layout.booster("e")).read_text()
    second = run_training(config, now=NOW)
    # the same data gives the same model: not better than the current one, so not published
    assert second.status == "rejected" and second.candidate.to_json() == first.candidate.to_json()
    assert "not better than the current model" in second.reason
    assert (config.layout.booster("e")).read_text() == booster_text
    log = read_training_log(config.layout.training_log)
    assert [e["published"] for e in log] == [True, False] and log[0]["metrics"] == log[1]["metrics"]
    assert log[1]["current"] == log[1]["metrics"]
    samples = read_samples(config.layout.training_samples)
    assert len(samples) == 192 and all(s.source == "manual" for s in samples)
    predictor = load_predictor(config.layout.model_dir, FEATURE_SET_VERSION)
    ratings, confidence = predictor.predict(next(iter(_features.values())))
    assert set(ratings) == set("emcp") and all(1 <= v <= 5 for v in ratings.values()) and 0 < confidence <= 0.95


def test_a_worse_candidate_is_not_published_unless_forced(project: tuple[Path, dict, Listener]) -> None:
    config_path, _features, _listener = project
    config = load_config(config_path)
    assert run_training(config, now=NOW).published
    before = {p.name: p.read_bytes() for p in (config.layout.model_dir).iterdir()}
    # The listener's ratings are replaced by noise: what is learnt from it is worse.
    rng = np.random.default_rng(0)
    for path in (config.layout.tags).rglob("*.tags.json"):
        if not is_held_out(path.relative_to(config.layout.tags).as_posix()[: -len(".tags.json")]):
            path.write_text(json.dumps({d: int(rng.integers(1, 6)) for d in "emcp"}))
    rejected = run_training(config, now=NOW)
    assert rejected.status == "rejected" and "not better than the current model" in rejected.reason
    assert {p.name: p.read_bytes() for p in (config.layout.model_dir).iterdir()} == before
    forced = run_training(config, now=NOW, force=True)
    assert forced.published and "(forced)" in forced.reason
    log = read_training_log(config.layout.training_log)
    assert [e["published"] for e in log] == [True, False, True]


def test_model_refuses_another_feature_set_and_missing_boosters(project: tuple[Path, dict, Listener]) -> None:
    config_path, _, _ = project
    config = load_config(config_path)
    run_training(config, now=NOW)
    model_dir = config.layout.model_dir
    from click.testing import CliRunner

    from sidflow_pipeline.cli.main import cli

    verified = CliRunner().invoke(cli, ["--config", str(config_path), "verify"])
    assert "rating model" in verified.output and "lightgbm-lgbm-1.0, trained" in verified.output
    with pytest.raises(ModelError, match="trained on feature set"):
        load_model(model_dir, "1999-01-01.0")
    (model_dir / "model-m.txt").unlink()
    with pytest.raises(ModelError, match="sidflow train --force"):
        load_model(model_dir, FEATURE_SET_VERSION)
    verified = CliRunner().invoke(cli, ["--config", str(config_path), "verify"])
    assert verified.exit_code == 1 and "rating model" in verified.output and "missing" in verified.output
    (model_dir / "feature-stats.json").write_text("{")
    with pytest.raises(ModelError, match="unreadable"):
        load_model(model_dir, FEATURE_SET_VERSION)
    assert load_model(config.data_path / "nothing", FEATURE_SET_VERSION) is None


def test_few_samples_train_nothing_and_missing_dimensions_use_the_baseline(tmp_path: Path) -> None:
    features = synthetic_features(30, seed=1)
    listener = Listener(features)
    keys = sorted(features)
    from sidflow_pipeline.training.samples import Sample

    samples = [Sample(k[0], k[1], {"e": float(listener.rate(features[k])["e"])}, {"e": 1.0}, "manual") for k in keys]
    model = train_model(create_model(num_boost_round=20), samples, features, feature_set_version="x")
    assert sorted(model.boosters) == ["e"]
    predicted = model.predict_matrix([features[keys[0]]])
    from sidflow_pipeline.classify.predict import baseline_predict

    assert predicted["m"][0] == pytest.approx(baseline_predict(features[keys[0]])[0]["m"])
    tiny = train_model(create_model(), samples[:3], features, feature_set_version="x")
    assert tiny.boosters == {}
    assert evaluate(model.predict_matrix, [], features).mean_mae is None


def test_no_samples_and_evaluate_only(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    cfg = load_config(config)
    outcome = run_training(cfg, now=NOW)
    assert outcome.status == "no-samples" and "sidflow rate" in outcome.reason
    evaluated = run_training(cfg, evaluate_only=True)
    assert evaluated.status == "evaluated" and "baseline" in evaluated.reason
    assert not (cfg.layout.training_log).exists()


def test_feedback_only_listener_trains_p(project: tuple[Path, dict, Listener]) -> None:
    config_path, features, listener = project
    config = load_config(config_path)
    for path in (config.layout.tags).rglob("*.tags.json"):
        path.unlink()
    for i, (key, f) in enumerate(sorted(features.items())):
        p = listener.rate(f)["p"]
        action = "like" if p >= 4 else "dislike" if p <= 2 else "skip" if i % 2 else None
        if action:
            append_event(config.layout.feedback_dir, key[0], action, song_index=key[1], when=NOW, event_id=f"ev{i}")
    data = load_training_data(config)
    assert data.feedback_events > 100 and all(set(s.targets) == {"p"} for s in data.samples)
    outcome = run_training(config, now=NOW, data=data)
    assert outcome.published and sorted(outcome.model.boosters) == ["p"]
    assert outcome.candidate.per_dim["p"]["mae"] < outcome.baseline.per_dim["p"]["mae"]


def test_cli_train_evaluate_and_reject(project: tuple[Path, dict, Listener]) -> None:
    from click.testing import CliRunner

    from sidflow_pipeline.cli.main import cli

    config_path, _, _ = project
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config_path), "train", "--num-boost-round", "120"])
    assert first.exit_code == 0, first.output
    assert "held-out MAE / R²" in first.output and "published" in first.output
    evaluated = runner.invoke(cli, ["--config", str(config_path), "train", "--evaluate", "--json"])
    data = json.loads(evaluated.output)
    assert data["status"] == "evaluated" and data["candidate"] is None and set(data["current"]) == set("emcp")
    worse = runner.invoke(cli, ["--config", str(config_path), "train", "--epochs", "1", "--learning-rate", "0.001"])
    assert worse.exit_code == 1 and "rejected" in worse.output
    forced = runner.invoke(cli, ["--config", str(config_path), "train", "--epochs", "1", "--force", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.output)["status"] == "published"


def test_missing_trace_features_are_nan_for_the_model_not_zero() -> None:
    import math

    import numpy as np

    from sidflow_pipeline.features import TRACE_FEATURE_NAMES
    from sidflow_pipeline.training.model import FeatureStats, feature_matrix

    names = ["bpm", TRACE_FEATURE_NAMES[0]]
    rows = [{"bpm": 100.0, names[1]: 2.0}, {"bpm": 120.0, names[1]: None}, {"bpm": 140.0}]
    matrix = feature_matrix(rows, names)
    assert matrix[0, 1] == 2.0 and math.isnan(matrix[1, 1]) and math.isnan(matrix[2, 1])
    stats = FeatureStats.fit(names, matrix)
    assert stats.mean == (120.0, 2.0) and stats.std[1] == 1.0  # one measured value: no spread
    assert np.isnan(stats.normalise(matrix)[1, 1])
