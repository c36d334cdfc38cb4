"""`sidflow rate` through a real pseudo-terminal, with real sidplayfp playing to ALSA's
null device (this machine has no sound card: the one fake, at the edge)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pexpect
import psutil
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.ratings.session import KeyInput
from sidflow_pipeline_tests.processes import gone, null_audio_home, player_pid, spawn_sidflow


@pytest.fixture()
def collection(tmp_path: Path) -> tuple[Path, Path]:
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "tagsPath": "tags", "dataPath": "data", "classifiedPath": "data/classified"}))
    return config, null_audio_home(tmp_path)


def _spawn(config: Path, home: Path, *args: str) -> pexpect.spawn:
    return spawn_sidflow(config, home, "rate", *args)




@pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")
def test_rate_three_skip_one_quit_in_a_pty(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, home = collection
    child = _spawn(config, home, "--path", "MUSICIANS/D/Demo_Composer")
    child.expect(r"\[1/(\d+)\] (\S+)  song (\d+)/")
    first = (child.match.group(2), int(child.match.group(3)))
    pid = player_pid(child)
    assert psutil.Process(pid).name() == "sidplayfp"
    child.send("e5")
    child.expect("e=5")
    child.send("m1")
    child.expect("m=1")
    child.send("\r")
    child.expect("saved")
    assert gone(pid), "the first song's player must be stopped when moving on"

    child.expect(r"\[2/\d+\] (\S+)  song (\d+)/")
    second = (child.match.group(1), int(child.match.group(2)))
    player_pid(child)
    child.send("c4p2")
    child.expect("p=2")
    child.send("\r")
    child.expect("saved")

    child.expect(r"\[3/\d+\] (\S+)  song (\d+)/")
    skipped = (child.match.group(1), int(child.match.group(2)))
    pid3 = player_pid(child)
    child.send("e3")
    child.expect("e=3")
    child.send("s")
    child.expect("skipped")
    assert gone(pid3)

    child.expect(r"\[4/\d+\] (\S+)  song (\d+)/")
    fourth = (child.match.group(1), int(child.match.group(2)))
    pid4 = player_pid(child)
    child.send("x")
    child.expect("unknown key")
    child.send("e2\r")
    child.expect("saved")
    child.expect(r"\[5/\d+\]")
    pid5 = player_pid(child)
    child.send("q")
    child.expect(r"done: 3 saved, 1 skipped")
    child.expect(pexpect.EOF)
    assert gone(pid4) and gone(pid5)

    def tags(key: tuple[str, int]) -> dict:
        data = json.loads((tmp_path / "tags" / f"{key[0]}.tags.json").read_text())
        entry = data["songs"][str(key[1])] if "songs" in data else data
        return {k: v for k, v in entry.items() if k in "emcp"}

    # only what the listener said: no made-up 3 for a dimension not given
    assert tags(first) == {"e": 5, "m": 1}
    assert tags(second) == {"c": 4, "p": 2}
    assert tags(fourth) == {"e": 2}
    skipped_file = tmp_path / "tags" / f"{skipped[0]}.tags.json"
    if skipped_file.exists():  # a sibling subtune of the same file may have been rated
        data = json.loads(skipped_file.read_text())
        assert str(skipped[1]) not in data.get("songs", {})
    written = sorted(p.relative_to(tmp_path / "tags").as_posix() for p in (tmp_path / "tags").rglob("*.tags.json"))
    assert written == sorted({f"{k[0]}.tags.json" for k in (first, second, fourth)})
    assert not list((tmp_path / "tags").rglob("*.tmp"))


def test_without_sound_device_it_still_rates(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, _home = collection
    empty_home = tmp_path / "nohome"
    empty_home.mkdir()
    import io

    child = _spawn(config, empty_home, "--path", "GAMES")
    child.logfile_read = transcript = io.StringIO()
    child.expect(r"\[1/\d+\] (\S+)  song (\d+)/")
    key = (child.match.group(1), int(child.match.group(2)))
    child.expect("cannot play audio")
    child.send("p5\r")
    child.expect("saved")
    child.expect(r"\[2/\d+\]")
    child.send("s")
    child.expect("skipped")
    child.send("q")
    child.expect(pexpect.EOF)
    assert transcript.getvalue().count("cannot play audio") == 1  # said once, not per song
    data = json.loads((tmp_path / "tags" / f"{key[0]}.tags.json").read_text())
    entry = data["songs"][str(key[1])] if "songs" in data else data
    assert entry["p"] == 5


def test_scripting_mode_and_legacy_rewrite(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = collection
    sid = next((tmp_path / "hvsc" / "C64Music" / "MUSICIANS").rglob("*.sid"))
    rel = sid.relative_to(tmp_path / "hvsc" / "C64Music").as_posix()
    target = tmp_path / "tags" / f"{rel}.tags.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"s": 2}')
    result = CliRunner().invoke(
        cli, ["--config", str(config), "rate", str(sid), "--song", "1", "--e", "4", "--m", "2", "--c", "5", "--p", "4"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text())
    entry = data["songs"]["1"] if "songs" in data else data
    assert {k: entry[k] for k in "emcp"} == {"e": 4, "m": 2, "c": 5, "p": 4} and entry["source"] == "manual"
    assert '"s"' not in target.read_text()
    bad = CliRunner().invoke(cli, ["--config", str(config), "rate", str(sid), "--song", "9", "--e", "1"])
    assert bad.exit_code == 2 and "out of range" in bad.output
    none = CliRunner().invoke(cli, ["--config", str(config), "rate", str(sid)])
    assert none.exit_code == 2 and "needs at least one" in none.output


def test_key_input_state_machine() -> None:
    keys = KeyInput()
    assert keys.feed("e") == ("pending", "e")
    assert keys.feed("9") == ("invalid", "e needs a digit 1–5")
    assert keys.feed("M") == ("pending", "m") and keys.feed("4") == ("set", "m=4")
    assert keys.feed("s")[0] == "skip" and keys.feed("r")[0] == "replay" and keys.feed("Q")[0] == "quit"
    assert keys.feed("?")[0] == "help" and keys.feed("\n")[0] == "save"
    assert keys.feed("u")[0] == "undo"
    assert keys.rating("t").values() == {"m": 4}
    keys.reset()
    assert keys.values == {} and keys.rating("t") is None


def test_killing_during_saves_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    """SIGKILL a process that saves ratings in a tight loop, 25 times at random moments:
    the tags file always parses and holds one complete rating."""
    import random
    import signal
    import subprocess
    import time

    target = tmp_path / "tune.sid.tags.json"
    code = (
        "import sys; from pathlib import Path; from sidflow_pipeline.ratings.tags import Rating, write_rating\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; v = i % 5 + 1\n"
        "    write_rating(Path(sys.argv[1]), 2, 3, Rating(e=v, m=v, c=v, p=v, timestamp='x' * 2000))\n"
    )
    rng = random.Random(7)
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", code, str(target)])
        # A loaded machine can take longer than the kill delay to import: the first
        # kill must come after a first save, whatever the start-up costs (bounded).
        deadline = time.monotonic() + 60
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05 + rng.random() * 0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(target.read_text())
        entry = data["songs"]["2"]
        assert entry["e"] == entry["m"] == entry["c"] == entry["p"] and len(entry["timestamp"]) == 2000
    leftovers = [p for p in tmp_path.iterdir() if p.name != target.name]
    assert all(p.name.endswith(".tmp") for p in leftovers)  # at most an orphaned temp file, never the target


def test_no_sidplayfp_and_tags_beside_the_sid(collection: tuple[Path, Path], tmp_path: Path) -> None:
    import io

    config = tmp_path / "beside.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "tagsPath": None, "sidplayPath": "no-such-sidplayfp"}))
    child = _spawn(config, collection[1], "--path", "DEMOS")
    child.logfile_read = transcript = io.StringIO()
    child.expect(r"\[1/\d+\] (\S+)  song (\d+)/")
    key = (child.match.group(1), int(child.match.group(2)))
    child.send("e1\r")
    child.expect("saved")
    child.send("q")
    child.expect(pexpect.EOF)
    assert transcript.getvalue().count("sidplayfp not found") == 1
    beside = tmp_path / "hvsc" / "C64Music" / f"{key[0]}.tags.json"
    data = json.loads(beside.read_text())
    entry = data["songs"][str(key[1])] if "songs" in data else data
    assert entry["e"] == 1
