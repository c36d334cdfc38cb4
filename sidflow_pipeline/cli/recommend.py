"""`sidflow recommend`: a scored list of songs for a mood, a vector or a song you like."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, console, fail, pass_ctx, user_errors
from sidflow_pipeline.recommend.filters import MOOD_PRESETS, QueryError, parse_blend, parse_filters, parse_vector

__all__ = ["build_request", "recommend", "seed_options"]


def seed_options(func: Any) -> Any:
    """The query options shared by `recommend` and `play`."""
    options = [
        click.option("--mood", type=click.Choice(sorted(MOOD_PRESETS)), help="A mood preset (e,m,c seed)."),
        click.option("--vector", help="Seed ratings e,m,c or e,m,c,p, each 1..5 (e.g. 4,2,3)."),
        click.option("--blend", help="Weighted moods, e.g. quiet:0.7,complex:0.3."),
        click.option("--like", "like", metavar="SID[:SONG]", help="Songs that sound like this one (audio features)."),
        click.option("--filters", help='Pre-filters, e.g. "e>=4,m<=2,c=5,bpm=120-140" (= means rounds to).'),
        click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True),
        click.option(
            "--exploration", type=FiniteFloatRange(0.0, 1.0), default=0.2, show_default=True,
            help="0 = safe picks; 1 = wider pool, preference down-weighted, more seeded randomness.",
        ),
        click.option(
            "--diversity", type=FiniteFloatRange(min=0.0), default=0.2, show_default=True,
            help="Minimum rating-space distance between consecutive songs (0 = off).",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the exploration noise."),
        click.option("--unrated", is_flag=True, help="Only songs you have not rated yourself (discoveries)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def build_request(
    *,
    mood: str | None,
    vector: str | None,
    blend: str | None,
    like: str | None,
    filters: str | None,
    limit: int,
    exploration: float,
    diversity: float,
    seed: int,
    unrated: bool = False,
    exclude: frozenset[str] = frozenset(),
) -> Any:
    from sidflow_pipeline.recommend.engine import RecommendRequest, parse_song_ref

    given = [name for name, value in (("--mood", mood), ("--vector", vector), ("--blend", blend), ("--like", like)) if value]
    if len(given) > 1:
        raise QueryError(f"choose one seed, not {' and '.join(given)}")
    seed_vector: tuple[float, ...] | None = None
    if mood:
        seed_vector = MOOD_PRESETS[mood]
    elif vector:
        seed_vector = parse_vector(vector)
    elif blend:
        seed_vector = parse_blend(blend)
    elif not like:
        raise QueryError("say what to play: --mood, --vector, --blend or --like (see --help)")
    return RecommendRequest(
        vector=seed_vector,
        like=parse_song_ref(like) if like else None,
        filters=parse_filters(filters),
        limit=limit,
        exploration=exploration,
        diversity=diversity,
        seed=seed,
        exclude=exclude,
        unrated=unrated,
    )


def open_recommender(ctx: Context) -> Any:
    from sidflow_pipeline.lance.verify import lance_path
    from sidflow_pipeline.recommend.engine import DatabaseUnavailable, Recommender

    try:
        return Recommender(lance_path(ctx.config))
    except DatabaseUnavailable as exc:
        fail(str(exc))


@click.command("recommend")
@seed_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (query + results) instead of a table.")
@pass_ctx
@user_errors
def recommend(ctx: Context, as_json: bool, **options: Any) -> None:
    """Recommend songs from the song database (sidflow_lance).

    \b
    score = 0.6·similarity + 0.3·song_feedback + 0.1·user_affinity
    Examples:
      sidflow recommend --mood quiet --limit 10
      sidflow recommend --vector 4,2,3 --filters "bpm=120-140"
      sidflow recommend --like MUSICIANS/H/Hubbard_Rob/Delta.sid:2 --json
    """
    try:
        request = build_request(**options)
        results = open_recommender(ctx).recommend(request)
    except QueryError as exc:
        fail(str(exc))
    if as_json:
        query = {k: v for k, v in options.items() if v is not None}
        click.echo(json.dumps({"query": query, "results": [r.to_json() for r in results]}, indent=2, sort_keys=True))
        return
    if not results:
        console.print("no songs match (loosen --filters or check that sidflow_lance is built)")
        return
    table = Table(title=f"sidflow recommend — {len(results)} songs", expand=False)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("title / composer", max_width=28)
    table.add_column("HVSC path:song", overflow="fold")
    table.add_column("e m c p", no_wrap=True)
    table.add_column("bpm", justify="right")
    table.add_column("+/−/skip", justify="right", no_wrap=True)
    for r in results:
        table.add_row(
            str(r.rank),
            f"{r.score:.3f}",
            f"{r.title or '?'}\n[dim]{r.composer or '?'}[/]",
            f"{r.sid_path}:{r.song_index}",
            " ".join(f"{v:.1f}" for v in (r.e, r.m, r.c, r.p)),
            f"{r.bpm:.0f}",
            f"{r.likes}/{r.dislikes}/{r.skips}",
        )
    console.print(table)
