"""Helpers for tests that drive a CLI in a pseudo-terminal and watch its player processes."""

from __future__ import annotations

import pexpect
import psutil


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
