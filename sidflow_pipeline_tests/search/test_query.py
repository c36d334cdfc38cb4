"""Every query form of `sidflow search` against a fixture catalog with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidflow_pipeline.search.catalog import CatalogUnavailable, matching_keys, search_songs
from sidflow_pipeline.search.query import SearchQueryError, parse_query, to_sql
from sidflow_pipeline_tests.search.fixture import SONGS, key, write_fixture

ALL = set(SONGS)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_fixture(tmp_path_factory.mktemp("search") / "data")


def names(paths: tuple[Path, Path], query: str) -> set[str]:
    found = matching_keys(*paths, query)
    by_key = {key(n): n for n in SONGS}
    return {by_key[k] for k in found}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        # text fields: case-insensitive substrings, quotes for spaces
        ("composer:hubbard", {"commando1", "commando2", "delta"}),
        ('composer:"ROB HUBBARD"', {"commando1", "commando2", "delta"}),
        ("title:commando", {"commando1", "commando2"}),
        ('title:"high score"', {"commando2"}),
        ("released:elite", {"commando1", "commando2"}),
        ("path:DEMOS/", {"unknown"}),
        # STIL free text, a multi-line comment searched whole
        ('stil:"separate line"', {"commando1"}),
        ("stil:elvis", {"cybernoid"}),
        # years from `released`
        ("year:1985..1987", {"commando1", "commando2", "delta", "parallax"}),
        ("year:>=1987", {"delta", "cybernoid"}),
        ("year:1986", {"parallax"}),
        ("year:..1985", {"commando1", "commando2"}),
        ("year:1988..", {"cybernoid"}),
        # chips and clocks; a 6581+8580 tune answers both
        ("chip:6581", {"commando1", "commando2", "delta", "parallax"}),
        ("chip:8580", {"parallax", "cybernoid"}),
        ("chip:6581|8580", ALL - {"unknown"}),
        ("chip:both", {"parallax"}),
        ("chip:unknown", {"unknown"}),
        ("clock:ntsc", {"cybernoid"}),
        ("clock:pal|unknown", ALL - {"cybernoid"}),
        # real song lengths (Songlengths), in every unit
        ("length:>2m", {"commando1", "delta", "parallax"}),
        ("length:<=100s", {"commando2", "cybernoid"}),
        ("length:<=100", {"commando2", "cybernoid"}),
        ("length:1m30s..3m", {"delta", "cybernoid"}),
        ("length:1m30s..3m20s", {"delta", "parallax", "cybernoid"}),
        ("length:2:30", {"delta"}),
        ("length:>1.5m", {"commando1", "delta", "parallax", "cybernoid"}),
        # ratings: = rounds, ranges inclusive, only classified songs
        ("e:>=4", {"commando1", "commando2", "cybernoid"}),
        ("e:5", {"commando1"}),
        ("e:4", {"commando2", "cybernoid"}),
        ("c:4..5", {"delta", "cybernoid"}),
        ("p:<2.5", {"parallax"}),
        ("m:>4", {"cybernoid"}),
        ("bpm:>=140", {"commando1", "cybernoid"}),
        # your own ratings
        ("rated", {"commando1", "delta"}),
        ("unrated", {"commando2", "parallax", "cybernoid", "unknown"}),
        ("rated:no", {"commando2", "parallax", "cybernoid", "unknown"}),
        ("rated:p", {"delta"}),
        ("unrated e:>=4", {"commando2", "cybernoid"}),
        # subtunes
        ("song:2", {"commando2"}),
        ("songs:>1", {"commando1", "commando2"}),
        # plain words: title, composer, STIL or path; several words all must match
        ("cybernoid", {"cybernoid"}),
        ("hubbard delta", {"delta"}),
        ('"high score"', {"commando2"}),
        # AND / OR / NOT / - / parentheses
        ("composer:hubbard AND year:1987", {"delta"}),
        ("composer:galway OR composer:tel", {"parallax", "cybernoid"}),
        ("composer:hubbard NOT song:1", {"commando2"}),
        ("-chip:6581", {"cybernoid", "unknown"}),
        ("NOT length:>1m", {"commando2", "unknown"}),  # an unknown length is not "longer than 1m"
        ("(composer:galway OR composer:tel) chip:8580", {"parallax", "cybernoid"}),
        ("composer:hubbard (year:1987 OR length:<1m)", {"commando2", "delta"}),
        ("NOT (composer:hubbard OR chip:8580)", {"unknown"}),
        ("-(composer:hubbard OR chip:8580)", {"unknown"}),
        ("composer:hubbard OR composer:galway year:1986", {"commando1", "commando2", "delta", "parallax"}),
        # the example
        ("composer:hubbard year:1985..1987 chip:6581 length:>2m", {"commando1", "delta"}),
    ],
)
def test_query_forms(paths: tuple[Path, Path], query: str, expected: set[str]) -> None:
    assert names(paths, query) == expected


def test_user_text_is_never_sql(paths: tuple[Path, Path]) -> None:
    for hostile in ("composer:\"x' OR 1=1 --\"", "title:%", "title:_", "\"'; DROP TABLE songs; --\"", "path:*"):
        assert names(paths, hostile) == set(), hostile
        assert all("DROP" not in part and "1=1" not in part for part in to_sql(parse_query(hostile)).text.split("?"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("foo:1", "unknown field 'foo'"),
        ("year:19", "19 is outside 1900..2100"),
        ("year:1990..1980", "is empty"),
        ("year:..", "a range needs at least one end"),
        ("e:9", "outside 1..5"),
        ("e:x", "'x' is not a number"),
        ("length:abc", "is not a length"),
        ("chip:6510", "expected chip:6581"),
        ("rated:maybe", "expected rated:yes"),
        ("(composer:a", "a '(' is not closed"),
        ("composer:a)", "unexpected ')'"),
        ("composer:a OR", "the query ends where a term was expected"),
        ("AND composer:a", "'AND' where a term was expected"),
        ('title:"open', "unbalanced quote"),
        ("title:", "needs a value"),
        ("chip:6581|", "empty alternative"),
    ],
)
def test_bad_queries_are_one_line_errors(paths: tuple[Path, Path], query: str, message: str) -> None:
    with pytest.raises(SearchQueryError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")) as caught:
        matching_keys(*paths, query)
    assert "\n" not in str(caught.value)


def test_results_limit_total_and_columns(paths: tuple[Path, Path]) -> None:
    result = search_songs(*paths, "composer:hubbard", limit=2)
    assert result.total == 3 and [r["song_index"] for r in result.rows] == [1, 2]
    first = result.rows[0]
    assert first["composer"] == "Rob Hubbard" and first["title"] == "Commando" and first["year"] == 1985
    assert first["length_ms"] == 245_000 and first["chip"] == "6581" and first["rated"] is True
    assert (first["e"], first["m"], first["c"], first["p"], first["bpm"]) == (5.0, 2.4, 3.6, 4.2, 140.0)
    assert search_songs(*paths, "composer:nobody", limit=5).total == 0
    unknown = search_songs(*paths, "path:DEMOS").rows[0]
    assert unknown["e"] is None and unknown["length_ms"] is None and unknown["year"] is None and unknown["rated"] is False


def test_without_classified_rows_and_without_a_catalog(paths: tuple[Path, Path], tmp_path: Path) -> None:
    catalog, _ = paths
    assert len(matching_keys(catalog, tmp_path / "none", "composer:hubbard")) == 3
    assert matching_keys(catalog, None, "e:>=1") == frozenset()
    with pytest.raises(CatalogUnavailable, match="materialize sid_catalog"):
        search_songs(tmp_path / "missing.parquet", None, "")
    broken = tmp_path / "classified"
    broken.mkdir()
    (broken / "X.jsonl").write_text("{not json\n")
    with pytest.raises(CatalogUnavailable, match="cannot read"):
        search_songs(catalog, broken, "")
