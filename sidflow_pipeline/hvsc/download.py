"""Fetch one HVSC archive so that whatever lands under its final name is whole and verified.

HVSC archives are tens of megabytes served by volunteer mirrors over flaky links, and the
sync extracts whatever this module hands it. So:

* bytes stream into ``<dest>/<name>.part``; the final name appears (``os.replace``) only
  once the body is complete and, when a checksum is known, matches it — a half download
  can never be mistaken for an archive, and a failed one leaves nothing behind;
* transient server errors and refused connections are retried by urllib3's ``Retry``
  mounted on the session (exponential backoff, capped ``Retry-After``), while a body cut
  mid-way is resumed by an outer loop with ``Range: bytes=<have>-`` so an 80 MB archive
  is not fetched again from byte zero after every hiccup;
* every failure is one line (URL and reason) for the user, never a traceback.

Local mirrors (a folder or ``file://`` URL, e.g. the offline demo collection) are copied
into ``dest_dir`` rather than hashed in place: the sync then owns a private copy that a
changing mirror cannot alter between verification and extraction, exactly as with HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests
import urllib3

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.hvsc.http import DEFAULT_TIMEOUT, RETRY_STATUSES, http_session, local_path, short_reason

if TYPE_CHECKING:
    from sidflow_pipeline.hvsc.discovery import RemoteArchive

__all__ = [
    "ChecksumMismatch",
    "DownloadError",
    "DownloadResult",
    "ProgressCallback",
    "fetch_archive",
    "sha256_file",
]

CHUNK_SIZE = 256 * 1024

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) as a download advances."""



class DownloadError(SidflowError, RuntimeError):
    """A download that could not complete; the message is one line: URL and reason."""


class ChecksumMismatch(DownloadError):
    """The bytes arrived but are not the archive the mirror (or the config pin) promised."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    size: int
    bytes_fetched: int
    """Bytes received over the network in this call (0 for local copies and reuse)."""
    seconds: float
    resumed: bool
    """True when at least one ``Range`` request continued a partial body."""
    reused: bool = False
    """True when a complete, checksum-verified file was already at the final name."""


def sha256_file(path: Path, *, chunk_size: int = 1024 * 1024) -> str:
    """Hex SHA-256 of a file, streamed so an archive of any size costs constant memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _is_http(location: str) -> bool:
    return urlparse(location).scheme.lower() in ("http", "https")


class _Progress:
    """One progress sink: a caller's callback, a rich bar on a terminal, or nothing."""

    def __init__(self, progress: bool | ProgressCallback | None, label: str) -> None:
        self._callback: ProgressCallback | None = None
        self._bar: Any = None
        self._task: Any = None
        self._done = 0
        self._total: int | None = None
        if callable(progress):
            self._callback = progress
            return
        enabled = sys.stderr.isatty() if progress is None else bool(progress)
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=None)

    def reset(self, done: int, total: int | None) -> None:
        self._done, self._total = done, total
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
        if self._callback is not None:
            self._callback(done, total)

    def advance(self, amount: int) -> None:
        self._done += amount
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done)
        if self._callback is not None:
            self._callback(self._done, self._total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 100-999/1000`` → (100, 999, 1000); ``bytes */1000`` → (None, None, 1000)."""
    if not value:
        return None, None, None
    match = re.match(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", value, re.IGNORECASE)
    if not match:
        return None, None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    end = int(match.group(2)) if match.group(2) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, end, total


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _sleep_backoff(attempt: int, backoff_factor: float, backoff_max: float) -> None:
    time.sleep(min(backoff_max, backoff_factor * (2 ** max(0, attempt - 1))))


def _body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, losing nothing when the link drops.

    ``iter_content`` fills a whole chunk before yielding, so a cut throws away the
    bytes already read into it; ``read1`` hands over whatever arrived, and the resume
    then starts at exactly the last byte we hold.
    """
    raw = response.raw
    if not hasattr(raw, "read1"):  # pragma: no cover - urllib3 < 2.2
        yield from response.iter_content(CHUNK_SIZE)
        return
    while True:
        chunk = raw.read1(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


@dataclass
class _Transfer:
    """What one pass over an HTTP archive achieved (possibly over several requests)."""

    digest: str
    size: int
    fetched: int
    resumed: bool


def _http_to_part(
    url: str,
    part: Path,
    session: requests.Session,
    progress: _Progress,
    *,
    timeout: tuple[float, float],
    max_retries: int,
    backoff_factor: float,
    backoff_max: float,
) -> _Transfer:
    """Stream ``url`` into ``part`` until complete, resuming cut bodies with Range requests.

    A ``.part`` left by an earlier, interrupted run is continued too (its bytes are hashed
    first); the caller restarts from zero if the result then fails its checksum.
    """
    hasher = hashlib.sha256()
    have = 0
    if part.is_file() and part.stat().st_size > 0:
        with open(part, "rb") as handle:
            while block := handle.read(1024 * 1024):
                hasher.update(block)
                have += len(block)
    else:
        part.unlink(missing_ok=True)
    fetched = 0
    resumed = False
    cuts = 0
    validator: str | None = None
    total: int | None = None

    def restart() -> None:
        nonlocal hasher, have
        hasher = hashlib.sha256()
        have = 0
        part.unlink(missing_ok=True)

    while True:
        headers: dict[str, str] = {}
        if have:
            headers["Range"] = f"bytes={have}-"
            if validator:
                # If the file changed since our first bytes, the server sends it whole (200).
                headers["If-Range"] = validator
        try:
            response = session.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=True)
        except requests.RequestException as exc:
            raise DownloadError(f"{url}: {short_reason(exc)} (after {max_retries} retries)") from exc
        with contextlib.closing(response):
            status = response.status_code
            if status == 416 and have:
                _start, _end, remote_size = _parse_content_range(response.headers.get("Content-Range"))
                if remote_size == have:
                    total = have
                    break  # we already hold every byte
                restart()
                cuts += 1
                if cuts > max_retries:
                    raise DownloadError(f"{url}: server rejected resume (HTTP 416) {cuts} times")
                continue
            if status not in (200, 206):
                note = f" (after {max_retries} retries)" if status in RETRY_STATUSES else ""
                raise DownloadError(f"{url}: HTTP {status} {response.reason or ''}".rstrip() + note)
            if status == 206:
                start, _end, remote_size = _parse_content_range(response.headers.get("Content-Range"))
                if start != have:
                    # A range we did not ask for: cannot be appended; fetch the whole file.
                    restart()
                    cuts += 1
                    if cuts > max_retries:
                        raise DownloadError(f"{url}: server answered ranges that do not match the request")
                    continue
                total = remote_size
                resumed = resumed or have > 0
            else:
                if have:
                    restart()  # Range ignored (or If-Range failed): the body starts at 0
                total = _int_header(response.headers.get("Content-Length"))
            etag = response.headers.get("ETag")
            if etag and not etag.startswith("W/"):
                validator = etag
            elif response.headers.get("Last-Modified"):
                validator = response.headers["Last-Modified"]
            progress.reset(have, total)
            cut: BaseException | None = None
            with open(part, "ab" if have else "wb") as out:
                chunks = _body_chunks(response)
                while True:
                    # Only the network read is guarded: a failing disk write is not a
                    # transient mirror problem and must not be retried.
                    try:
                        chunk = next(chunks)
                    except StopIteration:
                        break
                    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                        cut = exc
                        break
                    if not chunk:
                        continue
                    out.write(chunk)
                    hasher.update(chunk)
                    have += len(chunk)
                    fetched += len(chunk)
                    progress.advance(len(chunk))
        if cut is None and (total is None or have >= total):
            break
        cuts += 1
        if cuts > max_retries:
            reason = short_reason(cut) if cut is not None else "body shorter than Content-Length"
            size_note = f"{have}/{total}" if total is not None else f"{have}"
            raise DownloadError(
                f"{url}: connection lost at {size_note} bytes, gave up after {max_retries} resume attempts ({reason})"
            )
        _sleep_backoff(cuts, backoff_factor, backoff_max)
    return _Transfer(digest=hasher.hexdigest(), size=have, fetched=fetched, resumed=resumed)


def _copy_to_part(source: Path, part: Path, progress: _Progress) -> _Transfer:
    hasher = hashlib.sha256()
    size = 0
    progress.reset(0, source.stat().st_size)
    with open(source, "rb") as src, open(part, "wb") as out:
        while block := src.read(CHUNK_SIZE * 4):
            out.write(block)
            hasher.update(block)
            size += len(block)
            progress.advance(len(block))
    return _Transfer(digest=hasher.hexdigest(), size=size, fetched=0, resumed=False)


def fetch_archive(
    archive: RemoteArchive,
    dest_dir: Path,
    *,
    session: requests.Session | None = None,
    progress: bool | ProgressCallback | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    max_retries: int = 5,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    retry_after_max: float = 30.0,
) -> DownloadResult:
    """Bring ``archive`` to ``dest_dir/<name>``, complete and (when a checksum is known) verified.

    ``progress``: ``None`` shows a rich bar only on a terminal, ``True``/``False`` force
    it, a callable receives ``(done, total)``. ``session`` is used as given (the caller
    owns its retry policy); without one, a retrying session is built from
    ``max_retries``/``backoff_factor``. A complete file already at the final name is
    reused when it matches ``expected_sha256`` (re-running a sync costs no traffic).

    Raises :class:`DownloadError` (HTTP 4xx at once; 5xx and connection failures after
    the retry budget) or :class:`ChecksumMismatch`. Neither leaves a file under the final
    name; a network failure keeps ``<name>.part`` so the next run resumes it, a checksum
    mismatch deletes it (those bytes are known bad).
    """
    started = time.perf_counter()
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / archive.name
    part = dest_dir / f"{archive.name}.part"
    expected = archive.expected_sha256.lower() if archive.expected_sha256 else None
    location = archive.url_or_path

    if expected and final.is_file() and sha256_file(final) == expected:
        return DownloadResult(
            path=final,
            sha256=expected,
            size=final.stat().st_size,
            bytes_fetched=0,
            seconds=time.perf_counter() - started,
            resumed=False,
            reused=True,
        )

    bar = _Progress(progress, archive.name)
    try:
        if _is_http(location):
            own_session = session is None
            http = session or http_session(
                max_retries=max_retries,
                backoff_factor=backoff_factor,
                backoff_max=backoff_max,
                retry_after_max=retry_after_max,
            )
            try:
                had_part = part.is_file() and part.stat().st_size > 0
                kwargs = dict(
                    timeout=timeout, max_retries=max_retries, backoff_factor=backoff_factor, backoff_max=backoff_max
                )
                transfer = _http_to_part(location, part, http, bar, **kwargs)  # type: ignore[arg-type]
                if expected and transfer.digest != expected and had_part:
                    # The stale .part came from another file version: fetch it whole once.
                    part.unlink(missing_ok=True)
                    first_fetched = transfer.fetched
                    transfer = _http_to_part(location, part, http, bar, **kwargs)  # type: ignore[arg-type]
                    transfer.fetched += first_fetched
            finally:
                if own_session:
                    http.close()
        else:
            source = local_path(location)
            if not source.is_file():
                raise DownloadError(f"{location}: no such file")
            if final.exists() and os.path.samefile(source, final):
                # Downloading into the mirror folder itself: nothing to copy, just verify.
                digest = sha256_file(final)
                transfer = _Transfer(digest=digest, size=final.stat().st_size, fetched=0, resumed=False)
                _verify(archive.name, final, expected, digest, delete=False)
                return DownloadResult(
                    path=final,
                    sha256=digest,
                    size=transfer.size,
                    bytes_fetched=0,
                    seconds=time.perf_counter() - started,
                    resumed=False,
                    reused=True,
                )
            try:
                transfer = _copy_to_part(source, part, bar)
            except OSError as exc:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{location}: cannot copy to {part}: {exc.strerror or exc}") from exc
    except BaseException:
        # Ctrl-C or a network failure keeps the .part for a later resume, but never a
        # file under the final name. A DownloadError from a local copy removed it above.
        bar.close()
        raise
    bar.close()
    _verify(archive.name, part, expected, transfer.digest, delete=True)
    os.replace(part, final)
    return DownloadResult(
        path=final,
        sha256=transfer.digest,
        size=transfer.size,
        bytes_fetched=transfer.fetched,
        seconds=time.perf_counter() - started,
        resumed=transfer.resumed,
    )


def _verify(name: str, path: Path, expected: str | None, got: str, *, delete: bool) -> None:
    if expected is None or got == expected:
        return
    if delete:
        path.unlink(missing_ok=True)
    raise ChecksumMismatch(f"{name}: checksum mismatch: expected sha256 {expected}, got {got}")

