"""Recommendations over a real LanceDB table built from synthetic classified rows."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.recommend.engine import DatabaseUnavailable, Recommender, RecommendRequest, parse_song_ref
from sidflow_pipeline.recommend.filters import (
    MOOD_PRESETS,
    QueryError,
    filters_to_sql,
    parse_blend,
    parse_filters,
    parse_vector,
)
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows


def _build(db: Path, rows: list[dict[str, Any]], aggregates: dict | None = None) -> None:
    names = {(r["sid_path"], r["song_index"]): (r["sid_path"].split("/")[2], f"Title {i}") for i, r in enumerate(rows)}
    build_database(db, rows, aggregates or {}, names, sources={"classified": "x", "feedback": "y"}, feedback_events=0)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return synthetic_rows(400, seed=7)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path_factory.mktemp("rec") / "sidflow.lance"
    _build(path, rows)
    return path


def _keys(results: list) -> list[str]:
    return [r.key for r in results]


# --- query languages ---------------------------------------------------------------


def test_filters_parse_to_prefilter_sql() -> None:
    filters = parse_filters("e>=4, m<=2,c=5,p>4,bpm=120-140,duration!=20")
    assert filters_to_sql(filters) == (
        "e >= 4.0 AND m <= 2.0 AND (c >= 4.5 AND c < 5.5) AND p > 4.0 AND (bpm >= 120.0 AND bpm <= 140.0)"
        " AND (duration < 19.5 OR duration >= 20.5)"
    )
    assert parse_filters("") == () and filters_to_sql(()) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("energy>=4", "unknown field 'energy'"),
        ("e=>4", "expected FIELD OP NUMBER"),
        ("e>=9", "e must be within 1..5"),
        ("bpm=140-120", "is empty"),
        ("bpm>=120-140", "a range is written FIELD=LOW-HIGH"),
        ("e>=4.2.1", "is not a number"),
    ],
)
def test_bad_filters_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_filters(text)


def test_vectors_blends_and_song_refs() -> None:
    assert parse_vector("4,2,3") == (4.0, 2.0, 3.0) and parse_vector("1,1,1,5") == (1.0, 1.0, 1.0, 5.0)
    for bad in ("4,2", "4,2,x", "0,2,3", "1,2,3,4,5"):
        with pytest.raises(QueryError):
            parse_vector(bad)
    assert parse_blend("quiet:0.5,energetic:0.5") == pytest.approx((3.0, 3.5, 2.5))
    assert parse_blend("dark") == MOOD_PRESETS["dark"]
    for bad in ("sleepy:1", "quiet:x", "quiet:-1", "quiet:0"):
        with pytest.raises(QueryError):
            parse_blend(bad)
    assert parse_song_ref("/MUSICIANS/A/a.sid:3") == ("MUSICIANS/A/a.sid", 3)
    assert parse_song_ref("MUSICIANS/A/a.sid") == ("MUSICIANS/A/a.sid", 1)
    for bad in ("a.sid:x", "a.sid:0"):
        with pytest.raises(QueryError):
            parse_song_ref(bad)
    RecommendRequest()  # no seed: "for me"
    with pytest.raises(QueryError, match="at most one seed"):
        RecommendRequest(vector=(1, 1, 1), like=("a.sid", 1))
    with pytest.raises(QueryError, match="exploration"):
        RecommendRequest(vector=(1, 1, 1), exploration=2)


# --- the engine -----------------------------------------------------------------------


def test_mood_query_returns_nearby_songs_that_pass_the_filters(db: Path, rows: list[dict[str, Any]]) -> None:
    rec = Recommender(db)
    results = rec.recommend(RecommendRequest(vector=MOOD_PRESETS["quiet"], limit=15, exploration=0.0))
    assert len(results) == 15 and [r.rank for r in results] == list(range(1, 16))
    quiet = MOOD_PRESETS["quiet"]
    mean_hit = sum(math.dist((r.e, r.m, r.c), quiet) for r in results) / len(results)
    mean_all = sum(math.dist(tuple(r["ratings"][d] for d in "emc"), quiet) for r in rows) / len(rows)
    assert mean_hit < mean_all / 2
    assert all(0.0 <= r.similarity <= 1.0 for r in results)
    filtered = rec.recommend(RecommendRequest(vector=(4, 2, 3), filters=parse_filters("e>=4,bpm=100-150"), limit=30))
    assert filtered and all(r.e >= 4 and 100 <= r.bpm <= 150 for r in filtered)


def test_same_inputs_same_results_and_seed_controls_exploration(tmp_path: Path, rows: list[dict[str, Any]], db: Path) -> None:
    again = tmp_path / "again.lance"
    _build(again, rows)
    request = RecommendRequest(vector=(3, 3, 3, 4), limit=25, exploration=0.5, seed=3)
    first = Recommender(db).recommend(request)
    assert first == Recommender(again).recommend(request)
    assert first == Recommender(db).recommend(request)
    other_seed = Recommender(db).recommend(RecommendRequest(vector=(3, 3, 3, 4), limit=25, exploration=0.5, seed=4))
    assert _keys(other_seed) != _keys(first)
    exploit = Recommender(db).recommend(RecommendRequest(vector=(3, 3, 3, 4), limit=25, exploration=0.0, seed=3))
    assert exploit == Recommender(db).recommend(RecommendRequest(vector=(3, 3, 3, 4), limit=25, exploration=0.0, seed=99))


def test_adding_likes_and_rebuilding_raises_a_songs_rank(tmp_path: Path, rows: list[dict[str, Any]], db: Path) -> None:
    request = RecommendRequest(vector=MOOD_PRESETS["energetic"], limit=40, exploration=0.0, diversity=0.0)
    before = _keys(Recommender(db).recommend(request))
    target = before[25]
    sid_path, song = target.rsplit("#", 1)
    liked = tmp_path / "liked.lance"
    _build(liked, rows, {(sid_path, int(song)): {"likes": 3, "dislikes": 0, "skips": 0, "plays": 3}})
    after = Recommender(liked).recommend(request)
    assert _keys(after).index(target) < 25
    boosted = after[_keys(after).index(target)]
    assert boosted.song_feedback == pytest.approx(1.0) and boosted.likes == 3
    disliked = tmp_path / "disliked.lance"
    first = before[0]
    sid_path, song = first.rsplit("#", 1)
    _build(disliked, rows, {(sid_path, int(song)): {"likes": 0, "dislikes": 2, "skips": 1, "plays": 1}})
    assert first not in _keys(Recommender(disliked).recommend(RecommendRequest(vector=MOOD_PRESETS["energetic"], limit=5, exploration=0.0)))


def test_ties_never_depend_on_engine_order(tmp_path: Path) -> None:
    rows = synthetic_rows(60, seed=1)
    for row in rows:
        row["ratings"] = {"e": 2.0, "m": 2.0, "c": 2.0, "p": 3.0}
    path = tmp_path / "ties.lance"
    _build(path, rows)
    results = Recommender(path).recommend(RecommendRequest(vector=(2, 2, 2), limit=5, k=5, exploration=0.0, diversity=0.0))
    assert _keys(results) == sorted(f"{r['sid_path']}#{r['song_index']}" for r in rows)[:5]
    # 12 exact matches, then 48 songs tied at one distance straddling k=20: the pool is
    # the 12 strictly closer songs, not whichever 9 of the 48 the engine returned — which,
    # with p=5, would outscore the exact matches if they were let in.
    for row in rows[12:]:
        row["ratings"] = {"e": 3.0, "m": 2.0, "c": 2.0, "p": 5.0}
    _build(path, rows)
    rec = Recommender(path)
    request = RecommendRequest(vector=(2, 2, 2), limit=4, k=21, exploration=0.0, diversity=0.0)
    exact = sorted(f"{r['sid_path']}#{r['song_index']}" for r in rows[:12])
    assert _keys(rec.recommend(request)) == exact[:4]
    assert rec.recommend(RecommendRequest(vector=(2, 2, 2), limit=4, k=100, exploration=0.0))[0].p == 5.0


def test_diversity_keeps_consecutive_songs_apart(tmp_path: Path) -> None:
    rows = synthetic_rows(80, seed=2)
    for i, row in enumerate(rows):  # pairs of identical rating vectors
        value = 1.0 + (i // 2) % 5
        row["ratings"] = {"e": value, "m": value, "c": 3.0, "p": 3.0}
    path = tmp_path / "div.lance"
    _build(path, rows)
    rec = Recommender(path)
    plain = rec.recommend(RecommendRequest(vector=(3, 3, 3), limit=20, exploration=0.0, diversity=0.0))
    spaced = rec.recommend(RecommendRequest(vector=(3, 3, 3), limit=20, exploration=0.0, diversity=0.5))
    def gaps(results: list) -> list[float]:
        return [math.dist((a.e, a.m), (b.e, b.m)) for a, b in itertools.pairwise(results)]

    assert min(gaps(plain)) == 0.0
    # Enough distinct vectors exist for the first picks to alternate; the limit is still met.
    assert len(spaced) == 20 and len(set(_keys(spaced))) == 20 and min(gaps(spaced)[:10]) >= 0.5


def test_more_like_this_uses_audio_features(tmp_path: Path) -> None:
    rows = synthetic_rows(120, seed=3)
    seed_row, twin = rows[10], rows[70]
    twin["features"] = dict(seed_row["features"])
    path = tmp_path / "like.lance"
    _build(path, rows)
    rec = Recommender(path)
    ref = (seed_row["sid_path"], seed_row["song_index"])
    results = rec.recommend(RecommendRequest(like=ref, limit=5, exploration=0.0))
    assert results[0].key == f"{twin['sid_path']}#{twin['song_index']}"
    assert results[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert f"{ref[0]}#{ref[1]}" not in _keys(results)
    with pytest.raises(QueryError, match="not in the song database"):
        rec.recommend(RecommendRequest(like=("NOPE/x.sid", 1)))
    excluded = rec.recommend(RecommendRequest(like=ref, limit=5, exploration=0.0, exclude=frozenset({results[0].key})))
    assert results[0].key not in _keys(excluded)


def test_missing_or_corrupt_database_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="materialize sidflow_lance"):
        Recommender(tmp_path / "none.lance")
    broken = tmp_path / "broken.lance" / "songs.lance"
    broken.mkdir(parents=True)
    (broken / "garbage").write_text("x")
    with pytest.raises(DatabaseUnavailable, match="cannot be opened"):
        Recommender(tmp_path / "broken.lance")


# --- the CLI ---------------------------------------------------------------------------


@pytest.fixture()
def project(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    _build(tmp_path / "data" / "sidflow.lance", rows)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    return config


def test_cli_table_and_json(project: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["--config", str(project), "recommend", "--mood", "bright", "--limit", "5"])
    assert table.exit_code == 0, table.output
    assert "sidflow recommend — 5 songs" in table.output and "Title" in table.output
    out = runner.invoke(cli, ["--config", str(project), "recommend", "--blend", "quiet:0.7,complex:0.3", "--json", "--limit", "7"])
    data = json.loads(out.output)
    assert len(data["results"]) == 7 and data["query"]["blend"] == "quiet:0.7,complex:0.3"
    assert set(data["results"][0]) >= {"sid_path", "song_index", "score", "similarity", "song_feedback", "user_affinity"}
    same = runner.invoke(cli, ["--config", str(project), "recommend", "--blend", "quiet:0.7,complex:0.3", "--json", "--limit", "7"])
    assert same.output == out.output
    empty = runner.invoke(cli, ["--config", str(project), "recommend", "--vector", "1,1,1", "--filters", "e>=5,e<=1"])
    assert empty.exit_code == 0 and "no songs match" in empty.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mood", "quiet", "--vector", "1,2,3"], "choose one seed"),
        (["--vector", "9,9,9"], "within 1..5"),
        (["--mood", "quiet", "--filters", "tempo>3"], "unknown field"),
        (["--like", "NOPE/none.sid:2"], "no such song: NOPE/none.sid"),
    ],
)
def test_cli_errors_are_one_line(project: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(project), "recommend", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_cli_without_database(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data"}))
    result = CliRunner().invoke(cli, ["--config", str(config), "recommend", "--mood", "dark"])
    assert result.exit_code == 2 and "no song database" in result.output


# --- "more like this" hears the player; similar composers --------------------------------


def _player_rows() -> tuple[list[dict[str, Any]], dict[tuple[str, int], Any]]:
    """Three composers × 4 tunes: every tune sounds alike (same audio features); A and B
    use one player (same fingerprint), C another. Only the trace can tell them apart."""
    from sidflow_pipeline.features.trace import SKETCH_BUCKETS, SKETCH_FAMILIES

    rows = synthetic_rows(12, seed=11)
    audio = dict(rows[0]["features"])
    sketches: dict[tuple[str, int], Any] = {}
    families = ("instrument", "noteProgram", "tuning")
    for i, row in enumerate(rows):
        composer = "ABC"[i // 4]
        row["sid_path"] = f"MUSICIANS/X/Composer_{composer}/Tune_{i}.sid"
        row["song_index"] = 1
        row["features"] = dict(audio)
        player = 0 if composer in "AB" else 1
        # One shared bucket per player plus one that varies per tune.
        numbers = [list(SKETCH_FAMILIES).index(f) for f in families]
        sketches[(row["sid_path"], 1)] = {
            "buckets": SKETCH_BUCKETS,
            "index": [n * SKETCH_BUCKETS + b for n in numbers for b in (10 + 20 * player, 40 + i)],
            "share": [v for _ in numbers for v in (0.7, 0.3)],
        }
    return rows, sketches


def test_like_and_like_composer_use_the_player_fingerprint(tmp_path: Path) -> None:
    rows, sketches = _player_rows()
    path = tmp_path / "players.lance"
    names = {(r["sid_path"], 1): (r["sid_path"].split("/")[2].replace("_", " "), "t") for r in rows}
    build_database(path, rows, {}, names, sources={}, feedback_events=0, sketches=sketches)
    rec = Recommender(path)
    results = rec.recommend(RecommendRequest(like=(rows[0]["sid_path"], 1), limit=7, exploration=0.0, diversity=0.0))
    # The seven other tunes on the same player (A and B) come before any of C's.
    assert {r.sid_path.split("/")[2] for r in results} == {"Composer_A", "Composer_B"}
    matched, ranking = rec.similar_composers("composer a")
    assert matched == "Composer A" and [m.composer for m in ranking] == ["Composer B", "Composer C"]
    assert ranking[0].similarity > ranking[1].similarity and ranking[0].songs == 4 and ranking[0].example.endswith("#1")
    assert rec.similar_composers("Composer A") == rec.similar_composers("COMPOSER A")  # deterministic, case-free
    with pytest.raises(QueryError, match="matches 3 composers"):
        rec.similar_composers("composer")
    with pytest.raises(QueryError, match="no composer called"):
        rec.similar_composers("Nobody")
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data"}))
    (tmp_path / "data").mkdir()
    path.rename(tmp_path / "data" / "sidflow.lance")
    runner = CliRunner()
    table = runner.invoke(cli, ["--config", str(config), "recommend", "--like-composer", "Composer C"])
    assert table.exit_code == 0 and "composers like Composer C" in table.output, table.output
    out = json.loads(runner.invoke(cli, ["--config", str(config), "recommend", "--like-composer", "b", "--json"]).output)
    assert out["query"]["composer"] == "Composer B" and out["results"][0]["composer"] == "Composer A"
    both = runner.invoke(cli, ["--config", str(config), "recommend", "--like-composer", "b", "--mood", "quiet"])
    assert both.exit_code == 2 and "takes no song seed" in both.output


def test_like_defaults_to_no_exploration_or_diversity() -> None:
    from sidflow_pipeline.cli.recommend import DEFAULT_DIVERSITY, DEFAULT_EXPLORATION, build_request

    common = {"vector": None, "blend": None, "filters": None, "limit": 5, "seed": 0}
    like = build_request(mood=None, like="A/b.sid:2", exploration=None, diversity=None, **common)
    assert (like.exploration, like.diversity, like.like) == (0.0, 0.0, ("A/b.sid", 2))
    mood = build_request(mood="quiet", like=None, exploration=None, diversity=None, **common)
    assert (mood.exploration, mood.diversity) == (DEFAULT_EXPLORATION, DEFAULT_DIVERSITY)
    given = build_request(mood=None, like="A/b.sid", exploration=0.5, diversity=0.3, **common)
    assert (given.exploration, given.diversity) == (0.5, 0.3)
