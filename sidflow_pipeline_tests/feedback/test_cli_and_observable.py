"""`sidflow feedback` refuses arguments that cannot name a song; `feedback_events`
observes a DataVersion that follows the log's bytes."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.defs.feedback import feedback_events
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.feedback.log import (
    FeedbackError,
    append_event,
    normalise_sid_path,
)
from sidflow_pipeline.sid.header import build_psid

TUNE = "MUSICIANS/A/Artist/Three_Songs.sid"


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A collection with one real 3-song PSID (header read by the project's parser)."""
    tune = tmp_path / "hvsc" / "C64Music" / TUNE
    tune.parent.mkdir(parents=True)
    (tmp_path / "hvsc" / "C64Music" / "DOCUMENTS").mkdir()
    code = bytes([0x60, 0x60])  # init: RTS, play: RTS
    tune.write_bytes(build_psid(code, load_address=0x1000, init_address=0x1000, play_address=0x1001, songs=3,
                                name="Three", author="Artist", released="2026 Test"))
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    return path


def _log_lines(config: Path) -> list[str]:
    return [line for f in (config.parent / "data").rglob("events.jsonl") for line in f.read_text().splitlines()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["like", ""], "no SID path given"),
        (["like", "/"], "no SID path given"),
        (["dislike", "   "], "no SID path given"),
        (["skip", "MUSICIANS/A/Artist/"], "is not a .sid file path"),
        (["play", "MUSICIANS/A/Artist/readme.txt"], "is not a .sid file path"),
        (["like", "MUSICIANS/A/.sid"], "is not a .sid file path"),
        (["like", "../outside.sid"], "'..' is not allowed"),
        (["like", TUNE, "--song", "4"], f"{TUNE}: song 4 out of range 1–3"),
        (["like", "/" + TUNE, "--song", "9"], "song 9 out of range 1–3"),
        (["like", TUNE + "#9"], "song 9 out of range 1–3"),
        (["like", TUNE + "#2", "--song", "3"], "disagree"),
        # issue 20: a song that is not there is refused at once, with the nearest names
        (["skip", "/" + TUNE.upper()], f"no such song: /{TUNE.upper()}; nearest: /{TUNE}"),
        (["dislike", "MUSICIANS/Z/Not_Synced_Yet.sid", "--song", "7"], "no such song"),
    ],
)
def test_bad_sid_arguments_are_rejected_and_nothing_is_written(config: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config), "feedback", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert _log_lines(config) == []


def test_good_sid_arguments_are_logged(config: Path) -> None:
    runner = CliRunner()
    tune_file = config.parent / "hvsc" / "C64Music" / TUNE
    for args in (["like", TUNE, "--song", "3"], ["skip", "/" + TUNE],
                 ["play", str(tune_file), "--song", "2"], ["dislike", f"/{TUNE}#2"], ["dislike", f"{TUNE}:3"]):
        result = runner.invoke(cli, ["--config", str(config), "feedback", *args])
        assert result.exit_code == 0, result.output
        assert "counts in recommendations now" in result.output and "sidflow train" in result.output  # says how it gets picked up
    events = [json.loads(line) for line in _log_lines(config)]
    assert [(e["sid_path"], e["song_index"]) for e in events] == [
        (TUNE, 3), (TUNE, 1), (TUNE, 2), (TUNE, 2), (TUNE, 3),
    ]
    ok = runner.invoke(cli, ["--config", str(config), "feedback", "validate"])
    assert ok.exit_code == 0 and "0 bad lines" in ok.output


def test_domain_refuses_an_empty_path(tmp_path: Path) -> None:
    """The append itself never writes a line its own readers would reject."""
    with pytest.raises(FeedbackError):
        append_event(tmp_path, "/", "like")
    assert not list(tmp_path.rglob("events.jsonl"))
    assert normalise_sid_path("/MUSICIANS/A/x.SID") == "MUSICIANS/A/x.SID"


def _observe(defs: dg.Definitions, instance: dg.DagsterInstance) -> str:
    result = defs.resolve_job_def("observe_feedback").execute_in_process(instance=instance)
    assert result.success and len(result.asset_observations_for_node("feedback_events")) == 1
    record = instance.get_latest_data_version_record(dg.AssetKey("feedback_events"))
    assert record is not None and record.asset_observation is not None
    version = record.asset_observation.data_version
    assert isinstance(version, str) and version
    return version


def test_feedback_events_data_version_follows_the_log(config: Path) -> None:
    defs = dg.Definitions(
        assets=[feedback_events],
        jobs=[dg.define_asset_job("observe_feedback", selection=dg.AssetSelection.all(include_sources=True))],
        resources={"sidflow": SidflowConfigResource(config_path=str(config))},
    )
    instance = dg.DagsterInstance.ephemeral()
    root = config.parent / "data" / "feedback"
    empty = _observe(defs, instance)
    assert _observe(defs, instance) == empty, "no change, same version"
    append_event(root, TUNE, "like", event_id="one")
    first = _observe(defs, instance)
    assert first != empty
    assert _observe(defs, instance) == first
    append_event(root, TUNE, "skip", event_id="two")
    second = _observe(defs, instance)
    assert second not in (empty, first)
    # Any byte counts, even one a reader would skip: the log is what is observed.
    log = next(root.rglob("events.jsonl"))
    with log.open("a") as handle:
        handle.write("garbage\n")
    assert _observe(defs, instance) not in (empty, first, second)
