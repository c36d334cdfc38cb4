"""When to retrain: enough new things said, and enough time since the last training.

"New feedback" counts what the listener said since the last training — feedback
events (valid, uuid-deduplicated) plus manually rated songs — against the counts the
training log recorded. The content digest covers the feedback log files and the tags
files, so the sensor can tell "nothing changed" from "changed, but not enough yet" and
use it as the run key: the same content never starts two runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sidflow_pipeline.config import RetrainConfig, SidflowConfig

__all__ = ["Observation", "RetrainDecision", "content_run_key", "decide", "observe"]


@dataclass(frozen=True)
class Observation:
    feedback_events: int
    manual_songs: int
    content: str

    @property
    def said(self) -> int:
        return self.feedback_events + self.manual_songs


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    new_feedback: int


def observe(config: SidflowConfig) -> Observation:
    from sidflow_pipeline.feedback.log import read_events
    from sidflow_pipeline.ratings.tags import TagsError, effective_tags_files, read_tags

    digest = hashlib.sha256()
    # One read of the log: the digest covers the valid, deduplicated events (a broken
    # line is not something new the listener said).
    events = read_events(config.data_path / "feedback").events
    for event in events:
        digest.update(json.dumps(event.to_json(), sort_keys=True).encode() + b"\0")
    manual_songs = 0
    for sid_path, path in effective_tags_files(config.tags_roots):
        digest.update(sid_path.encode() + b"\0" + path.read_bytes() + b"\0")
        try:
            manual_songs += len(read_tags(path))
        except TagsError:
            continue
    return Observation(len(events), manual_songs, digest.hexdigest())


def _parse_ts(text: Any) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def decide(retrain: RetrainConfig, seen: Observation, last: dict[str, Any] | None, now: datetime) -> RetrainDecision:
    """Whether to retrain now; the reason is shown as the sensor's skip or run reason."""
    said_before = 0 if last is None else int(last.get("feedbackEvents", 0)) + int(last.get("manualSongs", 0))
    new = max(0, seen.said - said_before)
    if not retrain.enabled:
        return RetrainDecision(False, "retraining is disabled (retrain.enabled = false in .sidflow.json)", new)
    if new < retrain.min_new_feedback:
        return RetrainDecision(False, f"{new} new ratings/feedback events since the last training; waiting for {retrain.min_new_feedback}", new)
    if last is not None:
        trained_at = _parse_ts(last.get("trainedAt"))
        if trained_at is not None:
            hours = (now - trained_at).total_seconds() / 3600
            if hours < retrain.interval_hours:
                return RetrainDecision(
                    False, f"last training {hours:.1f} h ago; next one allowed after {retrain.interval_hours:g} h", new
                )
    return RetrainDecision(True, f"{new} new ratings/feedback events since the last training", new)


def content_run_key(seen: Observation) -> str:
    return f"retrain-{seen.content[:20]}"
