"""Atomic file writes: a reader (or a crash) never sees half a file.

Ratings, manifests and JSONL outputs are all written here: temp file in the same
folder, fsync, ``os.replace``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["append_json_line", "atomic_move", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write`` into a hidden temp file beside ``path``, fsync, rename onto it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda handle: handle.write(data))


def atomic_move(source: Path, target: Path) -> None:
    """Move a finished file onto ``target`` without ever leaving half a file there.

    A rename across filesystems (a tmpfs ``/tmp`` to a disk or USB stick) fails with
    EXDEV; then the file is streamed to a hidden name beside ``target`` and renamed
    there — still atomic — and the source removed.
    """
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    with open(source, "rb") as src:
        _atomic_write(target, lambda handle: shutil.copyfileobj(src, handle))
    Path(source).unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Indented, key-sorted JSON with a final newline (diff-friendly, deterministic)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def append_json_line(path: Path, record: Any) -> None:
    """Append one JSON object as one whole line, under an exclusive ``flock``.

    For the append-only logs (feedback, training, mastering ratings): concurrent
    writers never interleave, and a line left without its newline by a writer killed
    mid-write is not glued to ours — we start on a fresh line, so at most that one
    fragment is lost, never a complete record.
    """
    import fcntl
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # RDWR: pread the last byte
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - a full disk mid-write
                raise OSError(f"short write to {path}: {written}/{len(line)} bytes")
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
