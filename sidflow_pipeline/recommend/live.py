"""Feedback that counts at once: the log read at query time, on top of the database.

The database (``sidflow_lance``) stays the canonical, rebuilt copy of the per-song
counts, and ``sidflow verify`` still names it stale after new feedback. But a listener
who just liked or disliked a song expects the next queue to show it, so the CLI (and
the simulated listener in ``bench/listener.py``) reads the whole feedback log when it
recommends and hands the result to the engine in :class:`LiveFeedback`:

* **counts**: likes, dislikes, skips and plays per song, computed from every event in
  the log (the same rule as ``feedback/aggregate.py``). The aggregates are themselves a
  function of the log, so "aggregates + events newer than the build" equals "the log's
  counts now"; using the latter needs no bookkeeping of which events the build saw.
  They replace the table's counts for the songs they name.
* **blocked**: a song whose latest like/dislike is a dislike, given within
  :data:`DISLIKE_DAYS` days, is not recommended at all (not only sunk): the listener
  said "not this" and a radio that plays it again the same evening is broken. After
  that it only sinks (song_feedback), and a later like lifts the block at once.
* **taste**: the songs that say something about the listener, with signed weights from
  the design's feedback weights (like +1, dislike −1, skip −0.3; a song heard to its
  end, +0.1, a weak yes), summed per song. ``user_affinity`` uses them (engine docstring).

Reading a log of a few thousand events costs a few milliseconds; a log that cannot be
read gives no live feedback rather than no radio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["DISLIKE_DAYS", "PLAY_WEIGHT", "LiveFeedback", "live_feedback", "live_from_events"]

DISLIKE_DAYS = 7
# A play heard to the end is a weak yes (the design's weight for a play is 0 in
# song_feedback; for taste it is a small positive hint, well below a skip's −0.3).
PLAY_WEIGHT = 0.1


@dataclass(frozen=True)
class LiveFeedback:
    counts: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # key → likes, dislikes, skips, plays
    blocked: frozenset[str] = field(default_factory=frozenset)
    taste: dict[str, float] = field(default_factory=dict)  # key → signed weight
    events: int = 0


def _parse(ts: str) -> datetime:
    try:
        return datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def live_from_events(
    events: Iterable[object], now: datetime | None = None, moves: Mapping[str, str] | None = None
) -> LiveFeedback:
    """:class:`LiveFeedback` from feedback events (objects with ts, sid_path, song_index, action).

    ``moves`` (old → new ``/path``, the HVSC move log) maps feedback given before a tune
    was renamed to its current name, as ``feedback/aggregate.py`` does for the database.
    """
    from sidflow_pipeline.feedback.log import WEIGHTS

    now = now or datetime.now(UTC)
    counts: dict[str, list[int]] = {}
    taste: dict[str, float] = {}
    verdict: dict[str, tuple[str, str]] = {}  # key → (ts, like|dislike) of the latest verdict
    total = 0
    moves = moves or {}
    for event in events:
        total += 1
        path = "/" + event.sid_path.lstrip("/")  # type: ignore[attr-defined]
        key = f"{moves.get(path, path).lstrip('/')}#{event.song_index}"  # type: ignore[attr-defined]
        action, ts = event.action, event.ts  # type: ignore[attr-defined]
        row = counts.setdefault(key, [0, 0, 0, 0])
        if action == "like":
            row[0] += 1
        elif action == "dislike":
            row[1] += 1
        elif action == "skip":
            row[2] += 1
            row[3] += 1
        elif action == "play":
            row[3] += 1
        taste[key] = taste.get(key, 0.0) + (PLAY_WEIGHT if action == "play" else WEIGHTS.get(action, 0.0))
        if action in ("like", "dislike") and (key not in verdict or ts >= verdict[key][0]):
            verdict[key] = (ts, action)
    horizon = now - timedelta(days=DISLIKE_DAYS)
    blocked = frozenset(k for k, (ts, action) in verdict.items() if action == "dislike" and _parse(ts) >= horizon)
    return LiveFeedback(
        counts={k: (v[0], v[1], v[2], v[3]) for k, v in counts.items()},
        blocked=blocked,
        taste={k: w for k, w in taste.items() if w != 0.0},
        events=total,
    )


def live_feedback(feedback_root: Path, now: datetime | None = None, moves: Mapping[str, str] | None = None) -> LiveFeedback:
    """Read the feedback log under ``feedback_root`` now; bad lines are skipped (validate reports them)."""
    from sidflow_pipeline.feedback.log import read_events

    try:
        report = read_events(feedback_root, now=now)
    except OSError:
        return LiveFeedback()
    return live_from_events(report.events, now, moves)
