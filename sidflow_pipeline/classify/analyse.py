"""Audio and SID-trace features per song, from the WAV cache, as deterministic JSONL rows.

A row's ``features`` holds the audio features of the WAV, the register-trace features
of the ``<key>.npz`` beside it (:mod:`sidflow_pipeline.features.trace`) and the header
facts. A song rendered without a trace (``render.backend = sidplayfp``, or a cache from
before the trace existed) gets every trace feature as ``null``: the model and the
similarity vector treat that as missing, never as a measured 0.

Rows are reused when the song's render key and the feature-set version are unchanged,
so a re-run touches only what changed. Extraction runs in worker processes (one per
``threads``), each warmed once: librosa/numba and Essentia cost ~1–2 s to import and
JIT, which must not be paid per song.
"""

from __future__ import annotations

import multiprocessing
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sidflow_pipeline.classify.render import RenderRecord

__all__ = [
    "FeatureRow",
    "analyse_records",
    "feature_pool",
    "header_facts",
]

FeatureRow = dict[str, Any]


def header_facts(row: Mapping[str, Any]) -> dict[str, float]:
    """Numeric header facts that join the audio features (the model sees them too)."""
    return {
        "sidModel8580": 1.0 if str(row.get("sid_model", "")).startswith("8580") else 0.0,
        "clockNtsc": 1.0 if row.get("clock") == "NTSC" else 0.0,
        "sidCount": float(row.get("sid_count") or 1),
    }


def _worker_init() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import numpy as np

    from sidflow_pipeline.features import extract_features

    # JIT and import warm-up; librosa comes through load_librosa, so one worker at a
    # time fills numba's disk cache (see numba_lock.py).
    extract_features(np.zeros(22050, dtype=np.float32), 22050)


Sketch = dict[str, list[list[float]]]


def _extract(paths: tuple[str, str | None]) -> tuple[dict[str, float | None], Sketch | None]:
    """Audio features of the WAV plus the trace's features and sketch (no trace → missing, None)."""
    from sidflow_pipeline.features import extract_features_from_wav
    from sidflow_pipeline.features.trace import missing_trace_features, trace_features, trace_sketch
    from sidflow_pipeline.sid.engine import Trace

    wav, trace = paths
    audio: dict[str, float | None] = dict(extract_features_from_wav(Path(wav)))
    traced = missing_trace_features()
    sketch = None
    if trace is not None:
        try:
            loaded = Trace.load(Path(trace))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # gone or damaged since the render: missing, like a render without a trace
        else:
            traced, sketch = trace_features(loaded), trace_sketch(loaded)

    return {**audio, **traced}, sketch


def analyse_records(
    records: Sequence[RenderRecord],
    cache_root: Path,
    facts: Mapping[tuple[str, int], Mapping[str, float]],
    previous: Mapping[tuple[str, int], FeatureRow],
    *,
    workers: int = 1,
    progress: Callable[[FeatureRow, bool], None] | None = None,
    executor: Executor | None = None,
) -> list[FeatureRow]:
    """Feature rows for ``records`` (sorted by path, song); unchanged rows are reused.

    ``executor`` lets a long-lived caller (the benchmark, a service) keep one warm pool
    (see :func:`feature_pool`) across calls instead of paying the imports each time.
    """
    from sidflow_pipeline.features import FEATURE_SET_VERSION

    rows: dict[tuple[str, int], FeatureRow] = {}
    todo: list[RenderRecord] = []
    for record in records:
        key = (record.sid_path, record.song_index)
        old = previous.get(key)
        if old is not None and old.get("render_key") == record.key and old.get("featureSetVersion") == FEATURE_SET_VERSION:
            rows[key] = old
            if progress is not None:
                progress(old, True)
        elif record.wav is None:
            rows[key] = _row(record, None, facts.get(key, {}), FEATURE_SET_VERSION)
            if progress is not None:
                progress(rows[key], False)
        else:
            todo.append(record)
    paths = [(str(cache_root / r.wav), str(cache_root / r.trace) if r.trace else None) for r in todo if r.wav]
    if todo:
        pool = None
        if executor is not None:
            results: Iterable[tuple[dict[str, float | None], Sketch | None]] = executor.map(_extract, paths, chunksize=2)
        elif workers <= 1 or len(todo) == 1 or multiprocessing.current_process().daemon:
            # A daemonic process (e.g. a Celery prefork pool child) may not start a pool.
            _worker_init()
            results = map(_extract, paths)
        else:
            pool = feature_pool(min(workers, len(todo)))
            results = pool.map(_extract, paths, chunksize=2)
        try:
            for record, (features, sketch) in zip(todo, results, strict=True):
                key = (record.sid_path, record.song_index)
                rows[key] = _row(record, features, facts.get(key, {}), FEATURE_SET_VERSION, sketch)
                if progress is not None:
                    progress(rows[key], False)
        finally:
            if pool is not None:
                pool.shutdown()
    return [rows[k] for k in sorted(rows)]


def feature_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for feature extraction, each imported and warmed once.

    ``spawn`` rather than ``fork``: the parent (a Dagster step) runs threads, and a
    forked child of a threaded parent can deadlock.
    """
    return ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
    )


def _row(
    record: RenderRecord,
    features: Mapping[str, float | None] | None,
    facts: Mapping[str, float],
    version: str,
    sketch: Sketch | None = None,
) -> FeatureRow:
    """``traceSketch`` (the player fingerprint, see features/trace.py) sits beside
    ``features``, not in it: it is a sparse histogram for the similarity vector, not a
    model input, and stays out of the canonical ``classified`` rows."""
    merged = None if features is None else {**features, **facts}
    return {
        "sid_path": record.sid_path,
        "song_index": record.song_index,
        "md5": record.md5,
        "render_key": record.key,
        "status": record.status,
        "featureSetVersion": version,
        "features": merged,
        "traceSketch": sketch,
    }
