"""The song catalog: one row per song (file × subtune) of an HVSC tree.

Everything after the catalog — rendering, features, ratings, the radio — is keyed by
``(sid_path, song_index)``, so this is where header fields, song lengths (by md5, as
HVSC keys them) and STIL text are joined once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sidflow_pipeline.catalog.join import SongDocs, hvsc_documents, join_songs
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.sections import partition_of
from sidflow_pipeline.sid.header import SidFormatError, read_sid
from sidflow_pipeline.sid.paths import is_utf8_name, readable_name
from sidflow_pipeline.sid.songlengths import SonglengthEntry, load_songlengths
from sidflow_pipeline.sid.stil import StilEntry, load_stil

__all__ = [
    "CATALOG_SCHEMA",
    "CatalogResult",
    "HvscTreeMissingError",
    "build_catalog",
    "iter_sid_files",
    "section_of",
    "update_catalog",
    "write_catalog",
]

CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "sid_path": pl.String(),
    "song_index": pl.Int32(),
    "songs": pl.Int32(),
    "start_song": pl.Int32(),
    "section": pl.String(),
    "partition": pl.String(),
    "md5": pl.String(),
    "file_size": pl.Int64(),
    "magic": pl.String(),
    "version": pl.Int32(),
    "name": pl.String(),
    "author": pl.String(),
    "released": pl.String(),
    "load_address": pl.Int32(),
    "init_address": pl.Int32(),
    "play_address": pl.Int32(),
    "speed": pl.String(),
    "clock": pl.String(),
    "sid_model": pl.String(),
    "second_sid_model": pl.String(),
    "third_sid_model": pl.String(),
    "second_sid_base": pl.Int32(),
    "third_sid_base": pl.Int32(),
    "sid_count": pl.Int32(),
    "mus_player": pl.Boolean(),
    "psid_specific": pl.Boolean(),
    "c64_basic": pl.Boolean(),
    "length_ms": pl.Int64(),
    "stil_title": pl.String(),
    "stil_artist": pl.String(),
    "stil_name": pl.String(),
    "stil_author": pl.String(),
    "stil_comment": pl.String(),
}


@dataclass
class CatalogResult:
    """The catalog frame plus what a user needs to trust it (skipped files, stats)."""

    frame: pl.DataFrame
    files: int
    errors: list[tuple[str, str]] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        """Counts by section, format, chip and clock — the asset's metadata."""
        frame = self.frame
        files = frame.unique("sid_path", keep="first", maintain_order=True)

        def counts(df: pl.DataFrame, column: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in sorted(Counter(df[column].to_list()).items(), key=lambda kv: str(kv[0]))}

        return {
            "files": self.files,
            "songs": frame.height,
            "songs_by_section": counts(frame, "section"),
            "files_by_format": counts(files, "magic"),
            "files_by_sid_model": counts(files, "sid_model"),
            "files_by_clock": counts(files, "clock"),
            "multi_sid_files": int((files["sid_count"] > 1).sum()) if files.height else 0,
            "songs_without_length": int(frame["length_ms"].null_count()),
            "unreadable_files": len(self.errors),
        }


def section_of(sid_path: str) -> str:
    """Top-level HVSC section (MUSICIANS, GAMES, DEMOS) or ``OTHER``."""
    top = sid_path.split("/", 1)[0].upper()
    return top if top in {"MUSICIANS", "GAMES", "DEMOS"} else "OTHER"


def iter_sid_files(root: Path) -> Iterator[Path]:
    """Every ``*.sid`` under ``root`` in a stable, case-sensitive path order."""
    paths = [p for p in root.rglob("*") if p.suffix.lower() == ".sid" and p.is_file()]
    yield from sorted(paths, key=lambda p: p.relative_to(root).as_posix())


def _song_rows(
    rel: str,
    data_md5: str,
    size: int,
    header: dict[str, Any],
    songs: int,
    docs: list[SongDocs],
    speed_of: Any,
) -> Iterator[dict[str, Any]]:
    for song in docs:
        index, length, text = song.song_index, song.length_ms, song.stil
        yield {
            "sid_path": rel,
            "song_index": index,
            "songs": songs,
            "start_song": header["start_song"],
            "section": section_of(rel),
            "partition": partition_of(rel),
            "md5": data_md5,
            "file_size": size,
            "magic": header["magic"],
            "version": header["version"],
            "name": header["name"],
            "author": header["author"],
            "released": header["released"],
            "load_address": header["load_address"],
            "init_address": header["init_address"],
            "play_address": header["play_address"],
            "speed": speed_of(index),
            "clock": header["clock"],
            "sid_model": header["sid_model"],
            "second_sid_model": header["second_sid_model"],
            "third_sid_model": header["third_sid_model"],
            "second_sid_base": header["second_sid_base"],
            "third_sid_base": header["third_sid_base"],
            "sid_count": header["sid_count"],
            "mus_player": header["mus_player"],
            "psid_specific": header["psid_specific"],
            "c64_basic": header["c64_basic"],
            "length_ms": length,
            "stil_title": text.get("title") or None,
            "stil_artist": text.get("artist") or None,
            "stil_name": text.get("name") or None,
            "stil_author": text.get("author") or None,
            "stil_comment": text.get("comment") or None,
        }


def build_catalog(
    root: Path,
    *,
    songlengths: dict[str, SonglengthEntry] | None = None,
    stil: dict[str, StilEntry] | None = None,
    files: Iterable[Path] | None = None,
    progress: Any = None,
) -> CatalogResult:
    """Scan an HVSC ``C64Music`` tree into the catalog.

    Song lengths and STIL default to the tree's own ``DOCUMENTS``; a file that does not
    parse is listed in ``errors`` with the reason and left out, so one corrupt tune never
    hides the other 60,000.
    """
    tree_lengths, tree_stil = hvsc_documents(root)
    if songlengths is None:
        songlengths = load_songlengths(tree_lengths) if tree_lengths is not None else {}
    if stil is None:
        stil = load_stil(tree_stil) if tree_stil is not None else {}
    rows: list[dict[str, Any]] = []
    errors: list[tuple[str, str]] = []
    count = 0
    for path in files if files is not None else iter_sid_files(root):
        rel = path.relative_to(root).as_posix()
        count += 1
        if not is_utf8_name(rel):
            # One file named in another encoding must not fail the catalog (Parquet
            # strings are UTF-8): that tune is reported, with its bytes escaped.
            errors.append((readable_name(rel), "file name is not valid UTF-8; rename the file"))
            if progress is not None:
                progress()
            continue
        try:
            sid = read_sid(path)
        except SidFormatError as exc:
            errors.append((rel, str(exc).removeprefix(f"{path}: ")))
            continue
        finally:
            if progress is not None:
                progress()
        header = sid.header.to_dict()
        rows.extend(
            _song_rows(
                rel,
                sid.md5,
                sid.size,
                header,
                sid.header.songs,
                join_songs(sid.md5, rel, sid.header.songs, songlengths, stil),
                sid.header.song_speed,
            )
        )
    frame = pl.DataFrame(rows, schema=CATALOG_SCHEMA, orient="row") if rows else pl.DataFrame(schema=CATALOG_SCHEMA)
    return CatalogResult(frame=frame, files=count, errors=errors)


def write_catalog(frame: pl.DataFrame, path: Path) -> str:
    """Write Parquet atomically and return its sha256 (recorded as asset metadata)."""
    import io

    from sidflow_pipeline.atomic import atomic_write_bytes

    # Through the one atomic writer (a unique temp name, fsync, the umask's mode, a
    # full disk reported in one line with the previous catalog intact).
    buffer = io.BytesIO()
    frame.write_parquet(buffer, statistics=False, compression="zstd")
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


class HvscTreeMissingError(SidflowError):
    """No collection to catalog: the tree was never synced or ``hvscPath`` is wrong."""


def update_catalog(hvsc_root: Path, path: Path) -> tuple[CatalogResult, str]:
    """Catalog the tree at ``hvsc_root`` and write it to ``path``: what `sid_catalog`
    materializes. Returns the result (with the files it could not read) and the sha256."""
    if not hvsc_root.is_dir():
        raise HvscTreeMissingError(
            f"HVSC tree not found at {hvsc_root}: materialize hvsc_mirror or set hvscPath in .sidflow.json"
        )
    result = build_catalog(hvsc_root)
    return result, write_catalog(result.frame, path)
