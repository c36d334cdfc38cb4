from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.feedback.log import (
    WEIGHTS,
    FeedbackError,
    append_event,
    day_file,
    read_events,
)
from sidflow_pipeline_tests.faults.helpers import put_sid


def _writer(root: str, worker: int, count: int) -> None:
    for i in range(count):
        append_event(
            Path(root),
            f"MUSICIANS/W/Worker_{worker}/t{i % 7}.sid",
            ("like", "skip", "dislike", "play")[i % 4],
            song_index=1 + i % 3,
        )


def test_eight_processes_times_500_events(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 500)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    report = read_events(tmp_path)
    assert len(report.events) == 4000 and report.bad_lines == [] and report.duplicates == 0
    lines = [line for f in tmp_path.rglob("events.jsonl") for line in f.read_text().splitlines()]
    assert len(lines) == 4000 and all(json.loads(line)["uuid"] for line in lines)


def test_bad_lines_are_counted_skipped_and_never_rewritten(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    tmp_path = tmp_path / "data" / "feedback"
    when = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    first = append_event(tmp_path, "/A/x.sid", "like", when=when, event_id="u1")
    log = day_file(tmp_path, when)
    with log.open("a") as handle:
        handle.write('{"ts":"2026-11-22T12:00:01Z","sid_path":"A/y.sid","action":"lik')  # truncated, no newline
    append_event(tmp_path, "A/z.sid", "skip", when=when, event_id="u2")
    with log.open("a") as handle:
        handle.write("garbage\n")
        handle.write('{"ts":"2026-11-22T12:00:02Z","sid_path":"A/x.sid","action":"like","uuid":"u1"}\n')
        handle.write('{"ts":"yesterday","sid_path":"A/x.sid","action":"like"}\n')
        handle.write('{"ts":"2026-11-22T12:00:02Z","sid_path":"A/x.sid","action":"love"}\n')
    before = log.read_bytes()
    report = read_events(tmp_path)
    assert [e.uuid for e in report.events] == ["u1", "u2"] and first.sid_path == "A/x.sid"
    assert report.duplicates == 1
    assert [(n, why.split(" (")[0]) for _, n, why in report.bad_lines] == [
        (2, "not valid JSON"), (4, "not valid JSON"), (6, "bad timestamp 'yesterday'"), (7, "unknown action 'love'"),
    ]
    result = CliRunner().invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert log.read_bytes() == before, "validate changes nothing"
    assert result.exit_code == 1
    assert [line.split(": ")[0] for line in result.output.splitlines() if line.startswith(str(log))] == [
        f"{log}:{n}" for n in (2, 4, 6, 7)
    ]
    assert "2 valid events, 1 duplicates (by uuid), 4 bad lines" in result.output


def test_cli_appends_and_validates(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    put_sid(tmp_path / "hvsc" / "C64Music", "MUSICIANS/A/a.sid", songs=2)  # feedback refuses a song that is nowhere
    runner = CliRunner()
    for action in ("like", "dislike", "skip", "play"):
        result = runner.invoke(cli, ["--config", str(config), "feedback", action, "MUSICIANS/A/a.sid", "--song", "2"])
        assert result.exit_code == 0, result.output
    logs = list((tmp_path / "data" / "feedback").rglob("events.jsonl"))
    assert len(logs) == 1
    events = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert [e["action"] for e in events] == ["like", "dislike", "skip", "play"]
    assert all(e["song_index"] == 2 and e["sid_path"] == "MUSICIANS/A/a.sid" and e["ts"].endswith("Z") for e in events)
    ok = runner.invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert ok.exit_code == 0 and "4 valid events, 0 duplicates" in ok.output
    with logs[0].open("a") as handle:
        handle.write("{broken\n")
    bad = runner.invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert bad.exit_code == 1 and f"{logs[0]}:5: not valid JSON" in bad.output


def test_weights_and_bad_input() -> None:
    assert WEIGHTS == {"like": 1.0, "skip": -0.3, "dislike": -1.0, "play": 0.0}
    with pytest.raises(FeedbackError, match="unknown action"):
        append_event(Path("/nonexistent"), "a.sid", "love")
    with pytest.raises(FeedbackError, match="song index"):
        append_event(Path("/nonexistent"), "a.sid", "like", song_index=0)
