"""`sidflow`: the companion CLI for what is interactive or one-off.

The pipeline itself runs in Dagster; these commands call the same domain code so a
user can inspect a tune, check a config or build the demo collection from the shell.
Every expected failure ends as one red line and exit status 2, not a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sidflow_pipeline.cli.common import (
    TERMINATING,
    Context,
    Terminated,
    console,
    err_console,
    fail,
    pass_ctx,
    raise_on_terminating_signals,
    resolve_song_arg,
    say_pending,
    user_errors,
)
from sidflow_pipeline.cli.output import format_option

if TYPE_CHECKING:
    from sidflow_pipeline.config import SidflowConfig

__all__ = ["cli", "console", "err_console", "fail"]


class LazyGroup(click.Group):
    """Commands in their own modules are imported when run (or listed by ``--help``),
    so ``sidflow search`` does not pay for importing ``master``, ``play``, ``train`` …"""

    LAZY: dict[str, str] = {
        "recommend": "sidflow_pipeline.cli.recommend:recommend",
        "search": "sidflow_pipeline.cli.search:search",
        "play": "sidflow_pipeline.cli.play:play",
        "master": "sidflow_pipeline.cli.master:master",
        "export-audio": "sidflow_pipeline.cli.export_audio:export_audio",
        "train": "sidflow_pipeline.cli.train:train",
        "stations": "sidflow_pipeline.cli.stations:stations",
        "explain": "sidflow_pipeline.cli.stations:explain",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            import importlib

            module, _, name = self.LAZY[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SIDFLOW_CONFIG",
    help="Path to .sidflow.json (default: $SIDFLOW_CONFIG, else ./.sidflow.json).",
)
@click.version_option(package_name="sidflow-pipeline")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SIDFlow: your personal C64 music station, built on the High Voltage SID Collection.

    The pipeline (sync, render, analyse, classify, train, build the database) runs as
    Dagster assets: `dagster dev -m sidflow_pipeline.definitions`. These commands are
    for inspecting tunes, checking configuration and the interactive tools.
    """
    ctx.obj = Context(config_path)


@cli.group()
def config() -> None:
    """Inspect the configuration (.sidflow.json)."""


@config.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved config as JSON.")
@pass_ctx
@user_errors
def config_validate(ctx: Context, as_json: bool) -> None:
    """Load and validate the config and its paths, then print it with every path resolved.

    Each configured path must have the right kind: hvscPath and dataPath must be
    existing folders, the derived folders folders or creatable, a local hvscSource an
    existing folder. Every problem is named on the one error line.
    """
    from rich.table import Table

    from sidflow_pipeline.config import path_problems

    cfg = ctx.config
    problems = path_problems(cfg)
    if problems:
        source = cfg.source_file or "(defaults)"
        fail(f"{source}: " + "; ".join(problems))
    data = cfg.to_json_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    source = str(cfg.source_file) if cfg.source_file else "(no config file: defaults)"
    table = Table(title=f"sidflow config — {source}", show_lines=False)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value")
    for key, value in _flatten(data):
        table.add_row(key, "null" if value is None else str(value))
    console.print(table)
    console.print("[green]config OK[/]")


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in sorted(data):
        value = data[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


def _find_hvsc_root(path: Path) -> Path | None:
    """The enclosing ``C64Music``-like folder (one with ``DOCUMENTS/``), if any."""
    for parent in path.resolve().parents:
        if (parent / "DOCUMENTS").is_dir():
            return parent
    return None


@cli.command("info")
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
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline.sid.paths import split_song_number
    from sidflow_pipeline.sid.songlengths import load_songlengths
    from sidflow_pipeline.sid.stil import load_stil, stil_for_song

    name, only_song = split_song_number(song_name)
    given = Path(name).expanduser()
    if given.exists() and not given.is_dir() and not given.is_file():
        fail(f"{name}: not a regular file")  # a FIFO or a device would hang or never end
    if given.is_file():  # a file needs no config: info stays fast and works anywhere
        sid_file = given
    else:
        ref = resolve_song_arg(ctx, song_name, in_collection=False)
        sid_file, only_song = ref.file, ref.song

    for given in (songlengths, stil_path):  # a FIFO or a device would hang or never end
        if given is not None and not given.is_file():
            fail(f"{given}: not a regular file")
    sid = read_sid(sid_file)
    root = _find_hvsc_root(sid_file)
    if root is not None:
        songlengths = songlengths or _existing(root / "DOCUMENTS" / "Songlengths.md5")
        stil_path = stil_path or _existing(root / "DOCUMENTS" / "STIL.txt")
    hvsc_path = "/" + sid_file.resolve().relative_to(root).as_posix() if root else None
    lengths: list[int | None] = [None] * sid.header.songs
    if songlengths:
        entry = load_songlengths(songlengths).get(sid.md5)
        if entry is not None:
            lengths = [entry.lengths_ms[i] if i < len(entry.lengths_ms) else None for i in range(sid.header.songs)]
    stil_entry = None
    if stil_path and hvsc_path:
        stil_entry = load_stil(stil_path).get(hvsc_path)
    songs = []
    for index in range(1, sid.header.songs + 1):
        songs.append(
            {
                "song_index": index,
                "length_ms": lengths[index - 1],
                "speed": sid.header.song_speed(index),
                "stil": stil_for_song(stil_entry, index) if stil_entry else {},
            }
        )
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
            (round(s["length_ms"] / 1000) if s["length_ms"] else None, header["author"] or "", _info_title(report, s), s["song_index"], file)
            for s in report["songs"]
        )  # fmt: skip
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
    print_table("songs", [Column("#", min_width=2), Column("length", "right", 6), Column("speed", min_width=5), Column("title", min_width=8)], songs)
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


@cli.command("demo-collection")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--mirror", "mirror", type=click.Path(file_okay=False, path_type=Path), help="Also write an HVSC-style mirror (base + update archives) here.")
@click.option("--version", "version", type=int, default=None, help="Release to write into DEST (default: the newest).")
@click.option("--base-version", type=int, default=1, show_default=True, help="Release number of the base archive.")
@click.option("--updates", type=int, default=1, show_default=True, help="Number of update archives after the base.")
@user_errors
def demo_collection(dest: Path | None, mirror: Path | None, version: int | None, base_version: int, updates: int) -> None:
    """Write the generated demo collection (real, playable PSID tunes) laid out like HVSC.

    DEST receives C64Music/ at the newest release; with --mirror, MIRROR_DIR receives
    HVSC_<N>-all-of-them.7z and HVSC_Update_<N+k>.7z (+ .sha256), the offline source the
    default configuration syncs from. Give DEST, --mirror, or both.
    """
    from sidflow_pipeline.demo.collection import write_demo_collection, write_demo_mirror

    if dest is None and mirror is None:
        fail("give a destination folder, --mirror MIRROR_DIR, or both")
    if dest is not None:
        final = version if version is not None else base_version + updates
        try:
            report = write_demo_collection(dest, version=final, base_version=base_version, updates=updates)
        except FileExistsError as exc:
            fail(f"{exc}")
        console.print(
            f"[green]demo collection[/] release {report.version}: {report.files} SID files, "
            f"{report.songs} songs → {report.root}"
        )
    if mirror is not None:
        archives = write_demo_mirror(mirror, base_version=base_version, updates=updates)
        for archive in archives:
            console.print(f"  {archive}  ({archive.stat().st_size:,} bytes)")


@cli.command("fetch")
@click.option("--source", help="Override hvscSource: mirror URL, file:// URL or folder.")
@pass_ctx
@user_errors
def fetch(ctx: Context, source: str | None) -> None:
    """Sync the local HVSC tree (hvscPath) to the newest release from hvscSource.

    The same code as the hvsc_mirror asset: base archive + update scripts, verified
    downloads, staging tree swapped in only when everything succeeded.
    """
    from sidflow_pipeline.hvsc.sync import SyncError, sync_collection

    cfg = ctx.config
    try:
        synced = sync_collection(
            source or cfg.hvsc_source,
            cfg.hvsc_path,
            cfg.data_path,
            cfg.tags_path,
            checksums=cfg.hvsc_checksums,
            log=lambda m: console.print(f"[dim]{m}[/]"),
        )
    except SyncError as exc:
        fail(str(exc))
    result = synced.result
    if result.status == "current":
        console.print(f"HVSC release {result.version} is current; nothing downloaded.")
        return
    console.print(
        f"[green]{result.status}[/] HVSC release {result.version} "
        f"({result.files:,} files, {result.bytes_downloaded:,} bytes downloaded, {result.seconds:.1f} s)"
    )
    for archive in result.archives:
        console.print(f"  {archive.filename}  {archive.checksum}")
    if result.moves:
        console.print(f"  {len(result.moves)} tunes moved; old paths are mapped in {cfg.hvsc_path / 'path-moves.jsonl'}")
    if synced.tags_moved:
        console.print(f"  {synced.tags_moved} rating files under {cfg.tags_path} moved with their tunes")


@cli.command("format-json")
@click.argument("jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--strict/--skip-bad", default=True, show_default=True, help="Stop at a broken line, or skip it with a warning.")
def format_json(jsonl: Path, output: Path | None, strict: bool) -> None:
    """Pretty-print a JSONL file (classified/*.jsonl, feedback, ...) as an indented JSON array."""
    records = []
    for number, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            message = f"{jsonl}:{number}: not valid JSON ({exc.msg})"
            if strict:
                fail(message)
            err_console.print(f"[yellow]skipped[/] {message}", highlight=False)
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        from sidflow_pipeline.atomic import DiskWriteError, atomic_write_text

        try:
            atomic_write_text(output, text)
        except DiskWriteError as exc:
            fail(str(exc))
        console.print(f"{len(records)} records → {output}")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_key(fd: int) -> str:
    data = os.read(fd, 1)
    if not data:
        raise EOFError
    return data.decode("latin-1")


@cli.command("rate")
@click.argument("sid_file", metavar="[SONG]", required=False)
@click.option("--song", "song_index", type=click.IntRange(min=1), help="Song (subtune) number for scripting mode (default: SONG's #N, else the start song).")
@click.option("--path", "subdir", help="Only songs under this folder of the collection (e.g. MUSICIANS/H).")
@click.option("--random", "shuffle", is_flag=True, help="Random order instead of path order.")
@click.option("--seed", type=int, default=None, help="Seed for --random (repeatable order).")
@click.option("--unrated-only", is_flag=True, help="Skip songs that already have a manual rating.")
@click.option("--e", "e", type=click.IntRange(1, 5), help="Scripting mode: energy 1–5.")
@click.option("--m", "m", type=click.IntRange(1, 5), help="Scripting mode: mood 1–5.")
@click.option("--c", "c", type=click.IntRange(1, 5), help="Scripting mode: complexity 1–5.")
@click.option("--p", "p", type=click.IntRange(1, 5), help="Scripting mode: preference 1–5.")
@click.option("--undo", is_flag=True, help="Take back the last saved rating (the tags file gets its previous content).")
@pass_ctx
@user_errors
def rate(
    ctx: Context, sid_file: str | None, song_index: int | None, subdir: str | None, shuffle: bool, seed: int | None,
    unrated_only: bool, e: int | None, m: int | None, c: int | None, p: int | None, undo: bool,
) -> None:
    """Rate songs by ear: energy, mood, complexity and preference, 1–5 each.

    Interactive: walks the collection (or --path), playing each song through
    sidplayfp. Keys: e1-e5 m1-m5 c1-c5 p1-p5, Enter saves the dimensions given (the
    others keep their saved value), u undoes the last rating, s skips, r replays,
    q quits, h help. Scripting: sidflow rate SONG --p 4 (changes p only), where SONG is
    a file or a collection path (/MUSICIANS/H/Hubbard_Rob/Commando.sid), #N for song N.
    sidflow rate --undo takes back the last rating.
    Ratings go to *.sid.tags.json under tagsPath (mirroring the HVSC tree), written atomically.
    """
    from sidflow_pipeline.ratings.session import HELP, KeyInput, Player, collect_songs, describe, saved_rating
    from sidflow_pipeline.ratings.tags import (
        Rating,
        TagsError,
        tags_path_for,
        undo_journal_for,
        undo_last,
        write_rating,
    )
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline.sid.player import SidplayfpNotFound, find_sidplayfp

    cfg = ctx.config
    root = cfg.hvsc_root
    journal = undo_journal_for(root, cfg.tags_path)
    if undo:
        if sid_file is not None or any(v is not None for v in (e, m, c, p)):
            fail("--undo takes no song and no ratings: it takes back the last saved rating")
        try:
            undone = undo_last(journal)
        except TagsError as exc:
            fail(str(exc))
        if undone is None:
            console.print("nothing to undo.")
        else:
            console.print(f"undone: the last rating of song #{undone[1]} → {undone[0]} is back as it was", highlight=False, soft_wrap=True)
        return
    if sid_file is not None:
        ref = resolve_song_arg(ctx, sid_file, song_index)  # a song that is not there: refused before anything
        values = {k: v for k, v in {"e": e, "m": m, "c": c, "p": p}.items() if v is not None}
        if not values:
            fail("scripting mode needs at least one of --e --m --c --p")
        sid = read_sid(ref.file)
        index = ref.song_or(sid.header.start_song or 1)
        if not 1 <= index <= sid.header.songs:
            fail(f"{sid_file}: song {index} out of range 1–{sid.header.songs}")
        rel = ref.sid_path
        target = tags_path_for(rel, root, cfg.tags_path)
        stored = write_rating(target, index, sid.header.songs, Rating(**values, timestamp=_now()), journal=journal)
        shown = " ".join(f"{k}={v}" for k, v in stored.values().items())
        console.print(f"saved {rel} #{index}: {shown} → {target}", highlight=False, soft_wrap=True)
        say_pending(cfg)
        return
    songs = collect_songs(root, cfg.tags_path, cfg.classified_path, subdir=subdir, unrated_only=unrated_only, shuffle=shuffle, seed=seed)
    if not songs:
        console.print("nothing to rate here.")
        return
    try:
        binary = find_sidplayfp(cfg.sidplay_path)
    except SidplayfpNotFound as exc:
        binary = None
        console.print(f"[yellow]{exc}[/] — rating without sound.")
    player = Player(binary)
    console.print(HELP)
    fd = sys.stdin.fileno()
    restore = None
    if os.isatty(fd):
        import termios
        import tty

        restore = termios.tcgetattr(fd)
        tty.setcbreak(fd)
    saved = skipped = 0
    rated: list[int] = []  # positions saved in this session, newest last (for u)
    terminated: int | None = None
    previous = raise_on_terminating_signals()
    try:
        index = 0
        while index < len(songs):
            song = songs[index]
            saved_now = saved_rating(root, cfg.tags_path, song.sid_path, song.song_index)
            for line in describe(song, index + 1, len(songs), saved_now):
                console.print(line, highlight=False, markup=False)
            message = player.play(song)
            if message:
                console.print(f"[yellow]{message}[/]")
            elif player.pid:
                console.print(f"  playing (pid {player.pid})", highlight=False)
            keys = KeyInput()
            while True:
                console.print("> ", end="")
                try:
                    key = _read_key(fd)
                except EOFError:
                    key = "q"
                action, detail = keys.feed(key)
                if action == "set":
                    console.print(f"{detail}  (" + " ".join(f"{k}={v}" for k, v in sorted(keys.values.items())) + ")", highlight=False)
                elif action == "pending":
                    console.print(detail, end="")
                elif action == "invalid":
                    console.print(f"[red]{detail}[/]", highlight=False)
                elif action == "help":
                    console.print(HELP)
                elif action == "replay":
                    player.play(song)
                    console.print("replaying", highlight=False)
                elif action == "skip":
                    player.stop()
                    skipped += 1
                    console.print("skipped")
                    index += 1
                    break
                elif action == "save":
                    rating = keys.rating(_now())
                    if rating is None:
                        console.print("nothing given — type e/m/c/p and a digit, or s to skip", highlight=False)
                        continue
                    player.stop()
                    target = tags_path_for(song.sid_path, root, cfg.tags_path)
                    stored = write_rating(target, song.song_index, song.songs, rating, journal=journal)
                    saved += 1
                    rated.append(index)
                    shown = " ".join(f"{k}={v}" for k, v in stored.values().items())
                    console.print(f"saved {shown} → {target}", highlight=False, soft_wrap=True)
                    index += 1
                    break
                elif action == "undo":
                    try:
                        undone = undo_last(journal)
                    except TagsError as exc:
                        console.print(f"[red]{exc}[/]", highlight=False)
                        continue
                    if undone is None:
                        console.print("nothing to undo", highlight=False)
                        continue
                    player.stop()
                    console.print(f"undone: song #{undone[1]} → {undone[0]} is back as it was", highlight=False, soft_wrap=True)
                    if rated:  # back to the song whose rating was taken back, to rate it again
                        index = rated.pop()
                        saved -= 1
                    break
                elif action == "quit":
                    index = len(songs)
                    break
    except Terminated as stop:
        terminated = stop.signum
    finally:
        for signum in TERMINATING:  # a second signal must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        player.stop()
        if restore is not None:
            import termios

            try:
                termios.tcsetattr(fd, termios.TCSADRAIN, restore)
            except termios.error:  # the terminal is gone (SIGHUP)
                pass
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if terminated is not None:
        try:
            console.print(f"stopped by {signal.Signals(terminated).name}: {saved} saved, {skipped} skipped.")
        except OSError:
            pass
        sys.exit(128 + terminated)
    console.print(f"done: {saved} saved, {skipped} skipped.")
    if saved:
        say_pending(cfg)


@cli.group()
def feedback() -> None:
    """Log listening feedback (like/dislike/skip/play) and check the log."""


def _feedback_root(cfg: SidflowConfig) -> Path:
    return cfg.data_path / "feedback"


def _feedback_sid_path(ctx: Context, sid: str, song_index: int | None) -> tuple[str, int]:
    """``(HVSC path, song)`` to log for SID, or an error saying why not.

    Nothing reaches the append-only log unless it names a real song: a line with an
    empty or non-.sid path, a tune that is not in the collection (nor the catalog) or
    a subtune the tune does not have would be counted as feedback for nothing and
    flagged by ``validate`` forever (lines are never rewritten). The song name follows
    the one convention of :mod:`sidflow_pipeline.sid.paths`.
    """
    from sidflow_pipeline.feedback.log import FeedbackError, normalise_sid_path
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline.sid.paths import split_song_number

    name, _ = split_song_number(sid.strip())
    if not Path(name).expanduser().is_file():
        normalise_sid_path(name)  # a malformed name gets its precise reason first
    ref = resolve_song_arg(ctx, sid, song_index)
    index = ref.song_or(1)
    if ref.file.is_file():
        songs = read_sid(ref.file).header.songs
        if not 1 <= index <= songs:
            raise FeedbackError(f"{ref.sid_path}: song {index} out of range 1–{songs}")
    return normalise_sid_path(ref.sid_path), index


for _action in ("like", "dislike", "skip", "play"):

    def _make(action: str) -> None:
        @feedback.command(
            action,
            help=f"Append a '{action}' event for SID: a file or a collection path "
            "(/MUSICIANS/H/Hubbard_Rob/Delta.sid), #N for song N.",
        )
        @click.argument("sid")
        @click.option("--song", "song_index", type=click.IntRange(min=1), help="Song (subtune) number (default: SID's #N, else 1).")
        @pass_ctx
        @user_errors
        def _command(ctx: Context, sid: str, song_index: int | None) -> None:
            from sidflow_pipeline.feedback.log import FeedbackError, append_event

            cfg = ctx.config
            try:
                sid_path, index = _feedback_sid_path(ctx, sid, song_index)
                event = append_event(_feedback_root(cfg), sid_path, action, song_index=index)
            except FeedbackError as exc:
                fail(str(exc))
            console.print(f"{event.action} {event.sid_path} #{event.song_index} at {event.ts} ({event.uuid})", highlight=False, soft_wrap=True)
            console.print("counts in recommendations now.", highlight=False)
            say_pending(cfg)

    _make(_action)


@feedback.command("validate")
@pass_ctx
@user_errors
def feedback_validate(ctx: Context) -> None:
    """Report every bad line as file:line: reason and count duplicate uuids; changes nothing."""
    from sidflow_pipeline.feedback.log import read_config_events

    report = read_config_events(ctx.config)
    for path, number, reason in report.bad_lines:
        click.echo(f"{path}:{number}: {reason}")
    console.print(
        f"{report.lines} lines: {len(report.events)} valid events, {report.duplicates} duplicates (by uuid), "
        f"{len(report.bad_lines)} bad lines",
        highlight=False,
    )
    if report.bad_lines:
        sys.exit(1)


@cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one object per artifact.")
@pass_ctx
@user_errors
def verify(ctx: Context, as_json: bool) -> None:
    """Check derived data against the canonical data; name what is stale and how to fix it.

    Every failing artifact gets its own `fix:` line with the exact command, because a
    generic hint would send the user to rebuild the database when it is the feedback
    aggregates that are behind (the database's manifest records what they were built from).
    """
    from rich.table import Table

    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.hvsc.verify import check_tree_against_manifest
    from sidflow_pipeline.lance.verify import fix_command, lance_status
    from sidflow_pipeline.training.model import check_model

    cfg = ctx.config
    hvsc_ok, _meta, hvsc_detail = check_tree_against_manifest(cfg.hvsc_path)
    model_ok, model_detail = check_model(cfg.data_path / "model", FEATURE_SET_VERSION)
    lance = lance_status(cfg)
    checks: list[dict[str, Any]] = [
        {"artifact": "HVSC tree", "ok": hvsc_ok, "status": "ok" if hvsc_ok else "stale/corrupt",
         "detail": hvsc_detail, "fix": None if hvsc_ok else fix_command("hvsc_mirror")},
        {"artifact": "sidflow.lance", "ok": lance.ok, "status": lance.state, "detail": lance.detail, "fix": lance.fix},
        {"artifact": "rating model", "ok": model_ok, "status": "ok" if model_ok else "stale/corrupt",
         "detail": model_detail, "fix": None if model_ok else f"sidflow train --force (or {fix_command('rating_model')})"},
    ]
    failed = [c for c in checks if not c["ok"]]
    if as_json:
        click.echo(json.dumps(checks, indent=2, sort_keys=True))
    else:
        table = Table(title="sidflow verify")
        for column in ("artifact", "status", "detail"):
            table.add_column(column)
        for check in checks:
            table.add_row(check["artifact"], "[green]ok[/]" if check["ok"] else f"[red]{check['status']}[/]", check["detail"])
        console.print(table)
        for check in failed:  # click.echo: a command must not be wrapped mid-word
            click.echo(f"{check['artifact']}: {check['status']} — fix: {check['fix']}")
    if failed:
        sys.exit(1)


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None




def main() -> None:  # pragma: no cover - console-script shim
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
