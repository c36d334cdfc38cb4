"""Manual ratings: the user's ``*.sid.tags.json`` files.

These are canonical data — the user's own judgement — so they are written atomically
(temp file + ``os.replace``), deterministically (sorted keys, fixed layout) and read
leniently: a file from the earlier tools with ``s`` (speed) is read as ``e`` (energy).

Layout of one file (one per SID file):

* a single-song tune: ``{"c": 5, "e": 4, "m": 2, "p": 4, "source": "manual", "timestamp": "..."}``
* a tune with subtunes: ``{"songs": {"1": {...}, "3": {...}}}`` — only rated songs appear.

A flat file for a multi-song tune (as the earlier tools wrote) applies to every song
that has no entry of its own.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_text
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.sid.paths import is_utf8_name, readable_name

__all__ = [
    "DIMENSIONS",
    "TAGS_SUFFIX",
    "Rating",
    "TagsError",
    "effective_tags_files",
    "iter_tags_files",
    "load_all_tags",
    "locked",
    "rating_for_song",
    "read_tags",
    "tags_path_for",
    "undo_journal_for",
    "undo_last",
    "write_rating",
]

DIMENSIONS: tuple[str, ...] = ("e", "m", "c", "p")
TAGS_SUFFIX = ".tags.json"
UNDO_JOURNAL = ".sidflow-rate-undo.jsonl"


class TagsError(SidflowError, ValueError):
    """A tags file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Rating:
    """One song's manual rating; a dimension the user did not set is ``None``."""

    e: int | None = None
    m: int | None = None
    c: int | None = None
    p: int | None = None
    source: str = "manual"
    timestamp: str | None = None

    def values(self) -> dict[str, int]:
        return {d: v for d in DIMENSIONS if (v := getattr(self, d)) is not None}

    def merged_over(self, older: Rating | None) -> Rating:
        """This rating's dimensions over ``older``'s: what the listener said last wins,
        and a dimension they did not touch keeps its saved value (never a default)."""
        if older is None:
            return self
        values = {**older.values(), **self.values()}
        return Rating(**values, source=self.source, timestamp=self.timestamp or older.timestamp)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values())
        out["source"] = self.source
        if self.timestamp:
            out["timestamp"] = self.timestamp
        return out


def _rating_from(data: Mapping[str, Any], where: str) -> Rating:
    values: dict[str, int] = {}
    for key, value in data.items():
        dim = "e" if key == "s" else key  # Phase 4.5: speed → energy
        if dim not in DIMENSIONS:
            continue
        if dim in values and key == "s":
            continue  # an explicit "e" wins over a legacy "s"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 5:
            raise TagsError(f"{where}: rating '{key}' must be 1–5, got {json.dumps(value)}")
        values[dim] = int(round(value))
    timestamp = data.get("timestamp")
    source = data.get("source", "manual")
    return Rating(**values, source=str(source), timestamp=str(timestamp) if timestamp else None)


def read_tags(path: Path) -> dict[int | None, Rating]:
    """Ratings in a tags file: key ``None`` = file-wide, ``n`` = song n (1-based)."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TagsError(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02X} at line {line})") from None
    except json.JSONDecodeError as exc:
        raise TagsError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise TagsError(f"{path}: expected a JSON object")
    out: dict[int | None, Rating] = {}
    songs = data.get("songs")
    if songs is not None:
        if not isinstance(songs, dict):
            raise TagsError(f"{path}: 'songs' must be an object of song number → rating")
        for key, value in songs.items():
            if not str(key).isdigit() or not isinstance(value, dict):
                raise TagsError(f"{path}: bad song entry {key!r}")
            out[int(key)] = _rating_from(value, f"{path} song {key}")
    flat = {k: v for k, v in data.items() if k != "songs"}
    if any(k in flat for k in (*DIMENSIONS, "s")):
        out[None] = _rating_from(flat, str(path))
    return out


def rating_for_song(ratings: Mapping[int | None, Rating], song_index: int) -> Rating | None:
    return ratings.get(song_index) or ratings.get(None)


def tags_path_for(sid_path: str, hvsc_root: Path, tags_root: Path | None) -> Path:
    """Where a tune's tags file lives: mirrored under ``tags_root``, or beside the SID."""
    rel = sid_path.lstrip("/")
    base = tags_root if tags_root is not None else hvsc_root
    return base / f"{rel}{TAGS_SUFFIX}"


def iter_tags_files(root: Path, problems: list[str] | None = None) -> Iterator[tuple[str, Path]]:
    """``(sid_path, tags file)`` for every tags file below ``root``, in path order.

    A file whose name is not valid UTF-8 is left out (and named in ``problems``): it
    cannot name a tune of the catalog, and its key would break whatever stores it.
    """
    if not root.is_dir():
        return
    found = [p for p in root.rglob(f"*{TAGS_SUFFIX}") if p.is_file()]
    for path in sorted(found, key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        if not is_utf8_name(rel):
            if problems is not None:
                problems.append(f"{readable_name(str(path))}: file name is not valid UTF-8; rename the file")
            continue
        yield rel[: -len(TAGS_SUFFIX)], path


def effective_tags_files(roots: Iterable[Path], problems: list[str] | None = None) -> Iterator[tuple[str, Path]]:
    """``(sid_path, tags file)`` over several roots; a tune's file in an earlier root wins."""
    seen: set[str] = set()
    for root in roots:
        for sid_path, path in iter_tags_files(root, problems):
            if sid_path not in seen:
                seen.add(sid_path)
                yield sid_path, path


def load_all_tags(roots: Iterable[Path]) -> tuple[dict[str, dict[int | None, Rating]], list[str]]:
    """Every usable tags file, and a one-line problem for each one that is not."""
    found: dict[str, dict[int | None, Rating]] = {}
    problems: list[str] = []
    for sid_path, path in effective_tags_files(roots, problems):
        try:
            found[sid_path] = read_tags(path)
        except TagsError as exc:
            problems.append(str(exc))
        except OSError as exc:  # unreadable (permissions, a FIFO...): that one file only
            problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    return found, problems


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` for ``path``'s read-modify-write.

    Two ``sidflow rate`` sessions (or a rater and a script) rating different songs of
    one tune both read the file, add their song and write it back: without the lock
    the second write drops the first one's song.

    The lock is taken on the folder holding the tags file, not on the file (it is
    replaced by a new inode on every write, so a lock on it would be lost) and not on
    a sidecar lock file: a sidecar would be left beside every rated tune, and with
    ratings kept beside the SIDs it would keep an update script from deleting a
    folder it emptied. Writers of one folder wait for each other for milliseconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def undo_journal_for(hvsc_root: Path, tags_root: Path | None) -> Path:
    """The undo journal beside the tags: one append-only file at the tags tree's root
    (``tagsPath``, or the collection when tags live beside the SIDs). ``sidflow rate
    --undo`` takes back the newest rating of any song, so it sees every rating in one
    order; a dot-file, so no tags reader mistakes it for a tune's tags."""
    return (tags_root if tags_root is not None else hvsc_root) / UNDO_JOURNAL


def write_rating(
    path: Path, song_index: int, songs: int, rating: Rating, *, merge: bool = True, journal: Path | None = None
) -> Rating:
    """Store one song's rating, keeping the file's other songs; atomic and deterministic.

    With ``merge`` the dimensions given are laid over the song's saved ones (``rate
    FILE --p 4`` changes ``p`` only). A legacy flat file is rewritten in the current
    form (``s`` → ``e``); for a multi-song tune its file-wide rating stays as the
    default for unrated songs. The whole read-modify-write holds :func:`locked`, so
    concurrent raters lose nothing. With ``journal`` the file's previous and new
    content are appended there, so :func:`undo_last` can put the old bytes back.
    Returns the rating as stored for the song.
    """
    with locked(path):
        before = path.read_text(encoding="utf-8") if path.exists() else None
        stored = _write_rating(path, song_index, songs, rating, merge)
        if journal is not None:
            from sidflow_pipeline.atomic import append_json_line

            after = path.read_text(encoding="utf-8")
            append_json_line(journal, {"op": "rate", "file": str(path), "song": song_index, "before": before, "after": after})
    return stored


def _pending_undos(journal: Path) -> list[dict[str, Any]]:
    """The journal's ratings not yet taken back, oldest first (each ``undo`` pops one)."""
    stack: list[dict[str, Any]] = []
    if not journal.is_file():
        return stack
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a killed writer: that one rating cannot be undone
        if not isinstance(entry, dict):
            continue
        if entry.get("op") == "rate":
            stack.append(entry)
        elif entry.get("op") == "undo" and stack:
            stack.pop()
    return stack


def undo_last(journal: Path) -> tuple[Path, int] | None:
    """Take back the newest rating in ``journal``: its tags file gets its previous
    bytes back (or goes away if the rating created it). ``None`` when nothing is left.

    Refused (:class:`TagsError`) when the file changed since that rating — by hand or
    by another rating not in this journal — rather than silently dropping that change.
    """
    from sidflow_pipeline.atomic import append_json_line

    pending = _pending_undos(journal)
    if not pending:
        return None
    entry = pending[-1]
    path = Path(entry["file"])
    with locked(path):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != entry["after"]:
            raise TagsError(f"{path}: changed since that rating; not undone (edit the file by hand)")
        if entry["before"] is None:
            path.unlink()
        else:
            atomic_write_text(path, entry["before"])
        append_json_line(journal, {"op": "undo", "file": str(path), "song": entry["song"]})
    return path, int(entry["song"])


def _write_rating(path: Path, song_index: int, songs: int, rating: Rating, merge: bool = True) -> Rating:
    existing = read_tags(path) if path.exists() else {}
    if merge:
        own = existing.get(song_index) if songs > 1 else existing.get(None) or existing.get(song_index)
        rating = rating.merged_over(own)
    if songs <= 1:
        data: dict[str, Any] = rating.to_json()
    else:
        per_song = {str(k): v.to_json() for k, v in existing.items() if k is not None}
        per_song[str(song_index)] = rating.to_json()
        data = {"songs": dict(sorted(per_song.items(), key=lambda kv: int(kv[0])))}
        if None in existing:
            data.update(existing[None].to_json())
    atomic_write_text(path, _dump(data))
    return rating
