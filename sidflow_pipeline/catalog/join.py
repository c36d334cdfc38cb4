"""The join of a SID file with HVSC's documents: song lengths (by md5) and STIL (by path).

The catalog does it for every file of the tree and ``sidflow info`` for one file; both
call this, so a song has the same length and STIL text wherever it is shown. Kept
apart from :mod:`sidflow_pipeline.catalog.catalog` because ``info`` must start fast
and the catalog's frame needs polars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sidflow_pipeline.sid.songlengths import SonglengthEntry
from sidflow_pipeline.sid.stil import StilEntry, stil_for_song

__all__ = ["SongDocs", "hvsc_documents", "join_songs"]


@dataclass(frozen=True)
class SongDocs:
    """What HVSC's documents say about one song: its length and its STIL text (the keys
    STIL has something to say for, multi-line values kept whole)."""

    song_index: int
    length_ms: int | None
    stil: dict[str, str]


def hvsc_documents(root: Path) -> tuple[Path | None, Path | None]:
    """The tree's own ``DOCUMENTS/Songlengths.md5`` and ``DOCUMENTS/STIL.txt``, each when present."""
    docs = root / "DOCUMENTS"
    songlengths, stil = docs / "Songlengths.md5", docs / "STIL.txt"
    return (songlengths if songlengths.is_file() else None), (stil if stil.is_file() else None)


def join_songs(
    md5: str,
    sid_path: str | None,
    songs: int,
    songlengths: Mapping[str, SonglengthEntry],
    stil: Mapping[str, StilEntry],
) -> list[SongDocs]:
    """Every song of the file (1 … ``songs``) with its length and STIL text.

    Lengths go by the file's ``md5`` (what HVSC guarantees), STIL by its collection path
    ``sid_path`` (no STIL for a file outside a collection: ``None``). A song the
    database has no length for has ``None``, never a guess.
    """
    lengths = songlengths.get(md5)
    entry = stil.get("/" + sid_path.lstrip("/")) if sid_path is not None else None
    out = []
    for index in range(1, songs + 1):
        length = None
        if lengths is not None and index <= len(lengths.lengths_ms):
            length = lengths.lengths_ms[index - 1]
        out.append(SongDocs(index, length, stil_for_song(entry, index)))
    return out
