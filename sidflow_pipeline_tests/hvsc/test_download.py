"""Downloads from a real, misbehaving HTTP mirror on 127.0.0.1 (and from local mirrors)."""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import random
import time
from pathlib import Path

import py7zr
import pytest
import requests
import urllib3

from sidflow_pipeline.hvsc.archive import safe_extract
from sidflow_pipeline.hvsc.discovery import RemoteArchive, discover_releases
from sidflow_pipeline.hvsc.download import (
    ChecksumMismatch,
    DownloadError,
    fetch_archive,
    sha256_file,
)
from sidflow_pipeline.hvsc.http import normalize_sha256, short_reason
from sidflow_pipeline_tests.hvsc.httpserver import MirrorServer, free_port, hvsc_mirror  # noqa: F401 - fixture

NAME = "HVSC_80-all-of-them.7z"
FAST = {"backoff_factor": 0.01, "backoff_max": 0.05, "retry_after_max": 0.05}


@functools.cache
def _archive_bytes(size: int) -> bytes:
    """A real 7z of incompressible tunes (about ``size`` bytes), built once per size."""
    rng = random.Random(size)
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for index in range(6):
            archive.writef(io.BytesIO(rng.randbytes(size // 6)), f"C64Music/MUSICIANS/T/Tune_{index}.sid")
    return buffer.getvalue()


def _make_archive(path: Path, *, size: int = 600_000) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _archive_bytes(size)
    path.write_bytes(data)
    return data


@pytest.fixture
def served(hvsc_mirror: MirrorServer) -> tuple[MirrorServer, RemoteArchive, bytes]:
    data = _make_archive(hvsc_mirror.root / NAME)
    archive = RemoteArchive(80, "full", hvsc_mirror.url(NAME), NAME, None)
    return hvsc_mirror, archive, data


def _with_sha(archive: RemoteArchive, data: bytes) -> RemoteArchive:
    return RemoteArchive(archive.version, archive.kind, archive.url_or_path, archive.name, hashlib.sha256(data).hexdigest())


def test_download_success_then_extracts(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    result = fetch_archive(_with_sha(archive, data), tmp_path / "dl", progress=False)
    assert result.path == tmp_path / "dl" / NAME
    assert result.path.read_bytes() == data
    assert result.sha256 == hashlib.sha256(data).hexdigest() == sha256_file(result.path)
    assert (result.size, result.bytes_fetched, result.resumed, result.reused) == (len(data), len(data), False, False)
    assert not (tmp_path / "dl" / f"{NAME}.part").exists()
    assert [(r.path, r.range, r.status) for r in server.requests] == [(f"/{NAME}", None, 200)]
    # what arrived is a real archive
    extracted = safe_extract(result.path, tmp_path / "staging")
    assert extracted.files == 6


def test_discovered_archive_downloads_with_sidecar_checksum(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _archive, data = served
    (server.root / f"{NAME}.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {NAME}\n")
    archive = discover_releases(server.base_url).plan(None).archives[0]
    assert fetch_archive(archive, tmp_path, progress=False).sha256 == archive.expected_sha256


def test_5xx_twice_then_success(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    server.fault(NAME, fail_first=2, fail_status=503, retry_after="120")  # capped, not obeyed for 2 minutes
    started = time.monotonic()
    result = fetch_archive(archive, tmp_path, progress=False, **FAST)
    assert time.monotonic() - started < 5
    assert result.path.read_bytes() == data
    assert [r.status for r in server.requests_for(NAME)] == [503, 503, 200]


def test_5xx_forever_gives_up_after_retry_budget(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, _data = served
    server.fault(NAME, fail_first=100, fail_status=500)
    with pytest.raises(DownloadError) as caught:
        fetch_archive(archive, tmp_path, progress=False, max_retries=3, **FAST)
    assert str(caught.value) == f"{archive.url_or_path}: HTTP 500 Internal Server Error (after 3 retries)"
    assert len(server.requests_for(NAME)) == 4
    assert not (tmp_path / NAME).exists()


def test_connection_cut_half_way_is_resumed_with_range(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    half = len(data) // 2
    server.fault(NAME, cut_after=half)
    seen: list[tuple[int, int | None]] = []
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=lambda done, total: seen.append((done, total)), **FAST)
    assert result.path.read_bytes() == data
    assert result.resumed
    assert result.bytes_fetched < 1.5 * len(data)
    requests_made = [(r.range, r.status, r.bytes_sent) for r in server.requests_for(NAME)]
    assert requests_made == [(None, 200, half), (f"bytes={half}-", 206, len(data) - half)]
    assert seen[-1] == (len(data), len(data))
    assert all(before[0] <= after[0] for before, after in itertools.pairwise(seen))  # resume continues the bar


def test_server_ignoring_range_restarts_from_zero(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    half = len(data) // 2
    server.fault(NAME, cut_after=half, ignore_range=True)
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=False, **FAST)
    assert result.path.read_bytes() == data
    assert not result.resumed
    assert result.bytes_fetched == half + len(data)
    assert [(r.range, r.status) for r in server.requests_for(NAME)] == [(None, 200), (f"bytes={half}-", 200)]


def test_cut_every_time_gives_up_and_keeps_part_for_next_run(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    server.fault(NAME, cut_after=50_000, cut_times=3)
    with pytest.raises(DownloadError, match=r"connection lost at 150000/\d+ bytes, gave up after 2 resume attempts"):
        fetch_archive(archive, tmp_path, progress=False, max_retries=2, **FAST)
    assert not (tmp_path / NAME).exists()
    assert (tmp_path / f"{NAME}.part").stat().st_size == 150_000
    # the next run continues where this one stopped
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=False, **FAST)
    assert result.resumed and result.bytes_fetched == len(data) - 150_000
    assert result.path.read_bytes() == data
    assert server.requests_for(NAME)[-1].range == "bytes=150000-"


def test_read_timeout_mid_body_is_resumed(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    server.fault(NAME, stall_after=100_000, stall_seconds=0.8)
    started = time.monotonic()
    result = fetch_archive(archive, tmp_path, progress=False, timeout=(2.0, 0.2), **FAST)
    assert time.monotonic() - started < 0.7  # gave up on the silent link, did not wait it out
    assert result.path.read_bytes() == data and result.resumed
    assert sorted((r.range or "", r.status, r.bytes_sent) for r in server.requests_for(NAME)) == [
        ("", 200, 100_000),
        ("bytes=100000-", 206, len(data) - 100_000),
    ]


def test_stale_part_with_known_checksum_is_fetched_again_whole(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    (tmp_path / f"{NAME}.part").write_bytes(b"\xff" * 1000)  # from another version of the file
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=False, **FAST)
    assert result.path.read_bytes() == data
    assert result.bytes_fetched == len(data) - 1000 + len(data)
    assert [r.range for r in server.requests_for(NAME)] == ["bytes=1000-", None]


def test_complete_part_from_earlier_run_needs_no_body(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    (tmp_path / f"{NAME}.part").write_bytes(data)
    result = fetch_archive(archive, tmp_path, progress=False)
    assert result.path.read_bytes() == data and result.bytes_fetched == 0
    assert [(r.range, r.status) for r in server.requests_for(NAME)] == [(f"bytes={len(data)}-", 416)]


def test_existing_verified_file_is_reused_without_traffic(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    (tmp_path / NAME).write_bytes(data)
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=False)
    assert result.reused and result.bytes_fetched == 0
    assert server.requests == []


def test_checksum_mismatch_leaves_nothing(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _server, archive, data = served
    wrong = RemoteArchive(80, "full", archive.url_or_path, NAME, "0" * 64)
    with pytest.raises(ChecksumMismatch) as caught:
        fetch_archive(wrong, tmp_path / "dl", progress=False)
    got = hashlib.sha256(data).hexdigest()
    assert str(caught.value) == f"{NAME}: checksum mismatch: expected sha256 {'0' * 64}, got {got}"
    assert isinstance(caught.value, DownloadError)
    assert list((tmp_path / "dl").iterdir()) == []


def test_404_fails_at_once(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _archive, _data = served
    missing = RemoteArchive(81, "update", server.url("HVSC_Update_81.7z"), "HVSC_Update_81.7z")
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch_archive(missing, tmp_path / "dl", progress=False)
    assert time.monotonic() - started < 2
    assert str(caught.value) == f"{missing.url_or_path}: HTTP 404 Not Found"
    assert len(server.requests_for("HVSC_Update_81.7z")) == 1
    assert list((tmp_path / "dl").iterdir()) == []


def test_connection_refused_fails_after_bounded_retries(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/{NAME}"
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch_archive(RemoteArchive(80, "full", url, NAME), tmp_path, progress=False, max_retries=3, **FAST)
    assert time.monotonic() - started < 3
    assert str(caught.value) == f"{url}: Connection refused (after 3 retries)"
    assert not (tmp_path / NAME).exists()


def test_caller_session_is_used_and_left_open(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    with requests.Session() as session:
        session.headers["X-Caller"] = "yes"
        assert fetch_archive(archive, tmp_path, session=session, progress=False).size == len(data)
        assert session.get(server.url(NAME), timeout=5).content == data


def test_rich_progress_bar_when_forced(served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _server, archive, data = served
    fetch_archive(archive, tmp_path, progress=True)
    err = capsys.readouterr().err
    kilobytes = f"{len(data) / 1000:.1f}"
    assert NAME in err and f"{kilobytes}/{kilobytes} kB" in err and "/s" in err  # bytes, total, rate


@pytest.mark.parametrize("as_url", [False, True])
def test_local_mirror_is_copied_and_hashed(tmp_path: Path, as_url: bool) -> None:
    data = _make_archive(tmp_path / "mirror" / NAME, size=60_000)
    source = (tmp_path / "mirror" / NAME).as_uri() if as_url else str(tmp_path / "mirror" / NAME)
    seen: list[tuple[int, int | None]] = []
    result = fetch_archive(
        RemoteArchive(80, "full", source, NAME, hashlib.sha256(data).hexdigest()),
        tmp_path / "dl",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert result.path == tmp_path / "dl" / NAME and result.path.read_bytes() == data
    assert (result.bytes_fetched, result.resumed, result.size) == (0, False, len(data))
    assert seen[-1] == (len(data), len(data))
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [NAME]


def test_local_mirror_checksum_mismatch_and_missing_file(tmp_path: Path) -> None:
    _make_archive(tmp_path / "mirror" / NAME, size=6_000)
    bad = RemoteArchive(80, "full", str(tmp_path / "mirror" / NAME), NAME, "1" * 64)
    with pytest.raises(ChecksumMismatch, match="expected sha256 1111"):
        fetch_archive(bad, tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(DownloadError, match=r"HVSC_Update_81\.7z: no such file$"):
        fetch_archive(RemoteArchive(81, "update", str(tmp_path / "mirror" / "HVSC_Update_81.7z"), "HVSC_Update_81.7z"), tmp_path / "dl")


def test_downloading_into_the_mirror_folder_verifies_in_place(tmp_path: Path) -> None:
    data = _make_archive(tmp_path / NAME, size=6_000)
    good = RemoteArchive(80, "full", str(tmp_path / NAME), NAME)
    result = fetch_archive(good, tmp_path, progress=False)
    assert result.path == tmp_path / NAME and result.sha256 == hashlib.sha256(data).hexdigest() and result.reused
    with pytest.raises(ChecksumMismatch):
        fetch_archive(RemoteArchive(80, "full", str(tmp_path / NAME), NAME, "2" * 64), tmp_path, progress=False)
    assert (tmp_path / NAME).read_bytes() == data  # the mirror's own file is never deleted


def test_checksum_spellings_and_reasons() -> None:
    assert normalize_sha256("SHA256:" + "AB" * 32) == "ab" * 32
    with pytest.raises(ValueError, match="not a SHA-256"):
        normalize_sha256("sha1:abc")
    refused = ConnectionRefusedError(111, "Connection refused")
    assert short_reason(requests.ConnectionError(refused)) == "Connection refused"
    assert short_reason(requests.exceptions.ReadTimeout("x")) == "read timed out"
    assert short_reason(requests.exceptions.ConnectTimeout("x")) == "connection timed out"
    assert short_reason(RuntimeError("[Errno 28] No space left on device")) == "No space left on device"
    assert short_reason(RuntimeError("plain\nsecond line")) == "plain"
    assert short_reason(requests.ConnectionError(TimeoutError("slow"))) == "timed out"
    broken = urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(10 bytes read, 5 more expected)")
    assert short_reason(requests.exceptions.ChunkedEncodingError(broken)) == "connection broken mid-transfer"


def test_file_replaced_on_mirror_mid_download_is_fetched_whole_again(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, _data = served
    newer = _archive_bytes(500_000)
    path = server.root / NAME
    server.fault(NAME, cut_after=200_000, after_cut=lambda: path.write_bytes(newer))
    result = fetch_archive(archive, tmp_path, progress=False, **FAST)
    # If-Range carried the first response's ETag: the mirror answers the new file whole,
    # so the result is the new archive, never old head + new tail.
    assert result.path.read_bytes() == newer and not result.resumed
    assert [(r.range, r.status) for r in server.requests_for(NAME)] == [(None, 200), ("bytes=200000-", 200)]


def test_mismatched_range_answer_restarts_from_zero(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    server.fault(NAME, cut_after=100_000, range_shift=10)
    result = fetch_archive(_with_sha(archive, data), tmp_path, progress=False, **FAST)
    assert result.path.read_bytes() == data
    assert [(r.range, r.status) for r in server.requests_for(NAME)] == [(None, 200), ("bytes=100000-", 206), (None, 200)]


def test_part_longer_than_remote_file_is_discarded(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, archive, data = served
    (tmp_path / f"{NAME}.part").write_bytes(data + b"junk")
    result = fetch_archive(archive, tmp_path, progress=False, **FAST)
    assert result.path.read_bytes() == data and result.bytes_fetched == len(data)
    assert [(r.range, r.status) for r in server.requests_for(NAME)] == [(f"bytes={len(data) + 4}-", 416), (None, 200)]
