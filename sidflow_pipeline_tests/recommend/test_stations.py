"""Stations, playlist shapes, the tuning parameters, the discovery history and explain,
on the fixture project of ``stations_fixture`` (energy, complexity, tempo, years, chips
and sections chosen per song)."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.config import SidflowConfig, load_config
from sidflow_pipeline.recommend.engine import Recommender, RecommendRequest
from sidflow_pipeline.recommend.filters import MOOD_PRESETS, QueryError
from sidflow_pipeline.recommend.history import DiscoveryHistory, read_history, record_session
from sidflow_pipeline.recommend.playlist import PARTS, Tuning, make_playlist, picks_from_results
from sidflow_pipeline.recommend.shapes import SHAPES, parse_shape
from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
from sidflow_pipeline.recommend.stations import parse_station, released_by_group, resolve_station
from sidflow_pipeline.search.catalog import search_songs
from sidflow_pipeline_tests.recommend.stations_fixture import COUNT, build_project, key, song

ALL = range(COUNT)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SidflowConfig]:
    config_file = build_project(tmp_path_factory.mktemp("stations"))
    return config_file, load_config(config_file)


@pytest.fixture(scope="module")
def engine(project: tuple[Path, SidflowConfig]) -> SnapshotRecommender:
    cfg = project[1]
    return SnapshotRecommender(cfg.layout.lance_db, cfg.layout.recommend_snapshot, cfg.layout.catalog)


def _plan(cfg: SidflowConfig, name: str, engine: object) -> object:
    return resolve_station(
        parse_station(name), search=lambda q: search_songs(cfg.layout.catalog, cfg.classified_path, q).rows, engine=engine
    )


def _requests(engine: SnapshotRecommender) -> dict[str, RecommendRequest]:
    """The four ways a list is asked for: a mood, --like, no seed ("for me"), --where."""
    where = frozenset(key(i) for i in ALL if song(i)["year"] >= 1990)  # what --where "year:>=1990" gives
    return {
        "mood": RecommendRequest(vector=MOOD_PRESETS["energetic"], limit=12, exploration=0.2),
        "like": RecommendRequest(like=(song(7)["sid_path"], 1), limit=12, exploration=0.0, diversity=0.0),
        "for me": RecommendRequest(limit=12, exploration=0.2, diversity=0.0),
        "where": RecommendRequest(limit=12, exploration=0.2, only=where),
    }


# --- shapes --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mood", "like", "for me", "where"])
def test_energy_and_complexity_shapes_order_within_tolerance(
    engine: SnapshotRecommender, project: tuple, kind: str
) -> None:
    request = _requests(engine)[kind]
    plain = {p.key for p in make_playlist(engine, request, catalog_path=project[1].layout.catalog)}
    for name, dim in (("ramp-up", "e"), ("ramp-down", "e"), ("arc", "e"), ("simple-to-complex", "c")):
        picks = make_playlist(engine, request, shape=SHAPES[name], catalog_path=project[1].layout.catalog)
        values = [getattr(p.rec, dim) for p in picks]
        assert len(picks) == 12 and {p.key for p in picks} == plain, name  # reorders, never invents
        if name == "ramp-down":
            values = values[::-1]
        if name == "arc":
            peak = values.index(max(values))
            assert 0 < peak < len(values) - 1
            assert all(b >= a for a, b in pairwise(values[: peak + 1]))
            assert all(b <= a for a, b in pairwise(values[peak:]))
        else:  # tolerance 0: every step keeps the direction
            assert all(b >= a for a, b in pairwise(values)), (name, values)
        if kind == "where":
            assert all(p.key in request.only for p in picks)


def test_bpm_flow_keeps_within_10_bpm_where_the_pool_allows(engine: SnapshotRecommender, project: tuple) -> None:
    cfg = project[1]
    for request in (RecommendRequest(limit=20, exploration=0.2), RecommendRequest(vector=(3, 3, 3), limit=15)):
        picks = make_playlist(engine, request, shape=SHAPES["bpm"], catalog_path=cfg.layout.catalog)
        assert len(picks) == request.limit
        steps = [b.rec.bpm - a.rec.bpm for a, b in pairwise(picks)]
        assert all(abs(d) <= 10 for d in steps), steps  # the fixture always has a neighbour within ±10
    # A pool with two far tempos: the list reaches them by the closest step, and says so.
    few = frozenset(key(i) for i in (5, 11, 20, 21, 22))
    picks = make_playlist(
        engine, RecommendRequest(limit=5, only=few, exploration=0.0), shape=SHAPES["bpm"], catalog_path=cfg.layout.catalog
    )
    assert {p.key for p in picks} == few
    chosen: set[str] = set()
    for a, b in pairwise(picks):
        chosen.add(a.key)
        unused = [song(i)["bpm"] for i in (5, 11, 20, 21, 22) if key(i) not in chosen]
        possible = any(abs(v - a.rec.bpm) <= 10 for v in unused)
        assert (abs(b.rec.bpm - a.rec.bpm) <= 10) == possible
        if not possible:
            assert any("closest" in n for n in b.notes) and min(abs(v - a.rec.bpm) for v in unused) == abs(
                b.rec.bpm - a.rec.bpm
            )


def test_timbre_chain_prefers_spectral_neighbours(engine: SnapshotRecommender, project: tuple) -> None:
    cfg = project[1]
    request = RecommendRequest(limit=10, exploration=0.0)
    chain = make_playlist(engine, request, shape=SHAPES["timbre"], catalog_path=cfg.layout.catalog)
    plain = make_playlist(engine, request, tuning=Tuning(exploration_rate=0.0), catalog_path=cfg.layout.catalog)
    assert len(chain) == 10 and chain[0].key == plain[0].key
    from sidflow_pipeline.recommend.facts import song_facts

    facts = song_facts(engine, engine.keys())

    def spread(picks: list) -> float:
        return float(
            np.mean(
                [math.dist(facts.timbre[a.key], facts.timbre[b.key]) for a, b in pairwise(picks)]
            )
        )

    assert spread(chain) < spread(plain)
    assert all(p.parts["shape"] <= 0 for p in chain) and chain[1].parts["shape"] < 0


def test_one_shape_at_a_time() -> None:
    assert parse_shape(shape="arc") is SHAPES["arc"] and parse_shape() is None
    assert parse_shape(path="simple-to-complex").dimension == "c"
    with pytest.raises(QueryError, match="one playlist shape at a time"):
        parse_shape(shape="ramp-up", flow="bpm")
    with pytest.raises(QueryError, match="unknown shape"):
        parse_shape(shape="bpm")


# --- stations ------------------------------------------------------------------------


def _expected(name: str) -> set[str]:
    def musician(i: int) -> bool:
        return song(i)["section"] == "MUSICIANS"

    rules = {
        "chip:6581": lambda i: "6581" in song(i)["chip"],
        "chip:8580": lambda i: "8580" in song(i)["chip"],
        "chip:multi": lambda i: i % 10 == 0,
        "era:1990..1995": lambda i: 1990 <= song(i)["year"] <= 1995,
        # GAMES/ or a game publisher (Thalamus); DEMOS/ or released by a group (Padua), not the composer's own
        "games": lambda i: i % 6 == 0 or (musician(i) and i % 3 == 0),
        "demos": lambda i: i % 6 == 1 or (musician(i) and i % 3 == 1),
        "hidden-gems": lambda i: round(song(i)["p"], 3) >= 4,
        "composer:Alpha Ann": lambda i: (
            song(i)["composer"] != "<?>"
        ),  # the one asked + the 3 closest (all of them here)
    }
    return {key(i) for i in ALL if rules[name](i)}


@pytest.mark.parametrize(
    "name",
    ["chip:6581", "chip:8580", "chip:multi", "era:1990..1995", "games", "demos", "hidden-gems", "composer:Alpha Ann"],
)
def test_a_station_returns_only_songs_its_query_admits(engine: SnapshotRecommender, project: tuple, name: str) -> None:
    cfg = project[1]
    plan = _plan(cfg, name, engine)
    admitted = {
        f"{r['sid_path']}#{r['song_index']}"
        for r in search_songs(cfg.layout.catalog, cfg.classified_path, plan.station.query).rows
    }
    assert plan.keys == _expected(name) and plan.keys <= admitted and plan.keys
    for request in _requests(engine).values():
        picks = make_playlist(engine, request, station=plan, catalog_path=cfg.layout.catalog)
        assert picks and {p.key for p in picks} <= plan.keys
        assert len(picks) == min(
            request.limit,
            len(plan.keys & (request.only or plan.keys)) - (1 if request.like and key(7) in plan.keys else 0),
        )


def test_games_and_demos_rules() -> None:
    assert released_by_group("1990 Art Design", "Noise of Victory")
    assert not released_by_group("1987 Lou Gray", "Lou Gray")
    assert not released_by_group("2000 SounDemoN", "Glenn Gallefoss (SounDemoN)")
    assert not released_by_group("19?? <?>", "<?>") and not released_by_group(None, "x")
    assert released_by_group("1987-89 Noise of SID", "Jeroen Tel")
    for bad in ("chip:6582", "era:1990", "era:1995..1990", "radio", "composer:"):
        with pytest.raises(QueryError):
            parse_station(bad)


def test_hidden_gems_leave_out_songs_heard_more_than_once(engine: SnapshotRecommender, project: tuple) -> None:
    from sidflow_pipeline.recommend.live import LiveFeedback

    cfg = project[1]
    plan = _plan(cfg, "hidden-gems", engine)
    gem, liked, once = sorted(plan.keys)[:3]
    # skipped once and played to the end once; liked; played once (still hidden)
    live = LiveFeedback(counts={gem: (0, 0, 1, 2), liked: (1, 0, 0, 0), once: (0, 0, 0, 1)})
    picks = make_playlist(engine, RecommendRequest(limit=50, live=live), station=plan, catalog_path=cfg.layout.catalog)
    assert {gem, liked} & {p.key for p in picks} == set() and once in {p.key for p in picks}
    assert len(picks) == len(plan.keys) - 2
    assert all(p.parts["station"] == pytest.approx(0.2 * (p.rec.p - 4), abs=1e-6) for p in picks)


# --- tuning ------------------------------------------------------------------------------


def test_recency_boost_moves_newer_songs_up(engine: SnapshotRecommender, project: tuple) -> None:
    cfg = project[1]
    request = RecommendRequest(vector=(3, 3, 3), limit=10, exploration=0.0)
    plain = make_playlist(engine, request, tuning=Tuning(exploration_rate=0.0), catalog_path=cfg.layout.catalog)
    boosted = make_playlist(
        engine, request, tuning=Tuning(exploration_rate=0.0, recency_boost=0.5), catalog_path=cfg.layout.catalog
    )

    def mean_year(picks: list) -> float:
        return float(np.mean([p.year for p in picks]))

    assert mean_year(boosted) > mean_year(plain) + 3
    for p in boosted:
        assert p.parts["recency"] == pytest.approx(0.5 * (p.year - 1982) / (2011 - 1982))
    # among two songs of equal base score the newer one now ranks first
    base = {p.key: p.rec.score - p.parts["recency"] for p in boosted}
    ranks = {p.key: p.rec.rank for p in boosted}
    for a in boosted:
        for b in boosted:
            if a.year > b.year and base[a.key] >= base[b.key]:
                assert ranks[a.key] < ranks[b.key]


def test_discovery_history_stops_explored_songs_resurfacing_within_n_sessions(
    engine: SnapshotRecommender, project: tuple, tmp_path: Path
) -> None:
    cfg = project[1]
    path = tmp_path / "discovery-history.jsonl"
    tuning = Tuning(exploration_rate=0.5, discovery_sessions=5)
    request = RecommendRequest(limit=8, exploration=0.0, diversity=0.0, seed=3)
    without = [
        p.key for p in make_playlist(engine, request, tuning=tuning, catalog_path=cfg.layout.catalog) if p.explored
    ]
    assert len(without) == 4
    assert without == [
        p.key for p in make_playlist(engine, request, tuning=tuning, catalog_path=cfg.layout.catalog) if p.explored
    ]
    explored_by_session: list[set[str]] = []
    for number in range(8):
        history = read_history(path)
        picks = make_playlist(engine, request, tuning=tuning, history=history, catalog_path=cfg.layout.catalog)
        explored = {p.key for p in picks if p.explored}
        assert len(explored) == 4 and not explored & history.recent(5), number
        assert all(any("not surfaced" in n for n in p.notes) for p in picks if p.explored)
        explored_by_session.append(explored)
        record_session(path, f"s{number}", "test", [p.key for p in picks], explored)
    for i, explored in enumerate(explored_by_session):  # no explored song again within the next 5 sessions
        assert not any(explored & later for later in explored_by_session[i + 1 : i + 6])
    assert len(read_history(path).sessions) == 8
    # the top of the list is not hidden by the history
    main = [
        p.key
        for p in make_playlist(
            engine, request, tuning=tuning, history=read_history(path), catalog_path=cfg.layout.catalog
        )
        if not p.explored
    ]
    assert main == [
        p.key for p in make_playlist(engine, request, tuning=tuning, catalog_path=cfg.layout.catalog) if not p.explored
    ]


def test_history_reader_skips_bad_lines_and_counts_sessions_ago(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    record_session(path, "a", "play", ["x", "y"])
    with path.open("a") as handle:
        handle.write("{broken\n")
    record_session(path, "b", "play", ["y"])
    history = read_history(path)
    assert history.sessions == (frozenset({"x", "y"}), frozenset({"y"}))
    assert history.sessions_ago("y") == 1 and history.sessions_ago("x") == 2 and history.sessions_ago("z") is None
    assert history.recent(1) == {"y"} and history.recent(0) == frozenset()
    assert read_history(tmp_path / "none.jsonl") == DiscoveryHistory()


# --- explain -------------------------------------------------------------------------------


def test_explain_parts_add_up_to_the_score(engine: SnapshotRecommender, project: tuple) -> None:
    cfg = project[1]
    for request in _requests(engine).values():
        results = engine.recommend(request)
        for pick, r in zip(picks_from_results(request, results), results, strict=True):
            # the engine's own score; it multiplies --like's float32 similarities in float32, hence 1e-6
            assert sum(pick.parts.values()) == pytest.approx(r.score, abs=1e-6)
        for station in (None, "hidden-gems", "composer:Alpha Ann"):
            for shape in (None, SHAPES["timbre"], SHAPES["arc"]):
                plan = _plan(cfg, station, engine) if station else None
                picks = make_playlist(
                    engine,
                    request,
                    station=plan,
                    shape=shape,
                    tuning=Tuning(recency_boost=0.3),
                    catalog_path=cfg.layout.catalog,
                )
                for p in picks:
                    assert set(p.parts) == set(PARTS)
                    assert sum(p.parts.values()) == pytest.approx(p.rec.score, abs=1e-9)
                    assert p.to_json()["explain"]["score"] == pytest.approx(
                        sum(p.to_json()["explain"]["parts"].values()), abs=1e-3
                    )
    # by hand: a mood query's similarity part is 0.6·(1 − distance / (4·√3))
    request = RecommendRequest(vector=(3, 3, 3), limit=5, exploration=0.0)
    for p in make_playlist(engine, request, catalog_path=cfg.layout.catalog):
        i = int(p.key.split("_")[-1][:2])
        s = song(i)
        expected = 0.6 * (
            1 - math.dist((round(s["e"], 3), round(s["m"], 3), round(s["c"], 3)), (3, 3, 3)) / (4 * math.sqrt(3))
        )
        assert p.parts["similarity"] == pytest.approx(expected, abs=1e-5)
        assert p.parts["user_affinity"] == pytest.approx(0.1 * (round(s["p"], 3) - 3) / 2, abs=1e-5)


def test_lancedb_engine_gives_the_same_playlists(engine: SnapshotRecommender, project: tuple) -> None:
    cfg = project[1]
    lance = Recommender(cfg.layout.lance_db)
    for station in (None, "games", "composer:Beta"):
        for shape in (None, SHAPES["bpm"], SHAPES["timbre"], SHAPES["ramp-up"]):
            for request in _requests(engine).values():
                kwargs = {"shape": shape, "tuning": Tuning(recency_boost=0.2), "catalog_path": cfg.layout.catalog}
                ours = make_playlist(
                    engine, request, station=_plan(cfg, station, engine) if station else None, **kwargs
                )
                theirs = make_playlist(
                    lance, request, station=_plan(cfg, station, lance) if station else None, **kwargs
                )
                assert [p.key for p in ours] == [p.key for p in theirs], (station, shape, request)
                assert [round(p.rec.score, 5) for p in ours] == [round(p.rec.score, 5) for p in theirs]


# --- the CLI --------------------------------------------------------------------------------


def _run(config: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_cli_stations_recommend_and_explain(project: tuple[Path, SidflowConfig]) -> None:
    config, cfg = project
    listed = _run(config, "stations")
    assert listed.exit_code == 0 and "hidden-gems" in listed.output and "--flow bpm" in listed.output
    names = [s["station"] for s in json.loads(_run(config, "stations", "--format", "json").output)["stations"]]
    assert names[:3] == ["chip:6581", "chip:8580", "chip:multi"] and "composer:NAME" in names
    out = _run(config, "recommend", "--station", "games", "--shape", "ramp-up", "--format", "json", "--limit", "6")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["query"]["station"] == "games" and data["query"]["shape"] == "--shape ramp-up"
    assert {r["key"] for r in data["results"]} <= _expected("games") and len(data["results"]) == 6
    energies = [r["e"] for r in data["results"]]
    assert energies == sorted(energies)
    for r in data["results"]:
        assert r["explain"]["score"] == pytest.approx(sum(r["explain"]["parts"].values()), abs=1e-3)
    table = _run(config, "recommend", "--flow", "bpm", "--explain", "--limit", "5")
    assert table.exit_code == 0 and "score parts" in table.output and "within ±10" in table.output
    assert all(len(line) <= 80 for line in table.output.splitlines())
    (cfg.layout.hvsc_root / "GAMES" / "A-F").mkdir(parents=True, exist_ok=True)
    (cfg.layout.hvsc_root / "GAMES" / "A-F" / "Game_18.sid").write_bytes(b"")
    explained = json.loads(
        _run(
            config,
            "explain",
            "GAMES/A-F/Game_18.sid",
            "--station",
            "games",
            "--recency-boost",
            "0.4",
            "--format",
            "json",
        ).output
    )
    parts = explained["results"][0]["explain"]["parts"]
    assert explained["results"][0]["score"] == pytest.approx(sum(parts.values()), abs=1e-3) and parts[
        "recency"
    ] == pytest.approx(0.4 * 18 / 29, abs=1e-4)
    readable = _run(config, "explain", "GAMES/A-F/Game_18.sid", "--mood", "quiet")
    assert readable.exit_code == 0 and "user_affinity" in readable.output and "the sum of the parts" in readable.output
    not_on = _run(config, "explain", "GAMES/A-F/Game_18.sid", "--station", "demos")
    assert not_on.exit_code == 2 and "is not on station demos" in not_on.output


def test_cli_play_exports_a_station_and_refuses_bad_options(
    project: tuple[Path, SidflowConfig], tmp_path: Path
) -> None:
    config, _ = project
    export = tmp_path / "q.json"
    out = _run(config, "play", "--station", "chip:multi", "--export", str(export), "--export-only", "--limit", "4")
    assert out.exit_code == 0, out.output
    saved = json.loads(export.read_text())
    assert saved["query"]["station"] == "chip:multi" and {s["key"] for s in saved["songs"]} <= _expected("chip:multi")
    for args, message in (
        (["recommend", "--shape", "arc", "--flow", "bpm"], "one playlist shape at a time"),
        (["recommend", "--station", "tapes"], "unknown station"),
        (["play", "--station", "era:2000", "--export-only", "--export", str(export)], "expected era:YEAR..YEAR"),
    ):
        result = _run(config, *args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_like_keeps_the_engines_list_without_tuning(
    engine: SnapshotRecommender, project: tuple[Path, SidflowConfig]
) -> None:
    """--like defaults to no exploration slots, so its list is the engine's own (the bench's figures hold)."""
    config, _ = project
    out = json.loads(
        _run(config, "recommend", "--like", song(7)["sid_path"], "--format", "json", "--limit", "5").output
    )
    request = RecommendRequest(like=(song(7)["sid_path"], 1), limit=5, exploration=0.0, diversity=0.0)
    assert [r["key"] for r in out["results"]] == [r.key for r in engine.recommend(request)]


def test_a_session_record_names_its_station_and_shape(engine: SnapshotRecommender, project: tuple[Path, SidflowConfig]) -> None:
    from sidflow_pipeline.cli.common import Context
    from sidflow_pipeline.cli.playlist import Playlist

    config, cfg = project
    options: dict = {"station": "games", "flow": "bpm", "limit": 5, "like": None, "exploration": None}
    playlist = Playlist.take(Context(str(config)), options)
    assert options == {"limit": 5, "like": None, "exploration": 0.2}  # the config's exploration_factor filled in
    picks = playlist.run(Context(str(config)), engine, RecommendRequest(limit=5, exploration=0.2))
    assert picks and {p.key for p in picks} <= _expected("games")
    try:
        playlist.record(Context(str(config)), "s1", [p.key for p in picks])
        line = json.loads(cfg.layout.discovery_history.read_text())
        assert line["source"] == "play --station games --flow bpm" and line["surfaced"] == [p.key for p in picks]
    finally:
        cfg.layout.discovery_history.unlink(missing_ok=True)


def test_the_snapshot_ranks_composers_as_lancedb_does_without_opening_it(project: tuple[Path, SidflowConfig]) -> None:
    cfg = project[1]
    fresh = SnapshotRecommender(cfg.layout.lance_db, cfg.layout.recommend_snapshot, cfg.layout.catalog)
    ours = fresh.similar_composers("alpha", limit=3)
    assert fresh._engine is None  # answered from the snapshot: no LanceDB import
    theirs = Recommender(cfg.layout.lance_db).similar_composers("alpha", limit=3)
    assert ours[0] == theirs[0] == "Alpha Ann"
    assert [(m.composer, m.songs, m.example) for m in ours[1]] == [(m.composer, m.songs, m.example) for m in theirs[1]]
    assert [m.similarity for m in ours[1]] == pytest.approx([m.similarity for m in theirs[1]], abs=1e-9)
