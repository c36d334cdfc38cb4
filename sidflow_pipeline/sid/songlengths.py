"""HVSC ``DOCUMENTS/Songlengths.md5``: per-subtune play lengths keyed by file md5.

HVSC keys lengths by the md5 of the whole file, not by path, so a renamed tune keeps
its length and a fixed rip (new bytes) gets a new one. The renderer needs the length
to choose an analysis window and the radio needs it to know when a song ends.

The format, as HVSC ships it::

    [Database]
    ; /MUSICIANS/C/C0zmo/Blissed_Out.sid
    71fec45b1b10680c28914d41c2d0fc05=3:09 3:09.500

The ``; /path`` comment is informational for HVSC but useful for us (it lets a report
name the file behind an md5), so it is kept on the entry. Databases from before HVSC
#68 appended attributes such as ``(G)`` or ``(M)`` to a length; they are accepted and
dropped, because nothing downstream uses them.

:func:`format_songlengths` writes the same format so the demo-collection generator
produces a database that real HVSC tools (and sidplayfp) also read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "SonglengthEntry",
    "SonglengthsError",
    "format_length",
    "format_songlengths",
    "load_songlengths",
    "parse_length",
    "parse_songlengths",
    "parse_songlengths_report",
]

_MD5_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_ENTRY_RE = re.compile(r"^([0-9a-fA-F]{32})\s*=\s*(.*)$")
# m:ss, m:ss.s to m:ss.mmm; old databases append attributes such as (G) or (M).
_LENGTH_RE = re.compile(r"^(\d+):([0-5]?\d)(?:\.(\d{1,3}))?(?:\([A-Za-z]+\))*$")


class SonglengthsError(SidflowError, ValueError):
    """A malformed Songlengths line (the message names the line number), or an entry
    the writer refuses because it could not be read back."""


@dataclass(frozen=True)
class SonglengthEntry:
    """One database line: the lengths of every subtune of one file, in song order.

    ``path`` is the HVSC path from the preceding ``;`` comment, or ``None`` when the
    line had none; lookups must go by ``md5`` because that is what HVSC guarantees.
    """

    md5: str
    path: str | None
    lengths_ms: tuple[int, ...]


def parse_length(text: str) -> int:
    """``3:21.5`` → 201500 ms; raise ValueError for anything else.

    A fraction is a decimal fraction of a second (``.5`` is 500 ms), which is how
    HVSC writes it; trailing attributes like ``(G)`` are ignored.
    """
    match = _LENGTH_RE.match(text.strip())
    if not match:
        raise ValueError(f"bad song length {text!r} (expected m:ss or m:ss.mmm)")
    minutes, seconds, fraction = match.groups()
    millis = int((fraction or "0").ljust(3, "0"))
    return (int(minutes) * 60 + int(seconds)) * 1000 + millis


def format_length(ms: int) -> str:
    """Inverse of :func:`parse_length`: ``m:ss``, with ``.mmm`` only when non-zero.

    Writing the fraction only when needed is what HVSC does, so a generated database
    diffs cleanly against a real one.
    """
    if ms < 0:
        raise ValueError(f"song length {ms} ms is negative")
    minutes, rest = divmod(int(ms), 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{minutes}:{seconds:02d}" + (f".{millis:03d}" if millis else "")


def parse_songlengths(text: str, *, strict: bool = True) -> dict[str, SonglengthEntry]:
    """Parse the database text, keyed by lowercase md5.

    ``strict=False`` skips malformed lines (a hand-edited or truncated database should
    not stop a whole catalog build); use :func:`parse_songlengths_report` when the
    number skipped matters. When an md5 occurs twice the later line wins, as in
    sidplayfp.
    """
    entries, _bad = parse_songlengths_report(text, strict=strict)
    return entries


def parse_songlengths_report(text: str, *, strict: bool = True) -> tuple[dict[str, SonglengthEntry], int]:
    """Like :func:`parse_songlengths`, also returning how many lines were skipped."""
    entries: dict[str, SonglengthEntry] = {}
    path: str | None = None
    bad = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("["):
            continue
        if line.startswith(";"):
            comment = line[1:].strip()
            path = comment if comment.startswith("/") else path
            continue
        match = _ENTRY_RE.match(line)
        try:
            if not match:
                raise ValueError(f"expected '<md5>=<m:ss> ...', got {line[:60]!r}")
            lengths = tuple(parse_length(part) for part in match.group(2).split())
            if not lengths:
                raise ValueError("no song lengths after '='")
        except ValueError as exc:
            if strict:
                raise SonglengthsError(f"Songlengths line {number}: {exc}") from None
            bad += 1
            path = None
            continue
        md5 = match.group(1).lower()
        entries[md5] = SonglengthEntry(md5=md5, path=path, lengths_ms=lengths)
        path = None
    return entries, bad


def load_songlengths(path: Path | str, *, strict: bool = False) -> dict[str, SonglengthEntry]:
    """Read a database file (Latin-1, CRLF tolerated).

    Lenient by default: a real HVSC database is input we do not control, and one bad
    line should cost one file its length, not the whole collection its catalog.
    """
    text = Path(path).read_bytes().decode("latin-1")
    return parse_songlengths(text, strict=strict)


def format_songlengths(entries: Iterable[tuple[str, str, Sequence[int]]]) -> str:
    """Write ``(hvsc_path, md5, lengths_ms)`` entries in HVSC's format, sorted by path.

    Sorted output makes the generated file byte-identical for the same input, so its
    checksum can go in a manifest. Entries that would not read back the same (bad md5,
    no lengths, negative lengths) raise :class:`SonglengthsError` here rather than
    producing a database our own parser rejects.
    """
    lines = ["[Database]"]
    normalised = [(path if path.startswith("/") else "/" + path, md5, lengths) for path, md5, lengths in entries]
    for hvsc_path, md5, lengths in sorted(normalised, key=lambda e: e[0]):
        if not _MD5_RE.match(md5):
            raise SonglengthsError(f"{hvsc_path}: md5 {md5!r} is not 32 hex digits")
        if not lengths:
            raise SonglengthsError(f"{hvsc_path}: no song lengths")
        lines.append(f"; {hvsc_path}")
        lines.append(f"{md5.lower()}=" + " ".join(format_length(ms) for ms in lengths))
    return "\n".join(lines) + "\n"
