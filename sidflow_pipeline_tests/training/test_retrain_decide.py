"""The retrain decision (what the sensor / declarative automation calls) fires at
``retrain.minNewFeedback`` new events and not one before; the CLI says what is pending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sidflow_pipeline.config import RetrainConfig, load_config
from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.training.inputs import inputs_digest
from sidflow_pipeline.training.retrain import Observation, decide, observe, pending_message

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _seen(events: int) -> Observation:
    return Observation(frozenset(f"feedback {i:04d}" for i in range(events)))


def test_fires_at_the_threshold_and_not_before() -> None:
    retrain = RetrainConfig(enabled=True, intervalHours=24, minNewFeedback=50)
    last = {"trainedAt": (NOW - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), "inputs": {"count": 10}}
    before = decide(retrain, _seen(59), last, NOW)
    assert not before.retrain and before.new_feedback == 49 and "waiting for 50" in before.reason
    at = decide(retrain, _seen(60), last, NOW)
    assert at.retrain and at.new_feedback == 50
    # counted by content: the ids the last training read are not new
    covered = _seen(60).items
    assert decide(retrain, _seen(60), {**last, "inputs": {"sha256": inputs_digest(covered)}}, NOW, covered).new_feedback == 0
    # enough, but too soon after the last training
    recent = {**last, "trainedAt": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert not decide(retrain, _seen(60), recent, NOW).retrain
    assert not decide(RetrainConfig(enabled=False), _seen(500), None, NOW).retrain


def test_pending_message_after_feedback(tmp_path: Path) -> None:
    config_path = tmp_path / "cfg.json"
    config_path.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc", "retrain": {"minNewFeedback": 3}}))
    config = load_config(config_path)
    for i in range(2):
        append_event(config.layout.feedback_dir, f"A/t{i}.sid", "like")
    assert observe(config).feedback_events == 2
    text = pending_message(config, NOW)
    assert text.startswith("2 ratings/feedback events, no training yet") and "retrains at 3 (1 more)" in text and "sidflow train" in text
    append_event(config.layout.feedback_dir, "A/t9.sid", "skip")
    assert "next check" in pending_message(config, NOW)


def test_a_rejected_training_of_the_same_content_is_not_repeated() -> None:
    from sidflow_pipeline.training.retrain import rejected_before

    seen = Observation(frozenset({"r:a", "f:b"}))
    rejected = {"inputs": {"count": 2, "sha256": seen.content}, "published": False, "reason": "candidate mean MAE 0.9 > current 0.5"}
    message = rejected_before(seen, rejected)
    assert message is not None and "candidate was rejected (candidate mean MAE 0.9 > current 0.5)" in message
    assert rejected_before(seen, {**rejected, "published": True}) is None  # published: nothing to refuse
    assert rejected_before(Observation(frozenset({"r:a", "f:b", "f:c"})), rejected) is None  # new content
    assert rejected_before(seen, None) is None
