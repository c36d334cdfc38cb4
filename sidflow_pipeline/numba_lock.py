"""librosa's compiled kernels, filled into numba's disk cache by one process at a time.

librosa declares its ``guvectorize`` kernels with ``cache=True`` and explicit
signatures, so numba compiles them when a submodule is first imported and writes two
files per kernel (the function and its gufunc wrapper). When two processes do that at
once — our spawned feature workers, two Celery workers, a fresh venv — the pair can
end up written by different processes, and every later process that loads it dies
with a segmentation fault (numba#10128, seen in our CI in ``librosa.pyin``).

:func:`load_librosa` imports every librosa module that holds such kernels while
holding an exclusive ``flock`` shared by all processes on the machine, so the first
caller compiles and writes complete pairs and the others load them. It costs one
lock round-trip per process.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

__all__ = ["CACHED_KERNEL_MODULES", "jit_cache_lock", "load_librosa", "lock_path"]

#: librosa modules declaring ``cache=True`` kernels (``grep -l cache=True`` over librosa 0.11).
CACHED_KERNEL_MODULES: tuple[str, ...] = (
    "librosa.core.audio",
    "librosa.core.spectrum",
    "librosa.core.pitch",
    "librosa.core.notation",
    "librosa.core.constantq",
    "librosa.filters",
    "librosa.util.utils",
    "librosa.util.matching",
    "librosa.feature.utils",
    "librosa.sequence",
    "librosa.beat",
)

_loaded = False


def lock_path() -> Path:
    """``$SIDFLOW_JIT_LOCK``, else one file in the system temp directory for every process."""
    override = os.environ.get("SIDFLOW_JIT_LOCK")
    return Path(override) if override else Path(tempfile.gettempdir()) / "sidflow-numba-cache.lock"


@contextmanager
def jit_cache_lock(path: Path | None = None) -> Iterator[None]:
    """Exclusive across processes until the block ends (closing the descriptor releases it)."""
    target = path or lock_path()
    try:
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file: flock works on a read-only descriptor
        fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_librosa() -> ModuleType:
    """librosa, with its cached kernels compiled or loaded under :func:`jit_cache_lock`."""
    global _loaded
    if not _loaded:
        with jit_cache_lock():
            for name in CACHED_KERNEL_MODULES:
                importlib.import_module(name)
        _loaded = True
    return importlib.import_module("librosa")
