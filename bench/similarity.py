"""Does "more like this" find the same composer? nDCG@10 and P@10 of ``--like``.

Runs the pipeline's own domain functions on a composer-labelled HVSC-style collection
(default ``../shared/similarity-set``: 30 composers × 8 tunes with Songlengths and STIL;
read-only, never committed): catalog → render with the in-process engine (WAV + register
trace, cached in ``bench/out/similarity/``) → ``analyse_records`` (audio + trace
features, the ``audio_features`` rows) → similarity vectors → ranking.

**Protocol.** Every file's first song is a query; candidates are every song (every
subtune) of every *other* file — the query's own subtunes are left out. A candidate is
relevant when it lives in the query's composer folder ``MUSICIANS/<L>/<Composer>``.
Ranking is by cosine similarity of the vectors (what LanceDB's ``--like`` search
returns; ties broken by key), and the final vector is also run end to end through
``build_database`` + ``Recommender`` (the ``sidflow recommend --like`` code path) with
exploration and diversity 0, and with the CLI defaults. Binary-relevance nDCG@10 (ideal
DCG over ``min(10, relevant)`` hits) and P@10 are averaged over queries, with the
standard error of the nDCG mean, and nDCG@10 separately for two composer-disjoint
halves (alternate composers by name) — how much the figure depends on *which*
composers are asked about. "random" is the mean over 50 seeded shuffles.

Rows: random; the audio vector ``--like`` used before (12 features); all audio
features; the trace summary features; the player fingerprint; the variants of the
combined vector that were tried (full vector, no whitening, other shrinkage, audio as
four groups, flat weights, no log1p); the chosen one; the ablation of the chosen
vector per group and fingerprint family ("only G" and "all but G"); the chosen vector
for a collection without traces; and the end-to-end ``sidflow recommend --like`` rows.

    python -m bench.similarity [--collection ../shared/similarity-set] [--out bench/out/similarity.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sidflow_pipeline.catalog.catalog import build_catalog
from sidflow_pipeline.classify.analyse import analyse_records, header_facts
from sidflow_pipeline.classify.render import jobs_from_rows, render_jobs
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.jsonl import read_jsonl_rows, write_jsonl_rows
from sidflow_pipeline.lance.similarity import AUDIO_GROUPS, DEFAULT_SPEC, SimilaritySpec, fit_similarity
from sidflow_pipeline.layout import DEFAULT_WAV_CACHE_PATH, HVSC_TREE, LANCE_DB

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COLLECTION = (ROOT / ".." / "shared" / "similarity-set").resolve()
DEFAULT_CACHE = ROOT / "bench" / "out" / "similarity"
DEFAULT_OUT = ROOT / "bench" / "out" / "similarity.json"
TODAY_AUDIO = (
    "onsetRate",
    "loudnessLufs",
    "spectralCentroid",
    "spectralFlux",
    "spectralFlatness",
    "spectralContrast",
    "chromaEntropy",
    "keyMode",
    "bpm",
    "dynamicComplexity",
    "mfcc1",
    "mfcc2",
)
K = 10
RANDOM_SHUFFLES = 50
TARGET_NDCG = 0.45


def composer_of(sid_path: str) -> str | None:
    """``MUSICIANS/<L>/<Composer>``, or None outside MUSICIANS (no composer label)."""
    parts = sid_path.split("/")
    return "/".join(parts[:3]) if len(parts) >= 4 and parts[0] == "MUSICIANS" else None


def load_features(collection: Path, cache: Path, workers: int, console: Console) -> list[dict[str, Any]]:
    """Feature rows of every song that has features, in key order, rendering and extracting
    only what is not cached (the similarity and listener benches read the same rows)."""
    root = collection / HVSC_TREE if (collection / HVSC_TREE).is_dir() else collection
    catalog = build_catalog(root).frame.to_dicts()
    jobs = jobs_from_rows(catalog, root)
    started = time.perf_counter()
    records = render_jobs(jobs, RenderConfig(), cache / DEFAULT_WAV_CACHE_PATH.name, workers=workers)
    console.print(f"render: {len(records)} songs, {sum(not r.reused for r in records)} rendered in {time.perf_counter() - started:.1f} s")
    facts = {(r["sid_path"], r["song_index"]): header_facts(r) for r in catalog}
    features_file = cache / "features.jsonl"
    previous_rows, _ = read_jsonl_rows(features_file)
    previous = {(r["sid_path"], r["song_index"]): r for r in previous_rows}
    started = time.perf_counter()
    rows = analyse_records(records, cache / DEFAULT_WAV_CACHE_PATH.name, facts, previous, workers=workers)
    write_jsonl_rows(features_file, rows)
    console.print(f"features: {len(rows)} rows in {time.perf_counter() - started:.1f} s")
    rows = [r for r in rows if r.get("features") is not None]
    return sorted(rows, key=lambda r: (r["sid_path"], r["song_index"]))


def rank_metrics(
    vectors: np.ndarray, keys: Sequence[tuple[str, int]], k: int = K, only: set[str] | None = None
) -> dict[str, float]:
    """Mean nDCG@k and P@k over queries (first song of each file) by cosine similarity;
    ``only`` restricts the queries to these composers (the ranking still spans all songs)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    similarity = unit @ unit.T
    return _metrics(lambda q, candidates: candidates[np.lexsort((candidates, -similarity[q, candidates]))], keys, k, only)


def _metrics(order_of: Any, keys: Sequence[tuple[str, int]], k: int, only: set[str] | None = None) -> dict[str, float]:
    paths = np.array([p for p, _ in keys])
    composers = np.array([composer_of(p) or "" for p, _ in keys])
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcgs, precisions = [], []
    for q, (path, song) in enumerate(keys):
        if song != 1 or not composers[q] or (only is not None and composers[q] not in only):
            continue
        candidates = np.nonzero(paths != path)[0]
        relevant = composers[candidates] == composers[q]
        total = int(relevant.sum())
        if total == 0:
            continue
        top = order_of(q, candidates)[:k]
        hits = (composers[top] == composers[q]).astype(np.float64)
        ideal = discounts[: min(k, total)].sum()
        ndcgs.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        precisions.append(float(hits.sum() / k))
    # Standard error over queries: differences below ~2 of these are noise on this set.
    sem = float(np.std(ndcgs, ddof=1) / np.sqrt(len(ndcgs))) if len(ndcgs) > 1 else 0.0
    return {"ndcg@10": float(np.mean(ndcgs)), "ndcg@10_se": sem, "p@10": float(np.mean(precisions)), "queries": len(ndcgs)}


def random_metrics(keys: Sequence[tuple[str, int]]) -> dict[str, float]:
    runs = []
    for seed in range(RANDOM_SHUFFLES):
        rng = np.random.default_rng(seed)
        scores = rng.random(len(keys))
        runs.append(_metrics(lambda q, c, s=scores: c[np.argsort(-s[c], kind="stable")], keys, K))
    return {name: float(np.mean([r[name] for r in runs])) for name in ("ndcg@10", "ndcg@10_se", "p@10")} | {"queries": runs[0]["queries"]}


def evaluate(
    spec: SimilaritySpec,
    features: Sequence[Mapping[str, Any] | None],
    sketches: Sequence[Mapping[str, Any] | None],
    keys: Sequence[tuple[str, int]],
) -> dict[str, Any]:
    model = fit_similarity(features, spec, sketches)
    vectors = model.matrix(features, sketches).astype(np.float64)
    # Two composer-disjoint halves (alternate composers by name): how much the figure
    # moves with *which* composers are asked about — a hint of what unseen ones may give.
    composers = sorted({c for c in (composer_of(p) for p, _ in keys) if c})
    halves = [rank_metrics(vectors, keys, only=set(composers[i::2]))["ndcg@10"] for i in (0, 1)]
    return rank_metrics(vectors, keys) | {"dimensions": model.dimension, "ndcg@10_halves": halves}


def through_lancedb(
    rows: list[dict[str, Any]], keys: Sequence[tuple[str, int]], exploration: float | None, diversity: float | None
) -> dict[str, float]:
    """The same measurement through ``build_database`` + ``Recommender``, the request built
    by the CLI's own ``build_request`` (``None`` = the CLI's default for ``--like``)."""
    from sidflow_pipeline.classify.classified import classify_rows
    from sidflow_pipeline.cli.recommend import build_request
    from sidflow_pipeline.lance.build import build_database
    from sidflow_pipeline.recommend.engine import Recommender

    classified, _ = classify_rows(rows, {})
    with tempfile.TemporaryDirectory(prefix="sidflow-similarity-") as tmp:
        db = Path(tmp) / LANCE_DB
        sketches = {(r["sid_path"], int(r["song_index"])): r.get("traceSketch") for r in rows}
        build_database(db, classified, {}, {}, sources={}, feedback_events=0, sketches=sketches)
        recommender = Recommender(db)
        index = {key: i for i, key in enumerate(keys)}
        songs_of: dict[str, list[str]] = {}
        for path, song in keys:
            songs_of.setdefault(path, []).append(f"{path}#{song}")

        def order_of(q: int, candidates: np.ndarray) -> np.ndarray:
            path, song = keys[q]
            request = build_request(
                mood=None, vector=None, blend=None, like=f"{path}:{song}", filters=None, limit=K,
                exploration=exploration, diversity=diversity, seed=0, exclude=frozenset(songs_of[path]),
            )
            found = recommender.recommend(request)
            return np.array([index[(r.sid_path, r.song_index)] for r in found], dtype=np.int64)

        return _metrics(order_of, keys, K)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", type=Path, default=DEFAULT_COLLECTION)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="renders and feature rows (reused)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-lancedb", action="store_true", help="skip the end-to-end LanceDB rows")
    args = parser.parse_args(argv)
    console = Console(width=132)  # the table is wide; do not wrap it in pipes and logs
    if not args.collection.is_dir():
        console.print(f"[red]no collection at {args.collection}[/]")
        return 2
    started = time.perf_counter()
    rows = load_features(args.collection, args.cache, args.workers, console)
    keys = [(r["sid_path"], int(r["song_index"])) for r in rows]
    features = [r["features"] for r in rows]
    sketches = [r.get("traceSketch") for r in rows]
    traced = sum(1 for f in features if f.get("sidGateRate") is not None)
    trace_groups = [g for g in DEFAULT_SPEC.groups if g.startswith("trace_")]
    sketch_blocks = [f"sketch_{f}" for f in DEFAULT_SPEC.sketch_families]
    results: list[dict[str, Any]] = [{"name": "random", "kind": "baseline", **random_metrics(keys)}]
    today = SimilaritySpec(
        groups={"audio": TODAY_AUDIO}, weighting="flat", log_rates=False, sketch_families=(), whiten=None, components=None
    )
    four_audio = {**AUDIO_GROUPS, **{g: f for g, f in DEFAULT_SPEC.groups.items() if g != "audio"}}
    variants: list[tuple[str, str, SimilaritySpec]] = [
        ("audio_vector (before: 12 audio features, flat)", "baseline", today),
        ("audio: all 30 audio features", "variant", DEFAULT_SPEC.only(["audio"])),
        ("trace: summary feature groups", "variant", DEFAULT_SPEC.only(trace_groups)),
        ("trace: player fingerprint (sketch)", "variant", DEFAULT_SPEC.only(sketch_blocks)),
        ("trace: summary + fingerprint", "variant", DEFAULT_SPEC.only(trace_groups + sketch_blocks)),
        ("combined, full vector (no projection to 64)", "variant", replace(DEFAULT_SPEC, components=None)),
        ("combined, no whitening", "variant", replace(DEFAULT_SPEC, whiten=None)),
        ("combined, whitening shrinkage 0.2", "variant", replace(DEFAULT_SPEC, whiten=0.2)),
        ("combined, audio as 4 groups", "variant", replace(DEFAULT_SPEC, groups=four_audio)),
        ("combined, flat weights in numeric groups", "variant", replace(DEFAULT_SPEC, weighting="flat")),
        ("combined, no log1p of rates", "variant", replace(DEFAULT_SPEC, log_rates=False)),
        ("combined: audio + trace + fingerprint (chosen)", "chosen", DEFAULT_SPEC),
    ]
    for block in DEFAULT_SPEC.blocks:
        variants.append((f"only {block}", "ablation", DEFAULT_SPEC.only([block])))
        variants.append((f"all but {block}", "ablation", DEFAULT_SPEC.without([block])))
    for name, kind, spec in variants:
        results.append({"name": name, "kind": kind, **evaluate(spec, features, sketches, keys)})
    # The same vector for a collection rendered without traces (render.backend = sidplayfp).
    untraced = [{n: (None if n.startswith("sid") else v) for n, v in f.items()} for f in features]
    results.append(
        {
            "name": "chosen, songs without a trace (sidplayfp backend)",
            "kind": "fallback",
            **evaluate(DEFAULT_SPEC, untraced, [None] * len(keys), keys),
        }
    )
    if not args.no_lancedb:
        for exploration, diversity, label in (
            (None, None, "sidflow recommend --like (LanceDB, CLI defaults)"),
            (0.2, 0.2, "sidflow recommend --like --exploration 0.2 --diversity 0.2"),
        ):
            results.append({"name": label, "kind": "end-to-end", **through_lancedb(rows, keys, exploration, diversity)})
    table = Table(title=f"--like: same composer, {results[0]['queries']} queries over {len(keys)} songs ({traced} with a trace)")
    for column in ("vector", "kind", "dims", "nDCG@10", "± s.e.", "halves", "P@10"):
        table.add_column(column, justify="left" if column in ("vector", "kind") else "right")
    for r in results:
        table.add_row(
            r["name"], r["kind"], str(r.get("dimensions", "")), f"{r['ndcg@10']:.3f}", f"{r['ndcg@10_se']:.3f}",
            " / ".join(f"{h:.2f}" for h in r.get("ndcg@10_halves", ())), f"{r['p@10']:.3f}",
        )
    console.print(table)
    chosen = next(r for r in results if r["kind"] == "chosen")
    console.print(f"chosen vector nDCG@10 {chosen['ndcg@10']:.3f} (target ≥ {TARGET_NDCG})")
    report = {
        "benchmark": "similarity",
        "collection": str(args.collection),
        "songs": len(keys),
        "songs_with_trace": traced,
        "composers": len({composer_of(p) for p, _ in keys} - {None}),
        "protocol": "queries: song 1 of each file; candidates: all songs of other files; relevance: same MUSICIANS/<L>/<Composer>",
        "target_ndcg@10": TARGET_NDCG,
        "results": results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
