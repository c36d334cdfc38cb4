"""How the sync talks to a mirror: what discovery and download both need.

A session that retries what is worth retrying (connection failures and 5xx, with a cap
on ``Retry-After``), one short reason per failure instead of requests' pool internals,
a mirror location as a path when it is local, and the one accepted spelling of a
SHA-256. Its own module so that neither discovery nor download imports the other for it.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

__all__ = ["DEFAULT_TIMEOUT", "RETRY_STATUSES", "USER_AGENT", "http_session", "local_path", "normalize_sha256", "short_reason"]

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
RETRY_STATUSES = (500, 502, 503, 504)
USER_AGENT = "sidflow-pipeline (HVSC sync)"

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def normalize_sha256(value: str, *, what: str = "checksum") -> str:
    """Accept ``hex`` or ``sha256:hex`` (the manifest spelling), any case; reject the rest.

    A malformed pin must fail loudly: silently ignoring it would disable the very check
    the user asked for.
    """
    text = value.strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if not _SHA256_RE.match(text):
        raise ValueError(f"{what}: not a SHA-256 hex digest: {value!r}")
    return text


def short_reason(exc: BaseException) -> str:
    """Boil a requests/urllib3 exception chain down to the words a user can act on.

    requests' own messages repeat pool internals ("HTTPConnectionPool(host=...): Max
    retries exceeded ... Caused by NewConnectionError(...)") that bury the actual cause.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (TimeoutError, socket.timeout)):
            return "timed out"
        if isinstance(current, OSError) and current.strerror and not isinstance(current, requests.RequestException):
            return current.strerror
        if isinstance(current, urllib3.exceptions.ProtocolError) and current.args:
            head = str(current.args[0])
            if "IncompleteRead" in head or "Connection broken" in head:
                return "connection broken mid-transfer"
        for nested in (getattr(current, "reason", None), current.__cause__, current.__context__, *current.args):
            if isinstance(nested, BaseException):
                stack.append(nested)
    text = str(exc)
    match = _ERRNO_RE.search(text)
    if match:
        return match.group(1).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]


class _CappedRetry(Retry):
    """urllib3 Retry that honours ``Retry-After`` but never sleeps longer than a cap.

    A mirror answering "Retry-After: 3600" should not freeze a sync (or a test) for an
    hour; we wait at most ``retry_after_max`` and let the retry budget decide the rest.
    """

    retry_after_max: float = 30.0  # type: ignore[assignment]  # urllib3 says int; a fraction of a second is valid

    def new(self, **kw: Any) -> _CappedRetry:
        retry = super().new(**kw)
        retry.retry_after_max = self.retry_after_max
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        if value is None:
            return None
        return max(0.0, min(value, self.retry_after_max))


def http_session(
    *,
    max_retries: int = 5,
    backoff_factor: float = 0.5,
    backoff_max: float = 30.0,
    retry_after_max: float = 30.0,
) -> requests.Session:
    """A session that retries connection failures and 5xx answers with exponential backoff.

    Only idempotent GET/HEAD are retried; 404 and other 4xx are answered at once (a
    missing archive does not appear by asking again). ``raise_on_status=False`` hands the
    last 5xx response back so the caller can name the status in its error line.
    """
    retry = _CappedRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=True,
    )
    retry.retry_after_max = retry_after_max
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Identity encoding keeps Content-Length, Range offsets and the bytes we hash all
    # about the same representation: the archive file itself.
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    return session


def local_path(location: str) -> Path:
    """A ``file://`` URL or plain path as a filesystem path."""
    parsed = urlparse(location)
    if parsed.scheme.lower() == "file":
        return Path(url2pathname(unquote(parsed.path)))
    return Path(location)
