"""`sidflow feedback`: log listening feedback and check the log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sidflow_pipeline.cli.common import Context, console, pass_ctx, resolve_song_arg, say_pending, user_errors

__all__ = ["feedback"]


@click.group()
def feedback() -> None:
    """Log listening feedback (like/dislike/skip/play) and check the log."""


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
            from sidflow_pipeline.feedback.log import append_event

            cfg = ctx.config
            sid_path, index = _feedback_sid_path(ctx, sid, song_index)
            event = append_event(cfg.layout.feedback_dir, sid_path, action, song_index=index)
            console.print(
                f"{event.action} {event.sid_path} #{event.song_index} at {event.ts} ({event.uuid})",
                highlight=False,
                soft_wrap=True,
            )
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
