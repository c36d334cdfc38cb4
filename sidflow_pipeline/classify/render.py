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

**Cache key** = sha1 of the file's md5, the song index, the render settings that
change audio, and the sidplayfp version: an unchanged song is never rendered twice,
and a changed setting (or a new sidplayfp) re-renders everything. Each song keeps a
small status record beside its WAV, so a tune that timed out is not retried on every
run either.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_text
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.sid.player import RenderSettings, render_excerpt, sidplayfp_version

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


def cache_key(job: RenderJob, settings: RenderSettings, player_version: str) -> str:
    text = f"{job.md5}|{job.song_index}|{settings.cache_key()}|sidplayfp {player_version}"
    return hashlib.sha1(text.encode()).hexdigest()


def _paths(cache_root: Path, key: str) -> tuple[Path, Path]:
    folder = cache_root / key[:2]
    return folder / f"{key}.wav", folder / f"{key}.json"


def _load_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _render_one(
    job: RenderJob, settings: RenderSettings, key: str, cache_root: Path, binary: Path | None
) -> RenderRecord:
    wav, status_file = _paths(cache_root, key)
    wav.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = render_excerpt(job.file, job.song_index, wav, settings, binary=binary)
    record = RenderRecord(
        sid_path=job.sid_path,
        song_index=job.song_index,
        md5=job.md5,
        key=key,
        status=result.status,
        message=result.message,
        wav=str(wav.relative_to(cache_root)) if result.wav_path is not None else None,
        start_s=settings.start_offset_s,
        duration_s=settings.duration_s,
        render_seconds=round(time.perf_counter() - started, 4),
    )
    atomic_write_text(status_file, json.dumps(record.to_json(), sort_keys=True) + "\n")
    return record


def render_jobs(
    jobs: Sequence[RenderJob],
    render: RenderConfig,
    cache_root: Path,
    *,
    workers: int = 1,
    binary: Path | None = None,
    progress: Callable[[RenderRecord], None] | None = None,
) -> list[RenderRecord]:
    """Render every job not already cached, ``workers`` sidplayfp processes at a time.

    Threads suffice: each render is its own sidplayfp process, so the Python side only
    waits. Records come back in the order of ``jobs``.
    """
    version = sidplayfp_version(binary)
    planned: list[tuple[RenderJob, RenderSettings, str]] = []
    for job in jobs:
        settings = settings_for(job, render)
        planned.append((job, settings, cache_key(job, settings, version)))
    records: list[RenderRecord | None] = [None] * len(planned)
    todo: list[int] = []
    for index, (job, settings, key) in enumerate(planned):
        wav, status_file = _paths(cache_root, key)
        cached = _load_record(status_file)
        if cached is not None and (cached.get("wav") is None or wav.is_file()):
            records[index] = RenderRecord(**cached, reused=True)
            if progress is not None:
                progress(records[index])  # type: ignore[arg-type]
        else:
            todo.append(index)

    def run(index: int) -> tuple[int, RenderRecord]:
        job, settings, key = planned[index]
        return index, _render_one(job, settings, key, cache_root, binary)

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for index, record in pool.map(run, todo):
                records[index] = record
                if progress is not None:
                    progress(record)
    return [r for r in records if r is not None]


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
