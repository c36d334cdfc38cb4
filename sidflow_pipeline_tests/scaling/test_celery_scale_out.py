"""Scale-out on dagster-celery: the project's own asset jobs, a Redis broker, two workers.

What runs here is what docs/scaling.md tells an operator to run:

* a Debian ``redis-server`` on 127.0.0.1 (a free port, no persistence);
* a persistent Dagster instance (``$DAGSTER_HOME`` with the project's dagster.yaml,
  SQLite storage, shared by every process on this machine);
* two ``dagster-celery worker start`` workers, one task at a time each, with the same
  ``DAGSTER_HOME`` / ``SIDFLOW_CONFIG`` / ``SIDFLOW_EXECUTOR=celery`` environment;
* ``dagster asset materialize`` of ``sid_catalog``, then one run per HVSC section of
  ``wav_cache,audio_features,classified`` (how a backfill of these assets runs, their
  backfill policy being ``multi_run(max_partitions_per_run=1)``), several at a time.

The event log then has to show that the steps ran inside the Celery workers' process
trees (not in the launching ``dagster`` processes) and that both workers took
classification partitions; the files written must be byte-identical to an in-process
``dagster.materialize`` of the same assets over the same collection.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings, wav_cache
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.demo.collection import demo_songs, write_demo_collection
from sidflow_pipeline.sections import partition_file_stem, partition_of
from sidflow_pipeline_tests.processes import alive, free_port
from sidflow_pipeline_tests.project import write_config

psutil = pytest.importorskip("psutil")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
CLASSIFY_ASSETS = "wav_cache,audio_features,classified"
STEP_KEYS = ("wav_cache", "audio_features", "classified")
# Bounds on every wait (generous: CI machines are shared and the demo renders are real).
START_TIMEOUT = 120.0
RUN_TIMEOUT = 900.0
STOP_TIMEOUT = 30.0
PARALLEL_RUNS = 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed (Debian: apt-get install redis-server)"),
    pytest.mark.skipif(
        importlib.util.find_spec("dagster_celery") is None,
        reason="dagster-celery not installed (pip install -e '.[cluster]')",
    ),
    pytest.mark.skipif(importlib.util.find_spec("redis") is None, reason="the redis Python client is not installed"),
    pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="sidplayfp not on PATH"),
    pytest.mark.skipif(not (BIN / "dagster-celery").exists(), reason=f"no dagster-celery script beside {sys.executable}"),
]


# --------------------------------------------------------------------------- processes


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """A child in its own session (process group), output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)


def _tree(proc: subprocess.Popen[bytes]) -> list[Any]:
    try:
        root = psutil.Process(proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (Celery's warm shutdown), SIGKILL what is left; check none survive."""
    processes = _tree(proc)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for process in alive(processes):  # children that left the group, if any
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(sig)
        psutil.wait_procs(alive(processes), timeout=STOP_TIMEOUT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        if not alive(processes):
            break
    assert not alive(processes), f"left running: {[p.pid for p in alive(processes)]}"


@contextlib.contextmanager
def _redis(tmp: Path) -> Iterator[str]:
    import redis

    port = free_port()
    proc = _spawn(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        tmp / "redis.log",
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"redis-server exited:\n{_tail(tmp / 'redis.log')}"
            with contextlib.suppress(redis.exceptions.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, f"redis-server not answering:\n{_tail(tmp / 'redis.log')}"
            time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        _stop(proc)


@dataclass
class Cluster:
    """What the workers and the launchers share: instance, config, broker."""

    tmp: Path
    home: Path
    config: Path
    broker: str
    backend: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "SIDFLOW_CONFIG": str(self.config),
            "SIDFLOW_EXECUTOR": "celery",
            "SIDFLOW_CELERY_BROKER": self.broker,
            "SIDFLOW_CELERY_BACKEND": self.backend,
            # The code under test, even when another checkout is installed in the venv.
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }

    def start_worker(self, name: str, *celery_args: str) -> None:
        celery_yaml = self.tmp / "celery.yaml"
        celery_yaml.write_text(f"execution:\n  config:\n    broker: {self.broker}\n    backend: {self.backend}\n")
        cmd = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(celery_yaml), "-n", name]
        self.workers[name] = _spawn([*cmd, "--", *celery_args], self.tmp / f"worker-{name}.log", self.env, self.tmp)

    def nodename(self, name: str) -> str:
        return f"{name}@{socket.gethostname()}"

    def wait_for_workers(self) -> None:
        """Until every worker answers a broadcast ping over the broker."""
        from celery import Celery

        app = Celery("sidflow-probe", broker=self.broker, backend=self.backend)
        try:
            expected = {self.nodename(name) for name in self.workers}
            deadline = time.monotonic() + START_TIMEOUT
            seen: set[str] = set()
            while seen < expected:
                for name, proc in self.workers.items():
                    assert proc.poll() is None, f"worker {name} exited:\n{_tail(self.tmp / f'worker-{name}.log')}"
                assert time.monotonic() < deadline, f"workers not ready: {sorted(expected - seen)}"
                seen |= {node for reply in app.control.ping(timeout=1.0) for node in reply}
        finally:
            app.close()

    def worker_pids(self) -> dict[str, set[int]]:
        """Each worker's whole process tree (the CLI, the Celery main process, the pool)."""
        return {name: {p.pid for p in _tree(proc)} for name, proc in self.workers.items()}

    def stop_workers(self) -> None:
        for proc in self.workers.values():
            _stop(proc)

    def materialize(self, select: str, partition: str | None = None) -> tuple[int, int | None, Path]:
        """``dagster asset materialize`` in its own process: (pid, exit code, log)."""
        log = self.tmp / f"launch-{select.replace(',', '+')}-{partition_file_stem(partition or 'all')}.log"
        cmd = [str(BIN / "dagster"), "asset", "materialize", "-m", "sidflow_pipeline.definitions", "--select", select]
        if partition is not None:
            cmd += ["--partition", partition]
        proc = _spawn(cmd, log, self.env, self.tmp)
        try:
            return proc.pid, proc.wait(timeout=RUN_TIMEOUT), log
        except subprocess.TimeoutExpired:
            _stop(proc)
            return proc.pid, None, log

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))


@contextlib.contextmanager
def _cluster(tmp: Path, broker_root: str, config: Path, db: int) -> Iterator[Cluster]:
    home = tmp / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    cluster = Cluster(tmp, home, config, f"{broker_root}/{db}", f"{broker_root}/{db + 1}")
    # Create the storage once: workers starting together would race to create the schema.
    migrate = subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"],
        env=cluster.env,
        cwd=tmp,
        capture_output=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr.decode(errors="replace")[-2000:]
    try:
        yield cluster
    finally:
        cluster.stop_workers()


# --------------------------------------------------------------------------- event log


@dataclass
class StepRecord:
    run_pid: int  # the process that ran the run (RUN_START)
    step_pids: dict[str, int]  # step key -> pid of STEP_START
    nodes: dict[str, str]  # step key -> Celery worker node that took the task
    workers: dict[tuple[str, str | None], str]  # (asset, partition) -> metadata "worker"


def _read_run(instance: dg.DagsterInstance, run_id: str) -> StepRecord:
    record = StepRecord(0, {}, {}, {})
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_START:
            record.run_pid = event.pid
        elif event.event_type == dg.DagsterEventType.STEP_START:
            record.step_pids[event.step_key] = event.pid
        elif event.is_engine_event and "Celery worker" in (event.engine_event_data.metadata or {}):
            record.nodes[event.step_key] = event.engine_event_data.metadata["Celery worker"].value
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            key = (materialization.asset_key.to_user_string(), materialization.partition)
            if "worker" in materialization.metadata:  # the classification assets record it
                record.workers[key] = materialization.metadata["worker"].value
    return record


def _runs_by_partition(instance: dg.DagsterInstance) -> dict[str | None, list[dg.DagsterRun]]:
    runs: dict[str | None, list[dg.DagsterRun]] = {}
    for run in instance.get_runs():
        runs.setdefault(run.tags.get("dagster/partition"), []).append(run)
    return runs


# --------------------------------------------------------------------------- outputs


def _same_outputs(celery_data: Path, reference_data: Path, sections: list[str]) -> None:
    """Byte-identical JSONL, auto-tags and WAVs; the render index equal but for its timings."""
    stems = {partition_file_stem(key) for key in sections}
    for folder in ("classified", "features"):
        ours = {p.stem: p.read_bytes() for p in (celery_data / folder).glob("*.jsonl")}
        theirs = {p.stem: p.read_bytes() for p in (reference_data / folder).glob("*.jsonl")}
        assert set(ours) == stems, f"{folder}: {sorted(set(ours) ^ stems)}"
        for stem in sorted(stems):
            assert ours[stem], f"{folder}/{stem}.jsonl is empty"
            assert ours[stem] == theirs[stem], f"{folder}/{stem}.jsonl differs from the in-process run"
    ours_tags = _files(celery_data / "classified" / "auto-tags", stems)
    theirs_tags = _files(reference_data / "classified" / "auto-tags", stems)
    assert ours_tags and ours_tags == theirs_tags, "classified/auto-tags differ from the in-process run"
    for stem in sorted(stems):
        ours_rows = _index_rows(celery_data / "wav-cache" / "index" / f"{stem}.jsonl")
        theirs_rows = _index_rows(reference_data / "wav-cache" / "index" / f"{stem}.jsonl")
        assert ours_rows and ours_rows == theirs_rows, f"wav-cache/index/{stem}.jsonl differs beyond render_seconds"
        for row in ours_rows:
            if row.get("wav"):
                wav = Path("wav-cache") / row["wav"]
                assert (celery_data / wav).read_bytes() == (reference_data / wav).read_bytes(), f"{wav} differs"


def _files(root: Path, stems: set[str]) -> dict[str, bytes]:
    """Every file under the given sections' folders of ``root``, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for stem in stems
        for p in sorted((root / stem).rglob("*"))
        if p.is_file()
    }


def _index_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row.pop("render_seconds", None)  # wall-clock timing of that render
    return rows


# --------------------------------------------------------------------------- fixtures


@dataclass
class Reference:
    tmp: Path
    hvsc: Path
    data: Path
    seconds: float


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The demo collection, classified in-process (one run over every section)."""
    tmp = tmp_path_factory.mktemp("scale-out")
    write_demo_collection(tmp / "hvsc", version=2)
    config = write_config(tmp / "in-process.sidflow.json", tmp / "hvsc", tmp / "in-process", threads=2)
    started = time.perf_counter()
    result = dg.materialize(
        [sid_catalog, wav_cache, audio_features, manual_ratings, classified],
        resources={"sidflow": SidflowConfigResource(config_path=str(config))},
        tags=ALL_SECTIONS_TAGS,
    )
    assert result.success
    return Reference(tmp, tmp / "hvsc", tmp / "in-process", time.perf_counter() - started)


@pytest.fixture(scope="module")
def broker(reference: Reference) -> Iterator[str]:
    with _redis(reference.tmp) as url:
        yield url


def _sections_with_songs(data: Path) -> list[str]:
    frame = pl.read_parquet(data / "catalog" / "sid_catalog.parquet")
    return sorted(frame["partition"].unique().to_list())


# --------------------------------------------------------------------------- tests


def test_two_celery_workers_classify_sections_byte_identical_to_in_process(reference: Reference, broker: str) -> None:
    tmp = reference.tmp / "celery"
    tmp.mkdir()
    data = tmp / "data"
    # threads: 2 inside a prefork pool child: a daemonic process may not start its own
    # feature pool, so analysis falls back to in-process there (and must still succeed).
    config = write_config(tmp / "celery.sidflow.json", reference.hvsc, data, threads=2)
    with _cluster(tmp, broker, config, db=0) as cluster:
        # One task at a time per worker: the two workers are the only parallelism
        # (see docs/scaling.md on -P solo).
        cluster.start_worker("w1", "--concurrency=1")
        cluster.start_worker("w2", "--concurrency=1")
        cluster.wait_for_workers()

        started = time.perf_counter()
        pid, code, log = cluster.materialize("sid_catalog")
        assert code == 0, f"sid_catalog run failed:\n{_tail(log)}"
        launchers = {pid}
        sections = _sections_with_songs(data)
        assert sections == sorted({partition_of(path) for path, _song in demo_songs(2)})
        assert len(sections) >= 4

        # One run per section, PARALLEL_RUNS launched at a time: the backfill shape.
        with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
            launched = list(pool.map(lambda key: (key, *cluster.materialize(CLASSIFY_ASSETS, key)), sections))
        celery_seconds = time.perf_counter() - started
        failed = {key: _tail(log) for key, _pid, code, log in launched if code != 0}
        assert not failed, "\n\n".join(f"{key}:\n{text}" for key, text in failed.items())
        launchers |= {pid for _key, pid, _code, _log in launched}

        worker_trees = cluster.worker_pids()  # before teardown: the pool processes still live
        instance = cluster.instance()
        try:
            runs = _runs_by_partition(instance)
            assert {key for key in runs if key is not None} == set(sections)
            assert all(len(runs[key]) == 1 and runs[key][0].is_success for key in sections)
            records = {key: _read_run(instance, runs[key][0].run_id) for key in sections}
            catalog_record = _read_run(instance, runs[None][0].run_id)
        finally:
            instance.dispose()

    host = socket.gethostname()
    tree_of = {pid: name for name, pids in worker_trees.items() for pid in pids}
    where: dict[str, set[str]] = {"w1": set(), "w2": set()}
    for key, record in [*records.items(), (None, catalog_record)]:
        steps = ("sid_catalog",) if key is None else STEP_KEYS
        assert record.run_pid in launchers, f"{key}: run not started by a launcher"
        for step in steps:
            pid = record.step_pids[step]
            assert pid not in launchers and pid != os.getpid(), f"{key}/{step} ran in the launching process"
            assert pid in tree_of, f"{key}/{step}: pid {pid} is in no worker's process tree {worker_trees}"
            assert record.nodes[step] == cluster.nodename(tree_of[pid]), f"{key}/{step}: node vs process tree"
            if key is not None:
                assert record.workers[(step, key)] == f"{host}:{pid}", f"{key}/{step}: metadata worker"
                where[tree_of[pid]].add(key)
    # Both workers classified sections, in different processes.
    assert where["w1"] and where["w2"], f"one worker did everything: {where}"
    classify_pids = {records[key].step_pids["classified"] for key in sections}
    render_pids = {records[key].step_pids["wav_cache"] for key in sections}
    assert len(classify_pids | render_pids) >= 2

    _same_outputs(data, reference.data, sections)
    print(
        f"\ncelery: {len(sections)} sections, {celery_seconds:.0f} s; in-process: {reference.seconds:.0f} s; "
        f"w1 {sorted(where['w1'])}, w2 {sorted(where['w2'])}"
    )


def test_solo_pool_worker_runs_a_section_with_a_feature_process_pool(reference: Reference, broker: str) -> None:
    """``threads`` > 1 spreads a step's songs over worker processes; a prefork pool child
    may not start them (it is daemonic), a ``-P solo`` worker can. Same bytes again."""
    tmp = reference.tmp / "celery-solo"
    tmp.mkdir()
    data = tmp / "data"
    config = write_config(tmp / "solo.sidflow.json", reference.hvsc, data, threads=2)
    key = "MUSICIANS/Q"
    with _cluster(tmp, broker, config, db=2) as cluster:
        cluster.start_worker("solo", "--pool=solo")
        cluster.wait_for_workers()
        _pid, code, log = cluster.materialize("sid_catalog")
        assert code == 0, f"sid_catalog run failed:\n{_tail(log)}"
        launcher, code, log = cluster.materialize(CLASSIFY_ASSETS, key)
        assert code == 0, f"{key} run failed:\n{_tail(log)}\n\nworker:\n{_tail(tmp / 'worker-solo.log')}"
        celery_main = {p.pid for p in psutil.Process(cluster.workers["solo"].pid).children()}
        instance = cluster.instance()
        try:
            record = _read_run(instance, _runs_by_partition(instance)[key][0].run_id)
        finally:
            instance.dispose()
    assert record.run_pid == launcher
    for step in STEP_KEYS:
        # With the solo pool the Celery main process itself runs the step.
        assert record.step_pids[step] in celery_main and record.nodes[step] == cluster.nodename("solo")
        assert record.workers[(step, key)] == f"{socket.gethostname()}:{record.step_pids[step]}"
    _same_outputs(data, reference.data, [key])
