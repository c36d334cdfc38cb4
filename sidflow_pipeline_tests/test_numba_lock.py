"""The cross-process lock around librosa's numba disk cache (numba#10128)."""

from __future__ import annotations

import importlib.util
import itertools
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidflow_pipeline import numba_lock


def _hold(lock: str, log: str, name: str) -> None:
    with numba_lock.jit_cache_lock(Path(lock)):
        start = time.monotonic()
        time.sleep(0.3)
        end = time.monotonic()
    with open(log, "a") as out:
        out.write(f"{name} {start} {end}\n")


def test_the_lock_admits_one_process_at_a_time(tmp_path: Path) -> None:
    lock, log = tmp_path / "jit.lock", tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(str(lock), str(log), f"p{i}")) for i in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    spans = sorted((float(a), float(b)) for _, a, b in (line.split() for line in log.read_text().splitlines()))
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, spans


def test_a_lock_file_this_user_cannot_write_is_still_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "jit.lock"
    lock.write_text("")
    real_open = os.open
    flags_seen: list[int] = []

    def open_as_other_user(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        flags_seen.append(flags)
        if flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(numba_lock.os, "open", open_as_other_user)
    with numba_lock.jit_cache_lock(lock):
        pass
    assert flags_seen[-1] == os.O_RDONLY


def test_lock_path_defaults_to_the_temp_directory_and_can_be_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIDFLOW_JIT_LOCK", raising=False)
    assert numba_lock.lock_path().name == "sidflow-numba-cache.lock"
    monkeypatch.setenv("SIDFLOW_JIT_LOCK", str(tmp_path / "x.lock"))
    assert numba_lock.lock_path() == tmp_path / "x.lock"


def test_every_librosa_module_with_cached_kernels_is_loaded_under_the_lock() -> None:
    """A librosa upgrade that adds ``cache=True`` kernels elsewhere must extend the list."""
    spec = importlib.util.find_spec("librosa")
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    declared = {
        "librosa." + ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
        if "cache=True" in path.read_text(encoding="utf-8")
    }
    assert declared == set(numba_lock.CACHED_KERNEL_MODULES)
    numba_lock.load_librosa()
    assert set(numba_lock.CACHED_KERNEL_MODULES) <= set(sys.modules)


_LOAD = "from sidflow_pipeline.numba_lock import load_librosa; load_librosa()"
_USE = """
import numpy as np
from sidflow_pipeline.numba_lock import load_librosa
librosa = load_librosa()
sr = 22050
y = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
for dtype in (np.float32, np.float64):
    f0, voiced, _ = librosa.pyin(y.astype(dtype), fmin=100, fmax=1000, sr=sr)
    librosa.beat.beat_track(y=y.astype(dtype), sr=sr)
print("ok")
"""


@pytest.mark.slow
def test_processes_compiling_at_once_leave_a_cache_that_loads(tmp_path: Path) -> None:
    """Three processes fill an empty numba cache at once; a fourth then loads it and runs.

    Without the lock this crashed 2 runs in 6 here (segfault in ``pyin``); with it, none.
    """
    for round_ in range(2):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / f"numba{round_}"), "SIDFLOW_JIT_LOCK": str(tmp_path / "lock")}
        procs = [subprocess.Popen([sys.executable, "-c", _LOAD], env=env) for _ in range(3)]
        assert [p.wait(timeout=600) for p in procs] == [0, 0, 0]
        assert any((tmp_path / f"numba{round_}").rglob("guf-*.nbc"))
        done = subprocess.run([sys.executable, "-c", _USE], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
        assert done.stdout.strip() == "ok"
