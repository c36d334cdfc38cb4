"""feedback_aggregates → sidflow_lance on hand-made classified rows (no rendering needed)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import lancedb
import numpy as np
import pytest
from click.testing import CliRunner

from sidflow_pipeline.checksum import tree_checksum
from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.feedback import (
    feedback_aggregates,
    lance_manifest_matches_sources,
    sidflow_lance,
)
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.feedback.aggregate import aggregate_events, read_aggregates
from sidflow_pipeline.feedback.log import append_event, log_checksum, read_events
from sidflow_pipeline.lance.similarity import DEFAULT_SPEC
from sidflow_pipeline.lance.verify import lance_status


def _row(path: str, song: int, e: float, onset: float) -> dict:
    features = {name: 1.0 for name in ("loudnessLufs", "spectralCentroid", "mfcc1", "mfcc2")} | {
        "onsetRate": onset,
        "bpm": 100 + onset,
        "duration": 20.0,
    }
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
    assert len(row["similarity_vector"]) == DEFAULT_SPEC.dimension == 64 and json.loads(row["features"])["onsetRate"] == 1.0
    check = lance_manifest_matches_sources(sidflow=SidflowConfigResource(config_path=str(setup)))
    assert check.passed
    # The CLI's snapshot of the table is written with it, so the first `sidflow play` finds it fresh.
    from sidflow_pipeline.recommend.snapshot import SNAPSHOT_VERSION, source_stamp

    config = load_config(setup)
    with np.load(config.layout.recommend_snapshot) as snapshot:
        assert str(snapshot["stamp"]) == source_stamp(config.layout.lance_db, config.layout.catalog)
        # Version 2 added the release year and the timbre columns the stations and shapes read.
        assert len(snapshot["song_index"]) == 12 and SNAPSHOT_VERSION == 2
        assert len(snapshot["year"]) == 12 and snapshot["timbre"].shape[0] == 12


def _verify(config: Path) -> tuple[int, dict[str, dict], str]:
    """(exit code, rows of `sidflow verify --json` by artifact, human output)."""
    runner = CliRunner()
    as_json = runner.invoke(cli, ["--config", str(config), "verify", "--json"])
    human = runner.invoke(cli, ["--config", str(config), "verify"])
    assert as_json.exit_code == human.exit_code, (as_json.output, human.output)
    return as_json.exit_code, {row["artifact"]: row for row in json.loads(as_json.output)}, human.output


def _check(config: Path) -> dg.AssetCheckResult:
    return lance_manifest_matches_sources(sidflow=SidflowConfigResource(config_path=str(config)))


def test_stale_and_corrupt_database_are_named(setup: Path) -> None:
    _materialize(setup)
    config = load_config(setup)
    assert lance_status(config).ok
    code, rows, _ = _verify(setup)
    assert code == 1 and rows["HVSC tree"]["ok"] is False  # no HVSC here: the exit code alone proves nothing
    assert rows["sidflow.lance"] | {"detail": None} == {
        "artifact": "sidflow.lance", "ok": True, "status": "ok", "detail": None, "fix": None,
    }
    append_event(config.layout.feedback_dir, "MUSICIANS/A/Artist/t4.sid", "like")
    status = lance_status(config)
    assert not status.ok and "stale: feedback" in status.detail
    code, rows, human = _verify(setup)
    lance = rows["sidflow.lance"]
    assert code == 1 and lance["ok"] is False and lance["status"] == "stale"
    assert lance["detail"].startswith("stale: feedback changed") and "classified" not in lance["detail"]
    fix = "dagster asset materialize -m sidflow_pipeline.definitions --select feedback_aggregates,sidflow_lance"
    assert lance["fix"] == fix
    assert f"sidflow.lance: stale — fix: {fix}" in human.splitlines()
    _materialize(setup)
    shutil.rmtree(config.layout.lance_db)
    status = lance_status(config)
    assert not status.ok and status.detail.startswith("corrupt:") and "cannot be read" in status.detail
    (config.layout.lance_manifest).unlink()
    assert "no sidflow.lance.manifest.json" in lance_status(config).detail
    assert _verify(setup)[1]["sidflow.lance"]["status"] == "missing"


def test_truncated_data_file_is_named_corrupt(setup: Path) -> None:
    """Opening a table reads only its manifest (count_rows still says 12), so the
    check must read the rows to notice a damaged data file."""
    _materialize(setup)
    config = load_config(setup)
    data_files = sorted((config.layout.lance_db / "songs.lance" / "data").glob("*.lance"))
    assert data_files
    raw = data_files[0].read_bytes()
    data_files[0].write_bytes(raw[: len(raw) // 2])
    assert lancedb.connect(str(config.layout.lance_db)).open_table("songs").count_rows() == 12
    check = _check(setup)
    assert not check.passed and check.metadata["state"].value == "corrupt"
    code, rows, human = _verify(setup)
    lance = rows["sidflow.lance"]
    assert code == 1 and lance["status"] == "corrupt" and lance["detail"].startswith("corrupt: database")
    assert lance["fix"].startswith("rm -rf ") and lance["fix"].endswith("--select sidflow_lance")
    assert "sidflow.lance: corrupt — fix: rm -rf " in human
    shutil.rmtree(config.layout.lance_db)  # what the fix says; the data is derived
    _materialize(setup)
    assert _check(setup).passed and _verify(setup)[1]["sidflow.lance"]["ok"] is True


def test_rebuilding_only_the_database_after_new_feedback_stays_stale(setup: Path) -> None:
    """The manifest records the feedback the aggregates were computed from, not the log
    on disk at build time: old counts must never be certified by a new checksum."""
    resources = {"sidflow": SidflowConfigResource(config_path=str(setup))}
    _materialize(setup)
    config = load_config(setup)
    manifest_path = config.layout.lance_manifest
    before = json.loads(manifest_path.read_text())["source_checksums"]["feedback"]
    assert _check(setup).passed
    append_event(config.layout.feedback_dir, "MUSICIANS/A/Artist/t4.sid", "like", event_id="new-like")

    assert dg.materialize([sidflow_lance], resources=resources, selection=[sidflow_lance]).success
    manifest = json.loads(manifest_path.read_text())
    assert manifest["source_checksums"]["feedback"] == before, "lance alone must not adopt the new log's checksum"
    assert not any(r["key"] == "MUSICIANS/A/Artist/t4.sid#1" and r["likes"] for r in _table(setup))
    check = _check(setup)
    assert not check.passed and check.metadata["state"].value == "stale"
    assert check.metadata["fix"].value.endswith("--select feedback_aggregates,sidflow_lance")
    code, rows, _ = _verify(setup)
    assert code == 1 and rows["sidflow.lance"]["status"] == "stale"
    assert rows["sidflow.lance"]["fix"].endswith("--select feedback_aggregates,sidflow_lance")

    aggregated = dg.materialize([feedback_aggregates], resources=resources, selection=[feedback_aggregates])
    log_now = log_checksum(config.layout.feedback_dir)
    meta = aggregated.asset_materializations_for_node("feedback_aggregates")[0].metadata
    assert meta["feedback_checksum"].value == log_now
    # Aggregates caught up, database not yet: only the database needs rebuilding.
    assert not _check(setup).passed
    assert _verify(setup)[1]["sidflow.lance"]["fix"].endswith("--select sidflow_lance")

    assert dg.materialize([sidflow_lance], resources=resources, selection=[sidflow_lance]).success
    manifest = json.loads(manifest_path.read_text())
    assert manifest["source_checksums"]["feedback"] == log_now and manifest["stats"]["total_feedback_events"] == 5
    assert next(r for r in _table(setup) if r["key"] == "MUSICIANS/A/Artist/t4.sid#1")["likes"] == 1
    assert _check(setup).passed
    code, rows, _ = _verify(setup)
    assert rows["sidflow.lance"]["ok"] is True and rows["sidflow.lance"]["fix"] is None


def test_aggregates_without_a_recorded_checksum_are_never_trusted(setup: Path) -> None:
    """A missing (or pre-checksum) aggregates file means the feedback behind the
    database is unknown: stale, with the command that rebuilds both."""
    resources = {"sidflow": SidflowConfigResource(config_path=str(setup))}
    assert dg.materialize([sidflow_lance], resources=resources, selection=[sidflow_lance]).success
    config = load_config(setup)
    manifest = json.loads((config.layout.lance_manifest).read_text())
    assert manifest["source_checksums"]["feedback"].startswith("unknown")
    assert manifest["stats"]["total_feedback_events"] == 0
    status = lance_status(config)
    assert status.state == "stale" and status.fix.endswith("--select feedback_aggregates,sidflow_lance")
    # An aggregates file written the old way (plain polars, no source metadata).
    aggregate_events(read_events(config.layout.feedback_dir)).write_parquet(config.layout.feedback_aggregates)
    saved = read_aggregates(config.layout.feedback_aggregates)
    assert saved.feedback_checksum is None and len(saved.rows) == 3
    assert lance_status(config).fix.endswith("--select feedback_aggregates,sidflow_lance")
    _materialize(setup)
    assert lance_status(config).ok


def test_report_checksum_is_the_log_checksum(setup: Path) -> None:
    """Both checksums use one formula, so a manifest from before the change still compares."""
    root = setup.parent / "data" / "feedback"
    files = sorted(root.rglob("events.jsonl"))
    assert read_events(root).checksum == log_checksum(root) == tree_checksum(files, root)
    assert read_events(setup.parent / "nowhere").checksum == log_checksum(setup.parent / "nowhere") == tree_checksum([], root)


def test_the_fingerprint_comes_from_the_feature_rows(setup: Path) -> None:
    """sidflow_lance joins each song's traceSketch from features/*.jsonl (derived, beside
    classified/); a song with the same fingerprint as the seed becomes its nearest one."""
    from sidflow_pipeline.features.trace import SKETCH_BUCKETS
    from sidflow_pipeline.lance.rebuild import trace_sketches
    from sidflow_pipeline.recommend.engine import Recommender, RecommendRequest

    features = setup.parent / "data" / "features"
    features.mkdir(parents=True)
    shared = {"buckets": SKETCH_BUCKETS, "index": [3, SKETCH_BUCKETS + 7], "share": [1.0, 1.0]}
    lines = [
        json.dumps({"sid_path": f"MUSICIANS/A/Artist/t{i}.sid", "song_index": 1 + i % 2,
                    "traceSketch": shared if i in (0, 6) else {"buckets": SKETCH_BUCKETS, "index": [i + 20], "share": [1.0]}})
        for i in range(12)
    ]
    (features / "MUSICIANS_A.jsonl").write_text("\n".join(lines) + "\n{broken\n")
    sketches = trace_sketches(load_config(setup).layout.features_dir)
    assert len(sketches) == 12 and list(sketches[("MUSICIANS/A/Artist/t0.sid", 1)]["index"]) == [3, SKETCH_BUCKETS + 7]
    _materialize(setup)
    manifest = json.loads((setup.parent / "data" / "sidflow.lance.manifest.json").read_text())
    assert manifest["similarity_vector"]["sketch"]["buckets"] == SKETCH_BUCKETS
    assert manifest["similarity_vector"]["projection"]["components"] == 64
    rec = Recommender(setup.parent / "data" / "sidflow.lance")
    found = rec.recommend(RecommendRequest(like=("MUSICIANS/A/Artist/t0.sid", 1), limit=1, exploration=0.0, diversity=0.0))
    assert found[0].key == "MUSICIANS/A/Artist/t6.sid#1"
