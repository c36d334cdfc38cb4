"""station_playlists through Dagster: one M3U + JSON per configured station, parts in metadata."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.defs.stations import station_playlists
from sidflow_pipeline_tests.recommend.stations_fixture import COUNT, build_project, key, song


def test_station_playlists_writes_each_station_with_score_parts(tmp_path: Path) -> None:
    config = build_project(tmp_path)
    raw = json.loads(config.read_text())
    raw["recommend"] = {"stations": ["games", "chip:multi", "composer:Nobody", "era:1990..1995"], "playlistLength": 5}
    config.write_text(json.dumps(raw))
    folder = load_config(config).layout.station_playlists_dir
    folder.mkdir(parents=True)
    (folder / "old-station.m3u").write_text("#EXTM3U\n")

    def run() -> dg.ExecuteInProcessResult:
        return dg.materialize([station_playlists], resources={"sidflow": SidflowConfigResource(config_path=str(config))})

    result = run()
    assert result.success
    meta = result.asset_materializations_for_node("station_playlists")[0].metadata
    stations = meta["stations"].value
    assert set(stations) == {"games", "chip:multi", "composer:Nobody", "era:1990..1995"}
    assert "no composer called" in stations["composer:Nobody"]["error"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{s}.{e}" for s in ("games", "chip-multi", "era-1990-1995") for e in ("m3u", "json")
    )  # the stale file of a station no longer configured is gone
    games = json.loads((folder / "games.json").read_text())
    allowed = {key(i) for i in range(COUNT) if i % 6 == 0 or (song(i)["section"] == "MUSICIANS" and i % 3 == 0)}
    assert len(games["songs"]) == 5 and {s["key"] for s in games["songs"]} <= allowed
    for s in games["songs"]:
        assert s["explain"]["score"] == pytest.approx(sum(s["explain"]["parts"].values()), abs=1e-3)
    m3u = (folder / "games.m3u").read_text().splitlines()
    assert m3u[0] == "#EXTM3U" and sum(line.startswith("#EXTINF:120,") for line in m3u) == 5
    parts = meta["score_parts"].value["chip:multi"]
    assert parts and all(p["key"] in {key(i) for i in range(0, COUNT, 10)} for p in parts)
    assert all(p["score"] == pytest.approx(sum(v for k, v in p.items() if k not in ("key", "score")), abs=1e-3) for p in parts)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert run().success
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # deterministic files


def test_definitions_register_station_playlists() -> None:
    from sidflow_pipeline.definitions import defs

    assert defs.resolve_asset_graph().has(dg.AssetKey("station_playlists"))


def test_station_playlists_without_a_database_fails_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    result = dg.materialize(
        [station_playlists], resources={"sidflow": SidflowConfigResource(config_path=str(config))}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no song database" in failure.step_failure_data.error.message
