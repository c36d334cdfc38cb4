"""`sidflow play`: the personal radio — a recommended queue played through sidplayfp."""

from __future__ import annotations

import os
import select
import signal
import sys
from pathlib import Path
from typing import Any

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
    say_pending,
    user_errors,
)
from sidflow_pipeline.cli.recommend import build_request, like_resolver, live, open_recommender, resolver, seed_options
from sidflow_pipeline.cli.stations import Playlist, explain_table, playlist_options

__all__ = ["play"]

KEYS_HELP = "keys: n next (skip) · space pause/resume · l like · d dislike (and next) · q quit"


def _fmt(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class _SongFailed(Exception):
    """This song could not be prepared (render or mastering failed): skip it."""


def _say(text: str) -> None:
    """Print unless the terminal is gone (after SIGHUP a write can fail with EIO)."""
    try:
        console.print(text, highlight=False, soft_wrap=True, markup=False)
    except OSError:
        pass


def _read_key(fd: int, timeout: float) -> str | None:
    """One key within ``timeout`` seconds; '' at end of input; None when nothing came."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    data = os.read(fd, 1)
    return data.decode(errors="replace") if data else ""


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
    sessions = cfg.data_path / "sessions"
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
        queue = make_queue(recommendations, lengths, cfg.hvsc_root, cfg.render.default_song_seconds)
        session = None
    if export_path is not None:
        fmt = _export_format(export_path, export_format)
        write_export(export_path, queue, fmt, query)
        console.print(f"exported {len(queue)} songs to {export_path} ({fmt})", highlight=False, soft_wrap=True)
    if export_only:
        return

    from sidflow_pipeline.sid.player import SidplayfpNotFound, find_sidplayfp

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


class _Mastering:
    """Renders and masters songs one ahead of playback, so mastered play has no gaps."""

    def __init__(self, cfg: Any, binary: Path, preview: int | None) -> None:
        import tempfile
        from concurrent.futures import ThreadPoolExecutor

        self.cfg, self.binary, self.preview = cfg, binary, preview
        self.workdir = Path(tempfile.mkdtemp(prefix="sidflow-master-"))
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: dict[str, Any] = {}

    def _job(self, item: Any) -> Any:
        from sidflow_pipeline.radio.master import master_song

        seconds = min(item.length_s, self.preview) if self.preview else item.length_s
        return master_song(item, self.binary, self.workdir, self.cfg.data_path / "profiles", seconds)

    def prefetch(self, item: Any) -> None:
        if item is not None and item.key not in self.pending:
            self.pending[item.key] = self.pool.submit(self._job, item)

    def get(self, item: Any) -> Any:
        self.prefetch(item)
        return self.pending.pop(item.key).result()

    def close(self) -> None:
        import shutil

        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _run(cfg: Any, session: Any, binary: Path, preview: int | None, wav_player: Path | None = None) -> None:
    from sidflow_pipeline.feedback.log import append_event
    from sidflow_pipeline.radio.player import NoAudioDevice, RadioPlayer

    feedback_root = cfg.data_path / "feedback"
    player = RadioPlayer(binary, wav_player=wav_player)
    mastering = _Mastering(cfg, binary, preview) if wav_player is not None else None
    fd = sys.stdin.fileno()
    restore = None
    if os.isatty(fd):
        import termios
        import tty

        restore = termios.tcgetattr(fd)
        tty.setcbreak(fd)
    console.print(f"SIDFlow radio — {len(session.queue)} songs, session {session.id}", highlight=False, soft_wrap=True)
    console.print(KEYS_HELP, highlight=False, soft_wrap=True)

    def log(action: str, item: Any) -> None:
        append_event(feedback_root, item.sid_path, action, song_index=item.song_index)
        session.record(action, item)

    quit_requested = False
    terminated: int | None = None
    previous = raise_on_terminating_signals()
    try:
        while not quit_requested and session.current is not None:
            item = session.current
            length = min(item.length_s, preview) if preview else item.length_s
            total = len(session.queue)
            console.print(
                f"\n▶ [{session.position + 1}/{total}] {item.label}  ({item.sid_path}:{item.song_index})  {_fmt(length)}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            upcoming = session.upcoming()
            if upcoming:
                console.print("  next: " + " · ".join(u.label for u in upcoming), highlight=False, markup=False)
            try:
                wav = None
                if mastering is not None:
                    try:
                        song = mastering.get(item)
                    except (RuntimeError, ValueError) as exc:
                        raise _SongFailed(str(exc)) from exc
                    console.print(f"  {song.describe()}", highlight=False, soft_wrap=True, markup=False)
                    wav = song.wav
                    mastering.prefetch(session.upcoming(1)[0] if session.upcoming(1) else None)
                problem = player.start(item, length, wav=wav)
            except _SongFailed as exc:
                problem = str(exc)
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
                session.record("failed", item, problem)
                session.advance()
                continue
            console.print(f"  playing (pid {player.pid})", highlight=False, soft_wrap=True)
            session.record("started", item)
            liked = False  # a song the listener liked is not also a skip when they move on
            while True:
                key = _read_key(fd, 0.25)
                ended = player.finished() if key is None else None
                if ended == "played" and length < item.length_s:
                    # Only a song heard to its end is a `play` for the sensors and the recommender.
                    sys.stdout.write("\n")
                    session.record("previewed", item)
                    console.print(f"  preview ended after {_fmt(length)} (not logged as played)", highlight=False, soft_wrap=True)
                    session.advance()
                    break
                if ended == "played":
                    sys.stdout.write("\n")
                    log("play", item)
                    console.print("  played to the end", highlight=False, soft_wrap=True)
                    session.advance()
                    break
                if ended is not None:
                    console.print(f"\n  playback failed ({ended}) — next song", highlight=False, soft_wrap=True, markup=False)
                    session.record("failed", item, ended)
                    session.advance()
                    break
                if key is None:
                    state = "paused" if player.paused else "playing"
                    sys.stdout.write(f"\r  {_fmt(player.elapsed)} / {_fmt(length)} {state}   ")
                    sys.stdout.flush()
                    continue
                if key == "":
                    key = "q"  # input closed
                if key in ("n", "d"):  # skip, or dislike — both end this song
                    player.stop()
                    action, said = ("skip", "skipped") if key == "n" else ("dislike", "disliked — next")
                    if key == "n" and liked:
                        said = "next (liked, not logged as a skip)"
                    else:
                        log(action, item)
                    console.print(f"\n  {said}", highlight=False, soft_wrap=True)
                    session.advance()
                    break
                if key == " ":
                    if player.paused:
                        player.resume()
                        console.print("\n  resumed", highlight=False, soft_wrap=True)
                        session.record("resumed", item)
                    else:
                        player.pause()
                        console.print("\n  paused", highlight=False, soft_wrap=True)
                        session.record("paused", item)
                elif key == "l":
                    if not liked:  # one like per hearing, however often the key is pressed
                        log("like", item)
                        liked = True
                    console.print("\n  liked ♥", highlight=False, soft_wrap=True)
                elif key in ("q", "Q"):
                    player.stop()
                    quit_requested = True
                    break
                elif key in ("h", "?"):
                    console.print("\n" + KEYS_HELP, highlight=False, soft_wrap=True)
    except Terminated as stop:
        terminated = stop.signum
    finally:
        for signum in TERMINATING:  # a second signal must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        player.stop()
        if mastering is not None:
            mastering.close()
        if restore is not None:
            import termios

            try:
                termios.tcsetattr(fd, termios.TCSADRAIN, restore)
            except termios.error:  # the terminal is gone (SIGHUP)
                pass
        session.finish()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if terminated is not None:
        name = signal.Signals(terminated).name
        _say(f"\nstopped by {name}; the player is stopped — resume with: sidflow play --resume")
        sys.exit(128 + terminated)
    counts = session.summary()
    shown = ", ".join(f"{counts.get(a, 0)} {a}" for a in ("play", "skip", "like", "dislike"))
    console.print(
        f"\nsession {session.id}: {shown}" + ("" if session.ended else " — resume with: sidflow play --resume"),
        highlight=False,
        soft_wrap=True,
    )
    if any(counts.get(a, 0) for a in ("play", "skip", "like", "dislike")):
        say_pending(cfg)
