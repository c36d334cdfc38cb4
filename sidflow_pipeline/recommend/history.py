"""The discovery history: which songs each listening session surfaced, append-only.

The design's exploration "maintains a discovery history to avoid repetitive
exploration": without one, the seeded exploration picks the same few lower-ranked
"gems" every evening. One JSON line per session in ``data/discovery-history.jsonl``
(beside the feedback log, ``config.layout.discovery_history``), written with
:func:`~sidflow_pipeline.atomic.append_json_line` (whole lines under a lock)::

    {"explored": [keys], "session": "20261205T201500Z-ab12", "source": "play --station games",
     "surfaced": [keys], "ts": "2026-12-05T20:15:00Z"}

**A session** is one ``sidflow play`` queue (a new radio session; ``--resume`` continues
it, ``--export-only`` and ``sidflow recommend`` only *read* the history, so listing
songs twice gives the same list twice).

**The rule** (N = :data:`DISCOVERY_SESSIONS` = 5, ``recommend.discoverySessions`` in
the config): an exploration slot (``exploration_rate``) takes a song *not surfaced* in
the last N sessions; when the pool has too few of those, the songs surfaced longest
ago come first. Songs chosen on merit (the top of the score) are not affected:
the history keeps exploration from repeating itself, it does not hide favourites.
N = 5 because a listener who plays about one session a day then meets an explored song
again after about a week — the same horizon as the radio's dislike block.

A history that cannot be read gives no history (exploration as without one), never
no radio; bad lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["DISCOVERY_SESSIONS", "DiscoveryHistory", "read_history", "record_session"]

DISCOVERY_SESSIONS = 5


@dataclass(frozen=True)
class DiscoveryHistory:
    """The surfaced keys of past sessions, oldest first."""

    sessions: tuple[frozenset[str], ...] = ()

    def recent(self, n: int) -> frozenset[str]:
        """Every song surfaced in the last ``n`` sessions."""
        if n <= 0:
            return frozenset()
        return frozenset().union(*self.sessions[-n:]) if self.sessions else frozenset()

    def sessions_ago(self, key: str) -> int | None:
        """How many sessions ago ``key`` last surfaced (1 = the latest), None = never."""
        for back, surfaced in enumerate(reversed(self.sessions), start=1):
            if key in surfaced:
                return back
        return None


def read_history(path: Path) -> DiscoveryHistory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return DiscoveryHistory()
    sessions: list[frozenset[str]] = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
            surfaced = record["surfaced"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(surfaced, list):
            sessions.append(frozenset(str(k) for k in surfaced))
    return DiscoveryHistory(tuple(sessions))


def record_session(path: Path, session: str, source: str, surfaced: Sequence[str], explored: Iterable[str] = (),
                   now: datetime | None = None) -> None:  # fmt: skip
    """Append one session's surfaced songs (in queue order) and the explored ones."""
    from sidflow_pipeline.atomic import append_json_line

    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    append_json_line(
        path,
        {"ts": stamp, "session": session, "source": source, "surfaced": list(surfaced), "explored": sorted(explored)},
    )
