"""The background player's lifecycle (``rate`` and ``play``) against stand-in players (shell scripts), in-process."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import psutil
import pytest

from sidflow_pipeline.radio.queue import QueueItem
from sidflow_pipeline.sid.playback import BackgroundPlayer, NoAudioDevice
from sidflow_pipeline_tests.processes import gone


def _script(tmp_path: Path, name: str, body: str) -> Path:
    script = tmp_path / name
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _item(tmp_path: Path) -> QueueItem:
    return QueueItem("A/x.sid#3", "A/x.sid", 3, "Tune", "Someone", 9, str(tmp_path / "x.sid"), {}, 0.0)


def _song(tmp_path: Path, seconds: int | None = None) -> tuple[str, int, int]:
    """(file, song, seconds) of a queue item, as the radio starts it."""
    item = _item(tmp_path)
    return item.file, item.song_index, item.length_s if seconds is None else seconds


def test_elapsed_excludes_pauses_and_a_clean_exit_is_played(tmp_path: Path) -> None:
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", "sleep 1.2"), startup_grace=0.05)
    assert player.elapsed == 0.0 and player.finished() is None
    assert player.start(*_song(tmp_path, seconds=2)) is None
    pid = player.pid
    assert pid is not None
    player.pause()
    player.pause()  # a second pause changes nothing
    frozen = player.elapsed
    time.sleep(0.3)
    assert player.elapsed == frozen and player.finished() is None  # paused: never "ended"
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    player.resume()
    deadline = time.monotonic() + 10
    while player.finished() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert player.finished() == "played"
    assert player.elapsed < time.monotonic() - player._started  # the pause is not counted
    player.stop()
    assert player.pid is None


def test_a_player_dying_mid_song_is_a_failure_with_its_last_words(tmp_path: Path) -> None:
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", "sleep 0.3; echo 'emulation error' >&2; exit 4"), startup_grace=0.05)
    assert player.start(*_song(tmp_path)) is None
    deadline = time.monotonic() + 10
    while player.finished() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert player.finished() == "emulation error"


def test_a_silent_failure_names_the_program_and_status(tmp_path: Path) -> None:
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", "exit 5"), startup_grace=0.5)
    assert player.start(*_song(tmp_path)) == "sidplayfp exited with status 5"


def test_no_audio_device_is_raised_not_skipped(tmp_path: Path) -> None:
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", "echo 'ALSA lib pcm.c: unknown PCM default' >&2; exit 1"))
    with pytest.raises(NoAudioDevice, match="unknown PCM default"):
        player.start(*_song(tmp_path))


def test_the_wav_player_gets_the_mastered_file(tmp_path: Path) -> None:
    args = tmp_path / "args"
    player = BackgroundPlayer(tmp_path / "unused", wav_player=_script(tmp_path, "aplay", f'echo "$@" > {args}; sleep 5'), startup_grace=0.2)
    assert player.start(*_song(tmp_path), wav=tmp_path / "song.wav") is None
    player.stop()
    assert args.read_text().split() == ["-q", str(tmp_path / "song.wav")]


def test_stop_reaches_a_paused_player_and_one_that_ignores_sigterm(tmp_path: Path) -> None:
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", "trap '' TERM; while :; do sleep 0.1; done"), startup_grace=0.05)
    player.start(*_song(tmp_path))
    pid = player.pid
    assert pid is not None
    player.pause()
    player.stop()  # SIGCONT, SIGTERM (ignored), then SIGKILL after 2 s
    assert gone(pid) and not player.paused and player.pid is None
    player.stop()  # nothing to stop


def test_a_chatty_player_is_never_blocked_by_its_own_stderr(tmp_path: Path) -> None:
    """sidplayfp writes "Playing, press ESC to stop..." many times a second; into a pipe
    nobody reads it blocked once 64 KiB were written (anon_pipe_write), mid-song."""
    chatty = "i=0; while [ $i -lt 4000 ]; do echo 'Playing, press ESC to stop...' >&2; i=$((i+1)); done; exit 0"
    player = BackgroundPlayer(_script(tmp_path, "sidplayfp", chatty), startup_grace=0.05)
    assert player.start(*_song(tmp_path)) is None
    deadline = time.monotonic() + 20
    while player.finished() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert player.finished() == "played"  # 120 KB of status lines, and it still ended
    player.stop()
