from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.sid.header import build_psid
from sidflow_pipeline.sid.songlengths import format_songlengths
from sidflow_pipeline.sid.stil import StilBlock, StilEntry, format_stil


@pytest.fixture()
def mini_hvsc(tmp_path: Path) -> Path:
    root = tmp_path / "C64Music"
    tune_dir = root / "MUSICIANS" / "T" / "Tester"
    tune_dir.mkdir(parents=True)
    data = build_psid(
        bytes([0x60, 0x60]), load_address=0x1000, init_address=0x1000, play_address=0x1001,
        songs=2, start_song=2, name="Mini Tune", author="Tester", released="2026 Demo", clock="NTSC", sid_model="8580",
    )
    (tune_dir / "Mini.sid").write_bytes(data)
    docs = root / "DOCUMENTS"
    docs.mkdir()
    md5 = hashlib.md5(data).hexdigest()
    (docs / "Songlengths.md5").write_text(format_songlengths([("/MUSICIANS/T/Tester/Mini.sid", md5, [61500, 90000])]))
    entry = StilEntry(path="/MUSICIANS/T/Tester/Mini.sid")
    entry.file_block.add("COMMENT", "A tiny tune.")
    sub = StilBlock()
    sub.add("TITLE", "Second Theme")
    entry.subtunes[2] = sub
    (docs / "STIL.txt").write_text(format_stil([entry]), encoding="latin-1")
    return root


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for word in ("info", "config", "demo-collection", "fetch"):
        assert word in result.output


def test_info_json_finds_songlengths_and_stil(mini_hvsc: Path) -> None:
    result = CliRunner().invoke(cli, ["info", str(mini_hvsc / "MUSICIANS/T/Tester/Mini.sid"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["hvsc_path"] == "/MUSICIANS/T/Tester/Mini.sid"
    assert report["header"]["name"] == "Mini Tune" and report["header"]["clock"] == "NTSC"
    assert [s["length_ms"] for s in report["songs"]] == [61500, 90000]
    assert report["songs"][0]["stil"] == {"comment": "A tiny tune."}
    assert report["songs"][1]["stil"] == {"title": "Second Theme", "comment": "A tiny tune."}


def test_info_table(mini_hvsc: Path) -> None:
    result = CliRunner().invoke(cli, ["info", str(mini_hvsc / "MUSICIANS/T/Tester/Mini.sid")])
    assert result.exit_code == 0
    assert "Mini Tune" in result.output and "1:01.500" in result.output and "Second Theme" in result.output


def test_info_corrupt_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sid"
    bad.write_bytes(b"PSID\x00\x02")
    result = CliRunner().invoke(cli, ["info", str(bad)])
    assert result.exit_code == 2
    assert "truncated header" in result.output
    assert "Traceback" not in result.output


def test_config_validate_prints_and_fails_cleanly(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"threads": 2}')
    # validate also checks the paths: the default hvscPath and hvscSource must exist
    # (sidflow_pipeline_tests/faults/test_cli_faults.py covers the refusals).
    (tmp_path / "data" / "hvsc").mkdir(parents=True)
    (tmp_path / "data" / "mirror").mkdir()
    ok = CliRunner().invoke(cli, ["--config", str(good), "config", "validate", "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["threads"] == 2
    table = CliRunner().invoke(cli, ["--config", str(good), "config", "validate"])
    assert table.exit_code == 0 and "config OK" in table.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"threads": "many"}')
    result = CliRunner().invoke(cli, ["--config", str(bad), "config", "validate"])
    assert result.exit_code == 2
    assert "threads" in result.output and "bad.json" in result.output


def test_format_json_pretty_prints_and_reports_bad_lines(tmp_path: Path) -> None:
    source = tmp_path / "classified.jsonl"
    source.write_text('{"sid_path":"A/b.sid","ratings":{"e":3}}\n\n{"sid_path":"C/d.sid","ratings":{"e":5}}\n')
    result = CliRunner().invoke(cli, ["format-json", str(source)])
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"sid_path": "A/b.sid", "ratings": {"e": 3}},
        {"sid_path": "C/d.sid", "ratings": {"e": 5}},
    ]
    assert '\n  {\n    "sid_path": "A/b.sid"' in result.output
    source.write_text('{"ok": 1}\n{"broken": \n{"ok": 2}\n')
    bad = CliRunner().invoke(cli, ["format-json", str(source)])
    assert bad.exit_code == 2 and "classified.jsonl:2: not valid JSON" in bad.output
    out = tmp_path / "pretty.json"
    skipped = CliRunner().invoke(cli, ["format-json", str(source), "--skip-bad", "-o", str(out)])
    assert skipped.exit_code == 0
    assert json.loads(out.read_text()) == [{"ok": 1}, {"ok": 2}]


def test_fetch_refreshes_the_committed_manifest_and_moves_ratings_under_tags_path(tmp_path: Path) -> None:
    """`sidflow fetch` takes the same post-sync steps as the hvsc_mirror asset."""
    from sidflow_pipeline.demo.collection import write_demo_mirror

    write_demo_mirror(tmp_path / "mirror", base_version=1, updates=2)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data", "tagsPath": "tags", "hvscSource": str(tmp_path / "mirror")}))
    old = tmp_path / "tags" / "DEMOS" / "UNKNOWN" / "Disk_Menu_3.sid.tags.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"e": 4}\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "fetch"])
    assert result.exit_code == 0, result.output
    assert "1 rating files under" in result.output
    moved = tmp_path / "tags" / "MUSICIANS" / "Z" / "Zinra_Mira" / "Disk_Menu_3.sid.tags.json"
    assert moved.read_text() == '{"e": 4}\n' and not old.exists()
    committed = json.loads((tmp_path / "data" / "hvsc-version.json").read_text())
    assert committed == json.loads((tmp_path / "hvsc" / "hvsc-version.json").read_text())
    assert committed["files"] > 0 and len(committed["deltas"]) == 2
