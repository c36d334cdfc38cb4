"""`sidflow export-audio`: a playlist's songs as FLAC (or WAV) files, optionally mastered."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import click

from sidflow_pipeline.atomic import atomic_move
from sidflow_pipeline.cli.common import Context, console, fail, pass_ctx, user_errors

__all__ = ["export_audio"]


def _file_name(index: int, item: Any, suffix: str) -> str:
    label = f"{index:02d} - {item.composer or '?'} - {item.title or Path(item.sid_path).stem} (song {item.song_index})"
    return re.sub(r"[^\w .()\-]+", "_", label).strip() + suffix


@click.command("export-audio")
@click.argument("playlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--master", "mastered", is_flag=True, help="Master every song with its type's profile (consistent loudness).")
@click.option("--format", "fmt", type=click.Choice(["flac", "wav"]), default="flac", show_default=True)
@click.option("--preview", type=click.IntRange(1, 3600), help="Export at most this many seconds of each song.")
@pass_ctx
@user_errors
def export_audio(ctx: Context, playlist: Path, dest: Path, mastered: bool, fmt: str, preview: int | None) -> None:
    """Render the songs of PLAYLIST (a `sidflow play --export` JSON/M3U/M3U8, or any M3U
    of SID files) into DEST as 44.1 kHz stereo audio files.

    With --master each song is mastered with the current profile of its detected type,
    so the whole playlist plays at consistent loudness under the profile's true-peak ceiling.
    """
    from rich.progress import Progress
    from rich.table import Table

    from sidflow_pipeline.mastering.audio import read_audio, write_audio
    from sidflow_pipeline.mastering.errors import MasteringError
    from sidflow_pipeline.mastering.fingerprint import integrated_loudness_lufs, true_peak_dbtp
    from sidflow_pipeline.radio.master import master_song, render_song
    from sidflow_pipeline.radio.queue import load_released, read_playlist, song_tags
    from sidflow_pipeline.sid.sidplayfp import find_sidplayfp

    cfg = ctx.config
    items = read_playlist(playlist, cfg.layout.hvsc_root, cfg.render.default_song_seconds)
    binary = find_sidplayfp(cfg.sidplay_path)
    released = load_released(cfg.layout.catalog)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {dest}: {exc.strerror or exc}")
    table = Table(title=f"export-audio → {dest}" + (" (mastered)" if mastered else ""))
    for column in ("#", "file", "type / profile", "LUFS", "true peak dBTP"):
        table.add_column(column, justify="right" if column in ("#", "LUFS", "true peak dBTP") else "left")
    loudness: list[float] = []
    failed = 0
    fatal: str | None = None  # an OSError (disk full, no permission): stop, one line
    with (
        tempfile.TemporaryDirectory(prefix="sidflow-export-") as tmp,
        Progress(console=getattr(console, "real", console), transient=True) as progress,
    ):
        task = progress.add_task("rendering", total=len(items))
        for index, item in enumerate(items, start=1):
            seconds = min(item.length_s, preview) if preview else item.length_s
            target = dest / _file_name(index, item, f".{fmt}")
            tags = song_tags(item, released.get((item.sid_path, item.song_index)))
            try:
                if mastered:
                    song = master_song(item, binary, Path(tmp), cfg.layout.profiles_dir, seconds, suffix=f".{fmt}", tags=tags)
                    atomic_move(song.wav, target)
                    kind = f"{song.detected_type} v{song.profile_version}"
                else:
                    raw = render_song(item, binary, Path(tmp) / f"{index}.wav", seconds)
                    audio, sr = read_audio(raw)
                    write_audio(target, audio, sr, tags=tags)
                    kind = "—"
            except (RuntimeError, MasteringError) as exc:
                failed += 1
                table.add_row(str(index), f"[red]failed[/]: {item.sid_path}:{item.song_index}", str(exc), "", "")
                progress.advance(task)
                continue
            except OSError as exc:
                fatal = f"cannot export song {index} to {target}: {exc.strerror or exc}"
                break
            audio, sr = read_audio(target)
            lufs, peak = integrated_loudness_lufs(audio, sr), true_peak_dbtp(audio)
            loudness.append(lufs)
            table.add_row(str(index), target.name, kind, f"{lufs:.1f}", f"{peak:.1f}")
            progress.advance(task)
    console.print(table)
    if fatal:
        fail(fatal)
    if loudness:
        console.print(
            f"{len(loudness)} files; loudness spread {max(loudness) - min(loudness):.1f} LU "
            f"({min(loudness):.1f} … {max(loudness):.1f} LUFS)" + (f"; {failed} failed" if failed else ""),
            highlight=False,
        )
    if failed:
        raise SystemExit(1)
