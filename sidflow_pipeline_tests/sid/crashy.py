"""Worker targets that misbehave on purpose, for the supervision tests (imported by the
worker processes by name, so they live in a module, not in the test file)."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any


def job(job: dict[str, Any]) -> dict[str, Any]:
    what = job["do"]
    if what == "segv":
        ctypes.string_at(0)  # a NULL read: SIGSEGV, as a crashing emulator would
    elif what == "hang":
        time.sleep(3600)  # a loop inside one emulation chunk that Python cannot interrupt
    elif what == "raise":
        raise ValueError("a bug in one song's code path")
    return {"status": "ok", "message": "fine", "pid": os.getpid()}


def warm_fails(options: dict[str, Any]) -> None:
    raise RuntimeError("the engine cannot start here")


def warm_dies(options: dict[str, Any]) -> None:
    os._exit(3)
