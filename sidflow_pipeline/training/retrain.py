"""When to retrain: enough new things said, and enough time since the last training.

"New feedback" is counted by content, not by subtracting counts: every rating entry
and feedback event has an id (:mod:`sidflow_pipeline.training.inputs`), training
records the ids it read, and the sensor counts the ids it sees that the last training
did not read. Counting the same unit on both sides is what lets the count fall to 0
after a training (no retrain every ``intervalHours`` with nothing new) and makes one
new rating or event count exactly 1. A log entry from before the ids were recorded
(or whose inputs file no longer matches it) falls back to comparing counts once; the
next training records the ids.

The content digest is the digest of those ids — the one a training of exactly this
content records — so the sensor can tell "nothing changed" from "changed, but not
enough yet" and use it as the run key: the same content never starts two runs
(retries of a failed run get their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sidflow_pipeline.config import RetrainConfig, SidflowConfig
from sidflow_pipeline.training.inputs import count_kinds, input_ids, inputs_digest, read_inputs

__all__ = [
    "Observation",
    "RetrainDecision",
    "content_run_key",
    "covered_inputs",
    "decide",
    "new_since",
    "observe",
    "pending_message",
    "rejected_before",
    "trained_on",
]


@dataclass(frozen=True)
class Observation:
    """What the listener has said so far, as ids (see :mod:`~sidflow_pipeline.training.inputs`)."""

    items: frozenset[str] = field(default_factory=frozenset)

    @property
    def content(self) -> str:
        """The digest a training of exactly this content records (see ``trained_on``); the run key."""
        return inputs_digest(self.items)

    @property
    def said(self) -> int:
        return len(self.items)

    @property
    def manual_songs(self) -> int:  # rating entries in tags files (a file-wide rating is one)
        return count_kinds(self.items)[0]

    @property
    def feedback_events(self) -> int:
        return count_kinds(self.items)[1]


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    new_feedback: int


def observe(config: SidflowConfig) -> Observation:
    """One read of the log and the tags files. Broken lines and unreadable tags files
    are not something new the listener said, so they do not count."""
    from sidflow_pipeline.feedback.log import read_config_events
    from sidflow_pipeline.ratings.tags import load_all_tags

    tags, _problems = load_all_tags(config.layout.tags_roots)
    return Observation(input_ids(tags, read_config_events(config).events))


def covered_inputs(config: SidflowConfig, last: dict[str, Any] | None) -> frozenset[str] | None:
    """The ids the last training read, when its inputs file is the one its log entry names."""
    recorded = (last or {}).get("inputs")
    if not isinstance(recorded, dict) or not recorded.get("sha256"):
        return None
    stored = read_inputs(config.layout.training_inputs)
    if stored is None or stored[1] != recorded["sha256"]:
        return None
    return stored[0]


def trained_on(seen: Observation, last: dict[str, Any] | None) -> bool:
    """Whether the last training read exactly the content seen now."""
    recorded = (last or {}).get("inputs")
    return isinstance(recorded, dict) and recorded.get("sha256") == seen.content


def rejected_before(seen: Observation, last: dict[str, Any] | None) -> str | None:
    """Why not to retrain when the last training read exactly this content and refused
    its candidate: training is deterministic, so the same data gives the same model and
    the same refusal. ``None`` otherwise."""
    if last is None or not trained_on(seen, last) or last.get("published", True):
        return None
    return (
        f"the last training read exactly these ratings/feedback and its candidate was rejected ({last.get('reason', '')}); "
        "retraining the same data gives the same model"
    )


def new_since(seen: Observation, last: dict[str, Any] | None, covered: frozenset[str] | None) -> int:
    """Ratings/events seen now that the last training did not read."""
    if last is None:
        return seen.said
    if covered is not None:
        return len(seen.items - covered)
    recorded = last.get("inputs")
    if isinstance(recorded, dict) and "count" in recorded:
        before = int(recorded["count"])
    else:  # a log entry from before the ids were recorded
        before = int(last.get("feedbackEvents", 0)) + int(last.get("manualSongs", 0))
    return max(0, seen.said - before)


def _parse_ts(text: Any) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def decide(
    retrain: RetrainConfig,
    seen: Observation,
    last: dict[str, Any] | None,
    now: datetime,
    covered: frozenset[str] | None = None,
) -> RetrainDecision:
    """Whether to retrain now; the reason is shown as the sensor's skip or run reason.

    ``covered`` is :func:`covered_inputs` for ``last``; without it the counts are compared.
    """
    new = new_since(seen, last, covered)
    if not retrain.enabled:
        return RetrainDecision(False, "retraining is disabled (retrain.enabled = false in .sidflow.json)", new)
    if new < retrain.min_new_feedback:
        return RetrainDecision(
            False,
            f"{new} new ratings/feedback events since the last training; waiting for {retrain.min_new_feedback}",
            new,
        )
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


def pending_message(config: SidflowConfig, now: datetime | None = None) -> str:
    """What the CLI says after ``sidflow feedback`` / ``sidflow rate``: how much is new
    since the last training and when the daemon's retraining (``decide``) will fire.

    Feedback itself counts at once in recommendations (recommend/live.py); this is about
    the ``p`` model and the rebuilt database.
    """
    from datetime import timedelta

    from sidflow_pipeline.training.train import last_training

    now = now or datetime.now(UTC)
    last = last_training(config)
    seen = observe(config)
    decision = decide(config.retrain, seen, last, now, covered_inputs(config, last))
    new = decision.new_feedback
    head = f"{new} new ratings/feedback events since the last training" if last else f"{new} ratings/feedback events, no training yet"
    if not config.retrain.enabled:
        return f"{head}; automatic retraining is off (retrain.enabled), run `sidflow train`"
    threshold = config.retrain.min_new_feedback
    if new < threshold:
        return f"{head}; the daemon retrains at {threshold} ({threshold - new} more), or run `sidflow train`"
    trained_at = _parse_ts((last or {}).get("trainedAt"))
    if not decision.retrain and trained_at is not None:
        when = trained_at + timedelta(hours=config.retrain.interval_hours)
        return f"{head}; the daemon retrains after {when:%Y-%m-%d %H:%M} UTC (retrain.intervalHours), or run `sidflow train`"
    return f"{head}; the daemon retrains at its next check, or run `sidflow train`"
