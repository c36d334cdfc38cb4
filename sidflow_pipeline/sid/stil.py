"""HVSC ``DOCUMENTS/STIL.txt``: titles, artists and comments per file and subtune.

STIL is what turns ``Commando.sid #3`` into "Commando — High score (Rob Hubbard)" in
the radio and the rating tool, and tells a cover's original artist. Entries start
with an HVSC path line; labels are right-aligned (``  TITLE:``); continuation lines are
indented; ``(#n)`` opens a subtune block. Directory entries (paths ending in ``/``)
carry comments about a whole folder and are kept under their path too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FIELDS", "StilBlock", "StilEntry", "format_stil", "load_stil", "parse_stil", "stil_for_song"]

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


@dataclass
class StilBlock:
    """The fields of one file or subtune; every field may occur several times (medleys)."""

    title: list[str] = field(default_factory=list)
    artist: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    # (label, attribute, index) in file order, so the writer reproduces the layout.
    order: list[tuple[str, str, int]] = field(default_factory=list, compare=False, repr=False)

    def add(self, label: str, text: str) -> None:
        attr = FIELDS[label]
        values: list[str] = getattr(self, attr)
        values.append(text)
        self.order.append((label, attr, len(values) - 1))

    def extend_last(self, text: str) -> None:
        if not self.order:
            return
        _label, attr, index = self.order[-1]
        values: list[str] = getattr(self, attr)
        values[index] = f"{values[index]}\n{text}"

    def is_empty(self) -> bool:
        return not self.order


@dataclass
class StilEntry:
    path: str
    file_block: StilBlock = field(default_factory=StilBlock)
    subtunes: dict[int, StilBlock] = field(default_factory=dict)


def parse_stil(text: str) -> dict[str, StilEntry]:
    """Parse STIL text into entries keyed by HVSC path (``/MUSICIANS/...``)."""
    entries: dict[str, StilEntry] = {}
    entry: StilEntry | None = None
    block: StilBlock | None = None
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped:
            continue
        if line.startswith("/"):
            entry = entries.setdefault(stripped, StilEntry(path=stripped))
            block = entry.file_block
            continue
        if entry is None or stripped.startswith("#") and not line.startswith(" "):
            continue  # header comments before the first entry
        subtune = _SUBTUNE_RE.match(stripped)
        if subtune:
            block = entry.subtunes.setdefault(int(subtune.group(1)), StilBlock())
            continue
        labelled = _LABEL_RE.match(line)
        if labelled and block is not None and not line.startswith(_CONTINUATION_INDENT):
            block.add(labelled.group(1), labelled.group(2).strip())
        elif block is not None:
            block.extend_last(stripped)
    return entries


def load_stil(path: Path | str) -> dict[str, StilEntry]:
    """Read ``STIL.txt`` (Latin-1, CRLF tolerated)."""
    return parse_stil(Path(path).read_bytes().decode("latin-1"))


def stil_for_song(entry: StilEntry | None, song_index: int) -> dict[str, str]:
    """Flattened text for one song: the file's fields, then its subtune's.

    Several titles/artists (medleys) are joined with `` / ``, comments with newlines.
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


def _format_block(block: StilBlock) -> list[str]:
    lines: list[str] = []
    order = block.order or [
        (label, attr, i)
        for label, attr in (("TITLE", "title"), ("ARTIST", "artist"), ("NAME", "name"), ("AUTHOR", "author"), ("COMMENT", "comment"))
        for i in range(len(getattr(block, attr)))
    ]
    for label, attr, index in order:
        first, *rest = getattr(block, attr)[index].split("\n")
        lines.append(f"{label + ':':>8} {first}".rstrip())
        lines.extend(f"{_CONTINUATION_INDENT}{more}" for more in rest)
    return lines


def format_stil(entries: Iterable[StilEntry]) -> str:
    """Write entries in STIL layout, sorted by path, subtunes in number order."""
    chunks: list[str] = []
    for entry in sorted(entries, key=lambda e: e.path):
        lines = [entry.path, *_format_block(entry.file_block)]
        for number in sorted(entry.subtunes):
            lines.append(f"(#{number})")
            lines.extend(_format_block(entry.subtunes[number]))
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + ("\n" if chunks else "")
