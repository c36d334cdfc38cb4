"""The radio loop without a terminal or sidplayfp: keys and song ends in, feedback and session out."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidflow_pipeline.feedback.log import read_events
from sidflow_pipeline.radio.loop import RadioLoop
from sidflow_pipeline.radio.queue import QueueItem
from sidflow_pipeline.radio.session import RadioSession, latest_session
from sidflow_pipeline.sid.playback import NoAudioDevice


class FakePlayer:
    """Stands in for BackgroundPlayer: records calls; the test says how a song ends."""

    def __init__(self, refuse: str | None = None, no_device: bool = False) -> None:
        self.calls: list[tuple] = []
        self.ended: str | None = None
        self.paused = False
        self.elapsed = 12.0
        self.pid = 4242
        self.refuse, self.no_device = refuse, no_device

    def start(self, file: str, song_index: int, seconds: int, wav: Path | None = None) -> str | None:
        if self.no_device:
            raise NoAudioDevice("ALSA: no audio device")
        self.calls.append(("start", file, song_index, seconds))
        self.ended = None
        return self.refuse

    def finished(self) -> str | None:
        return None if self.paused else self.ended

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> None:
        self.calls.append(("stop",))


def _queue(tmp_path: Path) -> list[QueueItem]:
    return [
        QueueItem(f"MUSICIANS/{n}.sid#1", f"MUSICIANS/{n}.sid", 1, n, "Tester", 90, str(tmp_path / f"{n}.sid"), {}, 0.0)
        for n in ("A", "B", "C")
    ]


def _radio(tmp_path: Path, player: FakePlayer, preview: int | None = None) -> RadioLoop:
    session = RadioSession.new(tmp_path / "sessions", {"mood": "quiet"}, _queue(tmp_path))
    return RadioLoop(session, player, tmp_path / "feedback", preview=preview)  # type: ignore[arg-type]


def _logged(tmp_path: Path) -> list[tuple[str, str]]:
    return [(e.action, e.sid_path) for e in read_events(tmp_path / "feedback").events]


def test_like_once_then_next_is_not_a_skip_and_a_song_heard_to_the_end_is_a_play(tmp_path: Path) -> None:
    player = FakePlayer()
    radio = _radio(tmp_path, player)
    title, upcoming = radio.heading()
    assert title == "\n▶ [1/3] A — Tester  (MUSICIANS/A.sid:1)  01:30"
    assert upcoming == "  next: B — Tester · C — Tester"
    assert radio.start(radio.prepare()) is None
    assert player.calls == [("start", str(tmp_path / "A.sid"), 1, 90)]
    assert radio.poll() is None and radio.progress() == "\r  00:12 / 01:30 playing   "
    assert radio.key("l").text == "\n  liked ♥"
    radio.key("l")  # one like per hearing
    outcome = radio.key("n")
    assert (outcome.text, outcome.song_over) == ("\n  next (liked, not logged as a skip)", True)
    radio.start(radio.prepare())
    player.ended = "played"
    outcome = radio.poll()
    assert outcome is not None and (outcome.text, outcome.song_over) == ("\n  played to the end", True)
    assert _logged(tmp_path) == [("like", "MUSICIANS/A.sid"), ("play", "MUSICIANS/B.sid")]
    assert radio.session.position == 2 and not radio.done


def test_skip_dislike_pause_and_quit_keep_the_session_resumable(tmp_path: Path) -> None:
    player = FakePlayer()
    radio = _radio(tmp_path, player)
    radio.start(radio.prepare())
    assert radio.key(" ").text == "\n  paused" and radio.progress().endswith("paused   ")
    assert radio.key(" ").text == "\n  resumed"
    assert radio.key("n").text == "\n  skipped"
    radio.start(radio.prepare())
    assert radio.key("d").text == "\n  disliked — next"
    radio.start(radio.prepare())
    assert radio.key("x").text is None and not radio.key("x").song_over  # unknown keys do nothing
    outcome = radio.key("")  # end of input quits
    assert outcome.song_over and radio.done and outcome.text is None
    radio.close()
    assert _logged(tmp_path) == [("skip", "MUSICIANS/A.sid"), ("dislike", "MUSICIANS/B.sid")]
    resumed = latest_session(tmp_path / "sessions")
    assert resumed is not None and resumed.current is not None and resumed.current.sid_path == "MUSICIANS/C.sid"
    assert [e["action"] for e in resumed.events] == ["started", "paused", "resumed", "skip", "started", "dislike", "started"]


def test_a_preview_is_not_a_play_and_failures_move_on(tmp_path: Path) -> None:
    player = FakePlayer()
    radio = _radio(tmp_path, player, preview=5)
    radio.start(radio.prepare())
    assert player.calls[-1][-1] == 5
    player.ended = "played"
    outcome = radio.poll()
    assert outcome is not None and outcome.text == "\n  preview ended after 00:05 (not logged as played)"
    radio.start(radio.prepare())
    player.ended = "emulation error"
    outcome = radio.poll()
    assert outcome is not None and outcome.text == "\n  playback failed (emulation error) — next song"
    player.refuse = "sidplayfp exited with status 1"
    assert radio.start(radio.prepare()) == "sidplayfp exited with status 1"
    assert radio.done and _logged(tmp_path) == []
    assert [e["action"] for e in radio.session.events] == ["started", "previewed", "started", "failed", "failed"]


def test_no_audio_device_is_raised_for_the_cli_to_stop(tmp_path: Path) -> None:
    radio = _radio(tmp_path, FakePlayer(no_device=True))
    with pytest.raises(NoAudioDevice):
        radio.start(radio.prepare())
