"""What "new since the last training" counts, and the model's refusal of other feature sets.

Training and the retrain decision must count the same unit (a rating entry, a feedback
event), by content: a file-wide rating on a 10-song tune is one thing said (and ten
samples), a rating of a song without features is still something said.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidflow_pipeline.classify.classified import classify_rows
from sidflow_pipeline.classify.predict import BaselinePredictor, FeatureSetMismatchError
from sidflow_pipeline.config import SidflowConfig, load_config
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.jsonl import write_jsonl_rows
from sidflow_pipeline.ratings.tags import Rating, write_rating
from sidflow_pipeline.training.inputs import read_inputs
from sidflow_pipeline.training.model import create_model, load_predictor
from sidflow_pipeline.training.retrain import (
    covered_inputs,
    decide,
    new_since,
    observe,
    trained_on,
)
from sidflow_pipeline.training.train import last_training, run_training
from sidflow_pipeline_tests.training.listener import synthetic_features, write_project

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MULTI = "MUSICIANS/Z/Zed/Ten_Songs.sid"
NO_FEATURES = ("MUSICIANS/Z/Zed/Unrendered_A.sid", "MUSICIANS/Z/Zed/Unrendered_B.sid")


def _project(tmp_path: Path) -> SidflowConfig:
    """24 single-song ratings, a 10-song tune with one file-wide rating, two rated songs without features."""
    config_path, _, _ = write_project(tmp_path, count=40, retrain={"enabled": True, "minNewFeedback": 1, "intervalHours": 0})
    config = load_config(config_path)
    extra = synthetic_features(10, seed=9)
    rows = [
        {"sid_path": MULTI, "song_index": i, "featureSetVersion": FEATURE_SET_VERSION, "features": f, "status": "ok"}
        for i, f in enumerate(extra.values(), start=1)
    ]
    write_jsonl_rows(config.layout.features_file("extra"), rows)
    tags = config.layout.tags
    (tags / f"{MULTI}.tags.json").parent.mkdir(parents=True)
    (tags / f"{MULTI}.tags.json").write_text(json.dumps({"e": 4, "m": 2, "c": 3, "p": 5}))  # file-wide
    for path in NO_FEATURES:
        write_rating(tags / f"{path}.tags.json", 1, 1, Rating(e=2, m=2, c=2, p=2))
    return config


def _new(config: SidflowConfig) -> int:
    last = last_training(config)
    return new_since(observe(config), last, covered_inputs(config, last))


def test_after_training_nothing_is_new_and_each_new_thing_counts_once(tmp_path: Path) -> None:
    config = _project(tmp_path)
    seen = observe(config)
    assert seen.said == 24 + 1 + 2 and seen.manual_songs == 27 and seen.feedback_events == 0
    assert _new(config) == 27  # no training yet: everything said is new
    outcome = run_training(config, spec=create_model(num_boost_round=20), now=NOW)
    assert outcome.status in {"published", "rejected"}
    entry = last_training(config)
    # Training made 34 samples (the file-wide rating → 10, the unrendered songs → none) ...
    assert entry["manualSongs"] == 24 + 10
    # ... but records what it read, in the sensor's unit.
    assert entry["inputs"]["count"] == 27 and entry["inputs"]["ratings"] == 27 and entry["inputs"]["feedbackEvents"] == 0
    assert read_inputs(config.layout.training_inputs)[1] == entry["inputs"]["sha256"]
    assert trained_on(observe(config), entry)
    assert _new(config) == 0
    decision = decide(config.retrain, observe(config), entry, NOW, covered_inputs(config, entry))
    assert not decision.retrain and decision.reason.startswith("0 new ratings/feedback events")

    # One like on a song of the 10-song tune: exactly 1 new.
    append_event(config.layout.feedback_dir, MULTI, "like", song_index=3, event_id="like-1")
    assert _new(config) == 1
    # A song's own rating in the tune with the file-wide rating (which stays): 2.
    write_rating(config.layout.tags / f"{MULTI}.tags.json", 7, 10, Rating(e=1, m=1, c=1, p=1))
    assert _new(config) == 2
    # A new rating of a song without features counts too: 3.
    write_rating(config.layout.tags / "MUSICIANS/Z/Zed/Unrendered_C.sid.tags.json", 1, 1, Rating(p=4))
    assert _new(config) == 3
    # Re-saving a rating with the same values is not new; changing one is (and only that one).
    write_rating(config.layout.tags / f"{NO_FEATURES[0]}.tags.json", 1, 1, Rating(e=2, m=2, c=2, p=2))
    assert _new(config) == 3
    write_rating(config.layout.tags / f"{NO_FEATURES[1]}.tags.json", 1, 1, Rating(e=5, m=2, c=2, p=2))
    assert _new(config) == 4
    decision = decide(config.retrain, observe(config), last_training(config), NOW, covered_inputs(config, last_training(config)))
    assert decision.retrain and decision.new_feedback == 4

    # Training again covers all of it.
    run_training(config, spec=create_model(num_boost_round=20), now=NOW, force=True)
    assert _new(config) == 0


def test_a_stale_or_missing_inputs_file_falls_back_to_counts(tmp_path: Path) -> None:
    config = _project(tmp_path)
    run_training(config, spec=create_model(num_boost_round=20), now=NOW)
    append_event(config.layout.feedback_dir, MULTI, "skip", event_id="skip-1")
    inputs = config.layout.training_inputs
    inputs.write_text(inputs.read_text() + json.dumps("feedback edited-by-hand") + "\n")
    last = last_training(config)
    assert covered_inputs(config, last) is None
    assert new_since(observe(config), last, None) == 1  # 28 said − 27 recorded
    inputs.unlink()
    assert covered_inputs(config, last) is None and _new(config) == 1


class _Model:
    name = "lightgbm-test"
    feature_set_version = "2026-01-01.1"

    def predict(self, features: dict) -> tuple[dict[str, float], float]:
        return {d: 3.0 for d in "emcp"}, 0.5


def _row(path: str, version: str | None, features: dict | None = None) -> dict:
    return {"sid_path": path, "song_index": 1, "featureSetVersion": version, "features": features if features is not None else {"bpm": 1.0}}


def test_prediction_refuses_rows_of_another_feature_set() -> None:
    rows = [_row("A/a.sid", "2026-01-01.1"), _row("A/b.sid", "2025-06-01.0"), _row("A/c.sid", "2025-06-01.0")]
    with pytest.raises(FeatureSetMismatchError) as caught:
        classify_rows(rows, {}, _Model())
    message = str(caught.value)
    assert "\n" not in message
    assert "2 songs (e.g. A/b.sid#1)" in message and "'2025-06-01.0'" in message and "'2026-01-01.1'" in message
    assert "audio_features" in message and "sidflow train --force" in message
    # Same version, or no features to predict from (unrenderable, manual only): accepted.
    unrendered = {**_row("A/d.sid", "2025-06-01.0"), "features": None}
    out, _ = classify_rows([rows[0], unrendered], {("A/d.sid", 1): Rating(e=1, m=1, c=1, p=1)}, _Model())
    assert [r["sid_path"] for r in out] == ["A/a.sid", "A/d.sid"]
    # The baseline reads features by name and has no feature set to compare.
    assert len(classify_rows(rows, {}, BaselinePredictor())[0]) == 3


def test_a_trained_model_refuses_stale_rows(tmp_path: Path) -> None:
    config_path, features, _ = write_project(tmp_path, count=40)
    config = load_config(config_path)
    assert run_training(
        config, spec=create_model(num_boost_round=20), now=NOW, force=True
    ).published  # too few songs for the gate; not what this tests
    model = load_predictor(config.layout.model_dir, FEATURE_SET_VERSION)
    assert model is not None and model.feature_set_version == FEATURE_SET_VERSION
    rows = [{"sid_path": k[0], "song_index": k[1], "featureSetVersion": FEATURE_SET_VERSION, "features": f} for k, f in features.items()]
    assert len(classify_rows(rows, {}, model)[0]) == 40
    rows[5]["featureSetVersion"] = "1999-01-01.0"
    with pytest.raises(
        FeatureSetMismatchError,
        match=r"1 songs .* feature set '1999-01-01\.0' but the model lightgbm-lgbm-1\.0 was trained on",
    ):
        classify_rows(rows, {}, model)
