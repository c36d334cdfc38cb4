"""Classification cost per song: render / features / predict, both render backends,
core scaling, no-op re-run, against a bare ``sidplayfp`` render as the yardstick.

    .venv/bin/python -m bench.classify [DIR] [--out bench/out/classify.json] [--compare]

DIR is a ``C64Music`` tree (default: ``../shared/hvsc-sample/C64Music`` when present,
else a freshly generated demo collection). The same domain functions as the Dagster
assets run here, with a fresh WAV cache per measurement, all in one run so the machine's
load is shared alike:

* the yardstick: ``sidplayfp --resid -rif -f22050 -m -t30`` of every song, one at a
  time (CPU seconds per song); every other CPU figure is also given as a ratio to it;
* per backend (``libsidplayfp`` in-process workers, ``sidplayfp`` one program per
  song): CPU seconds per song by stage (render = the render processes; features = the
  feature workers' CPU; predict = in-process) with 1 worker, after warm-up;
* wall-clock songs per second with 1 and with all cores, and the speed-up;
* peak RSS of one render worker (libsidplayfp) or one sidplayfp process;
* a no-op re-run (everything cached): milliseconds per song;
* with ``--compare``: the accurate engine and whole-song renders too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sidflow_pipeline.catalog.catalog import build_catalog
from sidflow_pipeline.classify.analyse import analyse_records, feature_pool, header_facts
from sidflow_pipeline.classify.classified import classify_rows
from sidflow_pipeline.classify.render import RenderJob, jobs_from_rows, render_jobs
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.layout import HVSC_TREE
from sidflow_pipeline.sid.sidplayfp import find_sidplayfp

YARDSTICK_SECONDS = 30
# A 30-second render takes well under a second; one still running after this ignores -t.
RUNAWAY_S = 15.0

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "hvsc-sample" / HVSC_TREE


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    return time.process_time()


def _pool_cpu(pool: Any) -> float:
    """CPU of a live pool's workers (they are not reaped, so RUSAGE_CHILDREN misses them)."""
    import psutil

    if pool is None:
        return 0.0
    total = 0.0
    for process in pool._processes.values():  # no public accessor
        times = psutil.Process(process.pid).cpu_times()
        total += times.user + times.system
    return total


def _children_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def yardstick(jobs: list[RenderJob]) -> tuple[dict[str, Any], set[tuple[str, int]]]:
    """A bare 30-second render of every song by the program, one at a time.

    Some RSID tunes ignore ``-t`` and would write forever; they are stopped after
    :data:`RUNAWAY_S` and left out of every measurement (returned), so all figures
    cover the same songs.
    """
    binary = str(find_sidplayfp())
    out = Path(tempfile.mkdtemp(prefix="sidflow-yardstick-"))
    runaway: set[tuple[str, int]] = set()
    cpu = wall = 0.0
    try:
        for n, job in enumerate(jobs):
            c0, w0 = _children_cpu(), time.perf_counter()
            process = subprocess.Popen(
                [binary, "--resid", "-rif", "-f22050", "-m", f"-t{YARDSTICK_SECONDS}", "--delay=0",
                 f"-o{job.song_index}s", f"-w{out / f'{n}.wav'}", str(job.file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                process.wait(timeout=RUNAWAY_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                runaway.add((job.sid_path, job.song_index))
            else:
                cpu += _children_cpu() - c0
                wall += time.perf_counter() - w0
            (out / f"{n}.wav").unlink(missing_ok=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    songs = len(jobs) - len(runaway)
    report = {"label": f"yardstick: sidplayfp -t{YARDSTICK_SECONDS}", "songs": songs, "cpu_per_song": cpu / songs,
              "wall_s": wall, "peak_rss_kib": _children_peak_kib(), "runaway": sorted(f"{p}#{i}" for p, i in runaway)}
    return report, runaway


def measure(
    root: Path, render: RenderConfig, workers: int, label: str, pool: Any = None, backend: str | None = None,
    skip: set[tuple[str, int]] = frozenset(),  # type: ignore[assignment]
) -> dict[str, Any]:
    catalog = [r for r in build_catalog(root).frame.to_dicts() if (r["sid_path"], r["song_index"]) not in skip]
    jobs = jobs_from_rows(catalog, root)
    facts = {(r["sid_path"], r["song_index"]): header_facts(r) for r in catalog}
    cache = Path(tempfile.mkdtemp(prefix="sidflow-bench-"))
    backend = backend or render.backend
    try:
        # Render: sidplayfp processes or the supervised engine workers, both children
        # of this process; their CPU shows in RUSAGE_CHILDREN once they are reaped
        # (render_jobs ends its workers before it returns).
        c0, w0 = _children_cpu(), time.perf_counter()
        records = render_jobs(jobs, render, cache, workers=workers, backend=backend)
        render_cpu, render_wall = _children_cpu() - c0, time.perf_counter() - w0
        # Features: worker processes (spawned) also count as children once reaped.
        c1, s1, p1, w1 = _children_cpu(), _self_cpu(), _pool_cpu(pool), time.perf_counter()
        rows = analyse_records(records, cache, facts, {}, workers=workers, executor=pool)
        feat_cpu = (_children_cpu() - c1) + (_self_cpu() - s1) + (_pool_cpu(pool) - p1)
        feat_wall = time.perf_counter() - w1
        s2, w2 = _self_cpu(), time.perf_counter()
        classify_rows(rows, {})
        predict_cpu, predict_wall = _self_cpu() - s2, time.perf_counter() - w2
        # No-op re-run: everything cached.
        w3 = time.perf_counter()
        again = render_jobs(jobs, render, cache, workers=workers, backend=backend)
        previous = {(r["sid_path"], r["song_index"]): r for r in rows}
        rows_again = analyse_records(again, cache, facts, previous, workers=workers, executor=pool)
        classify_rows(rows_again, {})
        noop_wall = time.perf_counter() - w3
        assert all(r.reused for r in again)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    songs = len(jobs)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    wall = render_wall + feat_wall + predict_wall
    return {
        "label": label,
        "backend": backend,
        "workers": workers,
        "engine": render.engine,
        "excerpt_s": render.excerpt_seconds,
        "intro_skip_s": render.intro_skip_seconds,
        "songs": songs,
        "statuses": statuses,
        "cpu_per_song": {
            "render": render_cpu / songs,
            "features": feat_cpu / songs,
            "predict": predict_cpu / songs,
            "total": (render_cpu + feat_cpu + predict_cpu) / songs,
        },
        "wall_s": wall,
        "songs_per_second": songs / wall,
        "noop_ms_per_song": 1000 * noop_wall / songs,
    }


def _warm(_: int) -> int:
    time.sleep(0.2)  # keeps every worker busy long enough that each one gets started
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/out/classify.json"))
    parser.add_argument("--compare", action="store_true", help="also the accurate engine and whole-song renders")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    root = args.dir
    tmp = None
    if root is None:
        if SAMPLE.is_dir():
            root = SAMPLE
        else:
            from sidflow_pipeline.demo.collection import write_demo_collection

            tmp = Path(tempfile.mkdtemp(prefix="sidflow-demo-"))
            root = write_demo_collection(tmp).root
    cores = len(os.sched_getaffinity(0))
    default = RenderConfig()
    # Steady state: warm pools (imports and numba JIT paid once per worker, as in a long
    # backfill), measured separately as the one-time cost.
    t0 = time.perf_counter()
    pools = {n: feature_pool(n) for n in sorted({1, cores})}
    for n, pool in pools.items():
        list(pool.map(_warm, range(n * 2)))
    warm_s = time.perf_counter() - t0
    measure(root, RenderConfig(excerptSeconds=2, introSkipSeconds=0), 1, "warm-up", pools[1])
    jobs = jobs_from_rows(build_catalog(root).frame.to_dicts(), root)
    stick, skip = yardstick(jobs)
    results: list[dict[str, Any]] = []
    speedups: dict[str, float] = {}
    # The program first: RUSAGE_CHILDREN's peak is then a sidplayfp process's, and after
    # the engine runs it is the larger of that and a render worker's.
    for backend in ("sidplayfp", "libsidplayfp"):
        one = measure(root, default, 1, f"{backend}, 1 worker", pools[1], backend=backend, skip=skip)
        one["peak_rss_kib"] = _children_peak_kib()
        every = measure(root, default, cores, f"{backend}, {cores} workers", pools[cores], backend=backend, skip=skip)
        speedups[backend] = every["songs_per_second"] / one["songs_per_second"]
        results += [one, every]
    if args.compare:
        results.append(measure(root, RenderConfig(engine="accurate"), cores, f"accurate engine, {cores} workers", pools[cores], skip=skip))
        whole = RenderConfig(excerptSeconds=600, introSkipSeconds=0)
        results.append(measure(root, whole, cores, f"whole songs, {cores} workers", pools[cores], skip=skip))
    for pool in pools.values():
        pool.shutdown()
    base = stick["cpu_per_song"]
    for r in results:
        r["ratio_to_yardstick"] = {stage: value / base for stage, value in r["cpu_per_song"].items()}
    table = Table(title=f"classification on {root} ({stick['songs']} songs, {cores} cores; ratio = CPU ÷ yardstick's)")
    for column in ("run", "render CPU s/song", "features", "predict", "total", "songs/s", "peak RSS MiB", "no-op ms/song", "statuses"):
        table.add_column(column, justify="right" if column != "run" else "left")
    table.add_row(stick["label"], f"{base:.3f} (1.00×)", "", "", f"{base:.3f} (1.00×)", f"{stick['songs'] / stick['wall_s']:.2f}",
                  f"{stick['peak_rss_kib'] / 1024:.0f}", "", "")
    for r in results:
        cpu, ratio = r["cpu_per_song"], r["ratio_to_yardstick"]
        rss = f"{r['peak_rss_kib'] / 1024:.0f}" if "peak_rss_kib" in r else ""
        table.add_row(
            r["label"], f"{cpu['render']:.3f} ({ratio['render']:.2f}×)", f"{cpu['features']:.3f} ({ratio['features']:.2f}×)",
            f"{cpu['predict']:.4f}", f"{cpu['total']:.3f} ({ratio['total']:.2f}×)", f"{r['songs_per_second']:.2f}", rss,
            f"{r['noop_ms_per_song']:.2f}", json.dumps(r["statuses"]),
        )
    console = Console(width=200)
    console.print(table)
    if stick["runaway"]:
        console.print(f"left out of every row (ignore -t, still running after {RUNAWAY_S:g} s): {', '.join(stick['runaway'])}")
    for backend, speedup in speedups.items():
        console.print(f"speed-up 1 → {cores} workers, {backend}: {speedup:.2f}×")
    console.print("targets (libsidplayfp, default settings): total ≤ 0.55× and render ≤ 0.45× the yardstick, speed-up ≥ 1.9×")
    console.print(f"one-time: starting and warming the feature pools took {warm_s:.1f} s wall (imports + numba JIT)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": cores, "python": platform.python_version(), "processor": platform.processor()},
        "collection": str(root),
        "yardstick": stick,
        "results": results,
        "speedup": speedups,
        "pool_warmup_wall_s": warm_s,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.out}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
