"""`sidflow recommend`: a scored list of songs for a mood, a vector or a song you like,
or (``--like-composer``) the composers whose tunes are most like a composer's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, console, fail, pass_ctx, user_errors
from sidflow_pipeline.cli.output import (
    Column,
    emit_json,
    emit_jsonl,
    emit_songs,
    format_option,
    length_text,
    print_table,
)
from sidflow_pipeline.cli.playlist import Playlist, explain_table, playlist_options
from sidflow_pipeline.recommend.filters import (
    MOOD_PRESETS,
    QueryError,
    parse_blend,
    parse_filters,
    parse_vector,
    split_duration,
)

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
            "--like", "like", metavar="SONG",
            help="Songs like SONG (a file or a collection path, #N for song N): audio and SID register-trace features.",
        ),
        click.option(
            "--filters",
            help='Pre-filters, e.g. "e>=4,m<=2,c=5,bpm=120-140" (= means rounds to; duration = the song\'s length in s).',
        ),
        click.option(
            "--where", metavar="QUERY",
            help='Only songs a catalog search finds, e.g. "composer:hubbard year:1985..1987 length:>2m" (see sidflow search --help).',
        ),
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
    where: str | None = None,
    resolve_where: Callable[[str], frozenset[str] | None] | None = None,
    resolve_like: Callable[[str], tuple[str, int]] | None = None,
    live: Any = None,
) -> Any:
    """The request for the CLI options; ``resolve_where`` turns a catalog query into keys.

    ``--where`` and the ``duration`` filters are catalog conditions (the song database
    has no real song lengths), so they become the request's ``only`` keys.
    """
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
    # No seed at all is "for me": the listener's taste plus exploration (engine docstring).
    # "More like this" means like the seed: no noise, and no spreading in *rating* space
    # (which has nothing to do with the similarity vector). Measured on the similarity
    # set (bench/similarity.py): the mood defaults cut same-composer nDCG@10 0.467 → 0.448.
    if exploration is None:
        exploration = 0.0 if like else DEFAULT_EXPLORATION
    # "For me" (no seed) ranks in the similarity space too: spreading in rating space
    # has nothing to do with it either (measured: bench/listener.py).
    if diversity is None:
        diversity = 0.0 if like or seed_vector is None else DEFAULT_DIVERSITY
    kept, length_query = split_duration(parse_filters(filters))
    catalog_query = " ".join(f"({q})" for q in (where, length_query) if q and q.strip())
    only = None
    if catalog_query:
        if resolve_where is None:
            raise QueryError("--where and duration filters need the catalog")
        only = resolve_where(catalog_query)
    return RecommendRequest(
        vector=seed_vector,
        like=(resolve_like or parse_song_ref)(like) if like else None,
        filters=kept,
        only=only,
        limit=limit,
        exploration=exploration,
        diversity=diversity,
        seed=seed,
        exclude=exclude,
        unrated=unrated,
        live=live,
    )


def open_recommender(ctx: Context) -> Any:
    """The snapshot engine: numpy over a cached copy of the table (no lancedb import)."""
    from sidflow_pipeline.recommend.snapshot import SnapshotRecommender

    cfg = ctx.config
    return SnapshotRecommender(cfg.layout.lance_db, cfg.layout.recommend_snapshot, cfg.layout.catalog)


def like_resolver(ctx: Context) -> Callable[[str], tuple[str, int]]:
    """``--like SONG`` by the one song-name convention (a file or a collection path,
    ``#N`` or ``:N``): a name that is no song is refused before the database is read."""
    from sidflow_pipeline.cli.common import resolve_song_arg

    def resolve(text: str) -> tuple[str, int]:
        ref = resolve_song_arg(ctx, text)
        return ref.sid_path, ref.song_or(1)

    return resolve


def live(ctx: Context) -> Any:
    """Every feedback event in the log, read now: it counts before the next rebuild."""
    from sidflow_pipeline.hvsc.moves import read_moves
    from sidflow_pipeline.recommend.live import live_feedback

    return live_feedback(ctx.config.layout.feedback_dir, moves=read_moves(ctx.config.hvsc_path))


def resolver(ctx: Context) -> Callable[[str], frozenset[str] | None]:
    from sidflow_pipeline.cli.search import where_keys

    return lambda query: where_keys(ctx, query)


_COLUMNS = [
    Column("#", "right", 2),
    Column("score", "right", 5, drop=5),
    Column("composer", min_width=12, max_width=28, drop=3),
    Column("title", min_width=16, max_width=48),
    Column("length", "right", 6, drop=4),
    Column("e m c p", min_width=15, drop=6),
    Column("bpm", "right", 3, drop=7),
    Column("+/−/skip", "right", 8, drop=8),
    Column("path#song", min_width=16, drop=1, keep_end=True),
]


def _cells(r: dict[str, Any]) -> list[str]:
    return [
        str(r["rank"]),
        f"{r['score']:.3f}",
        r["composer"] or "?",
        r["title"] or "?",
        length_text(r["length_ms"]),
        " ".join(f"{r[d]:.1f}" for d in ("e", "m", "c", "p")),
        f"{r['bpm']:.0f}",
        f"{r['likes']}/{r['dislikes']}/{r['skips']}",
        f"{r['sid_path']}#{r['song_index']}",
    ]


@click.command("recommend")
@seed_options
@playlist_options
@click.option(
    "--like-composer", "like_composer", metavar="NAME",
    help="Composers whose tunes are most like NAME's (centroid cosine of the similarity vectors), not songs.",
)
@format_option()
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
@pass_ctx
@user_errors
def recommend(ctx: Context, /, fmt: str, as_json: bool, like_composer: str | None, **options: Any) -> None:
    """Recommend songs from the song database (sidflow_lance).

    \b
    score = 0.6·similarity + 0.3·song_feedback + 0.1·user_affinity
    Feedback counts at once (the log is read at each query); a song disliked in the
    last 7 days is not recommended. With no seed: songs for you (your taste).
    Examples:
      sidflow recommend                 (no seed: songs for you)
      sidflow recommend --mood quiet --limit 10
      sidflow recommend --vector 4,2,3 --filters "bpm=120-140" --where "chip:6581 length:>2m"
      sidflow recommend --like MUSICIANS/H/Hubbard_Rob/Delta.sid:2 --format json
      sidflow recommend --like-composer "Rob Hubbard" --limit 10
      sidflow recommend --station chip:8580 --shape ramp-up --explain   (sidflow stations)
    """
    fmt = "json" if as_json else fmt
    if like_composer is not None:
        _composers(ctx, like_composer, options, fmt)
        return
    playlist = Playlist.take(ctx, options)
    request = build_request(**options, resolve_where=resolver(ctx), resolve_like=like_resolver(ctx), live=live(ctx))
    results = playlist.run(ctx, open_recommender(ctx), request)
    if not results and fmt == "table":
        console.print("no songs match (loosen --filters/--where/--station or check that sidflow_lance is built)")
        return
    query = {k: v for k, v in options.items() if v is not None} | (playlist.query() if playlist.layered else {})
    if playlist.explain and fmt == "table":
        explain_table(playlist.picks or [], f"sidflow recommend — {len(results)} songs, score parts")
        return
    emit_songs(
        fmt,
        [p.to_json() for p in playlist.picks or []] if playlist.layered or playlist.explain else [r.to_json() for r in results],
        hvsc_root=ctx.config.layout.hvsc_root,
        payload={"query": query},
        title=f"sidflow recommend — {len(results)} songs",
        columns=_COLUMNS,
        cells=_cells,
        playlist="SIDFlow recommend",
    )


_COMPOSER_COLUMNS = [
    Column("#", "right", 2),
    Column("similarity", "right", 10),
    Column("composer", min_width=12, max_width=32),
    Column("songs", "right", 5, drop=2),
    Column("closest song", min_width=16, drop=1, keep_end=True),
]


def _composers(ctx: Context, name: str, options: dict[str, Any], fmt: str) -> None:
    """``--like-composer``: a ranking of composers instead of songs."""
    seeds = [
        flag
        for flag, key in (("--mood", "mood"), ("--vector", "vector"), ("--blend", "blend"), ("--like", "like"))
        if options.get(key)
    ]
    if seeds:
        fail(f"--like-composer ranks composers; it takes no song seed ({', '.join(seeds)})")
    matched, matches = open_recommender(ctx).similar_composers(name, limit=options["limit"])
    if fmt in ("json", "jsonl"):
        if fmt == "jsonl":
            emit_jsonl(m.to_json() for m in matches)
            return
        payload = {
            "query": {"like_composer": name, "composer": matched, "limit": options["limit"]},
            "results": [m.to_json() for m in matches],
        }
        emit_json(payload)
        return
    if fmt != "table":
        fail(f"--like-composer lists composers, not songs: --format {fmt} does not apply (use table, json or jsonl)")
    if not matches:
        console.print(f"no other composer with at least two songs to compare with {matched}")
        return
    print_table(
        f"composers like {matched} — by their tunes' similarity vectors",
        _COMPOSER_COLUMNS,
        [[str(m.rank), f"{m.similarity:.3f}", m.composer, str(m.songs), m.example] for m in matches],
    )
