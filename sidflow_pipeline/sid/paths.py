"""One way to name a song, for every command that takes one.

A song is named by its SID file and an optional song (subtune) number:

* an absolute or cwd-relative file path: ``./Commando.sid``, ``/data/C64Music/MUSICIANS/H/Hubbard_Rob/Commando.sid``;
* a collection path as HVSC writes it (Songlengths, STIL, the catalog):
  ``/MUSICIANS/H/Hubbard_Rob/Commando.sid``, or the same without the leading slash;
* followed by ``#N`` for song N (``:N`` is kept where commands accepted it before).

Why one function: before, some commands wanted a collection path, some a file, one
accepted ``#N``, and a song that did not exist was taken and only failed later (a
feedback line for nothing, a recommendation seed that matched nothing). Here a name
that is no song is refused at once, with the nearest collection paths (difflib), so a
typo costs one line and not a run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "SongPathError",
    "SongRef",
    "collection_paths",
    "is_utf8_name",
    "readable_name",
    "resolve_song",
    "split_song_number",
]


class SongPathError(SidflowError, ValueError):
    """A song name that names no song; the one-line message says what would."""


@dataclass(frozen=True)
class SongRef:
    """A resolved song: the file on disk, its collection path (``None`` when the file is
    outside the collection) and the song number given (``None``: not given)."""

    file: Path
    sid_path: str | None
    song: int | None

    def song_or(self, default: int) -> int:
        return self.song if self.song is not None else default

    @property
    def label(self) -> str:
        name = self.sid_path if self.sid_path is not None else str(self.file)
        return f"{name}#{self.song}" if self.song is not None else name


def split_song_number(text: str, *, colon: bool = True) -> tuple[str, int | None]:
    """``'X.sid#3'`` → ``('X.sid', 3)``; ``:3`` too when ``colon``; no suffix → ``None``.

    Only a suffix of digits after the last ``#`` (or ``:``) counts, so a file name with
    a ``#`` elsewhere stays whole. ``#0`` and ``#x`` are refused: song numbers start at 1.
    """
    for mark in ("#", ":") if colon else ("#",):
        head, sep, tail = text.rpartition(mark)
        if not sep or not head:
            continue
        if tail.isdigit():
            if int(tail) < 1:
                raise SongPathError(f"{text!r}: song numbers start at 1")
            return head, int(tail)
        if mark == "#" and head.lower().endswith(".sid"):
            raise SongPathError(f"{text!r}: expected a song number after '#', e.g. {head}#2")
    return text, None


def collection_paths(hvsc_root: Path, catalog: Path | None = None) -> list[str]:
    """Every tune's collection path (no leading slash): from the catalog when it is
    there (one column read), else by walking the collection. Only used on the error
    path, to suggest names, and to accept a catalogued song whose file is not on disk."""
    if catalog is not None and catalog.is_file():
        try:
            import pyarrow.parquet as pq

            column = pq.read_table(catalog, columns=["sid_path"]).column("sid_path").to_pylist()
            return sorted({str(p).lstrip("/") for p in column if p})
        except Exception:  # a damaged catalog only loses the suggestions' source
            pass
    found: list[str] = []
    if hvsc_root.is_dir():
        for folder, dirs, files in os.walk(hvsc_root):
            dirs.sort()
            rel = Path(folder).relative_to(hvsc_root)
            found.extend((rel / name).as_posix() for name in files if name.lower().endswith(".sid"))
    return sorted(found)


def _nearest(name: str, paths: Iterable[str], n: int = 3) -> list[str]:
    import difflib

    pool = list(paths)
    wanted = name.strip().lstrip("/")
    close = difflib.get_close_matches(wanted, pool, n=n, cutoff=0.5)
    if len(close) < n:  # a right file name in the wrong folder: match on the base name too
        base = Path(wanted).name.lower()
        by_name = {Path(p).name.lower(): p for p in pool}
        for hit in difflib.get_close_matches(base, list(by_name), n=n, cutoff=0.6):
            if by_name[hit] not in close:
                close.append(by_name[hit])
    return close[:n]


def _inside(file: Path, hvsc_root: Path) -> str | None:
    try:
        return file.resolve().relative_to(hvsc_root.resolve()).as_posix()
    except ValueError:
        return None


def resolve_song(
    text: str,
    hvsc_root: Path,
    *,
    catalog: Path | None = None,
    cwd: Path | None = None,
    colon: bool = True,
    known: Callable[[], list[str]] | None = None,
) -> SongRef:
    """The song ``text`` names, or :class:`SongPathError` with the nearest matches.

    A file path (absolute, or relative to ``cwd``) wins over a collection path of the
    same spelling, as a shell user expects; a collection path is looked up under
    ``hvsc_root``, then in the catalog's paths (a song the database knows whose file
    is gone is still a song to name). ``known`` overrides where the paths come from.
    """
    raw = text.strip()
    if not raw:
        raise SongPathError("empty song name: give a SID file or a collection path like /MUSICIANS/H/Hubbard_Rob/Commando.sid")
    name, song = split_song_number(raw, colon=colon)
    given = Path(name).expanduser()
    candidate = given if given.is_absolute() else (cwd or Path.cwd()) / given
    if candidate.is_file():
        return SongRef(candidate, _inside(candidate, hvsc_root), song)
    if candidate.exists() and not candidate.is_dir():  # a FIFO or a device: reading it would hang or never end
        raise SongPathError(f"{name}: not a regular file")
    rel = name.lstrip("/")
    if rel and (hvsc_root / rel).is_file():
        return SongRef(hvsc_root / rel, rel, song)
    paths = known() if known is not None else collection_paths(hvsc_root, catalog)
    if rel in paths:
        return SongRef(hvsc_root / rel, rel, song)
    if given.exists():
        raise SongPathError(f"{name}: not a SID file")
    near = _nearest(rel, paths)
    hint = f"; nearest: {', '.join('/' + p for p in near)}" if near else f"; nothing like it in {hvsc_root}"
    raise SongPathError(f"no such song: {name}{hint}")


def readable_name(text: str) -> str:
    """A path as it can be shown: undecodable bytes of a file name as ``\\xNN``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def is_utf8_name(text: str) -> bool:
    """False for a file name with bytes that are not UTF-8 (Python keeps them as
    surrogates, which no JSON, Parquet or log line can hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
