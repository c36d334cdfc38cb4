"""`sidflow info`: STIL text whole, every output form, and never wider than COLUMNS."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import m3u8
import pytest

from sidflow_pipeline.sid.header import build_psid
from sidflow_pipeline.sid.songlengths import format_songlengths
from sidflow_pipeline.sid.stil import StilBlock, StilEntry, format_stil
from sidflow_pipeline_tests.processes import SIDFLOW

COMMENT = (
    '"The game was programmed by myself. It\'s a pity that I [didn\'t have]\n'
    "the time make better music for it. [<deleted word>] A second line\n"
    'and a third one, also kept." (MS)'
)


@pytest.fixture()
def tune(tmp_path: Path) -> Path:
    root = tmp_path / "C64Music"
    folder = root / "MUSICIANS" / "S" / "Schneider_Markus"
    folder.mkdir(parents=True)
    data = build_psid(
        bytes([0x60, 0x60]), load_address=0x1000, init_address=0x1000, play_address=0x1001,
        songs=2, start_song=1, name="Gilded Age", author="Markus Schneider", released="1990 Titus", sid_model="6581",
    )  # fmt: skip
    sid = folder / "Gilded_Age.sid"
    sid.write_bytes(data)
    docs = root / "DOCUMENTS"
    docs.mkdir()
    (docs / "Songlengths.md5").write_text(
        format_songlengths(
            [("/MUSICIANS/S/Schneider_Markus/Gilded_Age.sid", hashlib.md5(data).hexdigest(), [36000, 82000])]
        )
    )
    entry = StilEntry(path="/MUSICIANS/S/Schneider_Markus/Gilded_Age.sid")
    entry.file_block.add("COMMENT", COMMENT)
    sub = StilBlock()
    sub.add("TITLE", "Ending [from the game]")
    entry.subtunes[2] = sub
    (docs / "STIL.txt").write_text(format_stil([entry]), encoding="latin-1")
    return sid


def info(sid: Path, *args: str, columns: int = 100) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    done = subprocess.run([SIDFLOW, "info", str(sid), *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multi_line_stil_comment_is_shown_whole(tune: Path) -> None:
    out = info(tune, columns=100)
    for line in COMMENT.split("\n"):
        assert line in out  # every line, brackets and all (rich markup would eat "[didn't have]")
    assert "Ending [from the game]" in out
    narrow = " ".join(info(tune, columns=40).split())
    assert " ".join(COMMENT.split()) in narrow  # re-flowed to 40 columns, not a word lost


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_info_never_exceeds_columns(tune: Path, columns: int) -> None:
    lines = info(tune, columns=columns).splitlines()
    assert max(len(line) for line in lines) <= columns


def test_info_formats(tune: Path) -> None:
    report = json.loads(info(tune, "--format", "json"))
    assert report["songs"][0]["stil"]["comment"] == COMMENT
    assert json.loads(info(tune, "--json")) == report
    rows = [json.loads(line) for line in info(tune, "--format", "jsonl").splitlines()]
    assert [(r["song_index"], r["length_ms"], r["author"]) for r in rows] == [
        (1, 36000, "Markus Schneider"),
        (2, 82000, "Markus Schneider"),
    ]
    playlist = m3u8.loads(info(tune, "--format", "m3u"))
    assert [(s.duration, s.title) for s in playlist.segments] == [
        (36, "Markus Schneider - Gilded Age"), (82, "Markus Schneider - Ending [from the game]"),
    ]  # fmt: skip
    assert info(tune, "--format", "paths").splitlines() == [str(tune)]
