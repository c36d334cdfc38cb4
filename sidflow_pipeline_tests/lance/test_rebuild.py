"""rebuild_database (what `sidflow_lance` materializes), without Dagster: it gathers the
project's files, writes the table, the manifest and the CLI's snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.feedback.aggregate import update_aggregates
from sidflow_pipeline.feedback.log import append_event, log_checksum
from sidflow_pipeline.lance.rebuild import UNKNOWN_FEEDBACK, catalog_names, rebuild_database
from sidflow_pipeline.lance.verify import classified_checksum, lance_status


def _row(i: int) -> dict:
    features = {name: 1.0 for name in ("loudnessLufs", "spectralCentroid", "mfcc1", "mfcc2")}
    features |= {"onsetRate": float(i), "bpm": 100.0 + i, "duration": 20.0}
    return {"sid_path": f"MUSICIANS/A/Artist/t{i}.sid", "song_index": 1, "ratings": {"e": 1 + i % 5, "m": 3.0, "c": 3.0, "p": 3.0},
            "sources": {d: "predicted" for d in "emcp"}, "confidence": 0.3, "predictor": "baseline-1", "features": features}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    classified = tmp_path / "data" / "classified"
    classified.mkdir(parents=True)
    (classified / "MUSICIANS_A.jsonl").write_text("".join(json.dumps(_row(i), sort_keys=True) + "\n" for i in range(10)) + "{broken\n")
    return config


def test_rebuild_without_aggregates_warns_and_stays_stale(project: Path) -> None:
    cfg = load_config(project)
    warnings: list[str] = []
    outcome = rebuild_database(cfg, warnings.append)
    assert outcome.result.record_count == 10 and outcome.bad_classified_lines == 1
    assert warnings == ["feedback-aggregates.parquet is missing or has no source checksum; materialize feedback_aggregates"]
    manifest = json.loads(cfg.layout.lance_manifest.read_text())
    assert outcome.manifest_path == cfg.layout.lance_manifest
    assert manifest["source_checksums"] == {"classified": classified_checksum(cfg), "feedback": UNKNOWN_FEEDBACK}
    assert cfg.layout.recommend_snapshot.is_file()
    assert lance_status(cfg).state == "stale"


def test_rebuild_records_the_feedback_the_aggregates_read(project: Path) -> None:
    cfg = load_config(project)
    append_event(cfg.layout.feedback_dir, "MUSICIANS/A/Artist/t1.sid", "like", event_id="x")
    update_aggregates(cfg)
    read = log_checksum(cfg.layout.feedback_dir)
    append_event(cfg.layout.feedback_dir, "MUSICIANS/A/Artist/t2.sid", "like", event_id="y")  # after the aggregates
    warnings: list[str] = []
    outcome = rebuild_database(cfg, warnings.append)
    assert warnings == [] and outcome.result.manifest["source_checksums"]["feedback"] == read
    assert lance_status(cfg).state == "stale"  # the log moved on since
    update_aggregates(cfg)
    rebuild_database(cfg)
    assert lance_status(cfg).ok


def test_catalog_names_prefer_the_stil_title(tmp_path: Path) -> None:
    import polars as pl

    assert catalog_names(tmp_path / "none.parquet") == {}
    path = tmp_path / "c.parquet"
    columns = {"sid_path": ["A/x.sid", "A/y.sid"], "song_index": [1, 2], "author": ["Ann", None]}
    pl.DataFrame(columns | {"name": ["Header", "Name"], "stil_title": ["Stil", None]}).write_parquet(path)
    assert catalog_names(path) == {("A/x.sid", 1): ("Ann", "Stil"), ("A/y.sid", 2): ("", "Name")}


def test_the_manifest_check_warns_before_the_first_build_and_fails_when_stale(project: Path) -> None:
    import dagster as dg

    from sidflow_pipeline.defs.feedback import lance_manifest_matches_sources
    from sidflow_pipeline.defs.resources import SidflowConfigResource

    resource = SidflowConfigResource(config_path=str(project))
    never = lance_manifest_matches_sources(sidflow=resource)
    assert not never.passed and never.severity == dg.AssetCheckSeverity.WARN
    assert never.description.startswith("nothing to check: no sidflow.lance.manifest.json")
    cfg = load_config(project)
    update_aggregates(cfg)
    rebuild_database(cfg)
    assert lance_manifest_matches_sources(sidflow=resource).passed
    append_event(cfg.layout.feedback_dir, "MUSICIANS/A/Artist/t1.sid", "like", event_id="late")
    stale = lance_manifest_matches_sources(sidflow=resource)
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
