"""The listening feedback log: ``feedback/YYYY/MM/DD/events.jsonl`` (UTC dates).

Canonical, append-only data: the radio, the rating tool and the CLI all append here,
possibly at the same time, so every append takes an exclusive ``flock`` on the day's
file and writes one whole line with one ``write`` call. Readers never trust a line:
broken ones are skipped and counted, duplicates (same ``uuid``, e.g. after merging logs
from two devices) are counted once.
"""

from __future__ import annotations

import io
import json
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidflow_pipeline.atomic import append_json_line
from sidflow_pipeline.checksum import TreeDigest, tree_checksum
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.layout import FEEDBACK_DAY_FILE

if TYPE_CHECKING:
    from sidflow_pipeline.config import SidflowConfig

__all__ = [
    "ACTIONS",
    "FUTURE_SKEW",
    "MAX_SONG_INDEX",
    "WEIGHTS",
    "FeedbackError",
    "FeedbackEvent",
    "ReadReport",
    "append_event",
    "day_file",
    "is_torn_line",
    "iter_log_files",
    "log_checksum",
    "normalise_sid_path",
    "read_config_events",
    "read_events",
    "song_counts",
]

# The design documents' weights: like +1.0, skip −0.3, dislike −1.0, play 0.0.
WEIGHTS: dict[str, float] = {"like": 1.0, "skip": -0.3, "dislike": -1.0, "play": 0.0}
ACTIONS = tuple(WEIGHTS)
# The schema's limits, shared by every writer and reader (validate, aggregation,
# training): a PSID file has at most 256 songs (the aggregates store song_index as
# Int32, so an unbounded integer would pass a check here and break them later), and
# an event cannot have happened after now, beyond a small clock skew between devices.
MAX_SONG_INDEX = 256
FUTURE_SKEW = timedelta(minutes=10)
SongCounts = Callable[[str], "int | None"]


class FeedbackError(SidflowError, ValueError):
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
    return root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / FEEDBACK_DAY_FILE


def normalise_sid_path(sid: str) -> str:
    """An HVSC path as the log stores it (no leading ``/``), or :class:`FeedbackError`.

    Readers reject an empty ``sid_path``, so writing one would put a line in the log
    that ``validate`` then flags forever; a path that is not a ``.sid`` file or climbs
    out with ``..`` can never match a song either. Better to refuse it up front.
    """
    path = sid.strip().replace("\\", "/").lstrip("/")
    if not path:
        raise FeedbackError(f"no SID path given ({sid!r}); expected an HVSC path like MUSICIANS/H/Hubbard_Rob/Delta.sid")
    if ".." in path.split("/"):
        raise FeedbackError(f"{sid!r}: '..' is not allowed in an HVSC path")
    if not path.lower().endswith(".sid") or path.endswith("/") or path.rsplit("/", 1)[-1].lower() == ".sid":
        raise FeedbackError(f"{sid!r} is not a .sid file path")
    return path


def append_event(
    root: Path, sid_path: str, action: str, *, song_index: int = 1, when: datetime | None = None, event_id: str | None = None
) -> FeedbackEvent:
    """Append one event under an exclusive lock; returns what was written."""
    if action not in WEIGHTS:
        raise FeedbackError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    if song_index < 1:
        raise FeedbackError(f"song index must be ≥ 1, got {song_index}")
    sid_path = normalise_sid_path(sid_path)  # every writer (CLI, radio) gets the same check
    stamp = _utc(when)
    event = FeedbackEvent(
        ts=stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        sid_path=sid_path,
        song_index=song_index,
        action=action,
        uuid=event_id or str(uuid_module.uuid4()),
    )
    append_json_line(day_file(root, stamp), event.to_json())
    return event


def iter_log_files(root: Path) -> Iterator[Path]:
    """Every day's log in date order."""
    if root.is_dir():
        yield from sorted(root.glob(f"[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/{FEEDBACK_DAY_FILE}"))


def parse_line(line: str, *, songs_of: SongCounts | None = None, now: datetime | None = None) -> FeedbackEvent:
    """One log line → event; :class:`FeedbackError` says what is wrong with it.

    The checks are the schema's, the same for ``sidflow feedback validate`` and for
    every reader that aggregates or trains: a line that passes here can be counted.
    ``songs_of`` gives a tune's song count when the tune is in the collection (None
    otherwise: the log may name tunes before a sync brings them).
    """
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
        when = datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
    except ValueError:
        raise FeedbackError(f"bad timestamp {data['ts']!r}") from None
    if _utc(when) > _utc(now) + FUTURE_SKEW:
        raise FeedbackError(f"timestamp {data['ts']!r} is in the future")
    sid_path = data["sid_path"]
    try:
        normalised = normalise_sid_path(sid_path)
    except FeedbackError as exc:
        raise FeedbackError(f"bad sid_path: {exc}") from None
    if normalised != sid_path:
        raise FeedbackError(f"bad sid_path {sid_path!r}: expected a path inside the collection like {normalised!r}")
    song = data.get("song_index", 1)
    if isinstance(song, bool) or not isinstance(song, int) or not 1 <= song <= MAX_SONG_INDEX:
        raise FeedbackError(f"bad song_index {song!r} (1–{MAX_SONG_INDEX})")
    songs = songs_of(sid_path) if songs_of is not None else None
    if songs is not None and song > songs:
        raise FeedbackError(f"song_index {song} out of range 1–{songs} for {sid_path}")
    event_id = data.get("uuid")
    return FeedbackEvent(
        ts=data["ts"], sid_path=sid_path, song_index=song, action=data["action"],
        uuid=str(event_id) if event_id else f"{data['ts']}|{sid_path}|{song}|{data['action']}",
    )


def song_counts(hvsc_root: Path, moves: Mapping[str, str] | None = None, catalog: Path | None = None) -> SongCounts:
    """``sid_path → song count`` for tunes in the collection (following renames); None
    for a tune that is not there or unreadable.

    The catalog answers in one read (the retrain sensor calls this often); a tune it
    does not list yet (a sync since) is read from its header, once.
    """
    from sidflow_pipeline.sid.header import SidFormatError, read_sid

    cache: dict[str, int | None] = {}
    if catalog is not None and catalog.is_file():
        import polars as pl

        try:
            frame = pl.read_parquet(catalog, columns=["sid_path", "songs"]).unique("sid_path")
            cache.update(zip(frame["sid_path"].to_list(), frame["songs"].to_list(), strict=True))
        except (OSError, ValueError, pl.exceptions.PolarsError):  # a damaged catalog: read headers instead
            cache.clear()
    moves = moves or {}

    def count(sid_path: str) -> int | None:
        current = moves.get("/" + sid_path, "/" + sid_path).lstrip("/")
        if current not in cache:
            tune = hvsc_root / current
            try:
                cache[current] = read_sid(tune).header.songs if tune.is_file() else None
            except (SidFormatError, OSError):
                cache[current] = None
        return cache[current]

    return count


def read_config_events(config: SidflowConfig) -> ReadReport:
    """The log of ``config`` read with the collection's song counts: what ``validate``,
    the aggregates and training all read, so they agree on every line."""
    from sidflow_pipeline.hvsc.moves import read_moves

    moves = read_moves(config.hvsc_path) if config.hvsc_path.is_dir() else {}
    songs_of = song_counts(config.layout.hvsc_root, moves, config.layout.catalog)
    return read_events(config.layout.feedback_dir, songs_of=songs_of)


def is_torn_line(line: str) -> bool:
    """True for what an interrupted append leaves: the start of a JSON object cut off.

    Writers append whole lines under a lock and, since a full disk is handled, never
    leave part of one; a log written earlier may still hold one. It is the file's last
    line without its newline, or (once a later writer started a fresh line after it) a
    line that is a JSON object cut short — the decoder runs out of text, rather than
    meeting a wrong character. Readers skip it like any bad line, but name it, so a
    user can tell an old crash from a line someone wrote by hand.
    """
    text = line.rstrip("\r\n").strip()
    if not text.startswith("{"):
        return False
    if not line.endswith("\n"):
        return True
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.pos >= len(text) or exc.msg.startswith("Unterminated string")
    return False


@dataclass
class ReadReport:
    """What one pass over the log saw.

    ``checksum`` is the sha256 of exactly the bytes this pass parsed (same formula as
    :func:`log_checksum`), so anything derived from these events can record which
    state of the log it reflects — even if a writer appends a line a moment later.
    """

    events: list[FeedbackEvent] = field(default_factory=list)
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)
    duplicates: int = 0
    lines: int = 0
    checksum: str = ""


def log_checksum(root: Path) -> str:
    """``sha256:<hex>`` of the whole log as it is on disk now (no parsing)."""
    return tree_checksum(iter_log_files(root), root)


def read_events(root: Path, *, songs_of: SongCounts | None = None, now: datetime | None = None) -> ReadReport:
    """Every valid event once (first occurrence of a uuid wins), with what was skipped.

    Each day's file is read into memory once and both parsed and hashed from those
    bytes, so ``report.checksum`` names the log these events came from.
    """
    report = ReadReport()
    seen: set[str] = set()
    digest = TreeDigest(root)
    for path in digest.ordered(iter_log_files(root)):
        data = path.read_bytes()
        digest.add(path, data)
        # Same line splitting and decoding as ``path.open("r", errors="replace")``.
        with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                report.lines += 1
                try:
                    event = parse_line(line, songs_of=songs_of, now=now)
                except FeedbackError as exc:
                    reason = str(exc)
                    if is_torn_line(line):
                        reason += "; torn line (a write cut short by a crash or a full disk before this log was fixed): skipped"
                    report.bad_lines.append((str(path), number, reason))
                    continue
                if event.uuid in seen:
                    report.duplicates += 1
                    continue
                seen.add(event.uuid)
                report.events.append(event)
    report.checksum = digest.checksum()
    return report
