"""`sidflow rate`: rate songs by ear, interactively or from a script."""

from __future__ import annotations

import os
import signal
import sys

import click

from sidflow_pipeline.cli.common import (
    TERMINATING,
    Context,
    Terminated,
    console,
    fail,
    pass_ctx,
    raise_on_terminating_signals,
    resolve_song_arg,
    say_pending,
    user_errors,
)

__all__ = ["rate"]


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_key(fd: int) -> str:
    data = os.read(fd, 1)
    if not data:
        raise EOFError
    return data.decode("latin-1")


@click.command("rate")
@click.argument("sid_file", metavar="[SONG]", required=False)
@click.option(
    "--song",
    "song_index",
    type=click.IntRange(min=1),
    help="Song (subtune) number for scripting mode (default: SONG's #N, else the start song).",
)
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
        undone = undo_last(journal)
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
        given = Rating(**values, timestamp=_now())  # type: ignore[arg-type]  # values holds only e/m/c/p
        stored = write_rating(target, index, sid.header.songs, given, journal=journal)
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
