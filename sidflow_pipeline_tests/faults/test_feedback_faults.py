"""Faults #3 and #7 (feedback part): what validate lets through must not break the
aggregation, and a full disk never leaves half a line in the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.feedback import feedback_aggregates
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.feedback.aggregate import read_aggregates
from sidflow_pipeline.feedback.log import append_event, day_file, read_config_events
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection, disk_full

TUNE = "MUSICIANS/A/Alpha/One.sid"  # 3 songs


def _line(**fields: object) -> str:
    record = {"action": "like", "sid_path": TUNE, "song_index": 1, "ts": "2026-11-22T12:00:00.000Z", "uuid": "u"}
    record.update(fields)
    return json.dumps(record) + "\n"


def test_fault03_validate_refuses_what_the_aggregation_cannot_count(tmp_path: Path) -> None:
    """Was: song_index 2**40, '../' and absolute paths and year-9999 timestamps passed
    validate; the 2**40 line then failed feedback_aggregates (Int32 overflow)."""
    config = collection(tmp_path)
    log = day_file(tmp_path / "data" / "feedback", datetime(2026, 11, 22, tzinfo=UTC))
    log.parent.mkdir(parents=True)
    log.write_text(
        _line(uuid="good")
        + _line(uuid="huge", song_index=2**40)
        + _line(uuid="up", sid_path="../../etc/passwd.sid")
        + _line(uuid="abs", sid_path="/home/user/tune.sid")
        + _line(uuid="future", ts="9999-01-01T00:00:00Z")
        + _line(uuid="range", song_index=4)  # the tune has 3 songs
    )
    before = log.read_bytes()
    result = CliRunner().invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert result.exit_code == 1, result.output
    reported = [line for line in result.output.splitlines() if line.startswith(f"{log}:")]
    assert [line.split(": ", 1)[0] for line in reported] == [f"{log}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "bad song_index 1099511627776" in reported[0]
    assert "'..' is not allowed" in reported[1] and "inside the collection" in reported[2]
    assert "in the future" in reported[3] and "out of range 1–3" in reported[4]
    assert "1 valid events" in result.output and "5 bad lines" in result.output
    assert log.read_bytes() == before

    # The aggregation reads with the very same rules: it succeeds and counts the one good line.
    resource = SidflowConfigResource(config_path=str(config))
    materialized = dg.materialize([feedback_aggregates], resources={"sidflow": resource})
    assert materialized.success
    rows = read_aggregates(tmp_path / "data" / "feedback-aggregates.parquet").rows
    assert list(rows) == [(TUNE, 1)] and rows[(TUNE, 1)]["likes"] == 1


def test_fault07_full_disk_never_leaves_a_partial_feedback_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a traceback, and half a JSON line left in the log. The disk fills after 40
    bytes of the new line: the log is byte-identical and the CLI says so in one line."""
    config = collection(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "feedback", "like", TUNE]).exit_code == 0
    [log] = (tmp_path / "data" / "feedback").rglob("events.jsonl")
    before = log.read_bytes()
    with disk_full(monkeypatch, after_bytes=40, match=lambda p: p.endswith("events.jsonl")):
        result = runner.invoke(cli, ["--config", str(config), "feedback", "skip", TUNE, "--song", "2"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(log), "No space left on device", "nothing was written")
    assert log.read_bytes() == before
    report = read_config_events(load_config(config))
    assert len(report.events) == 1 and report.bad_lines == []


def test_fault07_reader_skips_a_torn_line_from_an_older_crash_with_a_warning(tmp_path: Path) -> None:
    """A log written before this fix may end in a torn line (no newline). Appending
    starts a fresh line; readers skip the fragment and name it as torn."""
    config = collection(tmp_path)
    root = tmp_path / "data" / "feedback"
    when = datetime(2026, 11, 22, 12, tzinfo=UTC)
    append_event(root, TUNE, "like", when=when, event_id="first")
    log = day_file(root, when)
    with log.open("a") as handle:
        handle.write(_line(uuid="torn")[:50])  # a crash mid-write, before this fix
    append_event(root, TUNE, "play", when=when, event_id="after")
    report = read_config_events(load_config(config))
    assert [e.uuid for e in report.events] == ["first", "after"]
    assert [(number, "torn" in reason) for _, number, reason in report.bad_lines] == [(2, True)]
    result = CliRunner().invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert f"{log}:2: not valid JSON" in result.output and "torn line" in result.output
    resource = SidflowConfigResource(config_path=str(config))
    materialized = dg.materialize([feedback_aggregates], resources={"sidflow": resource})
    assert materialized.success
    assert read_aggregates(tmp_path / "data" / "feedback-aggregates.parquet").rows[(TUNE, 1)]["plays"] == 1
