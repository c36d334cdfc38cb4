"""Unpack an HVSC 7z archive without trusting it.

An archive comes from a mirror we do not control, so it is judged from its member list
*before* a single byte is written: names that would land outside the destination
(absolute, ``..``, drive letters, backslash tricks), links and special files, and sizes
that announce a decompression bomb reject the whole archive. Real HVSC archives contain
only plain relative files and folders, so none of these rules costs a legitimate release
anything. py7zr's own ``max_extract_size`` stays armed during extraction in case the
declared sizes lie.

Every failure — corrupt, truncated, not a 7z at all, encrypted, unsafe — is an
:class:`ArchiveError` with one line naming the archive (and the member) and why.
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import py7zr
import py7zr.exceptions

from sidflow_pipeline.errors import SidflowError

__all__ = ["ArchiveError", "ExtractResult", "check_member_name", "safe_extract"]

DEFAULT_MAX_TOTAL_BYTES = 8 * 2**30
DEFAULT_MAX_RATIO = 200.0
DEFAULT_MAX_MEMBERS = 500_000
# Tiny archives (a few text files of repeated lines) can have huge ratios without being
# dangerous; the ratio guard only matters once the output is big enough to hurt.
RATIO_CHECK_MIN_BYTES = 1 * 2**20

_DRIVE_RE = re.compile(r"^[A-Za-z]:")

# Everything py7zr and the decompressors beneath it raise for bad input. Caught as a
# group so a damaged download becomes one line instead of a traceback.
_CORRUPTION_ERRORS: tuple[type[BaseException], ...] = (
    py7zr.exceptions.ArchiveError,
    py7zr.exceptions.PasswordRequired,
    py7zr.exceptions.AbsolutePathError,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    struct.error,
    MemoryError,
    NotImplementedError,
)


class ArchiveError(SidflowError, RuntimeError):
    """An archive that was not (fully) extracted; one line naming the archive and why."""


@dataclass
class ExtractResult:
    files: int
    bytes: int
    seconds: float
    members: list[str] = field(default_factory=list)


def check_member_name(name: str) -> str | None:
    """Why ``name`` must not be extracted, or ``None`` when it is a plain relative path.

    py7zr already turns ``\\`` into ``/`` when reading, so a Windows-style ``..\\x``
    arrives here as ``../x``; a backslash that survives is rejected too, because on
    Windows it would be a separator again.
    """
    if not name:
        return "empty member name"
    if "\x00" in name:
        return "NUL byte in member name"
    if "\\" in name:
        return "backslash in member name"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE_RE.match(name):
        return "drive-letter path"
    if ":" in name:
        return "colon in member name (drive letter or alternate data stream)"
    if ".." in name.split("/"):
        return "'..' path component"
    return None


def _member_type_problem(member: py7zr.py7zr.ArchiveFile) -> str | None:
    if member.is_symlink:
        return "symbolic link"
    if member.is_junction:
        return "junction / reparse point"
    if member.is_socket:
        return "socket"
    fmt = member.st_fmt
    if fmt is not None and fmt not in (stat.S_IFREG, stat.S_IFDIR):
        return f"special file (mode {fmt:o})"
    return None


def _reject(archive: Path, member: str, why: str) -> ArchiveError:
    return ArchiveError(f"{archive.name}: unsafe member {member!r}: {why}; nothing extracted")


def _clear_targets(root: Path, names: list[str], directories: set[str], archive: Path) -> None:
    """Make extraction into a populated tree safe.

    py7zr opens targets with ``wb``, which writes *through* whatever is there: through a
    hard link into another tree (the sync stages with hard links to the live release)
    or through a symlink to anywhere. Unlinking existing targets first makes every
    extracted file a new inode, and resolving each path catches symlinked folders that
    would carry a member outside ``root``.
    """
    root_real = os.path.realpath(root)
    prefix = root_real.rstrip(os.sep) + os.sep
    resolved: dict[str, str] = {}
    for name in names:
        target = os.path.join(root_real, *name.split("/"))
        parent = os.path.dirname(target)
        parent_real = resolved.get(parent)
        if parent_real is None:
            parent_real = resolved[parent] = os.path.realpath(parent)
        if parent_real != root_real and not parent_real.startswith(prefix):
            raise _reject(archive, name, f"would be written through a link to {parent_real}")
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            if name in directories:
                raise _reject(archive, name, "destination folder is a symbolic link")
            os.unlink(target)
        elif not stat.S_ISDIR(mode) and name not in directories:
            os.unlink(target)

def safe_extract(
    archive_path: Path,
    dest: Path,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> ExtractResult:
    """Check every member of ``archive_path``, then extract all of it into ``dest``.

    Rejected archives leave ``dest`` untouched. If extraction itself fails (corrupt
    data found mid-stream, disk full) ``dest`` may hold some files: the caller extracts
    into a staging folder it discards on error. Files already in ``dest`` at a member's
    path are replaced by new files, never written through (see :func:`_clear_targets`).
    """
    started = time.perf_counter()
    archive_path = Path(archive_path)
    dest = Path(dest)
    label = archive_path.name
    if not archive_path.is_file():
        raise ArchiveError(f"{label}: no such archive file ({archive_path})")
    try:
        with py7zr.SevenZipFile(archive_path, "r", max_extract_size=max_total_bytes) as archive:
            members = list(archive.files)
            if len(members) > max_members:
                raise ArchiveError(f"{label}: {len(members)} members exceeds the limit of {max_members}; nothing extracted")
            names: list[str] = []
            directories: set[str] = set()
            files = 0
            total = 0
            for member in members:
                name = member.filename
                why = check_member_name(name) or _member_type_problem(member)
                if why is not None:
                    raise _reject(archive_path, name, why)
                names.append(name)
                if member.is_directory:
                    directories.add(name)
                else:
                    files += 1
                    total += int(member.uncompressed or 0)
            if total > max_total_bytes:
                raise ArchiveError(
                    f"{label}: declares {total} uncompressed bytes, over the limit of {max_total_bytes}; nothing extracted"
                )
            packed = max(1, archive_path.stat().st_size)
            ratio = total / packed
            if total >= RATIO_CHECK_MIN_BYTES and ratio > max_ratio:
                raise ArchiveError(
                    f"{label}: compression ratio {ratio:.0f}:1 ({total} bytes from {packed}) exceeds "
                    f"{max_ratio:g}:1 (archive bomb guard); nothing extracted"
                )
            dest.mkdir(parents=True, exist_ok=True)
            if any(dest.iterdir()):
                _clear_targets(dest, names, directories, archive_path)
            archive.extractall(path=dest)
    except ArchiveError:
        raise
    except py7zr.exceptions.PasswordRequired:
        raise ArchiveError(f"{label}: archive is encrypted (password required)") from None
    except py7zr.exceptions.DecompressionBombError as exc:
        raise ArchiveError(f"{label}: {exc}; archive bomb guard") from None
    except _CORRUPTION_ERRORS as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ArchiveError(f"{label}: corrupt or not a 7z archive ({type(exc).__name__}: {detail})") from None
    except OSError as exc:
        if exc.errno is None:  # bz2/py7zr report bad streams as errno-less OSError
            raise ArchiveError(f"{label}: corrupt or not a 7z archive ({exc})") from None
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        raise ArchiveError(f"{label}: cannot extract into {dest}:{where} {exc.strerror or exc}") from None
    return ExtractResult(files=files, bytes=total, seconds=time.perf_counter() - started, members=names)
