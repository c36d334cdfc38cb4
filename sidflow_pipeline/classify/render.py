"""The WAV cache: each song's analysis excerpt, rendered once.

**Window rule.** With ``L`` the song length (``Songlengths.md5``, else
``defaultSongSeconds``), ``E`` = ``excerptSeconds`` and ``S`` = ``introSkipSeconds``:

* ``L ≤ E``: the whole song, ``[0, L]``;
* ``E < L ≤ S + E``: the last ``E`` seconds, ``[L − E, L]`` (as much intro skipped as fits);
* ``L > S + E``: ``[S, S + E]``.

Why: intros are often sparse, silent or a fade-in, so skipping a little gives features
that describe the song, while a fixed window keeps every song's features comparable
and the cost bounded. sidplayfp must still emulate the skipped intro (it cannot seek),
so cost grows with ``S + E``: ~0.28 s start-up + ~0.015 s per emulated second with the
fast engine. The defaults (20 s after 10 s) cost ≈ 0.75 CPU-s per song.

**Backends** (``render.backend``): ``libsidplayfp`` (default) renders in warm worker
processes with the in-process engine and also writes each song's SID register trace
(``<key>.npz``, layout in :mod:`sidflow_pipeline.sid.engine`); ``sidplayfp`` runs the
program once per song (no trace). For equal settings both write the same samples.

**Cache key** = sha1 of the file's md5, the song index, the render settings that
change audio, and the renderer's version (``sidplayfp 2.4.0``, or ``libsidplayfp 2.4.2``
with the trace scheme): an unchanged song is never rendered twice, and a changed
setting (or a new player) re-renders everything. The key is the content's, not the
path's: a moved or duplicated tune reuses the render under its own path. Each song
keeps a small status record beside its WAV, so a tune that timed out is not retried on
every run either.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_text
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.sid.excerpt import RenderSettings
from sidflow_pipeline.sid.sidplayfp import render_excerpt, sidplayfp_version

__all__ = [
    "RenderJob",
    "RenderRecord",
    "analysis_window",
    "cache_key",
    "render_jobs",
    "settings_for",
]


@dataclass(frozen=True)
class RenderJob:
    """One song to render: where it is and what identifies its audio."""

    sid_path: str
    song_index: int
    md5: str
    file: Path
    length_ms: int | None


@dataclass(frozen=True)
class RenderRecord:
    """A song's cached render: status, WAV location and what it cost."""

    sid_path: str
    song_index: int
    md5: str
    key: str
    status: str
    message: str
    wav: str | None
    start_s: float
    duration_s: float
    render_seconds: float
    trace: str | None = None
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("reused")
        return out


def analysis_window(length_ms: int | None, render: RenderConfig) -> tuple[float, float]:
    """``(start, duration)`` in seconds, by the rule in the module docstring."""
    length = (length_ms / 1000.0) if length_ms else render.default_song_seconds
    excerpt, skip = render.excerpt_seconds, render.intro_skip_seconds
    if length <= excerpt:
        return 0.0, round(length, 3)
    if length <= skip + excerpt:
        return round(length - excerpt, 3), excerpt
    return skip, excerpt


def settings_for(job: RenderJob, render: RenderConfig) -> RenderSettings:
    start, duration = analysis_window(job.length_ms, render)
    return RenderSettings(
        sample_rate=render.sample_rate,
        engine=render.engine,
        mono=True,
        start_offset_s=start,
        duration_s=max(duration, 0.1),
        timeout_s=render.timeout_seconds,
    )


def cache_key(job: RenderJob, settings: RenderSettings, renderer: str) -> str:
    """``renderer`` names what renders and its version (``sidplayfp 2.4.0``, ``libsidplayfp 2.4.2|<trace scheme>``)."""
    text = f"{job.md5}|{job.song_index}|{settings.cache_key()}|{renderer}"
    return hashlib.sha1(text.encode()).hexdigest()


def _paths(cache_root: Path, key: str) -> tuple[Path, Path]:
    folder = cache_root / key[:2]
    return folder / f"{key}.wav", folder / f"{key}.json"


def trace_path(cache_root: Path, key: str) -> Path:
    """Where a song's register trace lives: beside its WAV, keyed the same."""
    return cache_root / key[:2] / f"{key}.npz"


def _record(job: RenderJob, settings: RenderSettings, key: str, cache_root: Path, result: dict[str, Any], seconds: float) -> RenderRecord:
    wav, status_file = _paths(cache_root, key)
    trace = trace_path(cache_root, key)
    record = RenderRecord(
        sid_path=job.sid_path,
        song_index=job.song_index,
        md5=job.md5,
        key=key,
        status=result["status"],
        message=result["message"],
        wav=str(wav.relative_to(cache_root)) if result.get("wav_path") else None,
        start_s=settings.start_offset_s,
        duration_s=settings.duration_s,
        render_seconds=round(seconds, 4),
        trace=str(trace.relative_to(cache_root)) if result.get("wav_path") and trace.is_file() else None,
    )
    atomic_write_text(status_file, json.dumps(record.to_json(), sort_keys=True) + "\n")
    return record


def _load_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _render_one(
    job: RenderJob, settings: RenderSettings, key: str, cache_root: Path, binary: Path | None
) -> RenderRecord:
    wav, _status_file = _paths(cache_root, key)
    wav.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = render_excerpt(job.file, job.song_index, wav, settings, binary=binary)
    return _record(job, settings, key, cache_root, result.to_dict(), time.perf_counter() - started)


def render_jobs(
    jobs: Sequence[RenderJob],
    render: RenderConfig,
    cache_root: Path,
    *,
    workers: int = 1,
    binary: Path | None = None,
    progress: Callable[[RenderRecord], None] | None = None,
    backend: str | None = None,
) -> list[RenderRecord]:
    """Render every job not already cached, ``workers`` at a time. Records come back in the order of ``jobs``.

    ``backend`` overrides ``render.backend`` (the benchmark compares both in one run).
    With ``sidplayfp`` threads suffice (each render is its own process, Python only
    waits); with ``libsidplayfp`` the work runs in supervised worker processes.
    """
    backend = backend or render.backend
    if backend == "sidplayfp":
        version = f"sidplayfp {sidplayfp_version(binary)}"
    else:
        from sidflow_pipeline.sid.engine import TRACE_SCHEME, libsidplayfp_version

        version = f"libsidplayfp {libsidplayfp_version()}|{TRACE_SCHEME}"
    planned: list[tuple[RenderJob, RenderSettings, str]] = []
    for job in jobs:
        settings = settings_for(job, render)
        planned.append((job, settings, cache_key(job, settings, version)))
    records: list[RenderRecord | None] = [None] * len(planned)
    # Byte-identical songs at several paths (HVSC has such duplicates) render once; every
    # path gets the record under its own name.
    twins: dict[int, list[int]] = {}
    first_with_key: dict[str, int] = {}
    for index, (_job, _settings, key) in enumerate(planned):
        if key in first_with_key:
            twins[first_with_key[key]].append(index)
        else:
            first_with_key[key] = index
            twins[index] = []

    def deliver(index: int, record: RenderRecord) -> None:
        for same in [index, *twins[index]]:
            job = planned[same][0]
            records[same] = replace(record, sid_path=job.sid_path, song_index=job.song_index, md5=job.md5)
            if progress is not None:
                progress(records[same])  # type: ignore[arg-type]

    todo: list[int] = []
    for index in twins:
        _job, _settings, key = planned[index]
        wav, status_file = _paths(cache_root, key)
        cached = _load_record(status_file)
        if cached is not None and (cached.get("wav") is None or wav.is_file()):
            deliver(index, RenderRecord(**cached, reused=True))
        else:
            todo.append(index)
    if not todo:
        return [r for r in records if r is not None]
    for _key_dir in {cache_root / planned[i][2][:2] for i in todo}:
        _key_dir.mkdir(parents=True, exist_ok=True)
    if backend == "sidplayfp":
        done: Iterable[tuple[int, RenderRecord]] = _render_with_program(planned, todo, cache_root, workers, binary)
    else:
        done = _render_in_workers(planned, todo, cache_root, workers, render.engine)
    for index, record in done:
        deliver(index, record)
    return [r for r in records if r is not None]


def _render_with_program(
    planned: Sequence[tuple[RenderJob, RenderSettings, str]], todo: Sequence[int], cache_root: Path, workers: int, binary: Path | None
) -> Iterable[tuple[int, RenderRecord]]:
    def run(index: int) -> tuple[int, RenderRecord]:
        job, settings, key = planned[index]
        return index, _render_one(job, settings, key, cache_root, binary)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        yield from pool.map(run, todo)


# A worker past its song's own wall-clock limit gets this much longer before it is killed:
# the in-process watchdog answers first when it can (between one-second chunks).
_WORKER_GRACE_S = 10.0


def _render_in_workers(
    planned: Sequence[tuple[RenderJob, RenderSettings, str]], todo: Sequence[int], cache_root: Path, workers: int, engine: str
) -> Iterable[tuple[int, RenderRecord]]:
    from sidflow_pipeline.sid.workers import SupervisedWorkers

    messages = []
    for index in todo:
        job, settings, key = planned[index]
        wav, _ = _paths(cache_root, key)
        messages.append(
            {
                "sid_path": str(job.file),
                "song_index": job.song_index,
                "settings": asdict(settings),
                "wav": str(wav),
                "trace": str(trace_path(cache_root, key)),
                "deadline_s": settings.effective_timeout_s + _WORKER_GRACE_S,
            }
        )
    with SupervisedWorkers(min(max(1, workers), len(todo)), options={"engine": engine}) as pool:
        for n, result in pool.run(messages):
            index = todo[n]
            job, settings, key = planned[index]
            # A killed worker's song cost its whole allowance.
            seconds = float(result.get("seconds", messages[n]["deadline_s"]))
            yield index, _record(job, settings, key, cache_root, result, seconds)


def jobs_from_rows(rows: Iterable[dict[str, Any]], hvsc_root: Path) -> list[RenderJob]:
    """Catalog rows → jobs, in a stable order."""
    jobs = [
        RenderJob(
            sid_path=row["sid_path"],
            song_index=int(row["song_index"]),
            md5=row["md5"],
            file=hvsc_root / row["sid_path"],
            length_ms=row.get("length_ms"),
        )
        for row in rows
    ]
    return sorted(jobs, key=lambda j: (j.sid_path, j.song_index))
