"""Fault #9: `sidflow play` stopped by SIGTERM or SIGHUP (a closed terminal, a
service manager) stops its sidplayfp child too. Real pseudo-terminal, real
sidplayfp playing to ALSA's null device, real signals."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import psutil
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.demo.collection import demo_songs, write_demo_collection
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.radio.session import latest_session
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows
from sidflow_pipeline_tests.processes import gone, null_audio_home, player_pid, spawn_sidflow

needs_sidplayfp = pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")


@pytest.fixture()
def radio(tmp_path: Path) -> tuple[Path, Path]:
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data"}))
    cfg = load_config(config)
    songs = sorted(demo_songs(1))
    rows = [row | {"sid_path": key[0], "song_index": key[1]} for key, row in zip(songs, synthetic_rows(len(songs), seed=3), strict=True)]
    build_database(cfg.layout.lance_db, rows, {}, {}, sources={}, feedback_events=0)
    return config, null_audio_home(tmp_path)


@pytest.fixture()
def players() -> Iterator[list[int]]:
    """Player pids a test saw; any still alive at the end (a regression) is killed,
    so a failing test never leaves a stopped sidplayfp behind on the machine."""
    seen: list[int] = []
    yield seen
    for pid in seen:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            if "sidplayfp" in process.name():
                process.kill()


def _pause(child: pexpect.spawn, pid: int) -> None:
    child.send(" ")
    child.expect("paused")
    deadline = time.monotonic() + 3
    while psutil.Process(pid).status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED


@needs_sidplayfp
@pytest.mark.parametrize("paused", [False, True], ids=["playing", "paused"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_fault09_terminating_signal_stops_the_player(
    radio: tuple[Path, Path], players: list[int], signum: signal.Signals, paused: bool
) -> None:
    """Was: sidflow died at once and left sidplayfp (in its own session) behind — a
    paused one stopped forever. (A playing one here writes its status line to a pipe
    to the dead CLI and dies of SIGPIPE; that is luck, not cleanup: the CLI must
    stop it and say so.)"""
    config, home = radio
    child = spawn_sidflow(config, home, "play", "--mood", "quiet", "--limit", "5")
    pid = player_pid(child)
    players.append(pid)
    assert not gone(pid)
    if paused:
        _pause(child, pid)
    child.kill(signum)
    child.expect(f"stopped by {signum.name}")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 128 + signum, (child.exitstatus, child.signalstatus)
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), f"sidplayfp {pid} still playing after {signum.name}"
    session = latest_session(load_config(config).data_path / "sessions", [])
    assert session is not None and not session.ended  # kept for sidflow play --resume


@needs_sidplayfp
def test_fault09_rate_session_stops_its_player_on_sigterm(radio: tuple[Path, Path], players: list[int]) -> None:
    """The rating tool plays through sidplayfp the same way: same fault, same fix."""
    config, home = radio
    child = spawn_sidflow(config, home, "rate")
    pid = player_pid(child)
    players.append(pid)
    child.kill(signal.SIGTERM)
    child.expect("stopped by SIGTERM")
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.exitstatus == 128 + signal.SIGTERM
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), f"sidplayfp {pid} still playing after SIGTERM"


@needs_sidplayfp
def test_fault09_even_sigkill_leaves_no_paused_player(radio: tuple[Path, Path], players: list[int]) -> None:
    """SIGKILL cannot be caught: the kernel's parent-death signal (SIGKILL, which also
    ends a stopped process) removes the paused player."""
    config, home = radio
    child = spawn_sidflow(config, home, "play", "--mood", "quiet", "--limit", "5")
    pid = player_pid(child)
    players.append(pid)
    _pause(child, pid)
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF, timeout=20)
    child.close()
    assert child.signalstatus == signal.SIGKILL
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), f"sidplayfp {pid} still playing after SIGKILL"
