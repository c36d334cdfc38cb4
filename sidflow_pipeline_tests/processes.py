"""Helpers for tests that start processes: a CLI in a pseudo-terminal, its players,
servers on loopback (a free port) and the process trees they leave."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path

import pexpect
import psutil

SIDFLOW = str(Path(sys.executable).with_name("sidflow"))


def player_pid(child: pexpect.spawn) -> int:
    """The pid the CLI prints as ``playing (pid N)``."""
    child.expect(r"playing \(pid (\d+)\)")
    return int(child.match.group(1))


def gone(pid: int) -> bool:
    """True when the process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


NULL_ALSA = "pcm.!default { type null }\nctl.!default { type hw card 0 }\n"


def null_audio_home(parent: Path) -> Path:
    """A HOME whose ``.asoundrc`` sends ALSA output to the null device (no sound card here)."""
    home = parent / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NULL_ALSA)
    return home


def spawn_sidflow(config: Path, home: Path, command: str, *args: str) -> pexpect.spawn:
    """``sidflow --config CONFIG COMMAND ARGS`` in a real pseudo-terminal, 200 columns wide."""
    env = {**os.environ, "HOME": str(home), "COLUMNS": "200", "TERM": "dumb"}
    return pexpect.spawn(SIDFLOW, ["--config", str(config), command, *args], env=env, encoding="utf-8", timeout=20, dimensions=(50, 200))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running (zombies and vanished ones are not)."""
    left = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
    return left
