"""``dagster dev`` (webserver + daemon) as a child process over a throw-away demo project.

:func:`write_demo_project` lays out what an operator has after ``scripts/setup.sh`` and
``sidflow demo-collection --mirror``: a ``$DAGSTER_HOME`` holding the project's
``dagster.yaml`` and a ``.sidflow.json`` whose every path is inside the temporary
folder, with the demo mirror as ``hvscSource``. :class:`DagsterDev` starts
``dagster dev -m sidflow_pipeline.definitions`` on 127.0.0.1 in its own session, waits
(bounded) until the code location is loaded, answers GraphQL queries (for waiting, never
for acting) and always takes the whole process tree down again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from sidflow_pipeline.demo.collection import write_demo_mirror
from sidflow_pipeline_tests.processes import alive, free_port
from sidflow_pipeline_tests.project import write_config

__all__ = ["DagsterDev", "DemoProject", "write_demo_project"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CODE_LOCATION = "sidflow_pipeline.definitions"
# Bounds on every wait (generous: CI machines are shared and the first import is slow).
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
HTTP_TIMEOUT = 15.0
# Settings a developer's shell may carry that would change what the served code does.
_SCRUBBED_ENV = ("SIDFLOW_EXECUTOR", "SIDFLOW_CELERY_BROKER", "SIDFLOW_CELERY_BACKEND", "DAGSTER_HOME", "SIDFLOW_CONFIG")
TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


@dataclass(frozen=True)
class DemoProject:
    root: Path
    dagster_home: Path
    config: Path
    mirror: Path
    data: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        return {
            **env,
            "DAGSTER_HOME": str(self.dagster_home),
            "SIDFLOW_CONFIG": str(self.config),
            # The code under test, even when another checkout is installed in the venv.
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }


def write_demo_project(root: Path, threads: int = 0) -> DemoProject:
    """A project folder like the README's: instance home, demo mirror, config."""
    root.mkdir(parents=True, exist_ok=True)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    mirror = root / "mirror"
    write_demo_mirror(mirror)
    data = root / "data"
    config = root / ".sidflow.json"
    write_config(config, root / "hvsc", data, threads=threads, hvscSource=str(mirror))
    return DemoProject(root=root, dagster_home=home, config=config, mirror=mirror, data=data)


@contextlib.contextmanager
def _signals_not_ignored() -> Iterator[None]:
    """While spawning: make sure SIGINT/SIGTERM are not *ignored* in this process.

    A shell's background job (or a CI runner) may start pytest with SIGINT ignored, and
    an ignored signal stays ignored across exec: ``dagster dev`` would then never hear
    the Ctrl-C that makes it shut its webserver, daemon and code servers down. A handler
    (unlike SIG_IGN) is reset to the default by exec, so install one around the spawn.
    """
    saved: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) == signal.SIG_IGN:
                saved[sig] = signal.signal(sig, signal.default_int_handler)
    except ValueError:  # pragma: no cover - not the main thread: leave things alone
        pass
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


class DagsterDev:
    """One ``dagster dev`` over a :class:`DemoProject`; use as a context manager."""

    def __init__(self, project: DemoProject, port: int | None = None) -> None:
        self.project = project
        self.port = port or free_port()
        self.log = project.root / "dagster-dev.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._seen: dict[int, psutil.Process] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> DagsterDev:
        cmd = [str(BIN / "dagster"), "dev", "-m", CODE_LOCATION, "-h", "127.0.0.1", "-p", str(self.port)]
        with self.log.open("ab") as out, _signals_not_ignored():
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.project.root,
                env=self.project.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the whole tree is ours to stop
            )
        return self

    def __enter__(self) -> DagsterDev:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"({self.log} unreadable)"

    def _check_running(self) -> None:
        assert self.proc is not None, "dagster dev was not started"
        if self.proc.poll() is not None:
            raise AssertionError(f"dagster dev exited with {self.proc.returncode}:\n{self.tail()}")

    def _location_entries(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/server_info", timeout=HTTP_TIMEOUT) as response:
            response.read()
        data = self.graphql(
            """{ workspaceOrError { __typename ... on Workspace { locationEntries {
                 name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )["workspaceOrError"]
        return list(data.get("locationEntries") or [])

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until the webserver answers and the code location is loaded (bounded)."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            self._check_running()
            self._remember_tree()
            try:
                entries = self._location_entries()
            except (OSError, AssertionError, KeyError, ValueError) as exc:  # not up yet (URLError is an OSError)
                entries, last = [], repr(exc)
            for entry in entries:
                if entry["name"] == CODE_LOCATION and entry["loadStatus"] == "LOADED":
                    kind = entry["locationOrLoadError"] or {}
                    if kind.get("__typename") == "PythonError":
                        raise AssertionError(f"code location failed to load: {kind.get('message')}\n{self.tail()}")
                    return
            if entries:
                last = f"workspace: {entries}"
            if time.monotonic() > deadline:
                raise AssertionError(f"dagster dev not ready after {timeout:.0f}s ({last}):\n{self.tail()}")
            time.sleep(0.5)

    def _remember_tree(self) -> list[psutil.Process]:
        """The dev process, its descendants and anything else in its session (run workers)."""
        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
                if os.getsid(process.pid) == self.proc.pid:
                    found.append(process)
        for process in found:
            self._seen.setdefault(process.pid, process)
        return list(self._seen.values())

    def stop(self) -> None:
        """Ctrl-C first (dagster dev stops its webserver, daemon and code servers and
        removes its temporary sockets), then SIGTERM / SIGKILL whatever is left of the
        whole tree; fails if anything survives."""
        if self.proc is None:
            return
        processes = self._remember_tree()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=STOP_TIMEOUT)
        processes = self._remember_tree() or processes
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = alive(processes)
            if not left:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            for process in left:  # descendants that left the session, if any
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.send_signal(sig)
            psutil.wait_procs(alive(processes), timeout=STOP_TIMEOUT / 3)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        left = alive(processes)
        assert not left, f"left running after dagster dev: {[(p.pid, p.name()) for p in left]}"

    # -- GraphQL (to wait and to diagnose; every action in the tests is a UI click) ------
    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def runs(self) -> list[dict[str, Any]]:
        data = self.graphql(
            """{ runsOrError { __typename ... on Runs { results {
                 runId jobName status startTime endTime tags { key value } } } } }"""
        )["runsOrError"]
        assert data["__typename"] == "Runs", data
        return data["results"]

    def wait_for_run(self, run_id: str, timeout: float) -> dict[str, Any]:
        """Poll until the run is finished (bounded); the run's last record."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_running()
            self._remember_tree()
            try:
                run = next((r for r in self.runs() if r["runId"] == run_id), None)
            except OSError:  # a busy webserver may time out once; the deadline still holds
                run = None
            if run is not None and run["status"] in TERMINAL_RUN_STATUSES:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} not finished after {timeout:.0f}s: {run}\n{self.tail()}")
            time.sleep(2.0)

    def run_failure_messages(self, run_id: str) -> list[str]:
        """Step/run failure messages from the event log, for an assertion message."""
        data = self.graphql(
            """query($runId: ID!) { logsForRun(runId: $runId) { __typename ... on EventConnection {
                 events { __typename ... on MessageEvent { message stepKey level } } } } }""",
            {"runId": run_id},
        )["logsForRun"]
        events = data.get("events", [])
        return [f"{e.get('stepKey') or '-'}: {e['message']}" for e in events if e.get("level") in ("ERROR", "CRITICAL")]
