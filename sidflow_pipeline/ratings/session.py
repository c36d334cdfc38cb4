"""The manual rating session behind ``sidflow rate``: songs to rate, playback, keys.

Kept apart from the terminal code so the key handling and the song walk are plain
objects a test can drive (:class:`RatingLoop`); the CLI only reads keys and prints.

Keys (as in the design documents): ``e1``–``e5`` energy, ``m1``–``m5`` mood,
``c1``–``c5`` complexity, ``p1``–``p5`` preference; Enter saves what was given (a
dimension not given is not written: the song keeps its saved value, or stays unrated
there — a made-up 3 would teach the model something the listener never said) and moves
on; ``s`` skips without saving; ``u`` takes back the last saved rating and goes back to
that song; ``r`` replays; ``q``/``Q`` quits; ``h``/``?`` shows help.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sidflow_pipeline.ratings.tags import (
    DIMENSIONS,
    Rating,
    TagsError,
    rating_for_song,
    read_tags,
    tags_path_for,
    undo_last,
    write_rating,
)
from sidflow_pipeline.sid.playback import BackgroundPlayer, NoAudioDevice

__all__ = ["HELP", "KeyInput", "Player", "RateSong", "RateStep", "RatingLoop", "collect_songs", "describe", "saved_rating"]

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
    """Rating's use of the background player: it says once when it cannot play, and the
    session goes on without sound (a rating needs no audio to be saved)."""

    def __init__(self, binary: Path | None, default_seconds: int = 180) -> None:
        self.binary = binary
        self.default_seconds = default_seconds
        self.problem: str | None = None if binary is not None else "sidplayfp not found"
        self._player = BackgroundPlayer(binary, startup_grace=0.4) if binary is not None else None

    @property
    def available(self) -> bool:
        return self.problem is None

    def play(self, song: RateSong) -> str | None:
        """Start ``song``; returns a one-time message when playback is impossible."""
        self.stop()
        if not self.available or self._player is None:
            return None
        seconds = max(1, round((song.length_ms or self.default_seconds * 1000) / 1000))
        try:
            problem = self._player.start(song.file, song.song_index, seconds)
        except NoAudioDevice as exc:
            problem = str(exc)
        if problem is not None:
            self.problem = problem
            return f"cannot play audio ({problem}); rating without sound"
        return None

    @property
    def pid(self) -> int | None:
        return self._player.pid if self._player is not None else None

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()


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


StepKind = Literal[
    "set", "pending", "invalid", "help", "replay", "skip", "nothing-given", "saved",
    "undo-refused", "nothing-to-undo", "undone", "quit",
]  # fmt: skip


@dataclass(frozen=True)
class RateStep:
    """What one key did: ``kind`` for the CLI to choose how to say it, ``text`` to say,
    and whether the current song is done with (the loop has moved on)."""

    kind: StepKind
    text: str = ""
    song_over: bool = False


class RatingLoop:
    """The walk through the songs of ``sidflow rate``: the current song, what a key does
    to it, what is saved and taken back.

    Enter writes the dimensions given so far (atomically, journalled for undo) and moves
    on; ``u`` takes back the newest saved rating — this session's or an earlier one's —
    and, when it was this session's, goes back to that song to rate it again.
    """

    def __init__(
        self,
        songs: list[RateSong],
        player: Player,
        hvsc_root: Path,
        tags_root: Path | None,
        journal: Path,
        clock: Callable[[], str],
    ) -> None:
        self.songs = songs
        self.player = player
        self.hvsc_root = hvsc_root
        self.tags_root = tags_root
        self.journal = journal
        self.clock = clock
        self.index = 0
        self.saved = 0
        self.skipped = 0
        self.keys = KeyInput()
        self._rated: list[int] = []  # positions saved in this session, newest last (for u)

    @property
    def done(self) -> bool:
        return self.index >= len(self.songs)

    @property
    def current(self) -> RateSong:
        return self.songs[self.index]

    def describe(self) -> list[str]:
        """The lines shown for the current song, with what is saved for it now."""
        song = self.current
        saved = saved_rating(self.hvsc_root, self.tags_root, song.sid_path, song.song_index)
        return describe(song, self.index + 1, len(self.songs), saved)

    def start(self) -> str | None:
        """Play the current song with no keys given yet; a one-time message when it cannot."""
        self.keys = KeyInput()
        return self.player.play(self.current)

    def feed(self, key: str) -> RateStep:
        """What ``key`` does (``""``, end of input, quits)."""
        action, detail = self.keys.feed(key or "q")
        song = self.current
        if action == "set":
            return RateStep("set", f"{detail}  (" + " ".join(f"{k}={v}" for k, v in sorted(self.keys.values.items())) + ")")
        if action in ("pending", "invalid"):
            return RateStep(action, detail)
        if action == "help":
            return RateStep("help", HELP)
        if action == "replay":
            self.player.play(song)
            return RateStep("replay", "replaying")
        if action == "skip":
            self.player.stop()
            self.skipped += 1
            self.index += 1
            return RateStep("skip", "skipped", song_over=True)
        if action == "save":
            rating = self.keys.rating(self.clock())
            if rating is None:
                return RateStep("nothing-given", "nothing given — type e/m/c/p and a digit, or s to skip")
            self.player.stop()
            target = tags_path_for(song.sid_path, self.hvsc_root, self.tags_root)
            stored = write_rating(target, song.song_index, song.songs, rating, journal=self.journal)
            self.saved += 1
            self._rated.append(self.index)
            self.index += 1
            shown = " ".join(f"{k}={v}" for k, v in stored.values().items())
            return RateStep("saved", f"saved {shown} → {target}", song_over=True)
        if action == "undo":
            try:
                undone = undo_last(self.journal)
            except TagsError as exc:
                return RateStep("undo-refused", str(exc))
            if undone is None:
                return RateStep("nothing-to-undo", "nothing to undo")
            self.player.stop()
            if self._rated:  # back to the song whose rating was taken back, to rate it again
                self.index = self._rated.pop()
                self.saved -= 1
            return RateStep("undone", f"undone: song #{undone[1]} → {undone[0]} is back as it was", song_over=True)
        self.index = len(self.songs)  # quit
        return RateStep("quit", song_over=True)
