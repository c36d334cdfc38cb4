"""The radio's queue: recommendations joined with what a player needs to play them.

Song lengths come from the catalog (HVSC's Songlengths.md5); the database's
``duration`` is the analysed excerpt, not the song. A song without a known length
plays for ``defaultSongSeconds``, as the renderer assumes.

Exports are deterministic for a given seed and data: no timestamps, items in queue
order, paths as the user's own player should open them (absolute paths to the SID
files; ``#EXTINF:<seconds>,<Composer> - <Title>`` as players read it, and the subtune
in a ``#SIDFLOW-SONG`` comment, since M3U has no standard subtune syntax).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "EXPORT_FORMATS",
    "PlaylistError",
    "QueueItem",
    "export_text",
    "load_lengths",
    "load_released",
    "m3u_lines",
    "make_queue",
    "read_playlist",
    "song_tags",
    "write_export",
]


class PlaylistError(SidflowError, ValueError):
    """A playlist file that cannot be read; one line for the user."""

EXPORT_FORMATS = ("json", "m3u", "m3u8")


@dataclass(frozen=True)
class QueueItem:
    key: str
    sid_path: str
    song_index: int
    title: str
    composer: str
    length_s: int
    file: str
    ratings: dict[str, float]
    score: float

    @property
    def label(self) -> str:
        return f"{self.title or '?'} — {self.composer or '?'}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueItem:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def load_lengths(catalog_path: Path) -> dict[tuple[str, int], int | None]:
    """``(sid_path, song) → length in ms`` from the catalog; empty when there is none."""
    if not catalog_path.is_file():
        return {}
    import polars as pl

    frame = pl.read_parquet(catalog_path, columns=["sid_path", "song_index", "length_ms"])
    return {(r["sid_path"], r["song_index"]): r["length_ms"] for r in frame.iter_rows(named=True)}


def make_queue(
    recommendations: Iterable[Any],
    lengths: Mapping[tuple[str, int], int | None],
    hvsc_root: Path,
    default_seconds: float,
) -> list[QueueItem]:
    items = []
    for r in recommendations:
        length_ms = lengths.get((r.sid_path, r.song_index))
        seconds = max(1, round(length_ms / 1000)) if length_ms else max(1, round(default_seconds))
        items.append(
            QueueItem(
                key=r.key,
                sid_path=r.sid_path,
                song_index=r.song_index,
                title=r.title,
                composer=r.composer,
                length_s=seconds,
                file=str((hvsc_root / r.sid_path).resolve()),
                ratings={d: round(float(getattr(r, d)), 2) for d in ("e", "m", "c", "p")},
                score=round(float(r.score), 4),
            )
        )
    return items


def export_text(items: Sequence[QueueItem], fmt: str, query: Mapping[str, Any]) -> str:
    if fmt == "json":
        payload = {"version": 1, "query": dict(sorted(query.items())), "songs": [i.to_json() for i in items]}
        return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt in ("m3u", "m3u8"):
        entries = ((i.length_s, i.composer, i.title, i.song_index, i.file) for i in items)
        return "\n".join(m3u_lines(entries)) + "\n"
    raise ValueError(f"unknown export format {fmt!r} (use one of {', '.join(EXPORT_FORMATS)})")


def m3u_lines(entries: Iterable[tuple[int | None, str, str, int, str]], playlist: str = "SIDFlow radio") -> list[str]:
    """Extended M3U for ``(seconds, composer, title, song, file)`` entries.

    ``#EXTINF:<seconds>,<Composer> - <Title>`` is what players split into artist and
    title; the subtune has no standard place, so it travels in ``#SIDFLOW-SONG``
    (other players open the file at its default song). An unknown length is ``-1``,
    as the format says.
    """
    lines = ["#EXTM3U", f"#PLAYLIST:{playlist}"]
    for seconds, composer, title, song, file in entries:
        label = f"{' '.join((composer or '?').split())} - {' '.join((title or '?').split())}"
        lines.append(f"#EXTINF:{seconds if seconds else -1},{label}")
        lines.append(f"#SIDFLOW-SONG:{song}")
        lines.append(file)
    return lines


def song_tags(item: QueueItem, released: str | None) -> dict[str, str]:
    """The tags an exported audio file carries, so any player names the song.

    ARTIST/TITLE as the radio shows them, DATE the year of ``released`` (HVSC's
    "1987 Firebird"), ALBUM the whole ``released`` text, TRACKNUMBER the song (subtune)
    number and COMMENT the collection path, which finds the SID file again.
    """
    import re

    year = re.search(r"(19|20)\d\d", released or "")
    sid_path = item.sid_path if item.sid_path.startswith("/") else "/" + item.sid_path
    tags = {
        "artist": item.composer,
        "title": item.title,
        "date": year.group(0) if year else "",
        "album": (released or "").strip(),
        "tracknumber": str(item.song_index),
        "comment": sid_path,
    }
    return {k: v for k, v in tags.items() if v}


def load_released(catalog_path: Path) -> dict[tuple[str, int], str | None]:
    """``(sid_path, song) → released`` from the catalog; empty when there is none."""
    if not catalog_path.is_file():
        return {}
    import pyarrow.parquet as pq

    table = pq.read_table(catalog_path, columns=["sid_path", "song_index", "released"])
    return dict(
        zip(
            zip(table["sid_path"].to_pylist(), table["song_index"].to_pylist(), strict=True),
            table["released"].to_pylist(),
            strict=True,
        )
    )


def write_export(path: Path, items: Sequence[QueueItem], fmt: str, query: Mapping[str, Any]) -> None:
    from sidflow_pipeline.atomic import atomic_write_bytes

    text = export_text(items, fmt, query)
    # Plain .m3u is traditionally Latin-1; .m3u8 and JSON are UTF-8.
    data = text.encode("latin-1", errors="replace") if fmt == "m3u" else text.encode("utf-8")
    atomic_write_bytes(path, data)


def _item_for_file(file: Path, song: int, seconds: int, title: str, hvsc_root: Path) -> QueueItem:
    try:
        sid_path = file.resolve().relative_to(hvsc_root.resolve()).as_posix()
    except ValueError:
        sid_path = str(file)
    if " — " in title:  # exports before issue 20 read "Title — Composer (song N)"
        name, _, composer = title.partition(" — ")
    else:  # "Composer - Title", as players read #EXTINF
        composer, _, name = title.partition(" - ") if " - " in title else ("", "", title)
    return QueueItem(f"{sid_path}#{song}", sid_path, song, name, composer, seconds, str(file), {}, 0.0)


def read_playlist(path: Path, hvsc_root: Path, default_seconds: float) -> list[QueueItem]:
    """Songs of a ``sidflow play --export`` file (JSON, M3U, M3U8) or any M3U of SID files.

    In a foreign M3U a file is song 1 unless a ``#SIDFLOW-SONG`` line says otherwise,
    and its length comes from ``#EXTINF`` (else ``defaultSongSeconds``).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlaylistError(f"{path}: cannot read ({exc.strerror})") from exc
    text = raw.decode("utf-8", errors="replace") if path.suffix.lower() != ".m3u" else raw.decode("latin-1")
    if text.lstrip().startswith("{"):
        try:
            return [QueueItem.from_json(song) for song in json.loads(text)["songs"]]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PlaylistError(f"{path}: not a sidflow playlist export ({exc})") from exc
    items: list[QueueItem] = []
    seconds, title, song = None, "", 1
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line in ("#EXTM3U",) or line.startswith("#PLAYLIST"):
            continue
        if line.startswith("#EXTINF:"):
            length, _, title = line[len("#EXTINF:") :].partition(",")
            try:
                seconds = max(1, round(float(length))) if float(length) > 0 else None
            except ValueError:
                raise PlaylistError(f"{path}:{number}: bad #EXTINF duration {length!r}") from None
            title = title.rsplit(" (song ", 1)[0].strip()
            continue
        if line.startswith("#SIDFLOW-SONG:"):
            try:
                song = int(line.split(":", 1)[1])
            except ValueError:
                raise PlaylistError(f"{path}:{number}: bad song number in {line!r}") from None
            continue
        if line.startswith("#"):
            continue
        file = Path(line) if Path(line).is_absolute() else (path.parent / line)
        items.append(_item_for_file(file, song, seconds or max(1, round(default_seconds)), title, hvsc_root))
        seconds, title, song = None, "", 1
    if not items:
        raise PlaylistError(f"{path}: no songs in this playlist")
    return items
