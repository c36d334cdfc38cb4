"""The manual rating session behind ``sidflow rate``: songs to rate, playback, keys.

Kept apart from the terminal code so the key handling and the song walk are plain
functions a test can drive; the CLI only reads keys and prints.

Keys (as in the design documents): ``e1``–``e5`` energy, ``m1``–``m5`` mood,
``c1``–``c5`` complexity, ``p1``–``p5`` preference; Enter saves what was given (a
dimension not given is not written: the song keeps its saved value, or stays unrated
there — a made-up 3 would teach the model something the listener never said) and moves
on; ``s`` skips without saving; ``u`` takes back the last saved rating and goes back to
that song; ``r`` replays; ``q``/``Q`` quits; ``h``/``?`` shows help.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sidflow_pipeline.ratings.tags import DIMENSIONS, Rating, TagsError, rating_for_song, read_tags, tags_path_for
from sidflow_pipeline.sid.player import stop_with_parent

__all__ = ["HELP", "KeyInput", "Player", "RateSong", "collect_songs", "describe", "saved_rating"]
HELP = """\
Rate each song 1–5 on four dimensions, then press Enter:
  e1..e5  energy      — how driving and intense (1 calm … 5 relentless)
  m1..m5  mood        — dark/melancholic (1) … bright/happy (5)
  c1..c5  complexity  — simple texture (1) … dense, intricate arrangement (5)
  p1..p5  preference  — how much you like it (1 strongly dislike … 5 love it)
  Enter   save the dimensions you gave (the others keep their saved value) and go on
  u       undo the last saved rating     s  skip without saving
  r       replay      q  quit      h/?  this help"""

Action = Literal["set", "save", "skip", "undo", "replay", "quit", "help", "pending", "invalid"]


@dataclass
class KeyInput:
    """Turns single key presses into actions; remembers a pending dimension letter."""

    values: dict[str, int] = field(default_factory=dict)
    pending: str | None = None

    def feed(self, key: str) -> tuple[Action, str]:
        if self.pending is not None:
            dim, self.pending = self.pending, None
            if key in "12345" and key:
                self.values[dim] = int(key)
                return "set", f"{dim}={key}"
            return "invalid", f"{dim} needs a digit 1–5"
        if key in ("\r", "\n"):
            return "save", ""
        lower = key.lower()
        if lower in DIMENSIONS:
            self.pending = lower
            return "pending", lower
        if lower == "s":
            return "skip", ""
        if lower == "r":
            return "replay", ""
        if lower == "u":
            return "undo", ""
        if lower == "q":
            return "quit", ""
        if key in ("h", "?"):
            return "help", ""
        return "invalid", f"unknown key {key!r} (h for help)"

    def rating(self, timestamp: str) -> Rating | None:
        """Only the dimensions given; ``None`` when none was (nothing to save)."""
        if not self.values:
            return None
        return Rating(**dict(self.values), source="manual", timestamp=timestamp)

    def reset(self) -> None:
        self.values.clear()
        self.pending = None


@dataclass(frozen=True)
class RateSong:
    sid_path: str
    song_index: int
    songs: int
    file: Path
    title: str
    author: str
    released: str
    length_ms: int | None
    stil: dict[str, str]
    predicted: dict[str, float] | None


def _predictions(classified_root: Path) -> dict[tuple[str, int], dict[str, float]]:
    out: dict[tuple[str, int], dict[str, float]] = {}
    if not classified_root.is_dir():
        return out
    for path in sorted(classified_root.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                out[(row["sid_path"], int(row["song_index"]))] = row["ratings"]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return out


def collect_songs(
    hvsc_root: Path,
    tags_root: Path | None,
    classified_root: Path,
    *,
    subdir: str | None = None,
    unrated_only: bool = False,
    shuffle: bool = False,
    seed: int | None = None,
) -> list[RateSong]:
    """Songs under ``subdir`` of the collection, in path order or shuffled."""
    from sidflow_pipeline.catalog.catalog import build_catalog, iter_sid_files

    base = hvsc_root / subdir.strip("/") if subdir else hvsc_root
    if not base.exists():
        raise FileNotFoundError(f"{base}: no such folder in the collection")
    files = [base] if base.is_file() else list(iter_sid_files(base))
    catalog = build_catalog(hvsc_root, files=files)
    predicted = _predictions(classified_root)
    songs: list[RateSong] = []
    for row in catalog.frame.iter_rows(named=True):
        key = (row["sid_path"], row["song_index"])
        if unrated_only and _is_rated(hvsc_root, tags_root, *key):
            continue
        stil = {k: row[f"stil_{k}"] for k in ("title", "artist", "name", "author", "comment") if row.get(f"stil_{k}")}
        songs.append(
            RateSong(
                sid_path=row["sid_path"],
                song_index=row["song_index"],
                songs=row["songs"],
                file=hvsc_root / row["sid_path"],
                title=row["name"],
                author=row["author"],
                released=row["released"],
                length_ms=row["length_ms"],
                stil=stil,
                predicted=predicted.get(key),
            )
        )
    if shuffle:
        random.Random(seed).shuffle(songs)
    return songs


def saved_rating(hvsc_root: Path, tags_root: Path | None, sid_path: str, song_index: int) -> Rating | None:
    """What is saved for the song (the tags root first, then beside the SID, as the
    pipeline reads ratings), so the loop can show it before the listener rates again;
    a corrupt file reads as none."""
    for root in (tags_root, None):
        path = tags_path_for(sid_path, hvsc_root, root)
        if path.is_file():
            try:
                rating = rating_for_song(read_tags(path), song_index)
            except TagsError:
                return None
            if rating is not None:
                return rating
    return None


def _is_rated(hvsc_root: Path, tags_root: Path | None, sid_path: str, song_index: int) -> bool:
    return saved_rating(hvsc_root, tags_root, sid_path, song_index) is not None


class Player:
    """One background ``sidplayfp`` at a time; says once when it cannot play."""

    def __init__(self, binary: Path | None, default_seconds: int = 180) -> None:
        self.binary = binary
        self.default_seconds = default_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.problem: str | None = None if binary is not None else "sidplayfp not found"

    @property
    def available(self) -> bool:
        return self.problem is None

    def play(self, song: RateSong) -> str | None:
        """Start ``song``; returns a one-time message when playback is impossible."""
        self.stop()
        if not self.available or self.binary is None:
            return None
        seconds = max(1, round((song.length_ms or self.default_seconds * 1000) / 1000))
        # A file, not a pipe: sidplayfp writes a status line many times a second, and an
        # unread pipe fills up and blocks it mid-song.
        stderr = tempfile.TemporaryFile(prefix="sidflow-rate-")  # noqa: SIM115 - closed on both paths below
        self.process = subprocess.Popen(
            [str(self.binary), f"-os{song.song_index}", f"-t{seconds}", "-q", str(song.file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=stop_with_parent(),  # even a SIGKILLed CLI leaves no player behind
        )
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.02)
        if self.process.poll() not in (None, 0):
            size = stderr.seek(0, os.SEEK_END)
            stderr.seek(max(0, size - 16384))
            err = stderr.read().decode(errors="replace").strip()
            stderr.close()
            self.problem = err.splitlines()[-1] if err else f"sidplayfp exited with status {self.process.returncode}"
            self.process = None
            return f"cannot play audio ({self.problem}); rating without sound"
        stderr.close()  # the child keeps its own descriptor; nothing more is read from it
        return None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=2)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def describe(song: RateSong, position: int, total: int, saved: Rating | None = None) -> list[str]:
    """The lines shown for the current song."""
    from sidflow_pipeline.sid.songlengths import format_length

    length = format_length(song.length_ms) if song.length_ms else "unknown"
    lines = [
        f"[{position}/{total}] {song.sid_path}  song {song.song_index}/{song.songs}",
        f"  {song.title or '?'} — {song.author or '?'} ({song.released or '?'})  length {length}",
    ]
    for key, value in song.stil.items():
        first, *_ = value.splitlines()
        lines.append(f"  STIL {key}: {first}")
    if song.predicted:
        shown = " ".join(f"{d}={song.predicted[d]:g}" for d in DIMENSIONS if d in song.predicted)
        lines.append(f"  predicted: {shown}")
    if saved is not None and saved.values():
        shown = " ".join(f"{d}={v}" for d, v in saved.values().items())
        lines.append(f"  saved: {shown}" + (f"  ({saved.timestamp})" if saved.timestamp else ""))
    else:
        lines.append("  saved: not rated yet")
    return lines
