"""update_aggregates (what `feedback_aggregates` materializes), without Dagster."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sidflow_pipeline.config import load_config
from sidflow_pipeline.feedback.aggregate import read_aggregates, update_aggregates
from sidflow_pipeline.feedback.log import append_event, log_checksum


def test_update_aggregates_maps_moves_dedupes_and_records_the_checksum_it_read(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    cfg = load_config(config)
    (tmp_path / "hvsc").mkdir()
    move = {"from": "/DEMOS/UNKNOWN/old.sid", "to": "/MUSICIANS/A/Artist/new.sid"}
    (tmp_path / "hvsc" / "path-moves.jsonl").write_text(json.dumps(move) + "\n")
    feedback = cfg.layout.feedback_dir
    when = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    append_event(feedback, "MUSICIANS/A/Artist/t1.sid", "like", when=when, event_id="a")
    append_event(feedback, "MUSICIANS/A/Artist/t1.sid", "like", when=when, event_id="a")  # same uuid: once
    append_event(feedback, "DEMOS/UNKNOWN/old.sid", "play", when=when, event_id="b")
    day = next(feedback.rglob("events.jsonl"))
    with day.open("a", encoding="utf-8") as handle:
        handle.write("{broken\n")

    update = update_aggregates(cfg)

    assert update.path == cfg.layout.feedback_aggregates and update.path.is_file()
    assert len(update.report.events) == 2 and update.report.duplicates == 1 and len(update.report.bad_lines) == 1
    rows = {(r["sid_path"], r["song_index"]): r for r in update.frame.iter_rows(named=True)}
    assert rows[("MUSICIANS/A/Artist/t1.sid", 1)]["likes"] == 1
    assert rows[("MUSICIANS/A/Artist/new.sid", 1)]["plays"] == 1 and ("DEMOS/UNKNOWN/old.sid", 1) not in rows
    saved = read_aggregates(update.path)
    assert saved.feedback_checksum == update.report.checksum == log_checksum(feedback) and saved.feedback_events == 2
    # Nothing new in the log: the same file, byte for byte.
    before = update.path.read_bytes()
    update_aggregates(cfg)
    assert update.path.read_bytes() == before
