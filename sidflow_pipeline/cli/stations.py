"""`sidflow stations` (every station and shape, a line each) and `sidflow explain SONG`
(the parts of one song's score). The domain work is in ``recommend/stations.py``,
``recommend/shapes.py`` and ``recommend/playlist.py``; the options `recommend` and `play`
share are in ``cli/playlist.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, fail, pass_ctx, user_errors
from sidflow_pipeline.cli.output import Column, emit_json, emit_jsonl, format_option, print_table
from sidflow_pipeline.cli.playlist import Playlist, explain_one

__all__ = ["explain", "stations"]


@click.command("stations")
@format_option("table", "json", "jsonl")
@user_errors
def stations(fmt: str) -> None:
    """List the stations, one line each: the query that admits songs and the score term.

    Play one with `sidflow play --station NAME`, list it with `sidflow recommend
    --station NAME`; `sidflow search QUERY` shows every song a station may play.
    """
    from sidflow_pipeline.recommend.shapes import SHAPES
    from sidflow_pipeline.recommend.stations import station_catalog

    listed = [
        {"station": s.name, "about": s.summary, "query": s.query, "score_term": s.term} for s in station_catalog()
    ]
    shapes = [{"shape": s.option, "about": s.summary, "tolerance": s.tolerance} for s in SHAPES.values()]
    if fmt == "json":
        emit_json({"stations": listed, "shapes": shapes})
        return
    if fmt == "jsonl":
        emit_jsonl(listed)
        return
    columns = [Column("station", min_width=10), Column("about", min_width=20, max_width=60), Column("score term", min_width=8, drop=2),
               Column("query", min_width=12, drop=1)]  # fmt: skip
    print_table("sidflow stations", columns, [[s["station"], s["about"], s["score_term"], s["query"]] for s in listed])
    shape_columns = [
        Column("option", min_width=12),
        Column("about", min_width=16),
        Column("tolerance", min_width=12, drop=1),
    ]
    print_table("shapes (recommend / play)", shape_columns, [[s["shape"], s["about"], s["tolerance"]] for s in shapes])


@click.command("explain")
@click.argument("song")
@click.option("--mood", help="Explain the song's score for this mood (default: no seed, songs for you).")
@click.option("--like", metavar="SONG", help="… for songs like SONG.")
@click.option("--station", metavar="NAME", help="… on this station (its query and term).")
@click.option("--recency-boost", type=FiniteFloatRange(0.0, 10.0), default=None, help="[config recommend.recencyBoost]")
@click.option(
    "--exploration",
    type=FiniteFloatRange(0.0, 1.0),
    default=None,
    help="exploration_factor [config: 0.2; 0 with --like]",
)
@click.option("--seed", type=int, default=0, show_default=True)
@format_option("table", "json")
@pass_ctx
@user_errors
def explain(ctx: Context, song: str, mood: str | None, like: str | None, station: str | None, recency_boost: float | None,
            exploration: float | None, seed: int, fmt: str) -> None:  # fmt: skip
    """Why SONG scores what it does: the parts of its score, with numbers.

    \b
    score = similarity (0.6·sim) + song_feedback (0.3·fb) + user_affinity (0.1·(1−x)·aff)
          + exploration (0.25·x·seeded noise) + recency (boost × year position)
          + station (the station's term) + shape (timbre chains only)
    The parts add up to the score shown by recommend/play --explain for the same query.
    """
    from sidflow_pipeline.cli.common import resolve_song_arg
    from sidflow_pipeline.cli.recommend import build_request, like_resolver, live, open_recommender
    from sidflow_pipeline.recommend.filters import QueryError

    ref = resolve_song_arg(ctx, song)
    key = f"{ref.sid_path}#{ref.song_or(1)}"
    options: dict[str, Any] = {
        "station": station,
        "recency_boost": recency_boost,
        "exploration_rate": 0.0,
        "like": like,
        "exploration": exploration,
    }
    playlist = Playlist.take(ctx, options)
    playlist.layered = True
    engine = open_recommender(ctx)
    try:
        request = build_request(mood=mood, vector=None, blend=None, like=like, filters=None, limit=1, exploration=options["exploration"],
                                diversity=0.0, seed=seed, resolve_like=like_resolver(ctx), live=live(ctx))  # fmt: skip
        request = replace(request, only=frozenset({key}))
        picks_results = playlist.run(ctx, engine, request)
    except QueryError as exc:
        fail(str(exc))
    if not picks_results:
        why = "is not in the song database"
        if engine.song(ref.sid_path, ref.song_or(1)) is not None:
            why = (
                f"is not on station {playlist.station_name or station}"
                if station
                else "is not recommended now (disliked in the last 7 days?)"
            )
        fail(f"{key} {why}")
    pick = (playlist.picks or [])[0]
    if fmt == "json":
        emit_json({"query": {"song": key, "mood": mood, "like": like, **playlist.query()}, "results": [pick.to_json()]})
        return
    explain_one(pick, f"sidflow explain {key} — {pick.rec.title or '?'} by {pick.rec.composer or '?'}")
