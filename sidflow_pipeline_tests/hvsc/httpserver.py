"""A real HTTP mirror on 127.0.0.1 for HVSC tests, with faults a real mirror has.

Serves a folder the way Apache/nginx autoindex does (an HTML page of ``<a href>`` links,
files with Content-Length, ``Range`` → 206), and misbehaves on request, per path:

* ``fail_first=K`` — answer ``fail_status`` (503) to the first K requests;
* ``cut_after=N`` — announce the full Content-Length, send N bytes, drop the socket
  (the first ``cut_times`` requests);
* ``ignore_range=True`` — answer 200 with the whole file even to a Range request;
* ``range_shift=N`` — answer a Range request with bytes N further on (a broken proxy);
* ``after_cut=callable`` — run it after a cut (e.g. replace the file on the mirror);
* ``stall_after=N, stall_seconds=S`` — send N bytes, go silent for S seconds, then
  drop the socket (the first ``stall_times`` requests; exercises read timeouts).

Every request is recorded (path, Range header, status, body bytes sent) so tests assert
on what went over the wire. A hard request cap answers 410 past ``max_requests`` and
fails the test at teardown, so a retry loop gone wrong cannot spin forever.

Use the ``hvsc_mirror`` pytest fixture, or :class:`MirrorServer` as a context manager.
"""

from __future__ import annotations

import html
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

__all__ = ["Fault", "MirrorServer", "RequestRecord", "free_port", "hvsc_mirror"]


@dataclass
class Fault:
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    cut_after: int | None = None
    cut_times: int = 1
    ignore_range: bool = False
    stall_after: int | None = None
    stall_seconds: float = 0.0
    stall_times: int = 1
    range_shift: int = 0
    after_cut: Callable[[], None] | None = None
    # Counters the server updates; tests may read them.
    failures_sent: int = 0
    cuts_done: int = 0
    stalls_done: int = 0


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    range: str | None
    status: int
    bytes_sent: int


@dataclass
class _State:
    root: Path
    max_requests: int
    faults: dict[str, Fault] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    records: list[RequestRecord] = field(default_factory=list)
    count: int = 0
    in_flight: int = 0
    cap_hit: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HvscTestMirror/1.0"
    state: _State  # set on the subclass built per server

    def log_message(self, format: str, *args: object) -> None:  # stdlib signature
        pass  # keep pytest output clean; the request log is in state.records

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- helpers -----------------------------------------------------------------------
    def _record(self, status: int, sent: int) -> None:
        with self.state.lock:
            self.state.records.append(
                RequestRecord(self.command, urlsplit(self.path).path, self.headers.get("Range"), status, sent)
            )

    def _simple(self, status: int, body: bytes, *, content_type: str = "text/plain", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._record(status, 0 if self.command == "HEAD" else len(body))

    def _serve(self, *, head: bool) -> None:
        with self.state.lock:
            self.state.in_flight += 1
        try:
            self._serve_counted(head=head)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _serve_counted(self, *, head: bool) -> None:
        state = self.state
        with state.lock:
            state.count += 1
            over = state.count > state.max_requests
            if over:
                state.cap_hit = True
        if over:
            self._simple(410, b"request cap exceeded\n")
            return
        path = unquote(urlsplit(self.path).path)
        fault = state.faults.get(path)
        if fault is not None and fault.failures_sent < fault.fail_first:
            fault.failures_sent += 1
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._simple(fault.fail_status, b"temporarily unavailable\n", extra=extra)
            return
        if path in state.pages:
            self._simple(200, state.pages[path].encode("utf-8"), content_type="text/html; charset=utf-8")
            return
        target = (state.root / path.lstrip("/")).resolve()
        root = state.root.resolve()
        if target != root and root not in target.parents:
            self._simple(403, b"forbidden\n")
            return
        if target.is_dir():
            if not path.endswith("/"):
                self._simple(301, b"", extra={"Location": quote(path + "/")})
                return
            self._simple(200, _autoindex(path, target), content_type="text/html; charset=utf-8")
            return
        if not target.is_file():
            self._simple(404, b"not found\n")
            return
        self._send_file(target, fault, head=head)

    def _send_file(self, target: Path, fault: Fault | None, *, head: bool) -> None:
        data = target.read_bytes()
        size = len(data)
        start, end = 0, size - 1
        status = 200
        mtime = target.stat().st_mtime_ns
        etag = f'"{size:x}-{mtime:x}"'
        header_range = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        # If-Range: the range only applies to the very representation the client holds.
        range_applies = header_range and (if_range is None or if_range == etag)
        if range_applies and not (fault and fault.ignore_range):
            parsed = _parse_range(header_range, size)  # type: ignore[arg-type]
            if parsed is None:
                self._simple(416, b"", extra={"Content-Range": f"bytes */{size}"})
                return
            start, end = parsed
            if fault is not None and fault.range_shift:
                start = min(end, start + fault.range_shift)
            status = 206
        body = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.date_time_string(int(mtime // 10**9)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            self._record(status, 0)
            return
        limit = len(body)
        cut = False
        if fault is not None and fault.cut_after is not None and fault.cuts_done < fault.cut_times:
            fault.cuts_done += 1
            limit = min(limit, fault.cut_after)
            cut = True
        sent = 0
        stall = fault is not None and fault.stall_after is not None and fault.stalls_done < fault.stall_times
        try:
            if stall and fault.stall_after < limit:  # type: ignore[union-attr,operator]
                fault.stalls_done += 1  # type: ignore[union-attr]
                sent = int(fault.stall_after)  # type: ignore[union-attr,arg-type]
                self.wfile.write(body[:sent])
                self.wfile.flush()
                time.sleep(fault.stall_seconds)  # type: ignore[union-attr]
                limit, cut = sent, True  # a link that went silent does not come back
            for offset in range(sent, limit, 64 * 1024):
                chunk = body[offset : min(limit, offset + 64 * 1024)]
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            cut = True
        self._record(status, sent)
        if cut and fault is not None and fault.after_cut is not None:
            fault.after_cut()
        if cut:
            # Headers promised more than we sent: drop the socket like a dying link.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Single ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` ranges (all a mirror needs)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return None
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _autoindex(path: str, directory: Path) -> bytes:
    rows = ['<tr><td><a href="../">Parent Directory</a></td></tr>']
    for entry in sorted(directory.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        size = "-" if entry.is_dir() else str(entry.stat().st_size)
        rows.append(f'<tr><td><a href="{quote(name)}">{html.escape(name)}</a></td><td>{size}</td></tr>')
    title = html.escape(f"Index of {path}")
    page = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f'<table><tr><th><a href="?C=N;O=D">Name</a></th><th>Size</th></tr>{"".join(rows)}</table></body></html>'
    )
    return page.encode("utf-8")


class MirrorServer:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) serving ``root``."""

    def __init__(self, root: Path, *, max_requests: int = 200) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._state = _State(root=self.root, max_requests=max_requests)
        handler = type("BoundHandler", (_Handler,), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str = "") -> str:
        return self.base_url + quote(path.lstrip("/"))

    def start(self) -> MirrorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------------
    def fault(self, path: str, **settings: object) -> Fault:
        """Misbehave on ``path`` (URL path, e.g. ``/HVSC_83-all-of-them.7z``)."""
        fault = Fault(**settings)  # type: ignore[arg-type]
        self._state.faults["/" + path.lstrip("/")] = fault
        return fault

    def page(self, path: str, html_text: str) -> None:
        """Serve ``html_text`` at ``path`` instead of a file or an autoindex."""
        self._state.pages["/" + path.lstrip("/")] = html_text

    def put(self, relpath: str, data: bytes) -> Path:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    # -- observation -------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, in arrival order.

        Waits (briefly) for requests still being answered: a client can finish reading
        a response before the handler thread has written its record.
        """
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            with self._state.lock:
                if self._state.in_flight == 0:
                    return list(self._state.records)
            time.sleep(0.005)
        with self._state.lock:
            return list(self._state.records)

    def requests_for(self, path: str) -> list[RequestRecord]:
        wanted = "/" + path.lstrip("/")
        return [r for r in self.requests if unquote(r.path) == wanted]

    @property
    def cap_hit(self) -> bool:
        return self._state.cap_hit


def free_port() -> int:
    """A port nothing listens on (bound, then released) for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hvsc_mirror(tmp_path: Path) -> Iterator[MirrorServer]:
    """A started :class:`MirrorServer` over ``tmp_path/mirror``; stopped after the test."""
    server = MirrorServer(tmp_path / "mirror", max_requests=int(os.environ.get("HVSC_TEST_MAX_REQUESTS", "200")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.cap_hit, "test HTTP server request cap exceeded: a retry loop is unbounded"
