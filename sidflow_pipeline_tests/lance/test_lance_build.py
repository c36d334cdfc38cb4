"""feedback_aggregates → sidflow_lance on hand-made classified rows (no rendering needed)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import lancedb
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.defs.feedback import feedback_aggregates, lance_manifest_matches_sources, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.feedback.aggregate import aggregate_events
from sidflow_pipeline.feedback.log import append_event, read_events
from sidflow_pipeline.lance.build import AUDIO_FEATURES
from sidflow_pipeline.lance.verify import check_lance_manifest
from sidflow_pipeline.config import load_config


def _row(path: str, song: int, e: float, onset: float) -> dict:
    features = {name: 1.0 for name in AUDIO_FEATURES} | {"onsetRate": onset, "bpm": 100 + onset, "duration": 20.0}
    return {"sid_path": path, "song_index": song, "ratings": {"e": e, "m": 3.0, "c": 3.0, "p": 3.0},
            "sources": {d: "predicted" for d in "emcp"}, "confidence": 0.3, "predictor": "baseline-1", "features": features}


@pytest.fixture()
def setup(tmp_path: Path) -> Path:
    classified = tmp_path / "data" / "classified"
    classified.mkdir(parents=True)
    rows = [_row(f"MUSICIANS/A/Artist/t{i}.sid", 1 + i % 2, 1 + i % 5, float(i)) for i in range(12)]
    (classified / "MUSICIANS_A.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    feedback = tmp_path / "data" / "feedback"
    when = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    append_event(feedback, "MUSICIANS/A/Artist/t1.sid", "play", song_index=2, when=when, event_id="a")
    append_event(feedback, "MUSICIANS/A/Artist/t1.sid", "like", song_index=2, when=when, event_id="b")
    append_event(feedback, "MUSICIANS/A/Artist/t1.sid", "like", song_index=2, when=when, event_id="b")  # duplicate uuid
    append_event(feedback, "MUSICIANS/A/Artist/t2.sid", "skip", when=datetime(2026, 11, 2, tzinfo=UTC), event_id="c")
    append_event(feedback, "DEMOS/UNKNOWN/old.sid", "dislike", when=when, event_id="d")
    return config


def test_aggregates_dedupe_and_map_moved_paths(setup: Path) -> None:
    report = read_events(setup.parent / "data" / "feedback")
    frame = aggregate_events(report, {"/DEMOS/UNKNOWN/old.sid": "/MUSICIANS/A/Artist/t3.sid"})
    rows = {(r["sid_path"], r["song_index"]): r for r in frame.iter_rows(named=True)}
    assert rows[("MUSICIANS/A/Artist/t1.sid", 2)] | {} == {
        "sid_path": "MUSICIANS/A/Artist/t1.sid", "song_index": 2, "likes": 1, "dislikes": 0, "skips": 0, "plays": 1,
        "last_played": "2026-11-01T20:00:00.000Z",
    }
    assert rows[("MUSICIANS/A/Artist/t2.sid", 1)]["skips"] == 1 and rows[("MUSICIANS/A/Artist/t2.sid", 1)]["plays"] == 1
    assert rows[("MUSICIANS/A/Artist/t3.sid", 1)]["dislikes"] == 1 and rows[("MUSICIANS/A/Artist/t3.sid", 1)]["last_played"] is None
    assert report.duplicates == 1


def _materialize(config: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize([feedback_aggregates, sidflow_lance], resources={"sidflow": SidflowConfigResource(config_path=str(config))})


def _table(config: Path) -> list[dict]:
    data = load_config(config).data_path
    table = lancedb.connect(str(data / "sidflow.lance")).open_table("songs").to_arrow()
    return sorted(table.to_pylist(), key=lambda r: r["key"])


def test_rebuild_is_deterministic_and_manifest_matches(setup: Path) -> None:
    first = _materialize(setup)
    manifest_path = setup.parent / "data" / "sidflow.lance.manifest.json"
    manifest1 = json.loads(manifest_path.read_text())
    table1 = _table(setup)
    _materialize(setup)
    manifest2 = json.loads(manifest_path.read_text())
    assert manifest1["source_checksums"] == manifest2["source_checksums"] and manifest1["record_count"] == 12
    assert {k: v for k, v in manifest1.items() if k != "created_at"} == {k: v for k, v in manifest2.items() if k != "created_at"}
    assert _table(setup) == table1
    meta = first.asset_materializations_for_node("sidflow_lance")[0].metadata
    assert meta["record_count"].value == 12 and meta["source_checksums"].value == manifest1["source_checksums"]
    row = next(r for r in table1 if r["key"] == "MUSICIANS/A/Artist/t1.sid#2")
    assert (row["likes"], row["plays"], row["vector"]) == (1, 1, [2.0, 3.0, 3.0, 3.0])
    assert len(row["audio_vector"]) == len(AUDIO_FEATURES) and json.loads(row["features"])["onsetRate"] == 1.0
    check = lance_manifest_matches_sources(sidflow=SidflowConfigResource(config_path=str(setup)))
    assert check.passed


def test_stale_and_corrupt_database_are_named(setup: Path) -> None:
    _materialize(setup)
    config = load_config(setup)
    assert check_lance_manifest(config)[0]
    append_event(config.data_path / "feedback", "MUSICIANS/A/Artist/t4.sid", "like")
    ok, detail = check_lance_manifest(config)
    assert not ok and "stale: feedback" in detail
    result = CliRunner().invoke(cli, ["--config", str(setup), "verify"])
    assert result.exit_code == 1 and "stale" in result.output
    _materialize(setup)
    shutil.rmtree(config.data_path / "sidflow.lance")
    ok, detail = check_lance_manifest(config)
    assert not ok and "cannot be opened" in detail
    (config.data_path / "sidflow.lance.manifest.json").unlink()
    assert "no sidflow.lance.manifest.json" in check_lance_manifest(config)[1]
