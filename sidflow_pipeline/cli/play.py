"""`sidflow play`: the personal radio — a recommended queue played through sidplayfp."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, console, err_console, fail, pass_ctx, say_pending, user_errors
from sidflow_pipeline.cli.playlist import Playlist, explain_table, playlist_options
from sidflow_pipeline.cli.recommend import build_request, like_resolver, live, open_recommender, resolver, seed_options

__all__ = ["play"]

def _say(text: str) -> None:
    """Print unless the terminal is gone (after SIGHUP a write can fail with EIO)."""
    try:
        console.print(text, highlight=False, soft_wrap=True, markup=False)
    except OSError:
        pass


def _export_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in ("json", "m3u", "m3u8") else "json"


@click.command("play")
@seed_options
@playlist_options
@click.option("--resume", is_flag=True, help="Continue the last unfinished session (data/sessions/).")
@click.option(
    "--preview", type=click.IntRange(1, 3600),
    help="Play at most this many seconds of each song (a cut-short song is not logged as played).",
)  # fmt: skip
@click.option("--export", "export_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the queue to FILE.")
@click.option("--export-format", type=click.Choice(["json", "m3u", "m3u8"]), help="Default: from the file suffix, else json.")
@click.option("--export-only", is_flag=True, help="Write the export and do not play.")
@click.option(
    "--master", "mastered", is_flag=True,
    help="Render each song, master it with its type's profile (data/profiles) and play it at the profile's loudness (needs aplay).",
)  # fmt: skip
@pass_ctx
@user_errors
def play(
    ctx: Context,
    /,
    resume: bool,
    preview: int | None,
    export_path: Path | None,
    export_format: str | None,
    export_only: bool,
    mastered: bool,
    **options: Any,
) -> None:
    """Play a personal radio: recommended songs through sidplayfp, with live controls.

    \b
    n  next song (logs a skip, unless you liked it)   space  pause / resume
    l  like (logs a like)             d      dislike (logs it, goes to the next song)
    q  quit (the session is kept: sidflow play --resume)
    A song heard to its end logs a play. All feedback goes to the feedback log.
    Examples:
      sidflow play                      (no seed: songs for you)
      sidflow play --mood quiet --limit 10
      sidflow play --blend quiet:0.7,complex:0.3 --filters "bpm=60-120"
      sidflow play --mood energetic --where "composer:hubbard year:1985..1987 chip:6581"
      sidflow play --mood energetic --export party.m3u8 --export-only
      sidflow play --station games --flow bpm      (sidflow stations lists the stations)
    """
    from sidflow_pipeline.radio.queue import make_queue, write_export
    from sidflow_pipeline.radio.session import RadioSession, latest_session

    cfg = ctx.config
    sessions = cfg.layout.sessions_dir
    if export_only and export_path is None:
        fail("--export-only needs --export FILE")
    playlist = Playlist.take(ctx, options)
    if resume:
        unreadable: list[str] = []
        session = latest_session(sessions, unreadable)
        for problem in unreadable:
            err_console.print(f"[yellow]warning:[/] skipped {problem}", highlight=False, soft_wrap=True, markup=True)
        if session is None:
            fail(f"no unfinished radio session in {sessions} to resume" + (f" ({len(unreadable)} unreadable)" if unreadable else ""))
        queue = session.queue
        query = session.query
    else:
        query = {k: v for k, v in options.items() if v not in (None, False)}
        request = build_request(**options, resolve_where=resolver(ctx), resolve_like=like_resolver(ctx), live=live(ctx))
        recommendations = playlist.run(ctx, open_recommender(ctx), request)
        if not recommendations:
            fail("no songs match this query (loosen --filters/--where/--station, or build the database: scripts/run.sh)")
        if playlist.layered:
            query |= playlist.query()
        if playlist.explain:
            explain_table(playlist.picks or [], f"sidflow play — {len(recommendations)} songs, score parts")
        # The snapshot engine carries each song's real length (Songlengths.md5, via the catalog).
        lengths = {(r.sid_path, r.song_index): r.length_ms for r in recommendations}
        queue = make_queue(recommendations, lengths, cfg.layout.hvsc_root, cfg.render.default_song_seconds)
        session = None
    if export_path is not None:
        fmt = _export_format(export_path, export_format)
        write_export(export_path, queue, fmt, query)
        console.print(f"exported {len(queue)} songs to {export_path} ({fmt})", highlight=False, soft_wrap=True)
    if export_only:
        return

    from sidflow_pipeline.sid.sidplayfp import SidplayfpNotFound, find_sidplayfp

    try:
        binary = find_sidplayfp(cfg.sidplay_path)
    except SidplayfpNotFound as exc:
        fail(f"{exc}; the queue can still be saved with --export FILE --export-only")
    if session is None:
        session = RadioSession.new(sessions, query, queue)
        playlist.record(ctx, session.id, [item.key for item in queue])
    wav_player = None
    if mastered:
        from sidflow_pipeline.radio.master import find_wav_player

        wav_player = find_wav_player()
    _run(cfg, session, binary, preview, wav_player)


def _run(cfg: Any, session: Any, binary: Path, preview: int | None, wav_player: Path | None = None) -> None:
    """Drive the radio loop from the keyboard, printing what it does."""
    from sidflow_pipeline.cli.keys import Keys
    from sidflow_pipeline.radio.loop import KEYS_HELP, MasteringAhead, RadioLoop
    from sidflow_pipeline.sid.playback import BackgroundPlayer, NoAudioDevice

    layout = cfg.layout
    mastering = MasteringAhead(binary, layout.profiles_dir, preview) if wav_player is not None else None
    player = BackgroundPlayer(binary, wav_player=wav_player)
    radio = RadioLoop(session, player, layout.feedback_dir, preview=preview, mastering=mastering)
    with Keys(cleanup=radio.close) as keys:
        console.print(f"SIDFlow radio — {len(session.queue)} songs, session {session.id}", highlight=False, soft_wrap=True)
        console.print(KEYS_HELP, highlight=False, soft_wrap=True)
        while not radio.done:
            title, upcoming = radio.heading()
            console.print(title, highlight=False, soft_wrap=True, markup=False)
            if upcoming:
                console.print(upcoming, highlight=False, markup=False)
            prepared = radio.prepare()
            if prepared.note:
                console.print(f"  {prepared.note}", highlight=False, soft_wrap=True, markup=False)
            try:
                problem = radio.start(prepared)
            except NoAudioDevice as exc:
                err_console.print(
                    f"[bold red]error:[/] no audio device ({exc}); save the queue instead with --export FILE --export-only",
                    highlight=False,
                    soft_wrap=True,
                )
                session.save()
                sys.exit(1)
            if problem:
                console.print(f"  cannot play this song ({problem}) — skipping", highlight=False, markup=False)
                continue
            console.print(f"  playing (pid {player.pid})", highlight=False, soft_wrap=True)
            while True:
                key = keys.read(0.25)
                outcome = radio.poll() if key is None else radio.key(key)
                if outcome is None:  # still playing: redraw the progress line
                    sys.stdout.write(radio.progress())
                    sys.stdout.flush()
                    continue
                if outcome.text is not None:
                    console.print(outcome.text, highlight=False, soft_wrap=True, markup=False)
                if outcome.song_over:
                    break
    if keys.terminated is not None:
        name = signal.Signals(keys.terminated).name
        _say(f"\nstopped by {name}; the player is stopped — resume with: sidflow play --resume")
        sys.exit(128 + keys.terminated)
    counts = session.summary()
    shown = ", ".join(f"{counts.get(a, 0)} {a}" for a in ("play", "skip", "like", "dislike"))
    console.print(
        f"\nsession {session.id}: {shown}" + ("" if session.ended else " — resume with: sidflow play --resume"),
        highlight=False,
        soft_wrap=True,
    )
    if any(counts.get(a, 0) for a in ("play", "skip", "like", "dislike")):
        say_pending(cfg)
