"""`sidflow info`: every header field of a SID file, its song lengths and STIL text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, fail, pass_ctx, resolve_song_arg, user_errors
from sidflow_pipeline.cli.output import format_option

__all__ = ["info"]


def _find_hvsc_root(path: Path) -> Path | None:
    """The enclosing ``C64Music``-like folder (one with ``DOCUMENTS/``), if any."""
    for parent in path.resolve().parents:
        if (parent / "DOCUMENTS").is_dir():
            return parent
    return None


@click.command("info")
@click.argument("song_name", metavar="SONG")
@click.option(
    "--songlengths",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Songlengths.md5 (default: DOCUMENTS/ of the enclosing HVSC tree).",
)
@click.option(
    "--stil",
    "stil_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="STIL.txt (default: DOCUMENTS/ of the enclosing HVSC tree).",
)
@format_option()
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
@pass_ctx
@user_errors
def info(ctx: Context, song_name: str, songlengths: Path | None, stil_path: Path | None, fmt: str, as_json: bool) -> None:
    """Show every header field of a SID file, its song lengths and STIL text (kept whole).

    SONG is a file, or a collection path as HVSC writes it (/MUSICIANS/H/Hubbard_Rob/Commando.sid);
    #N shows song N only.
    """
    from sidflow_pipeline.catalog.join import hvsc_documents, join_songs
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline.sid.paths import split_song_number
    from sidflow_pipeline.sid.songlengths import load_songlengths
    from sidflow_pipeline.sid.stil import load_stil

    name, only_song = split_song_number(song_name)
    given = Path(name).expanduser()
    if given.exists() and not given.is_dir() and not given.is_file():
        fail(f"{name}: not a regular file")  # a FIFO or a device would hang or never end
    if given.is_file():  # a file needs no config: info stays fast and works anywhere
        sid_file = given
    else:
        ref = resolve_song_arg(ctx, song_name, in_collection=False)
        sid_file, only_song = ref.file, ref.song

    for supplied in (songlengths, stil_path):  # a FIFO or a device would hang or never end
        if supplied is not None and not supplied.is_file():
            fail(f"{supplied}: not a regular file")
    sid = read_sid(sid_file)
    root = _find_hvsc_root(sid_file)
    if root is not None:
        tree_lengths, tree_stil = hvsc_documents(root)
        songlengths = songlengths or tree_lengths
        stil_path = stil_path or tree_stil
    hvsc_path = "/" + sid_file.resolve().relative_to(root).as_posix() if root else None
    # The catalog's own join (lengths by md5, STIL by collection path), for this one file.
    docs = join_songs(
        sid.md5,
        hvsc_path,
        sid.header.songs,
        load_songlengths(songlengths) if songlengths else {},
        load_stil(stil_path) if stil_path and hvsc_path else {},
    )
    songs = [
        {"song_index": d.song_index, "length_ms": d.length_ms, "speed": sid.header.song_speed(d.song_index), "stil": d.stil}
        for d in docs
    ]
    if only_song is not None:
        if not 1 <= only_song <= sid.header.songs:
            fail(f"{song_name}: song {only_song} out of range 1–{sid.header.songs}")
        songs = [songs[only_song - 1]]
    header = sid.header.to_dict()
    report = {
        "file": str(sid_file),
        "hvsc_path": hvsc_path,
        "md5": sid.md5,
        "size": sid.size,
        "effective_load_address": sid.load_address,
        "load_end": sid.load_end,
        "effective_init_address": sid.init_address,
        "header": header,
        "songs": songs,
    }
    _print_info(report, "json" if as_json else fmt, sid.header.start_song)


def _info_title(report: dict[str, Any], song: dict[str, Any]) -> str:
    stil = song["stil"]
    return stil.get("title") or stil.get("name") or report["header"]["name"] or Path(report["file"]).stem


def _print_info(report: dict[str, Any], fmt: str, start_song: int) -> None:
    """``info`` in the asked form; the table form prints STIL text whole, line breaks kept.

    STIL comments are prose over several lines (and full of ``[brackets]``, which rich
    would take for markup and drop), so they are printed as plain text below the
    tables instead of being squeezed into a cell.
    """
    import os

    from sidflow_pipeline.cli.output import Column, emit_json, emit_jsonl, print_lines, print_table
    from sidflow_pipeline.radio.queue import m3u_lines
    from sidflow_pipeline.sid.songlengths import format_length

    header = report["header"]
    file = os.path.abspath(report["file"])
    if fmt == "json":
        emit_json(report)
        return
    if fmt == "jsonl":
        emit_jsonl(
            {"file": file, "hvsc_path": report["hvsc_path"], "md5": report["md5"], "name": header["name"],
             "author": header["author"], "released": header["released"], **song}
            for song in report["songs"]
        )  # fmt: skip
        return
    if fmt == "m3u":
        entries = (
            (
                round(s["length_ms"] / 1000) if s["length_ms"] else None,
                header["author"] or "",
                _info_title(report, s),
                s["song_index"],
                file,
            )
            for s in report["songs"]
        )
        print_lines(m3u_lines(entries, Path(file).name))
        return
    if fmt == "paths":
        print_lines([file])
        return
    hexed = {"load_address", "init_address", "play_address", "speed", "flags", "second_sid_base", "third_sid_base"}
    rows = []
    for key, value in header.items():
        if key in hexed and isinstance(value, int):
            value = f"${value:04X}" if key != "speed" else f"0x{value:08X}"
        rows.append([key, "—" if value is None else str(value)])
    rows.append(["load range", f"${report['effective_load_address']:04X}–${report['load_end']:04X}"])
    if report["hvsc_path"]:
        rows.append(["hvsc path", report["hvsc_path"]])
    title = f"{Path(report['file']).name}  ({header['magic']} v{header['version']}, md5 {report['md5']})"
    print_table(title, [Column("field", min_width=8), Column("value", min_width=8)], rows)
    click.echo()
    songs = [
        [f"{s['song_index']}{' (start)' if s['song_index'] == start_song else ''}",
         format_length(s["length_ms"]) if s["length_ms"] is not None else "unknown", s["speed"], _info_title(report, s)]
        for s in report["songs"]
    ]  # fmt: skip
    print_table(
        "songs",
        [
            Column("#", min_width=2),
            Column("length", "right", 6),
            Column("speed", min_width=5),
            Column("title", min_width=8),
        ],
        songs,
    )
    _print_stil(report["songs"])


def _print_stil(songs: list[dict[str, Any]]) -> None:
    """Every STIL field of every song, whole: continuation lines keep their breaks."""
    import textwrap

    from sidflow_pipeline.cli.output import terminal_width

    width = max(terminal_width(), 20)
    shown: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for song in songs:  # songs with the same text (file-level STIL) are shown once
        fields = tuple((k, v) for k, v in song["stil"].items() if v)
        if fields:
            shown.setdefault(fields, []).append(song["song_index"])
    if not shown:
        return
    click.echo("\nSTIL")
    for fields, numbers in shown.items():
        label = "all songs" if len(numbers) == len(songs) and len(songs) > 1 else "song " + ", ".join(map(str, numbers))
        click.echo(f"  {label}:")
        for name, value in fields:
            prefix = f"    {name.upper() + ':':>8} "
            indent = " " * len(prefix)
            lines = value.split("\n")
            if all(len(prefix) + len(line) <= width for line in lines):
                # STIL's own line breaks, as its authors wrote them
                out = [(prefix if i == 0 else indent) + line for i, line in enumerate(lines)]
            else:  # too narrow for them: the same words, re-flowed to the terminal
                out = textwrap.wrap(" ".join(lines), width=width, initial_indent=prefix, subsequent_indent=indent)
            for text in out:
                click.echo(text.rstrip())

