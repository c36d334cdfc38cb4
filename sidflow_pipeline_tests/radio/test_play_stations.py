"""`sidflow play` with a shape, --explain and the discovery history, in a real pseudo-terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pexpect

from sidflow_pipeline.config import load_config
from sidflow_pipeline.recommend.history import read_history
from sidflow_pipeline_tests.processes import spawn_sidflow
from sidflow_pipeline_tests.radio.test_play import needs_sidplayfp, radio  # noqa: F401 - the fixture


@needs_sidplayfp
def test_a_radio_session_is_recorded_in_the_discovery_history(radio: tuple[Path, Path]) -> None:
    config, home = radio
    cfg = load_config(config)
    sessions = []
    for _ in range(2):
        child = spawn_sidflow(config, home, "play", "--shape", "ramp-up", "--exploration-rate", "0.5", "--limit", "4", "--explain")
        child.expect("score parts")  # the explain table comes before the radio starts
        child.expect(r"playing \(pid \d+\)")
        child.send("q")
        child.expect(r"session (\S+):")
        sessions.append(child.match.group(1))
        child.expect(pexpect.EOF)
        child.close()
    lines = [json.loads(line) for line in cfg.layout.discovery_history.read_text().splitlines()]
    assert [line["session"] for line in lines] == sessions and all(line["source"] == "play --shape ramp-up" for line in lines)
    for line, session in zip(lines, sessions, strict=True):
        saved = json.loads((cfg.layout.sessions_dir / f"{session}.json").read_text())
        assert line["surfaced"] == [item["key"] for item in saved["queue"]]
        energies = [item["ratings"]["e"] for item in saved["queue"]]
        assert energies == sorted(energies)
        assert len(line["explored"]) == 2 and set(line["explored"]) <= set(line["surfaced"])
    # the second session explored songs the first did not surface
    assert not set(lines[1]["explored"]) & set(lines[0]["surfaced"])
    assert len(read_history(cfg.layout.discovery_history).sessions) == 2
