"""Faults #2 and #12: the move log across syncs, and the update-script forms the real
HVSC scripts use (Update73.hvs, Update74.hvs), on generated releases and scripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import py7zr
import pytest

from sidflow_pipeline.hvsc.moves import read_moves
from sidflow_pipeline.hvsc.sync import SyncError, sync_hvsc
from sidflow_pipeline.hvsc.update_script import apply_update_script, parse_update_script
from sidflow_pipeline.layout import PATH_MOVES
from sidflow_pipeline_tests.faults.helpers import put_sid, sid_bytes, snapshot

BASE = 10


def _script(version: int, body: str) -> bytes:
    head = f"# generated test update\n# Resulting Version: {version}\n#  Previous Version: {version - 1}\n\n"
    tail = "\nREPLACE\n/update/DOCUMENTS/\n/DOCUMENTS/\n\nDELETE\n/update/DOCUMENTS/\n"
    return (head + body + tail).encode("latin-1")


# Each update uses one of the three forms Update73/74 use, and moves a tune (so the
# move log has something to merge on every later sync).
UPDATES: dict[int, tuple[str, dict[str, bytes]]] = {
    BASE + 1: (
        # form 1: a directory MOVE whose destination has no trailing slash
        "MKDIR\n/MUSICIANS/M/\n\nMOVE\n/update/new/MUSICIANS/M/Met/\n/MUSICIANS/M/Met\n"
        "/DEMOS/UNKNOWN/Unknown_1.sid\n/MUSICIANS/A/Alpha/Found.sid\n\n"
        "DELETE\n/DOCUMENTS/Songlengths.txt\n/update/new/MUSICIANS/M/Met/\n/update/new/MUSICIANS/M/\n"
        "/update/new/MUSICIANS/\n/update/new/\n",
        {"update/new/MUSICIANS/M/Met/Metal.sid": sid_bytes("Metal"), "update/new/MUSICIANS/M/Met/Mettle.sid": sid_bytes("Mettle")},
    ),
    BASE + 2: (
        # form 2: DELETE of a directory written without a trailing slash
        "MKDIR\n/MUSICIANS/P/\n/MUSICIANS/P/Page_Jason/\n\nMOVE\n/update/new/MUSICIANS/P/Page_Jason/Page.sid\n"
        "/MUSICIANS/P/Page_Jason/\n/MUSICIANS/A/Alpha/Found.sid\n/MUSICIANS/A/Alpha/Found_Again.sid\n\n"
        "DELETE\n/update/new/MUSICIANS/P/Page_Jason\n/update/new/MUSICIANS/P\n/update/new/MUSICIANS/\n/update/new/\n",
        {"update/new/MUSICIANS/P/Page_Jason/Page.sid": sid_bytes("Page")},
    ),
    BASE + 3: (
        # form 3: DELETE of a file an earlier update already removed (twice, as 73 and 74 do)
        "DELETE\n/DOCUMENTS/Songlengths.txt\n\nMOVE\n/MUSICIANS/A/Alpha/Two.sid\n/MUSICIANS/A/Alpha/Two_Fixed.sid\n",
        {},
    ),
}


def _write_7z(path: Path, members: dict[str, bytes]) -> None:
    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in sorted(members.items()):
            archive.writestr(data, name)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("archives")
    base = {
        "C64Music/DOCUMENTS/HVSC.txt": b"generated release\n",
        "C64Music/DOCUMENTS/Songlengths.txt": b"old song lengths\n",
        "C64Music/MUSICIANS/A/Alpha/One.sid": sid_bytes("One"),
        "C64Music/MUSICIANS/A/Alpha/Two.sid": sid_bytes("Two"),
        "C64Music/DEMOS/UNKNOWN/Unknown_1.sid": sid_bytes("Unknown"),
    }
    paths = {BASE: out / f"HVSC_{BASE}-all-of-them.7z"}
    _write_7z(paths[BASE], base)
    for version, (body, files) in UPDATES.items():
        paths[version] = out / f"HVSC_Update_{version}.7z"
        _write_7z(paths[version], {**files, f"update/DOCUMENTS/Update{version}.hvs": _script(version, body)})
    return paths


def _offer(source: Path, archives: dict[int, Path], *versions: int) -> None:
    source.mkdir(exist_ok=True)
    for version in versions:
        shutil.copy2(archives[version], source / archives[version].name)


def test_fault02_sync_after_a_sync_that_recorded_moves(archives: dict[int, Path], tmp_path: Path) -> None:
    """Was: shutil.SameFileError — the staging tree's move log is a hard link to the
    live one, and it was copied onto itself (then appended to: the live log changed)."""
    source, target = tmp_path / "mirror", tmp_path / "hvsc"
    _offer(source, archives, BASE, BASE + 1)
    first = sync_hvsc(str(source), target)
    assert first.moves == [("/DEMOS/UNKNOWN/Unknown_1.sid", "/MUSICIANS/A/Alpha/Found.sid")]
    log_after_first = (target / PATH_MOVES).read_bytes()

    # A failing sync leaves the live move log byte-identical (no append through the link).
    broken = source / archives[BASE + 2].name
    _write_7z(broken, {"update/DOCUMENTS/Update12.hvs": _script(BASE + 2, "DELETE\n/NOWHERE/\n")})
    with pytest.raises(SyncError, match="previous release kept"):
        sync_hvsc(str(source), target)
    assert (target / PATH_MOVES).read_bytes() == log_after_first

    shutil.copy2(archives[BASE + 2], broken)
    second = sync_hvsc(str(source), target)
    assert second.status == "updated" and second.version == BASE + 2
    lines = [json.loads(line) for line in (target / PATH_MOVES).read_text().splitlines()]
    assert lines == [
        {"from": "/DEMOS/UNKNOWN/Unknown_1.sid", "to": "/MUSICIANS/A/Alpha/Found.sid"},
        {"from": "/MUSICIANS/A/Alpha/Found.sid", "to": "/MUSICIANS/A/Alpha/Found_Again.sid"},
    ]
    assert read_moves(target)["/DEMOS/UNKNOWN/Unknown_1.sid"] == "/MUSICIANS/A/Alpha/Found_Again.sid"


def test_fault02_install_keeps_a_committed_move_log(archives: dict[int, Path], tmp_path: Path) -> None:
    """A fresh clone has only ``data/hvsc/path-moves.jsonl`` (it is in git); installing
    (and reinstalling) merges it instead of crashing or dropping it."""
    source, target = tmp_path / "mirror", tmp_path / "hvsc"
    target.mkdir()
    committed = b'{"from": "/OLD/Gone.sid", "to": "/MUSICIANS/A/Alpha/One.sid"}\n'
    (target / PATH_MOVES).write_bytes(committed)
    _offer(source, archives, BASE)
    assert sync_hvsc(str(source), target).status == "installed"
    assert (target / PATH_MOVES).read_bytes() == committed
    # Installing over an existing tree whose release is unknown (no manifest) keeps it too.
    (target / "hvsc-version.json").unlink()
    assert sync_hvsc(str(source), target).status == "installed"
    assert (target / PATH_MOVES).read_bytes() == committed


def test_fault12_three_script_forms_of_the_real_updates(tmp_path: Path) -> None:
    """Update73.hvs: a directory MOVE to a destination without '/', a DELETE of an
    (emptied) directory without '/'; Update73/74: DELETE of a file already removed."""
    root = tmp_path / "C64Music"
    put_sid(root, "/update/new/MUSICIANS/M/Met/Metal.sid")
    put_sid(root, "/update/new/MUSICIANS/P/Page_Jason/Page.sid")
    (root / "MUSICIANS" / "M").mkdir(parents=True)
    (root / "MUSICIANS" / "P" / "Page_Jason").mkdir(parents=True)
    body = (
        "MOVE\n/update/new/MUSICIANS/M/Met/\n/MUSICIANS/M/Met\n"
        "/update/new/MUSICIANS/P/Page_Jason/Page.sid\n/MUSICIANS/P/Page_Jason/\n\n"
        "DELETE\n/update/new/MUSICIANS/P/Page_Jason\n/DOCUMENTS/Songlengths.txt\n"
    )
    script = parse_update_script(
        _script(73, body)
        .decode("latin-1")
        .replace("REPLACE\n/update/DOCUMENTS/\n/DOCUMENTS/\n\nDELETE\n/update/DOCUMENTS/\n", ""),
        name="Update73.hvs",
    )
    report = apply_update_script(script, root, installed_version=72)
    assert (root / "MUSICIANS/M/Met/Metal.sid").is_file()
    assert (root / "MUSICIANS/P/Page_Jason/Page.sid").is_file()
    assert not (root / "update/new/MUSICIANS/P/Page_Jason").exists()
    assert report.moves[0] == ("/update/new/MUSICIANS/M/Met/Metal.sid", "/MUSICIANS/M/Met/Metal.sid")
    assert report.deleted == ["/update/new/MUSICIANS/P/Page_Jason/"]
    assert report.already_absent == ["/DOCUMENTS/Songlengths.txt"]


def test_fault12_updates_one_sync_at_a_time_end_like_one_sync(archives: dict[int, Path], tmp_path: Path) -> None:
    """Was: "previous release kept" on the first of these forms. A user who syncs
    every release ends exactly where a one-shot sync of the newest release ends."""
    oneshot_src, oneshot = tmp_path / "all", tmp_path / "oneshot" / "hvsc"
    _offer(oneshot_src, archives, *archives)
    direct = sync_hvsc(str(oneshot_src), oneshot)
    assert direct.version == BASE + 3

    stepwise_src, stepwise = tmp_path / "growing", tmp_path / "stepwise" / "hvsc"
    for version in sorted(archives):
        _offer(stepwise_src, archives, version)
        assert sync_hvsc(str(stepwise_src), stepwise).version == version
    assert snapshot(stepwise / "C64Music") == snapshot(oneshot / "C64Music")
    assert (stepwise / PATH_MOVES).read_bytes() == (oneshot / PATH_MOVES).read_bytes()
    assert read_moves(stepwise) == read_moves(oneshot) == {
        "/DEMOS/UNKNOWN/Unknown_1.sid": "/MUSICIANS/A/Alpha/Found_Again.sid",
        "/MUSICIANS/A/Alpha/Found.sid": "/MUSICIANS/A/Alpha/Found_Again.sid",
        "/MUSICIANS/A/Alpha/Two.sid": "/MUSICIANS/A/Alpha/Two_Fixed.sid",
    }
    assert not (oneshot / "C64Music/DOCUMENTS/Songlengths.txt").exists()
