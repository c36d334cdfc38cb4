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
from typing import Any

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "DiskWriteError",
    "append_json_line",
    "atomic_move",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "recover_interrupted_swap",
    "swap_backup",
    "swap_directory",
    "write_all",
]


class DiskWriteError(SidflowError, OSError):
    """A write that failed (disk full, quota, read-only) and changed nothing.

    ``str()`` is one line for the user naming the file, the reason and that the
    previous content is intact: the CLI prints it as its error line. Subclasses
    ``OSError`` (same ``errno``) so code that handles I/O errors keeps working.
    """

    def __init__(self, errno_: int | None, message: str) -> None:
        super().__init__(errno_, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written; a short write is retried, so the only
    way out without all bytes is an ``OSError`` (ENOSPC on a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - write(2) returns > 0 or fails
            raise OSError(errno.EIO, f"write returned {written}")
        view = view[written:]


class _FdWriter:
    """The file object handed to ``_atomic_write``'s callback: every byte goes through
    :func:`write_all` (one write path, so a full disk is seen the same way everywhere)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> int:
        write_all(self.fd, bytes(data))
        return len(data)

    def fileno(self) -> int:
        return self.fd


# Errors that mean "the storage refused the bytes", not a bug: one line for the user.
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM}


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask``
    can only be read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):  # pragma: no cover - not Linux, or a kernel before 4.7
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def _atomic_write(path: Path, write: Callable[[Any], object]) -> None:
    """Write through ``write`` into a hidden temp file beside ``path``, fsync, rename onto it.

    The new file gets the mode an ordinary ``open()`` would give it (0666 minus the
    umask: 0644 under the usual 022) — ``mkstemp`` makes 0600, which would turn every
    export, playlist and tags file a user shares private. A failed write (a full disk)
    removes the temp file and raises :class:`DiskWriteError`: ``path`` keeps its
    previous bytes.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # a read-only or full filesystem refuses even the temp file
        if exc.errno not in _DISK_ERRORS:
            raise
        state = "the previous file is unchanged" if path.exists() else "no file was written"
        raise DiskWriteError(exc.errno, f"{path}: cannot write ({_reason(exc)}); {state}") from exc
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            write(_FdWriter(fd))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, DiskWriteError) or exc.errno not in _DISK_ERRORS:
            raise
        state = "the previous file is unchanged" if path.exists() else "no file was written"
        raise DiskWriteError(exc.errno, f"{path}: cannot write ({_reason(exc)}); {state}") from exc
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
    fragment is lost, never a complete record. A write the disk refuses part-way
    (ENOSPC) is cut back to the length the file had: the log never keeps half of our
    line, and :class:`DiskWriteError` says nothing was written.
    """
    import fcntl

    line = (json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)  # RDWR: pread the last byte
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        raise DiskWriteError(exc.errno, f"{path}: cannot append ({_reason(exc)}); nothing was written") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            try:
                write_all(fd, line)
                os.fsync(fd)
            except BaseException as exc:  # a full disk, or a signal between two writes
                os.ftruncate(fd, size)  # under the lock: only our own bytes go
                if not isinstance(exc, OSError) or exc.errno not in _DISK_ERRORS:
                    raise
                raise DiskWriteError(
                    exc.errno, f"{path}: cannot append ({_reason(exc)}); nothing was written, the log is unchanged"
                ) from exc
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def swap_backup(target: Path) -> Path:
    """Where :func:`swap_directory` keeps the old ``target`` between its two renames."""
    return target.with_name(f".{target.name}.previous")


def swap_directory(staging: Path, target: Path) -> None:
    """Replace the folder ``target`` by ``staging`` with two renames.

    A folder cannot be replaced atomically: ``target`` goes aside first, then
    ``staging`` takes its name. Readers see the old folder or the new one, never a half
    built one; :func:`recover_interrupted_swap` finishes a swap cut between the renames.
    """
    backup = swap_backup(target)
    shutil.rmtree(backup, ignore_errors=True)
    if target.exists():
        os.rename(target, backup)
    os.rename(staging, target)
    shutil.rmtree(backup, ignore_errors=True)


def recover_interrupted_swap(target: Path) -> None:
    """After a crash between :func:`swap_directory`'s renames: put the old folder back,
    or drop the leftover backup when the new one is in place."""
    backup = swap_backup(target)
    if backup.exists() and not target.exists():
        os.rename(backup, target)
    elif backup.exists():
        shutil.rmtree(backup, ignore_errors=True)
