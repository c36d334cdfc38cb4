"""Supervised render workers: warm processes that a bad tune can crash or hang, at the cost of one song.

In-process emulation gives up the process boundary per song that made the
``sidplayfp`` program safe, so the boundary moves to the worker: each worker is a
child Python process with a warm engine, talking to the parent over a socket pair.
The parent hands a job only to a worker that said it is ready, gives each job a
wall-clock deadline, and when a worker dies (a segfault in the emulator) or overruns
(a hang inside one emulation chunk, which Python cannot interrupt), it records that
song as ``error`` / ``timeout``, kills the worker's process group and starts another.
The run and the other songs go on.

Workers are started with ``subprocess`` rather than ``multiprocessing``: a Celery
prefork child or another daemonic process may not use ``multiprocessing`` pools,
while any process may start a child program.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from sidflow_pipeline.errors import SidflowError

__all__ = ["RENDER_TARGET", "SupervisedWorkers", "WorkerStartError"]

RENDER_TARGET = "sidflow_pipeline.sid.workers:render_job"
_START_TIMEOUT_S = 60.0
_MAX_START_FAILURES = 3


class WorkerStartError(SidflowError, RuntimeError):
    """No worker could be started; ``str()`` is one line for the user."""


def render_job(job: dict[str, Any]) -> dict[str, Any]:
    """The default job: render one excerpt (and its trace) in the worker's process."""
    from pathlib import Path

    from sidflow_pipeline.sid.engine import render_excerpt_in_process
    from sidflow_pipeline.sid.excerpt import RenderSettings

    settings = RenderSettings(**job["settings"])
    result = render_excerpt_in_process(
        job["sid_path"], int(job["song_index"]), Path(job["wav"]), settings, out_trace=job.get("trace")
    )
    # The worker's peak memory so far (KiB): the benchmark reports it per worker.
    return {**result.to_dict(), "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def warm_render(options: dict[str, Any]) -> None:
    from sidflow_pipeline.sid.engine import warm_up

    warm_up(str(options.get("engine", "fast")))


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    job: int | None = None
    deadline: float = 0.0


def _target(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class SupervisedWorkers:
    """``workers`` child processes that run ``target(job)`` for each job, supervised.

    ``target`` and ``warm`` are ``"module:function"`` names imported in the child;
    ``deadline_s(job)`` gives each job's wall-clock allowance. Use as a context manager
    so the children end with it.
    """

    def __init__(
        self,
        workers: int,
        *,
        target: str = RENDER_TARGET,
        warm: str | None = "sidflow_pipeline.sid.workers:warm_render",
        options: dict[str, Any] | None = None,
        deadline_s: Callable[[dict[str, Any]], float] = lambda job: float(job.get("deadline_s", 120.0)),
    ) -> None:
        self.size = max(1, workers)
        self.target = target
        self.warm = warm
        self.options = dict(options or {})
        self.deadline_s = deadline_s
        self.replaced = 0
        self._workers: list[_Worker] = []
        self._start_failures = 0

    def __enter__(self) -> SupervisedWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        try:
            env = dict(os.environ)
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.setdefault(var, "1")
            process = subprocess.Popen(
                [sys.executable, "-m", "sidflow_pipeline.sid.workers", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        finally:
            child.close()
        conn = Connection(parent.detach())
        conn.send({"target": self.target, "warm": self.warm, "options": self.options})
        worker = _Worker(process, conn)
        self._workers.append(worker)
        return worker

    def _kill(self, worker: _Worker) -> None:
        if worker.process.poll() is None:
            try:
                os.killpg(worker.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # pragma: no cover - gone in between
                pass
        worker.process.wait()
        worker.conn.close()
        self._workers.remove(worker)

    def close(self) -> None:
        for worker in list(self._workers):
            try:
                worker.conn.send(None)  # a polite stop; the kill below ends stragglers
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for worker in list(self._workers):
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._kill(worker)

    def run(self, jobs: Sequence[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(index, result)`` as jobs finish (in completion order).

        A job whose worker died yields ``{"status": "error", ...}``; one past its
        deadline yields ``{"status": "timeout", ...}``; both carry a one-line ``message``.
        """
        pending = deque(range(len(jobs)))
        while len(self._workers) < min(self.size, len(jobs)):
            self._spawn()

        def dispatch() -> None:
            now = time.monotonic()
            for worker in self._workers:
                if worker.ready and worker.job is None and pending:
                    index = pending.popleft()
                    worker.job = index
                    worker.deadline = now + self.deadline_s(jobs[index])
                    worker.conn.send(jobs[index])

        while pending or any(w.job is not None for w in self._workers):
            dispatch()
            now = time.monotonic()
            finished: list[tuple[int, dict[str, Any]]] = []
            waits = [w.deadline for w in self._workers if w.job is not None]
            waits += [w.started + _START_TIMEOUT_S for w in self._workers if not w.ready]
            timeout = max(0.0, min(waits) - now) if waits else None
            ready = wait([w.conn for w in self._workers], timeout=timeout)
            for worker in [w for w in self._workers if w.conn in ready]:
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    yield from self._lost(worker, jobs, pending)
                    continue
                if isinstance(message, tuple) and message[:1] == ("failed",):
                    raise WorkerStartError(str(message[1]))
                if message == "ready":
                    worker.ready = True
                    self._start_failures = 0
                elif worker.job is not None:
                    index, worker.job = worker.job, None
                    finished.append((index, message))
            # Idle workers get their next song before the caller handles the results
            # (writing records), so no worker waits on the caller.
            dispatch()
            yield from finished
            now = time.monotonic()
            for worker in [w for w in self._workers if w.job is not None and now > w.deadline]:
                late = worker.job
                assert late is not None
                allowance = self.deadline_s(jobs[late])
                self._kill(worker)
                self.replaced += 1
                if pending or any(w.job is not None for w in self._workers):
                    self._spawn()
                yield late, {
                    "status": "timeout",
                    "message": f"timeout: the render worker gave no answer within {allowance:g} s; "
                    "killed it and started another",
                }
            for worker in [w for w in self._workers if not w.ready and now > w.started + _START_TIMEOUT_S]:
                self._kill(worker)
                self._start_failed(f"a render worker did not start within {_START_TIMEOUT_S:g} s")
                self._spawn()

    def _lost(self, worker: _Worker, jobs: Sequence[dict[str, Any]], pending: deque[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        index = worker.job
        code = worker.process.poll()
        if code is None:
            try:
                code = worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        was_ready = worker.ready
        self._kill(worker)
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        if not was_ready:
            self._start_failed(f"a render worker ended before it was ready ({how})")
            self._spawn()
            return
        self.replaced += 1
        if pending or any(w.job is not None for w in self._workers):
            self._spawn()
        if index is not None:
            yield index, {
                "status": "error",
                "message": f"the render worker died on this song ({how}); started another",
            }

    def _start_failed(self, why: str) -> None:
        self._start_failures += 1
        if self._start_failures >= _MAX_START_FAILURES:
            raise WorkerStartError(f"{why}, {self._start_failures} times in a row: see the messages above")


def _serve(fd: int) -> None:
    conn = Connection(fd)
    setup = conn.recv()
    try:
        target = _target(setup["target"])
        if setup.get("warm"):
            _target(setup["warm"])(setup.get("options", {}))
    except Exception as exc:  # the parent turns this into one line for the user
        conn.send(("failed", str(exc) or type(exc).__name__))
        return
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            answer = target(job)
        except Exception as exc:  # one song's bug, not the worker's end
            answer = {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
        conn.send(answer)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
