"""Classification cost per song: render / features / predict, core scaling, no-op re-run.

    .venv/bin/python bench/classify.py [DIR] [--out bench/out/classify.json] [--compare]

DIR is a ``C64Music`` tree (default: ``../shared/hvsc-sample/C64Music`` when present,
else a freshly generated demo collection). The same domain functions as the Dagster
assets run here, with a fresh WAV cache per measurement:

* CPU seconds per song by stage (render = sidplayfp children; features = the worker
  processes' CPU; predict = baseline in-process), with 1 worker, after warm-up;
* wall-clock songs per second with 1 and with all cores, and the speed-up;
* a no-op re-run (everything cached): milliseconds per song;
* with ``--compare``: the same with the accurate engine and with whole-song renders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from sidflow_pipeline.catalog.catalog import build_catalog  # noqa: E402
from sidflow_pipeline.classify.analyse import analyse_records, feature_pool, header_facts  # noqa: E402
from sidflow_pipeline.classify.classified import classify_rows  # noqa: E402
from sidflow_pipeline.classify.render import jobs_from_rows, render_jobs  # noqa: E402
from sidflow_pipeline.config import RenderConfig  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "hvsc-sample" / "C64Music"


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
    for process in pool._processes.values():  # noqa: SLF001 - no public accessor
        times = psutil.Process(process.pid).cpu_times()
        total += times.user + times.system
    return total


def measure(root: Path, render: RenderConfig, workers: int, label: str, pool: Any = None) -> dict[str, Any]:
    catalog = build_catalog(root).frame.to_dicts()
    jobs = jobs_from_rows(catalog, root)
    facts = {(r["sid_path"], r["song_index"]): header_facts(r) for r in catalog}
    cache = Path(tempfile.mkdtemp(prefix="sidflow-bench-"))
    try:
        # Render: sidplayfp runs as child processes; their CPU shows in RUSAGE_CHILDREN.
        c0, w0 = _children_cpu(), time.perf_counter()
        records = render_jobs(jobs, render, cache, workers=workers)
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
        again = render_jobs(jobs, render, cache, workers=workers)
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
    results = [
        measure(root, default, 1, "default, 1 worker", pools[1]),
        measure(root, default, cores, f"default, {cores} workers", pools[cores]),
    ]
    if args.compare:
        results.append(measure(root, RenderConfig(engine="accurate"), cores, f"accurate engine, {cores} workers", pools[cores]))
        whole = RenderConfig(excerptSeconds=600, introSkipSeconds=0)
        results.append(measure(root, whole, cores, f"whole songs, {cores} workers", pools[cores]))
    for pool in pools.values():
        pool.shutdown()
    speedup = results[1]["songs_per_second"] / results[0]["songs_per_second"]
    table = Table(title=f"classification on {root} ({results[0]['songs']} songs, {cores} cores)")
    for column in ("run", "render CPU s/song", "features", "predict", "total", "songs/s", "no-op ms/song", "statuses"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for r in results:
        cpu = r["cpu_per_song"]
        table.add_row(
            r["label"], f"{cpu['render']:.3f}", f"{cpu['features']:.3f}", f"{cpu['predict']:.4f}", f"{cpu['total']:.3f}",
            f"{r['songs_per_second']:.2f}", f"{r['noop_ms_per_song']:.2f}", json.dumps(r["statuses"]),
        )
    console = Console(width=160)
    console.print(table)
    console.print(f"speed-up 1 → {cores} workers: {speedup:.2f}×  (targets: ≤ 1.0 CPU-s/song, ≥ 1.8×, no-op ≤ 2 ms/song)")
    console.print(f"one-time: starting and warming the worker pools took {warm_s:.1f} s wall (imports + numba JIT)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": cores, "python": platform.python_version(), "processor": platform.processor()},
        "collection": str(root),
        "results": results,
        "speedup": speedup,
        "pool_warmup_wall_s": warm_s,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {args.out}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
