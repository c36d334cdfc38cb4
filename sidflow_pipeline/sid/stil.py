"""HVSC ``DOCUMENTS/STIL.txt``: titles, artists and comments per file and subtune.

STIL is what turns ``Commando.sid #3`` into "Commando — High score (Rob Hubbard)" in
the radio and the rating tool, and tells a cover's original artist.

Layout, as HVSC ships it (Latin-1 text)::

    # header comments
    /MUSICIANS/H/Huelsbeck_Chris/Compilation_I.sid
    COMMENT: "Made in September and October 1988." (CH)
    (#1)
       NAME: Elladita
    COMMENT: Same as /MUSICIANS/H/Huelsbeck_Chris/Down_at_the_Trolls.sid, Tune #2
             except for 0:31-0:42 due to a fix in the echo routine.

* An entry starts with an HVSC path at column 0.
* Labels are right-aligned to 8 columns (``  TITLE:``); lines indented by 9 spaces
  continue the previous field (extra indentation beyond 9 spaces is kept).
* ``(#n)`` at column 0 opens subtune ``n``; fields before it belong to the whole file.
* A field may occur several times in a block (medleys list one TITLE/ARTIST pair per
  covered piece), so every field is a list, in file order.
* ``BUG:`` entries are stored with the comments (they are comments about the rip);
  the writer still writes them back as ``BUG:``.
* Directory entries (paths ending in ``/``) carry comments about a whole folder; they
  are kept under their path like file entries, so a caller can show them, and they
  never collide with a file path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "FIELDS",
    "StilBlock",
    "StilEntry",
    "StilError",
    "format_stil",
    "load_stil",
    "parse_stil",
    "stil_for_song",
]

# Field label → StilBlock attribute. BUG entries are comments about the rip.
FIELDS: dict[str, str] = {
    "TITLE": "title",
    "ARTIST": "artist",
    "NAME": "name",
    "AUTHOR": "author",
    "COMMENT": "comment",
    "BUG": "comment",
}
_LABEL_RE = re.compile(r"^\s*(TITLE|ARTIST|NAME|AUTHOR|COMMENT|BUG):\s?(.*)$")
_SUBTUNE_RE = re.compile(r"^\(#(\d+)\)\s*$")
_CONTINUATION_INDENT = " " * 9
_DEFAULT_ORDER = (("TITLE", "title"), ("ARTIST", "artist"), ("NAME", "name"), ("AUTHOR", "author"), ("COMMENT", "comment"))


class StilError(SidflowError, ValueError):
    """An entry the writer cannot express in STIL so that it reads back the same."""


@dataclass
class StilBlock:
    """The fields of one file or subtune; every field may occur several times (medleys).

    A multi-line value keeps its line breaks (``"\\n"``), as written in the file.
    """

    title: list[str] = field(default_factory=list)
    artist: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    # (label, attribute, index) in file order, so the writer reproduces the layout
    # (a medley's TITLE/ARTIST pairs interleave). Not part of equality: two blocks with
    # the same values are the same information.
    order: list[tuple[str, str, int]] = field(default_factory=list, compare=False, repr=False)

    def add(self, label: str, text: str) -> None:
        """Append a field by its STIL label (``TITLE``, ``BUG``, ...), remembering order."""
        attr = FIELDS[label]
        values: list[str] = getattr(self, attr)
        values.append(text)
        self.order.append((label, attr, len(values) - 1))

    def extend_last(self, text: str) -> None:
        """Continue the most recent field on a new line (STIL continuation lines)."""
        if not self.order:
            return  # a continuation with nothing to continue: ignore rather than guess
        _label, attr, index = self.order[-1]
        values: list[str] = getattr(self, attr)
        values[index] = f"{values[index]}\n{text}"

    def is_empty(self) -> bool:
        return not any((self.title, self.artist, self.name, self.author, self.comment))

    def labelled_values(self) -> list[tuple[str, str]]:
        """``(label, value)`` in file order; blocks built by hand get TITLE..COMMENT order.

        Values added by assigning to the lists directly (not via :meth:`add`) are still
        written: anything ``order`` does not cover follows in the default order.
        """
        seen: set[tuple[str, int]] = set()
        out: list[tuple[str, str]] = []
        for label, attr, index in self.order:
            values: list[str] = getattr(self, attr)
            if index < len(values) and (attr, index) not in seen:
                seen.add((attr, index))
                out.append((label, values[index]))
        for label, attr in _DEFAULT_ORDER:
            for index, value in enumerate(getattr(self, attr)):
                if (attr, index) not in seen:
                    out.append((label, value))
        return out


@dataclass
class StilEntry:
    """Everything STIL says about one path: file-level fields and per-subtune blocks."""

    path: str
    file_block: StilBlock = field(default_factory=StilBlock)
    subtunes: dict[int, StilBlock] = field(default_factory=dict)


def parse_stil(text: str) -> dict[str, StilEntry]:
    """Parse STIL text into entries keyed by HVSC path (``/MUSICIANS/...``).

    The parser is lenient: lines it cannot place (text before the first entry, a
    continuation with no field to continue) are skipped, because STIL is hand-edited
    prose and one odd line must not cost the whole collection its titles.
    """
    entries: dict[str, StilEntry] = {}
    entry: StilEntry | None = None
    block: StilBlock | None = None
    for raw in text.split("\n"):
        line = raw.rstrip("\r").rstrip()
        if not line.strip():
            continue
        if line.startswith("/"):
            entry = entries.setdefault(line, StilEntry(path=line))
            block = entry.file_block
            continue
        if entry is None or block is None or line.startswith("#"):
            continue  # header comments, and '#' section rulers between entries
        subtune = _SUBTUNE_RE.match(line)
        if subtune:
            block = entry.subtunes.setdefault(int(subtune.group(1)), StilBlock())
            continue
        labelled = _LABEL_RE.match(line)
        if labelled and not line.startswith(_CONTINUATION_INDENT):
            block.add(labelled.group(1), labelled.group(2).strip())
        elif line.startswith(_CONTINUATION_INDENT):
            block.extend_last(line[len(_CONTINUATION_INDENT) :])
        else:
            block.extend_last(line.strip())
    return entries


def load_stil(path: Path | str) -> dict[str, StilEntry]:
    """Read ``STIL.txt`` (Latin-1, CRLF tolerated)."""
    return parse_stil(Path(path).read_bytes().decode("latin-1"))


def stil_for_song(entry: StilEntry | None, song_index: int) -> dict[str, str]:
    """Flattened text for one song: the file's fields, then its subtune's.

    The catalog stores one string per field, so several titles/artists (medleys) are
    joined with `` / `` and comments with newlines. Keys are present only when STIL
    has something to say, so an empty dict means "no STIL text".
    """
    out: dict[str, str] = {}
    if entry is None:
        return out
    blocks = [entry.file_block]
    if song_index in entry.subtunes:
        blocks.append(entry.subtunes[song_index])
    for attr in ("title", "artist", "name", "author", "comment"):
        values = [v for b in blocks for v in getattr(b, attr)]
        if values:
            out[attr] = ("\n" if attr == "comment" else " / ").join(values)
    return out


def _check_value(path: str, label: str, value: str) -> None:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise StilError(f"{path} {label}: {value!r} has characters outside Latin-1 (STIL.txt's encoding)") from None
    first, *rest = value.split("\n")
    if first != first.strip():
        raise StilError(f"{path} {label}: first line {first!r} has leading/trailing whitespace")
    for more in rest:
        if not more.strip():
            raise StilError(f"{path} {label}: empty line inside the value (STIL cannot hold one)")
        if more != more.rstrip() or "\r" in more:
            raise StilError(f"{path} {label}: line {more!r} has trailing whitespace")


def _format_block(path: str, block: StilBlock) -> list[str]:
    lines: list[str] = []
    for label, value in block.labelled_values():
        _check_value(path, label, value)
        first, *rest = value.split("\n")
        lines.append(f"{label + ':':>8} {first}".rstrip())
        lines.extend(f"{_CONTINUATION_INDENT}{more}" for more in rest)
    return lines


def format_stil(entries: Iterable[StilEntry]) -> str:
    """Write entries in STIL layout, sorted by path, subtunes in number order.

    ``parse_stil(format_stil(xs))`` gives back ``xs`` (keyed by path); values that
    could not survive that trip (an empty line inside a comment, stray whitespace, a
    path that is not an HVSC path) raise :class:`StilError` instead of being altered.
    """
    chunks: list[str] = []
    for entry in sorted(entries, key=lambda e: e.path):
        if not entry.path.startswith("/") or entry.path != entry.path.strip() or "\n" in entry.path:
            raise StilError(f"STIL path {entry.path!r} must start with '/' and be one line without outer spaces")
        _check_value(entry.path, "path", entry.path)
        lines = [entry.path, *_format_block(entry.path, entry.file_block)]
        for number in sorted(entry.subtunes):
            if number < 1:
                raise StilError(f"{entry.path}: subtune number {number} must be >= 1")
            lines.append(f"(#{number})")
            lines.extend(_format_block(entry.path, entry.subtunes[number]))
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + ("\n" if chunks else "")
