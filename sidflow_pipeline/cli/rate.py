"""`sidflow rate`: rate songs by ear, interactively or from a script."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

import click

from sidflow_pipeline.cli.common import Context, console, fail, pass_ctx, resolve_song_arg, say_pending, user_errors

if TYPE_CHECKING:
    from sidflow_pipeline.ratings.session import RateStep

__all__ = ["rate"]


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    from sidflow_pipeline.cli.keys import Keys
    from sidflow_pipeline.ratings.session import HELP, Player, RatingLoop, collect_songs
    from sidflow_pipeline.ratings.tags import Rating, tags_path_for, undo_journal_for, undo_last, write_rating
    from sidflow_pipeline.sid.header import read_sid
    from sidflow_pipeline.sid.sidplayfp import SidplayfpNotFound, find_sidplayfp

    cfg = ctx.config
    root = cfg.layout.hvsc_root
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
    loop = RatingLoop(songs, Player(binary), root, cfg.tags_path, journal, _now)
    console.print(HELP)
    with Keys(cleanup=loop.player.stop) as keys:
        while not loop.done:
            for line in loop.describe():
                console.print(line, highlight=False, markup=False)
            message = loop.start()
            if message:
                console.print(f"[yellow]{message}[/]")
            elif loop.player.pid:
                console.print(f"  playing (pid {loop.player.pid})", highlight=False)
            while True:
                console.print("> ", end="")
                step = loop.feed(keys.read() or "")
                _say(step)
                if step.song_over:
                    break
    saved, skipped = loop.saved, loop.skipped
    if keys.terminated is not None:
        try:
            console.print(f"stopped by {signal.Signals(keys.terminated).name}: {saved} saved, {skipped} skipped.")
        except OSError:
            pass
        sys.exit(128 + keys.terminated)
    console.print(f"done: {saved} saved, {skipped} skipped.")
    if saved:
        say_pending(cfg)


def _say(step: RateStep) -> None:
    """Print what a key did, each kind as the rating loop has always shown it."""
    if step.kind in ("pending", "quit"):
        if step.text:
            console.print(step.text, end="")
    elif step.kind in ("invalid", "undo-refused"):
        console.print(f"[red]{step.text}[/]", highlight=False)
    elif step.kind in ("help", "skip"):
        console.print(step.text)
    elif step.kind in ("saved", "undone"):
        console.print(step.text, highlight=False, soft_wrap=True)
    else:  # set, replay, nothing-given, nothing-to-undo
        console.print(step.text, highlight=False)
