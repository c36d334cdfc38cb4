"""`sidflow recommend`: a scored list of songs for a mood, a vector or a song you like,
or (``--like-composer``) the composers whose tunes are most like a composer's."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, console, fail, pass_ctx, user_errors
from sidflow_pipeline.recommend.filters import MOOD_PRESETS, QueryError, parse_blend, parse_filters, parse_vector

__all__ = ["DEFAULT_DIVERSITY", "DEFAULT_EXPLORATION", "build_request", "recommend", "seed_options"]

DEFAULT_EXPLORATION = 0.2
DEFAULT_DIVERSITY = 0.2


def seed_options(func: Any) -> Any:
    """The query options shared by `recommend` and `play`."""
    options = [
        click.option("--mood", type=click.Choice(sorted(MOOD_PRESETS)), help="A mood preset (e,m,c seed)."),
        click.option("--vector", help="Seed ratings e,m,c or e,m,c,p, each 1..5 (e.g. 4,2,3)."),
        click.option("--blend", help="Weighted moods, e.g. quiet:0.7,complex:0.3."),
        click.option(
            "--like", "like", metavar="SID[:SONG]",
            help="Songs like this one: audio and SID register-trace features (how it is played).",
        ),
        click.option("--filters", help='Pre-filters, e.g. "e>=4,m<=2,c=5,bpm=120-140" (= means rounds to).'),
        click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True),
        click.option(
            "--exploration", type=FiniteFloatRange(0.0, 1.0), default=None,
            help="0 = safe picks; 1 = wider pool, preference down-weighted, more seeded randomness "
            f"[default: {DEFAULT_EXPLORATION}; 0 with --like].",
        ),
        click.option(
            "--diversity", type=FiniteFloatRange(min=0.0), default=None,
            help=f"Minimum rating-space distance between consecutive songs (0 = off) [default: {DEFAULT_DIVERSITY}; 0 with --like].",
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
    exploration: float | None,
    diversity: float | None,
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
    # "More like this" means like the seed: no noise, and no spreading in *rating* space
    # (which has nothing to do with the similarity vector). Measured on the similarity
    # set (bench/similarity.py): the mood defaults cut same-composer nDCG@10 0.467 → 0.448.
    if exploration is None:
        exploration = 0.0 if like else DEFAULT_EXPLORATION
    if diversity is None:
        diversity = 0.0 if like else DEFAULT_DIVERSITY
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
@click.option(
    "--like-composer", "like_composer", metavar="NAME",
    help="Composers whose tunes are most like NAME's (centroid cosine of the similarity vectors), not songs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (query + results) instead of a table.")
@pass_ctx
@user_errors
def recommend(ctx: Context, as_json: bool, like_composer: str | None, **options: Any) -> None:
    """Recommend songs from the song database (sidflow_lance).

    \b
    score = 0.6·similarity + 0.3·song_feedback + 0.1·user_affinity
    Examples:
      sidflow recommend --mood quiet --limit 10
      sidflow recommend --vector 4,2,3 --filters "bpm=120-140"
      sidflow recommend --like MUSICIANS/H/Hubbard_Rob/Delta.sid:2 --json
      sidflow recommend --like-composer "Rob Hubbard" --limit 10
    """
    if like_composer is not None:
        _composers(ctx, like_composer, options, as_json)
        return
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


def _composers(ctx: Context, name: str, options: dict[str, Any], as_json: bool) -> None:
    """``--like-composer``: a ranking of composers instead of songs."""
    seeds = [flag for flag, key in (("--mood", "mood"), ("--vector", "vector"), ("--blend", "blend"), ("--like", "like")) if options.get(key)]
    if seeds:
        fail(f"--like-composer ranks composers; it takes no song seed ({', '.join(seeds)})")
    try:
        matched, matches = open_recommender(ctx).similar_composers(name, limit=options["limit"])
    except QueryError as exc:
        fail(str(exc))
    if as_json:
        payload = {"query": {"like_composer": name, "composer": matched, "limit": options["limit"]}, "results": [m.to_json() for m in matches]}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    if not matches:
        console.print(f"no other composer with at least two songs to compare with {matched}")
        return
    table = Table(title=f"composers like {matched} — by their tunes' similarity vectors", expand=False)
    table.add_column("#", justify="right")
    table.add_column("similarity", justify="right")
    table.add_column("composer", max_width=32)
    table.add_column("songs", justify="right")
    table.add_column("closest song", overflow="fold")
    for m in matches:
        table.add_row(str(m.rank), f"{m.similarity:.3f}", m.composer, str(m.songs), m.example.replace("#", ":"))
    console.print(table)
