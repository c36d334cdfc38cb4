"""The radio's state machine: what a key, or the end of a song, does to a session.

``sidflow play`` reads keys and prints; this object decides. It starts each song of
the session on a :class:`~sidflow_pipeline.sid.playback.BackgroundPlayer`, turns keys
into feedback (``like``, ``dislike``, ``skip``) and a song heard to its end into a
``play``, and moves the session on, so all of it is testable without a terminal.

Feedback rules (the sensors and the recommender rely on them): only a song heard to
its end is a ``play`` (a preview cut short is not); a song the listener liked is not
also a ``skip`` when they move on; one ``like`` per hearing however often ``l`` is
pressed; ``q`` logs nothing and keeps the session for ``--resume``.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.radio.queue import QueueItem
from sidflow_pipeline.radio.session import RadioSession
from sidflow_pipeline.sid.playback import BackgroundPlayer

__all__ = ["KEYS_HELP", "MasteringAhead", "Outcome", "Prepared", "RadioLoop", "clock"]

KEYS_HELP = "keys: n next (skip) · space pause/resume · l like · d dislike (and next) · q quit"


def clock(seconds: float) -> str:
    """``mm:ss``, as the radio shows lengths and progress."""
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class MasteringAhead:
    """Renders and masters songs one ahead of playback, so mastered play has no gaps."""

    def __init__(self, binary: Path, profiles_dir: Path, preview: int | None) -> None:
        import tempfile
        from concurrent.futures import ThreadPoolExecutor

        self.binary, self.profiles_dir, self.preview = binary, profiles_dir, preview
        self.workdir = Path(tempfile.mkdtemp(prefix="sidflow-master-"))
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: dict[str, Future[Any]] = {}

    def _job(self, item: QueueItem) -> Any:
        from sidflow_pipeline.radio.master import master_song

        seconds = min(item.length_s, self.preview) if self.preview else item.length_s
        return master_song(item, self.binary, self.workdir, self.profiles_dir, seconds)

    def prefetch(self, item: QueueItem | None) -> None:
        if item is not None and item.key not in self.pending:
            self.pending[item.key] = self.pool.submit(self._job, item)

    def get(self, item: QueueItem) -> Any:
        """The :class:`~sidflow_pipeline.radio.master.MasteredSong` (waits for it)."""
        self.prefetch(item)
        return self.pending.pop(item.key).result()

    def close(self) -> None:
        import shutil

        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass(frozen=True)
class Prepared:
    """The current song, ready to start: its mastered WAV and what mastering did, or why
    it cannot be played."""

    item: QueueItem
    length: int
    wav: Path | None = None
    note: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a key or the player's end did: a line to show (it starts on a new line, after
    the progress line), and whether the current song is over."""

    text: str | None = None
    song_over: bool = False


class RadioLoop:
    """One listening session: the current song, its player, the feedback it logs."""

    def __init__(
        self,
        session: RadioSession,
        player: BackgroundPlayer,
        feedback_root: Path,
        *,
        preview: int | None = None,
        mastering: MasteringAhead | None = None,
    ) -> None:
        self.session = session
        self.player = player
        self.feedback_root = feedback_root
        self.preview = preview
        self.mastering = mastering
        self.quit = False
        self.liked = False  # a song the listener liked is not also a skip when they move on
        self._length = 0

    @property
    def done(self) -> bool:
        return self.quit or self.session.current is None

    def length(self, item: QueueItem) -> int:
        """Seconds the song plays: all of it, or at most ``--preview``."""
        return min(item.length_s, self.preview) if self.preview else item.length_s

    def heading(self) -> tuple[str, str | None]:
        """The current song's line, and the next songs' line (None at the end of the queue)."""
        item = self.session.current
        assert item is not None
        title = (
            f"\n▶ [{self.session.position + 1}/{len(self.session.queue)}] {item.label}  "
            f"({item.sid_path}:{item.song_index})  {clock(self.length(item))}"
        )
        upcoming = self.session.upcoming()
        return title, ("  next: " + " · ".join(u.label for u in upcoming)) if upcoming else None

    def prepare(self) -> Prepared:
        """The current song, mastered first when mastering (and the next one queued for it)."""
        item = self.session.current
        assert item is not None
        length = self.length(item)
        if self.mastering is None:
            return Prepared(item, length)
        try:
            song = self.mastering.get(item)
        except (RuntimeError, ValueError) as exc:  # a render or mastering that failed: skip it
            return Prepared(item, length, problem=str(exc))
        following = self.session.upcoming(1)
        self.mastering.prefetch(following[0] if following else None)
        return Prepared(item, length, wav=song.wav, note=song.describe())

    def start(self, prepared: Prepared) -> str | None:
        """Start the prepared song; why it cannot play (recorded, and the session moves on),
        else None. Raises :class:`~sidflow_pipeline.sid.playback.NoAudioDevice`."""
        item = prepared.item
        problem = prepared.problem
        if problem is None:
            problem = self.player.start(item.file, item.song_index, prepared.length, wav=prepared.wav)
        if problem:
            self.session.record("failed", item, problem)
            self.session.advance()
            return problem
        self.session.record("started", item)
        self.liked = False
        self._length = prepared.length
        return None

    def progress(self) -> str:
        """The progress line, redrawn in place while a song plays."""
        state = "paused" if self.player.paused else "playing"
        return f"\r  {clock(self.player.elapsed)} / {clock(self._length)} {state}   "

    def _log(self, action: str, item: QueueItem) -> None:
        append_event(self.feedback_root, item.sid_path, action, song_index=item.song_index)
        self.session.record(action, item)

    def poll(self) -> Outcome | None:
        """How the song ended, once it has; None while it plays (or is paused)."""
        ended = self.player.finished()
        item = self.session.current
        if ended is None or item is None:
            return None
        if ended == "played" and self._length < item.length_s:
            # Only a song heard to its end is a `play` for the sensors and the recommender.
            self.session.record("previewed", item)
            self.session.advance()
            return Outcome(f"\n  preview ended after {clock(self._length)} (not logged as played)", song_over=True)
        if ended == "played":
            self._log("play", item)
            self.session.advance()
            return Outcome("\n  played to the end", song_over=True)
        self.session.record("failed", item, ended)
        self.session.advance()
        return Outcome(f"\n  playback failed ({ended}) — next song", song_over=True)

    def key(self, key: str) -> Outcome:
        """What ``key`` does (``""``, end of input, quits); unknown keys do nothing."""
        item = self.session.current
        assert item is not None
        if key == "":
            key = "q"  # input closed
        if key in ("n", "d"):  # skip, or dislike — both end this song
            self.player.stop()
            action, said = ("skip", "skipped") if key == "n" else ("dislike", "disliked — next")
            if key == "n" and self.liked:
                said = "next (liked, not logged as a skip)"
            else:
                self._log(action, item)
            self.session.advance()
            return Outcome(f"\n  {said}", song_over=True)
        if key == " ":
            if self.player.paused:
                self.player.resume()
                self.session.record("resumed", item)
                return Outcome("\n  resumed")
            self.player.pause()
            self.session.record("paused", item)
            return Outcome("\n  paused")
        if key == "l":
            if not self.liked:  # one like per hearing, however often the key is pressed
                self._log("like", item)
                self.liked = True
            return Outcome("\n  liked ♥")
        if key in ("q", "Q"):
            self.player.stop()
            self.quit = True
            return Outcome(song_over=True)
        if key in ("h", "?"):
            return Outcome("\n" + KEYS_HELP)
        return Outcome()

    def close(self) -> None:
        """Stop playing and keep the session where it is (for ``--resume``)."""
        try:
            self.player.stop()
            if self.mastering is not None:
                self.mastering.close()
        finally:
            self.session.finish()
