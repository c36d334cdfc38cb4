"""Supervised render workers: a song that crashes or hangs its worker costs that song only."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sidflow_pipeline.classify.render import RenderJob, render_jobs
from sidflow_pipeline.config import RenderConfig
from sidflow_pipeline.sid.workers import SupervisedWorkers, WorkerStartError

TARGET = "sidflow_pipeline_tests.sid.crashy:job"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_crash_and_hang_cost_one_song_each() -> None:
    jobs = [{"do": d, "deadline_s": 3.0} for d in ("ok", "segv", "ok", "hang", "raise", "ok", "ok")]
    started = time.monotonic()
    with SupervisedWorkers(2, target=TARGET, warm=None) as pool:
        first = pool.pids()
        results = dict(pool.run(jobs))
        assert pool.replaced == 2
        survivors = pool.pids()
    assert time.monotonic() - started < 30
    assert sorted(results) == list(range(len(jobs)))
    assert [results[i]["status"] for i in range(len(jobs))] == ["ok", "error", "ok", "timeout", "error", "ok", "ok"]
    assert "SIGSEGV" in results[1]["message"] and "started another" in results[1]["message"]
    assert "3 s" in results[3]["message"]
    assert results[4]["message"] == "ValueError: a bug in one song's code path"
    for result in results.values():
        assert "\n" not in result["message"]
    # The dead and the hung workers were replaced; every worker is gone after close.
    assert set(first) != set(survivors)
    for pid in first + survivors:
        assert not _alive(pid)


def test_a_worker_that_cannot_start_is_one_line() -> None:
    with SupervisedWorkers(1, target=TARGET, warm="sidflow_pipeline_tests.sid.crashy:warm_fails") as pool:
        with pytest.raises(WorkerStartError, match=r"^the engine cannot start here$"):
            list(pool.run([{"do": "ok"}]))
    with SupervisedWorkers(1, target=TARGET, warm="sidflow_pipeline_tests.sid.crashy:warm_dies") as pool:
        with pytest.raises(WorkerStartError, match=r"ended before it was ready \(exit status 3\), 3 times in a row"):
            list(pool.run([{"do": "ok"}]))


def test_bad_tunes_lose_only_themselves_in_a_partition(tmp_path: Path) -> None:
    from sidflow_pipeline_tests.sid.test_engine import _designed_tune

    good = tmp_path / "good.sid"
    good.write_bytes(_designed_tune())
    bad = tmp_path / "bad.sid"
    bad.write_bytes(b"not a sid at all" * 10)
    twin = tmp_path / "moved" / "good_copy.sid"
    twin.parent.mkdir()
    twin.write_bytes(good.read_bytes())
    jobs = [
        RenderJob(sid_path="good.sid", song_index=1, md5="a" * 32, file=good, length_ms=30_000),
        RenderJob(sid_path="bad.sid", song_index=1, md5="b" * 32, file=bad, length_ms=30_000),
        RenderJob(sid_path="moved/good_copy.sid", song_index=1, md5="a" * 32, file=twin, length_ms=30_000),
    ]
    render = RenderConfig(excerptSeconds=2, introSkipSeconds=1)
    records = render_jobs(jobs, render, tmp_path / "cache", workers=2)
    assert [r.status for r in records] == ["ok", "error", "ok"]
    # Content-addressed: the duplicate takes the same render under its own path.
    assert records[0].key == records[2].key
    assert [r.sid_path for r in records] == ["good.sid", "bad.sid", "moved/good_copy.sid"]
    assert records[0].trace is not None and (tmp_path / "cache" / records[0].trace).is_file()
    again = render_jobs(jobs, render, tmp_path / "cache", workers=2)
    assert all(r.reused for r in again)
    assert [r.sid_path for r in again] == ["good.sid", "bad.sid", "moved/good_copy.sid"]
