"""Faults #10 and #11: `sidflow info` on things that are not SID files, `sidflow config
validate` on paths that are missing or of the wrong kind. Real processes, real FIFOs."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.sid.header import MAX_SID_FILE_SIZE
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection, sid_bytes

SIDFLOW = str(Path(sys.executable).with_name("sidflow"))


def _limited() -> None:
    # If the fault came back, reading /dev/zero must not take the machine down with it.
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


def _info(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIDFLOW, "info", str(path)], capture_output=True, text=True, timeout=60, preexec_fn=_limited,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_fault10_info_on_a_symlink_to_dev_zero(tmp_path: Path) -> None:
    """Was: read without bound until out of memory."""
    link = tmp_path / "zero.sid"
    link.symlink_to("/dev/zero")
    result = _info(link)
    assert result.returncode == 2
    assert_one_line_error(result.stderr, str(link), "not a regular file")


def test_fault10_info_on_a_fifo(tmp_path: Path) -> None:
    """Was: hung forever waiting for a writer."""
    fifo = tmp_path / "pipe.sid"
    os.mkfifo(fifo)
    result = _info(fifo)  # the timeout fails the test if it hangs
    assert result.returncode == 2
    assert_one_line_error(result.stderr, str(fifo), "not a regular file")


def test_fault10_info_reads_at_most_the_psid_maximum(tmp_path: Path) -> None:
    big = tmp_path / "big.sid"
    big.write_bytes(sid_bytes() + bytes(MAX_SID_FILE_SIZE))
    result = CliRunner().invoke(cli, ["info", str(big)])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(big), f"larger than the largest SID file ({MAX_SID_FILE_SIZE:,} bytes)")


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("data-is-a-file", "field 'dataPath': {tmp}/data is a file, not a directory"),
        ("no-hvsc", "field 'hvscPath': {tmp}/hvsc does not exist"),
        ("classified-is-a-file", "field 'classifiedPath': {tmp}/data/classified is a file, not a directory"),
        ("source-missing", "field 'hvscSource': {tmp}/mirror does not exist"),
    ],
)
def test_fault11_config_validate_checks_every_path(tmp_path: Path, setup: str, fragment: str) -> None:
    """Was: "config OK" for a dataPath that is a regular file and a missing hvscPath."""
    (tmp_path / "hvsc" / "C64Music" / "DOCUMENTS").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "mirror").mkdir()
    if setup == "data-is-a-file":
        (tmp_path / "data").rmdir()
        (tmp_path / "data").write_text("oops\n")
    elif setup == "no-hvsc":
        (tmp_path / "hvsc" / "C64Music" / "DOCUMENTS").rmdir()
        (tmp_path / "hvsc" / "C64Music").rmdir()
        (tmp_path / "hvsc").rmdir()
    elif setup == "classified-is-a-file":
        (tmp_path / "data" / "classified").write_text("")
    elif setup == "source-missing":
        (tmp_path / "mirror").rmdir()
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data", "hvscSource": "mirror"}))
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "validate"])
    assert result.exit_code == 2, result.output
    assert_one_line_error(result.output, fragment.format(tmp=tmp_path))
    assert "config OK" not in result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before  # nothing created


def test_fault11_config_validate_ok_when_every_path_is_right(tmp_path: Path) -> None:
    config = collection(tmp_path)
    (tmp_path / "data" / "mirror").mkdir()
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "validate"])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output
