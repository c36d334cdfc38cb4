"""`sidflow search`: find songs in the catalog with a small query language (DuckDB)."""

from __future__ import annotations

from typing import Any

import click

from sidflow_pipeline.cli.common import Context, fail, pass_ctx, user_errors
from sidflow_pipeline.cli.output import Column, emit_songs, format_option, length_text

__all__ = ["QUERY_HELP", "search", "where_keys"]

QUERY_HELP = """\b
Query terms (next to each other = AND; also OR, NOT in capitals, -term, parentheses):
  composer:hubbard   title:commando   released:firebird   path:MUSICIANS/H
  stil:"cover of"    (free text in STIL: titles, artists, comments)
  year:1985..1987    year:>=1990      chip:6581|8580      clock:pal|ntsc
  length:>2m   length:1m30s..3m   length:<=90s   song:2   songs:>1   sids:>1   bpm:120..140
  e:>=4  m:<=2  c:5  p:4..5   (ratings; c:5 = rounds to 5)
  rated   unrated   rated:e   (your own ratings)
  plain words match title, composer, STIL title/artist or path
  a|b means either value, on every field
"""


def where_keys(ctx: Context, query: str | None) -> frozenset[str] | None:
    """The ``sid_path#song`` keys ``--where QUERY`` allows (``None`` = no restriction)."""
    if not query or not query.strip():
        return None
    from sidflow_pipeline.search.catalog import CatalogUnavailable, SearchQueryError, matching_keys

    cfg = ctx.config
    try:
        return matching_keys(cfg.layout.catalog, cfg.classified_path, query)
    except (SearchQueryError, CatalogUnavailable) as exc:
        fail(f"--where: {exc}")


_COLUMNS = [
    Column("composer", min_width=12, max_width=28, drop=3),
    Column("title", min_width=16, max_width=48),
    Column("year", "right", 4, drop=4),
    Column("chip", min_width=4, drop=5),
    Column("length", "right", 6, drop=2),
    Column("e m c p", min_width=15, drop=6),
    Column("rated", min_width=5, drop=7),
    Column("path#song", min_width=16, drop=1, keep_end=True),
]


def _cells(row: dict[str, Any]) -> list[str]:
    def rating(dim: str) -> str:
        return "  - " if row[dim] is None else f"{row[dim]:.1f}"

    return [
        row["composer"] or "?",
        row["title"] or "?",
        str(row["year"] or ""),
        row["chip"] or "",
        length_text(row["length_ms"]),
        " ".join(rating(d) for d in ("e", "m", "c", "p")),
        "yes" if row["rated"] else "",
        f"{row['sid_path']}#{row['song_index']}",
    ]


# ignore_unknown_options: "-chip:8580" is a query term (NOT chip:8580), not an option.
@click.command("search", epilog=QUERY_HELP, context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1)
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="At most this many songs (0 = all).")
@format_option()
@pass_ctx
@user_errors
def search(ctx: Context, query: tuple[str, ...], limit: int, fmt: str) -> None:
    """Find songs in the catalog: sidflow search composer:hubbard year:1985..1987 chip:6581 length:>2m

    Searches the catalog (data/catalog/sid_catalog.parquet: header, real song lengths
    from Songlengths.md5, STIL) joined with the classified ratings, in DuckDB. An empty
    query lists every song.
    """
    from sidflow_pipeline.search.catalog import search_songs

    unknown = [word for word in query if word.startswith("--")]
    if unknown:
        fail(f"no such option: {unknown[0]} (see sidflow search --help)")
    cfg = ctx.config
    text = " ".join(query)
    result = search_songs(cfg.layout.catalog, cfg.classified_path, text, limit=limit or None)
    shown = len(result.rows)
    footer = f"{shown} of {result.total} songs; --limit 0 for all" if shown < result.total else f"{shown} song{'s' if shown != 1 else ''}"
    emit_songs(
        fmt,
        result.rows,
        hvsc_root=cfg.layout.hvsc_root,
        payload={"query": text, "total": result.total},
        title=f"sidflow search {text}".rstrip(),
        columns=_COLUMNS,
        cells=_cells,
        footer=footer,
        playlist=f"SIDFlow search: {text}" if text else "SIDFlow search",
    )
