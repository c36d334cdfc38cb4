"""How long does the song database take to build, and how fast does it answer?

Builds ``sidflow.lance`` from N synthetic classified rows (default 100,000 — about
HVSC's size counted in songs, not files) with the same ``build_database`` the
``sidflow_lance`` asset calls, then times ``Recommender.recommend`` in-process over a
fixed mix of queries: the six moods, random vectors (3 and 4 numbers), filtered
queries, "more like this" (audio cosine) and high exploration.

Baselines, measured in the same run: the same rows written to one Parquet file
(build), and an in-memory numpy brute force over every row
with the same score formula (no prefilter, no diversity, no tie handling) — the
cheapest thing that could answer, to show what LanceDB costs on top.

Targets (issue 6): build ≤ 30 s, recommend p95 ≤ 50 ms.

    .venv/bin/python -m bench.db [--songs 100000] [--queries 300] [--seed 0]

Prints a table and writes ``bench/out/db.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.layout import LANCE_DB
from sidflow_pipeline.recommend.engine import Recommender, RecommendRequest
from sidflow_pipeline.recommend.filters import MOOD_PRESETS, parse_filters
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
TARGET_BUILD_S = 30.0
TARGET_P95_MS = 50.0


def _queries(rows: list[dict[str, Any]], count: int, seed: int) -> list[tuple[str, RecommendRequest]]:
    rng = np.random.default_rng(seed)
    filters = [parse_filters(t) for t in ("e>=4", "m<=2,c>=3", "bpm=120-140", "p>=4,e=3")]
    out: list[tuple[str, RecommendRequest]] = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            mood = list(MOOD_PRESETS)[i // 5 % len(MOOD_PRESETS)]
            out.append(("mood", RecommendRequest(vector=MOOD_PRESETS[mood], limit=20)))
        elif kind == 1:
            dims = 3 + i % 2
            vector = tuple(float(v) for v in np.round(rng.uniform(1, 5, size=dims), 1))
            out.append(("vector", RecommendRequest(vector=vector, limit=20, seed=i)))
        elif kind == 2:
            out.append(("filtered", RecommendRequest(vector=(3.0, 3.0, 3.0), filters=filters[i % len(filters)], limit=20)))
        elif kind == 3:
            row = rows[int(rng.integers(len(rows)))]
            out.append(("like", RecommendRequest(like=(row["sid_path"], row["song_index"]), limit=20)))
        else:
            out.append(("explore", RecommendRequest(vector=(4.0, 2.0, 3.0), limit=20, exploration=0.9, seed=i)))
    return out


def _baseline_build(rows: list[dict[str, Any]], path: Path) -> float:
    """Seconds to persist the same rows as one Parquet file: the floor under any build,
    so the LanceDB figure shows what the table format, vectors and indexes add."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    pq.write_table(pa.Table.from_pylist(rows), path)
    return time.perf_counter() - started


def _baseline(rows: list[dict[str, Any]]) -> Any:
    vectors = np.array([[r["ratings"][d] for d in "emc"] for r in rows], dtype=np.float64)
    p = np.array([r["ratings"]["p"] for r in rows], dtype=np.float64)

    def query(vector: tuple[float, ...]) -> np.ndarray:
        similarity = 1.0 - np.linalg.norm(vectors - np.asarray(vector[:3]), axis=1) / (4 * np.sqrt(3))
        score = 0.6 * similarity + 0.1 * (p - 3) / 2
        top = np.argpartition(-score, 20)[:20]
        return top[np.argsort(-score[top], kind="stable")]

    return query


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="Build the database here and keep it (default: a temp dir).")
    args = parser.parse_args()
    console = Console()

    started = time.perf_counter()
    rows = synthetic_rows(args.songs, seed=args.seed)
    generate_s = time.perf_counter() - started
    names = {(r["sid_path"], r["song_index"]): (r["sid_path"].split("/")[2], f"Tune {i}") for i, r in enumerate(rows)}
    rng = np.random.default_rng(args.seed + 1)
    aggregates = {
        (r["sid_path"], r["song_index"]): {
            "likes": int(rng.integers(0, 3)), "dislikes": int(rng.integers(0, 2)),
            "skips": int(rng.integers(0, 3)), "plays": int(rng.integers(1, 6)), "last_played": "2026-11-01T00:00:00.000Z",
        }
        for r in rows[:: 10]
    }  # fmt: skip

    workdir = Path(tempfile.mkdtemp(prefix="sidflow-bench-db-"))
    db_path = args.keep or workdir / LANCE_DB
    try:
        if db_path.exists():
            shutil.rmtree(db_path)
        result = build_database(
            db_path, rows, aggregates, names, sources={"classified": "bench", "feedback": "bench"}, feedback_events=0
        )
        build_s = result.seconds
        size_mb = sum(f.stat().st_size for f in db_path.rglob("*") if f.is_file()) / 2**20

        open_started = time.perf_counter()
        recommender = Recommender(db_path)
        open_s = time.perf_counter() - open_started
        queries = _queries(rows, args.queries, args.seed)
        for _kind, request in queries[:10]:  # warm-up: file cache, lance plan caches
            recommender.recommend(request)
        latencies: dict[str, list[float]] = {}
        for kind, request in queries:
            t0 = time.perf_counter()
            results = recommender.recommend(request)
            latencies.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
            assert results, f"empty result for {kind}"
        every = [v for values in latencies.values() for v in values]

        baseline_build_s = _baseline_build(rows, workdir / "baseline.parquet")
        baseline = _baseline(rows)
        base_ms = []
        for _kind, request in queries:
            vector = request.vector or (3.0, 3.0, 3.0)
            t0 = time.perf_counter()
            baseline(vector)
            base_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    p50, p95 = _pct(every, 50), _pct(every, 95)
    report = {
        "benchmark": "db",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "songs": args.songs,
        "queries": len(every),
        "generate_rows_s": round(generate_s, 3),
        "build_s": round(build_s, 3),
        "baseline_parquet_build_s": round(baseline_build_s, 3),
        "database_mb": round(size_mb, 1),
        "open_s": round(open_s, 3),
        "recommend_ms": {"p50": round(p50, 2), "p95": round(p95, 2), "max": round(max(every), 2)},
        "recommend_ms_by_kind": {
            kind: {"n": len(v), "p50": round(_pct(v, 50), 2), "p95": round(_pct(v, 95), 2)} for kind, v in sorted(latencies.items())
        },
        "baseline_numpy_ms": {"p50": round(_pct(base_ms, 50), 2), "p95": round(_pct(base_ms, 95), 2)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"build_s": TARGET_BUILD_S, "p95_ms": TARGET_P95_MS},
        "met": {"build": build_s <= TARGET_BUILD_S, "p95": p95 <= TARGET_P95_MS},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "db.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")

    table = Table(title=f"sidflow.lance — {args.songs:,} synthetic songs, {len(every)} queries")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target / baseline", justify="right")
    table.add_row("build (build_database)", f"{build_s:.2f} s", f"≤ {TARGET_BUILD_S:.0f} s {'✓' if build_s <= TARGET_BUILD_S else '✗'}")
    table.add_row("  baseline: same rows → Parquet", f"{baseline_build_s:.2f} s", "pyarrow, no indexes")
    table.add_row("database size", f"{size_mb:.1f} MiB", "")
    table.add_row("open table", f"{open_s * 1000:.0f} ms", "")
    table.add_row("recommend p50", f"{p50:.1f} ms", f"numpy brute force {_pct(base_ms, 50):.1f} ms")
    table.add_row("recommend p95", f"{p95:.1f} ms", f"≤ {TARGET_P95_MS:.0f} ms {'✓' if p95 <= TARGET_P95_MS else '✗'}")
    for kind, values in sorted(latencies.items()):
        table.add_row(f"  {kind} p50 / p95", f"{_pct(values, 50):.1f} / {_pct(values, 95):.1f} ms", f"n={len(values)}")
    table.add_row("peak RSS", f"{report['peak_rss_mb']:.0f} MiB", "")
    console.print(table)
    console.print(f"wrote {OUT / 'db.json'}")
    return 0 if all(report["met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
