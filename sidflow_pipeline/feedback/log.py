"""The listening feedback log: ``feedback/YYYY/MM/DD/events.jsonl`` (UTC dates).

Canonical, append-only data: the radio, the rating tool and the CLI all append here,
possibly at the same time, so every append takes an exclusive ``flock`` on the day's
file and writes one whole line with one ``write`` call. Readers never trust a line:
broken ones are skipped and counted, duplicates (same ``uuid``, e.g. after merging logs
from two devices) are counted once.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import append_json_line

__all__ = [
    "ACTIONS",
    "WEIGHTS",
    "FeedbackError",
    "FeedbackEvent",
    "ReadReport",
    "append_event",
    "day_file",
    "iter_log_files",
    "read_events",
]

# The design documents' weights: like +1.0, skip −0.3, dislike −1.0, play 0.0.
WEIGHTS: dict[str, float] = {"like": 1.0, "skip": -0.3, "dislike": -1.0, "play": 0.0}
ACTIONS = tuple(WEIGHTS)


class FeedbackError(ValueError):
    """A bad event or log line; the message says which and why."""


@dataclass(frozen=True)
class FeedbackEvent:
    ts: str
    sid_path: str
    song_index: int
    action: str
    uuid: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "sid_path": self.sid_path, "song_index": self.song_index, "ts": self.ts, "uuid": self.uuid}


def _utc(ts: datetime | None) -> datetime:
    ts = ts or datetime.now(UTC)
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def day_file(root: Path, when: datetime) -> Path:
    when = _utc(when)
    return root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / "events.jsonl"


def append_event(
    root: Path, sid_path: str, action: str, *, song_index: int = 1, when: datetime | None = None, event_id: str | None = None
) -> FeedbackEvent:
    """Append one event under an exclusive lock; returns what was written."""
    if action not in WEIGHTS:
        raise FeedbackError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    if song_index < 1:
        raise FeedbackError(f"song index must be ≥ 1, got {song_index}")
    stamp = _utc(when)
    event = FeedbackEvent(
        ts=stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        sid_path=sid_path.lstrip("/"),
        song_index=song_index,
        action=action,
        uuid=event_id or str(uuid_module.uuid4()),
    )
    append_json_line(day_file(root, stamp), event.to_json())
    return event


def iter_log_files(root: Path) -> Iterator[Path]:
    """Every day's log in date order."""
    if root.is_dir():
        yield from sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/events.jsonl"))


def parse_line(line: str) -> FeedbackEvent:
    """One log line → event; :class:`FeedbackError` says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FeedbackError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise FeedbackError("not a JSON object")
    for key in ("ts", "sid_path", "action"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise FeedbackError(f"missing or empty '{key}'")
    if data["action"] not in WEIGHTS:
        raise FeedbackError(f"unknown action {data['action']!r}")
    try:
        datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
    except ValueError:
        raise FeedbackError(f"bad timestamp {data['ts']!r}") from None
    song = data.get("song_index", 1)
    if isinstance(song, bool) or not isinstance(song, int) or song < 1:
        raise FeedbackError(f"bad song_index {song!r}")
    event_id = data.get("uuid")
    return FeedbackEvent(
        ts=data["ts"], sid_path=data["sid_path"], song_index=song, action=data["action"],
        uuid=str(event_id) if event_id else f"{data['ts']}|{data['sid_path']}|{song}|{data['action']}",
    )


@dataclass
class ReadReport:
    events: list[FeedbackEvent] = field(default_factory=list)
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)
    duplicates: int = 0
    lines: int = 0


def read_events(root: Path) -> ReadReport:
    """Every valid event once (first occurrence of a uuid wins), with what was skipped."""
    report = ReadReport()
    seen: set[str] = set()
    for path in iter_log_files(root):
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                report.lines += 1
                try:
                    event = parse_line(line)
                except FeedbackError as exc:
                    report.bad_lines.append((str(path), number, str(exc)))
                    continue
                if event.uuid in seen:
                    report.duplicates += 1
                    continue
                seen.add(event.uuid)
                report.events.append(event)
    return report
