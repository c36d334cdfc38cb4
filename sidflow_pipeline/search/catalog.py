"""Run a search query on DuckDB over the catalog (Parquet) and the classified rows (JSONL).

DuckDB reads both files where they lie, so a search needs no database build and sees
a rating as soon as ``classified`` is rematerialized. The catalog brings what HVSC
says about a song (composer, title, released, chip, the real length from
Songlengths.md5, STIL); the classified rows bring its ratings, which of them the
listener gave, and the tempo. Songs not classified yet are still found (their
ratings are NULL, so a rating condition leaves them out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.search.query import SearchQueryError, parse_query, to_sql

__all__ = ["RESULT_COLUMNS", "CatalogUnavailable", "SearchQueryError", "SearchResult", "matching_keys", "search_songs"]

# The columns of a result row, in this order (docs/output-formats.md).
RESULT_COLUMNS: tuple[str, ...] = (
    "sid_path", "song_index", "songs", "composer", "title", "released", "year", "chip", "clock",
    "length_ms", "e", "m", "c", "p", "rated", "bpm",
)  # fmt: skip

_CLASSIFIED_COLUMNS = (
    "{'sid_path': 'VARCHAR', 'song_index': 'INTEGER', "
    "'ratings': 'STRUCT(e DOUBLE, m DOUBLE, c DOUBLE, p DOUBLE)', "
    "'sources': 'STRUCT(e VARCHAR, m VARCHAR, c VARCHAR, p VARCHAR)', "
    "'features': 'STRUCT(bpm DOUBLE)'}"
)
_CLASSIFIED = f"""
    SELECT sid_path, song_index,
           ratings.e AS e, ratings.m AS m, ratings.c AS c, ratings.p AS p,
           coalesce(sources.e = 'manual', false) AS e_manual,
           coalesce(sources.m = 'manual', false) AS m_manual,
           coalesce(sources.c = 'manual', false) AS c_manual,
           coalesce(sources.p = 'manual', false) AS p_manual,
           features.bpm AS bpm
    FROM read_json(?, format = 'newline_delimited', columns = {_CLASSIFIED_COLUMNS})
"""
_NO_CLASSIFIED = """
    SELECT NULL::VARCHAR AS sid_path, NULL::INTEGER AS song_index,
           NULL::DOUBLE AS e, NULL::DOUBLE AS m, NULL::DOUBLE AS c, NULL::DOUBLE AS p,
           false AS e_manual, false AS m_manual, false AS c_manual, false AS p_manual,
           NULL::DOUBLE AS bpm
    WHERE false
"""
_SONGS = """
    SELECT cat.sid_path, cat.song_index, cat.songs,
           coalesce(cat.author, '') AS composer,
           coalesce(cat.stil_title, cat.name, '') AS title,
           cat.name, cat.stil_title, cat.stil_artist, cat.stil_name, cat.stil_author, cat.stil_comment,
           cat.released,
           TRY_CAST(nullif(regexp_extract(cat.released, '((19|20)[0-9][0-9])', 1), '') AS INTEGER) AS year,
           cat.sid_model AS chip, cat.sid_model, cat.clock, cat.length_ms, coalesce(cat.sid_count, 1) AS sids,
           cls.e, cls.m, cls.c, cls.p, cls.bpm,
           coalesce(cls.e_manual, false) AS e_manual, coalesce(cls.m_manual, false) AS m_manual,
           coalesce(cls.c_manual, false) AS c_manual, coalesce(cls.p_manual, false) AS p_manual,
           coalesce(cls.e_manual OR cls.m_manual OR cls.c_manual OR cls.p_manual, false) AS rated
    FROM read_parquet(?) AS cat
    LEFT JOIN classified AS cls ON cls.sid_path = cat.sid_path AND cls.song_index = cat.song_index
"""


class CatalogUnavailable(SidflowError, RuntimeError):
    """No catalog to search; the message says how to build it."""


@dataclass(frozen=True)
class SearchResult:
    """Rows (JSON-ready, :data:`RESULT_COLUMNS`) and how many matched before ``limit``."""

    rows: list[dict[str, Any]]
    total: int


def _run(catalog_path: Path, classified_dir: Path | None, query: str, select: str, tail: str,
         tail_params: tuple[object, ...]) -> list[tuple[Any, ...]]:  # fmt: skip
    if not catalog_path.is_file():
        raise CatalogUnavailable(
            f"no catalog at {catalog_path}: materialize sid_catalog "
            "(`dagster asset materialize -m sidflow_pipeline.definitions --select sid_catalog`)"
        )
    predicate = to_sql(parse_query(query))
    import duckdb

    files = sorted(str(p) for p in classified_dir.glob("*.jsonl") if p.stat().st_size) if classified_dir and classified_dir.is_dir() else []
    classified_sql, classified_params = (_CLASSIFIED, (files,)) if files else (_NO_CLASSIFIED, ())
    sql = f"WITH classified AS ({classified_sql}), songs AS ({_SONGS}) SELECT {select} FROM songs WHERE {predicate.text} {tail}"
    params = [*classified_params, str(catalog_path), *predicate.params, *tail_params]
    connection = duckdb.connect(":memory:")
    try:
        return connection.execute(sql, params).fetchall()
    except duckdb.Error as exc:  # a broken JSONL line or Parquet file: one line, not a traceback
        raise CatalogUnavailable(f"cannot read the catalog or classified rows: {str(exc).splitlines()[0]}") from exc
    finally:
        connection.close()


def search_songs(catalog_path: Path, classified_dir: Path | None, query: str, *, limit: int | None = None) -> SearchResult:
    """Songs matching ``query`` in ``(sid_path, song_index)`` order, at most ``limit``."""
    columns = ", ".join(RESULT_COLUMNS)
    tail = "ORDER BY sid_path, song_index" + (" LIMIT ?" if limit is not None else "")
    rows = _run(catalog_path, classified_dir, query, f"{columns}, count(*) OVER () AS total", tail,
                (limit,) if limit is not None else ())  # fmt: skip
    out = []
    for row in rows:
        record = dict(zip(RESULT_COLUMNS, row[:-1], strict=True))
        for dim in ("e", "m", "c", "p", "bpm"):
            if record[dim] is not None:
                record[dim] = round(float(record[dim]), 2)
        out.append(record)
    # No row at all means nothing matched (limit >= 1), so no second query for the count.
    return SearchResult(rows=out, total=int(rows[0][-1]) if rows else 0)


def matching_keys(catalog_path: Path, classified_dir: Path | None, query: str) -> frozenset[str]:
    """``sid_path#song`` of every song matching ``query`` (the ``--where`` of recommend/play)."""
    rows = _run(catalog_path, classified_dir, query, "sid_path || '#' || CAST(song_index AS VARCHAR)", "", ())
    return frozenset(row[0] for row in rows)
