"""Radio sessions: what was queued, played, skipped, liked — kept in ``data/sessions/``.

One JSON file per session, rewritten atomically after every change, so a crash or a
closed terminal loses nothing and ``sidflow play --resume`` picks up at the song that
was playing. Feedback itself goes to the feedback log (the sensors watch that); the
session file is the listener's history of the session.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.radio.queue import QueueItem

__all__ = ["RadioSession", "SessionError", "latest_session"]


class SessionError(SidflowError, ValueError):
    """A session file that cannot be resumed; one line for the user."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RadioSession:
    path: Path
    id: str
    started_at: str
    query: dict[str, Any]
    queue: list[QueueItem]
    position: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False

    @classmethod
    def new(cls, folder: Path, query: Mapping[str, Any], queue: Sequence[QueueItem]) -> RadioSession:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        session_id = f"{stamp}-{secrets.token_hex(2)}"
        session = cls(folder / f"{session_id}.json", session_id, _now(), dict(query), list(queue))
        session.save()
        return session

    @classmethod
    def load(cls, path: Path) -> RadioSession:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path=path,
                id=str(data["id"]),
                started_at=str(data["started_at"]),
                query=dict(data["query"]),
                queue=[QueueItem.from_json(i) for i in data["queue"]],
                position=int(data["position"]),
                events=list(data["events"]),
                ended=bool(data["ended"]),
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SessionError(f"{path}: not a readable radio session ({exc})") from exc

    def save(self) -> None:
        atomic_write_json(
            self.path,
            {
                "id": self.id,
                "started_at": self.started_at,
                "query": self.query,
                "queue": [i.to_json() for i in self.queue],
                "position": self.position,
                "events": self.events,
                "ended": self.ended,
            },
        )

    @property
    def current(self) -> QueueItem | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    def upcoming(self, count: int = 3) -> list[QueueItem]:
        return self.queue[self.position + 1 : self.position + 1 + count]

    def record(self, action: str, item: QueueItem | None = None, detail: str | None = None) -> None:
        item = item or self.current
        event: dict[str, Any] = {"at": _now(), "action": action, "key": item.key if item else None}
        if detail:
            event["detail"] = detail
        self.events.append(event)
        self.save()

    def advance(self) -> None:
        self.position += 1
        if self.position >= len(self.queue):
            self.ended = True
        self.save()

    def finish(self) -> None:
        self.ended = self.position >= len(self.queue)
        self.save()

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event["action"]] = counts.get(event["action"], 0) + 1
        return counts


def latest_session(folder: Path, unreadable: list[str] | None = None) -> RadioSession | None:
    """The newest session that still has songs to play.

    An unreadable file (a crash, a hand edit) must not hide an older session that can
    still be resumed: it is passed over and its problem appended to ``unreadable``.
    """
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            session = RadioSession.load(path)
        except SessionError as exc:
            if unreadable is not None:
                unreadable.append(str(exc))
            continue
        if not session.ended and session.position < len(session.queue):
            return session
    return None
