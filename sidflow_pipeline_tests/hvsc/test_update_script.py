"""HVSC update scripts: parsing rules, every command's effect on real files, every refusal."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from sidflow_pipeline.hvsc.update_script import (  # _atomic_write: its failure path
    BLOCK_LINES,
    KEYWORD_ALIASES,
    ApplyReport,
    Command,
    HvsScriptError,
    UpdateScript,
    _atomic_write,
    apply_update_script,
    load_update_script,
    parse_update_script,
)
from sidflow_pipeline.sid.header import build_psid, encode_header, parse_sid

CODE = bytes([0xA9, 0x0F, 0x8D, 0x18, 0xD4, 0x60, 0x60, 0xEA])  # LDA #$0F; STA $D418; RTS; RTS; NOP
HEADER = (
    "# High Voltage SID Collection: Update #75\n#\n"
    "# Resulting Version: 75\n#  Previous Version: 74\n\n"
)
HEADER_LINES = HEADER.count("\n")


def sid_bytes(name: str = "Tune", author: str = "Composer", released: str = "1987 Label") -> bytes:
    return build_psid(
        CODE,
        load_address=0x1000,
        init_address=0x1000,
        play_address=0x1003,
        songs=2,
        name=name,
        author=author,
        released=released,
    )


def put(root: Path, hvsc_path: str, data: bytes | None = None) -> Path:
    path = root / hvsc_path.strip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sid_bytes(name=path.stem[:32]) if data is None else data)
    return path


def script(body: str, name: str = "Update75.hvs") -> UpdateScript:
    return parse_update_script(HEADER + body, name=name)


def run(root: Path, body: str) -> ApplyReport:
    return apply_update_script(script(body), root, installed_version=74)


def tree(root: Path) -> list[str]:
    """Every file and directory under root as an HVSC path (directories end in /)."""
    out = []
    for path in sorted(root.rglob("*")):
        rel = "/" + path.relative_to(root).as_posix()
        out.append(rel + "/" if path.is_dir() else rel)
    return out


def header_of(path: Path):
    return parse_sid(path.read_bytes()).header


@pytest.fixture
def root(tmp_path: Path) -> Path:
    c64 = tmp_path / "C64Music"
    c64.mkdir()
    return c64


# --------------------------------------------------------------------------- parsing


def test_parse_reads_versions_blocks_and_canonical_keywords() -> None:
    body = (
        "; a semicolon comment\n"
        "#####\nmove\n##### comment lines after a keyword line are skipped\n\n"
        "# why this tune moves\n"
        "/MUSICIANS/A/Old/a.sid\n/MUSICIANS/A/New/\n"
        "\n"
        "   # indented comment\n"
        "/MUSICIANS/A/Old/b.sid\n/MUSICIANS/A/Old/c.sid\n"
        "COPYRIGHT\n/x.sid\n1988 Firebird\n"
        "Video\n/x.sid\nNTSC\n"
        "SIDCHIP\n/x.sid\n8580\n"
        "CREDITS\n/x.sid\n*\nRob Hubbard\n*\n"
    )
    parsed = script(body)
    assert (parsed.resulting_version, parsed.previous_version) == (75, 74)
    assert parsed.previous_version_line == 4
    assert parsed.name == "Update75.hvs"
    at = HEADER_LINES  # body line k is script line HEADER_LINES + k
    assert parsed.commands == [
        Command("MOVE", ("/MUSICIANS/A/Old/a.sid", "/MUSICIANS/A/New/"), at + 7),
        Command("MOVE", ("/MUSICIANS/A/Old/b.sid", "/MUSICIANS/A/Old/c.sid"), at + 11),
        Command("RELEASED", ("/x.sid", "1988 Firebird"), at + 14),
        Command("CLOCK", ("/x.sid", "NTSC"), at + 17),
        Command("SIDMODEL", ("/x.sid", "8580"), at + 20),
        Command("CREDITS", ("/x.sid", "*", "Rob Hubbard", "*"), at + 23),
    ]
    assert parsed.counts() == {"MOVE": 2, "RELEASED": 1, "CLOCK": 1, "SIDMODEL": 1, "CREDITS": 1}


def test_lines_inside_a_block_are_taken_verbatim() -> None:
    # A title may start with '#' or ';', or be empty: inside a block nothing is a comment.
    body = "TITLE\n/a.sid\n#1 Hit\n/b.sid\n\n/c.sid\n; not a comment\nAUTHOR\n/d.sid\nMOVE\n"
    parsed = script(body)
    assert [cmd.params for cmd in parsed.commands] == [
        ("/a.sid", "#1 Hit"),
        ("/b.sid", ""),
        ("/c.sid", "; not a comment"),
        ("/d.sid", "MOVE"),  # a keyword where a value is expected is a value
    ]


def test_crlf_latin1_and_paths_with_backslashes() -> None:
    text = (
        HEADER.replace("\n", "\r\n")
        + "AUTHOR\r\n\\MUSICIANS\\J\\J\xf6rg\\a.sid\r\nJ\xf6rg Rosenstiel \x85\r\n"
    )
    parsed = parse_update_script(text)
    assert parsed.name == "UpdateNN.hvs"
    # U+0085 is the cp1252 ellipsis read as Latin-1; it must not split the line.
    assert parsed.commands == [
        Command(
            "AUTHOR",
            ("\\MUSICIANS\\J\\J\xf6rg\\a.sid", "J\xf6rg Rosenstiel \x85"),
            HEADER_LINES + 2,
        )
    ]


def test_load_update_script_decodes_latin1_and_uses_file_name(tmp_path: Path) -> None:
    path = tmp_path / "Update75.hvs"
    path.write_bytes((HEADER + "TITLE\n/a.sid\nK\xe4se\n").encode("latin-1"))
    parsed = load_update_script(path)
    assert parsed.name == "Update75.hvs"
    assert parsed.commands[0].params == ("/a.sid", "K\xe4se")


def test_every_keyword_has_a_block_length_and_aliases_are_canonical() -> None:
    assert set(KEYWORD_ALIASES.values()) <= set(BLOCK_LINES)
    assert {BLOCK_LINES[k] for k in ("TITLE", "CREDITS", "FLAGS", "DELETE")} == {2, 4, 5, 1}


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("MOVE\n/a.sid\n/b.sid\nREMOVE\n/c.sid\n", 4, "expected a path or one of the keywords"),
        ("/a.sid\n", 1, "expected a keyword before the first parameter line"),
        (
            "DELETE\n/a.sid\nCREDITS\n/b.sid\nTitle\n",
            4,
            "CREDITS: block cut short by the end of the script (2 of 4",
        ),
        ("SPEED\n/a.sid\n0G\n", 3, "speed '0G' is not hexadecimal"),
        ("SPEED\n/a.sid\n100000000\n", 3, "larger than $FFFFFFFF"),
        ("INITPLAY\n/a.sid\n1000,10003\n", 3, "play address $10003 is larger than $FFFF"),
        ("INITPLAY\n/a.sid\n1000\n", 3, "must be two values separated by a comma"),
        ("FREEPAGES\n/a.sid\n100,2\n", 3, "start page $100 is larger than $FF"),
        ("SONGS\n/a.sid\n0,1\n", 3, "songs 0 out of range"),
        ("SONGS\n/a.sid\n257,1\n", 3, "songs 257 out of range"),
        ("SONGS\n/a.sid\n3,4\n", 3, "start song 4 out of range 1–3"),
        ("SONGS\n/a.sid\n$A,1\n", 3, "must be two decimal numbers"),
        ("TITLE\n/a.sid\n" + "x" * 33 + "\n", 3, "33 characters long, at most 32"),
        ("AUTHOR\n/a.sid\nA \u20ac\n", 3, "outside Latin-1"),
        ("CLOCK\n/a.sid\nSECAM\n", 3, "clock 'SECAM' is not one of"),
        ("SIDMODEL\n/a.sid\n6582\n", 3, "SID model '6582' is not one of"),
        ("MUSPLAYER\n/a.sid\nmaybe\n", 3, "flag 'maybe' is not one of"),
        ("FLAGS\n/a.sid\n*\n*\n*\nbest\n", 6, "SID model 'best'"),
        ("CREDITS\n/a.sid\n*\n" + "y" * 33 + "\n*\n", 4, "at most 32"),
        ("DELETE\n/MUSICIANS/../../etc/passwd\n", 2, "contains '..'"),
        ("DELETE\n/C:/x\n", 2, "invalid component"),
        ("MOVE\n/a.sid\n# note\n/b.sid\n", 3, "comments are not allowed inside a parameter block"),
        ("MOVE\n/dir/\n/file.sid\n", 3, "a directory (/dir/) can only go to a directory"),
        ("MKDIR\n/MUSICIANS/N/New\n", 2, "expected a directory ending in '/'"),
        ("TITLE\n/MUSICIANS/\nName\n", 2, "expected a file, got the directory"),
    ],
)
def test_parse_errors_name_the_line(body: str, line: int, fragment: str) -> None:
    with pytest.raises(HvsScriptError) as info:
        script(body)
    assert info.value.line == HEADER_LINES + line
    assert fragment in info.value.message
    assert str(info.value).startswith(f"Update75.hvs line {HEADER_LINES + line}: ")
    assert "\n" not in str(info.value)


def test_missing_version_lines_are_refused() -> None:
    with pytest.raises(HvsScriptError, match=r"Update75.hvs line 3: MOVE: no '# Previous Version"):
        parse_update_script("# Resulting Version: 75\n\nMOVE\n/a\n/b\n", name="Update75.hvs")
    with pytest.raises(HvsScriptError, match=r"line 2: DELETE: no '# Resulting Version") as info:
        parse_update_script("#  Previous Version: 74\ndelete\n/a\n")
    assert info.value.line == 2
    with pytest.raises(HvsScriptError) as info:
        parse_update_script("# Resulting Version: 75\n# only comments\n")
    assert info.value.line is None
    assert str(info.value) == "UpdateNN.hvs: no '# Previous Version: N' line in the script header"


def test_error_string_without_script_or_line() -> None:
    assert str(HvsScriptError("plain")) == "plain"
    assert str(HvsScriptError("msg", line=7)) == "line 7: msg"
    assert str(HvsScriptError("msg", script="U.hvs")) == "U.hvs: msg"


# --------------------------------------------------------------------------- version and root


def test_refuses_a_script_for_another_release(root: Path) -> None:
    put(root, "/a.sid")
    parsed = script("DELETE\n/a.sid\n")
    with pytest.raises(HvsScriptError) as info:
        apply_update_script(parsed, root, installed_version=73)
    assert info.value.line == 4
    assert "updates release 74 to 75, but the installed release is 73" in str(info.value)
    assert (root / "a.sid").exists()
    # None means the caller checked the release itself.
    report = apply_update_script(parsed, root, installed_version=None)
    assert report.deleted == ["/a.sid"] and not (root / "a.sid").exists()


def test_refuses_a_root_that_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(HvsScriptError, match="is not a directory"):
        apply_update_script(script("DELETE\n/a.sid\n"), tmp_path / "missing", installed_version=74)


# --------------------------------------------------------------------------- DELETE / MKDIR


def test_delete_file_and_empty_directory(root: Path) -> None:
    put(root, "/MUSICIANS/H/Hubbard_Rob/Delta.sid")
    (root / "MUSICIANS" / "H" / "Empty").mkdir()
    report = run(
        root,
        "DELETE\n/musicians/h/HUBBARD_ROB/delta.sid\n/MUSICIANS/H/Hubbard_Rob/\n/Musicians/H/empty/\n",
    )
    assert report.deleted == [
        "/MUSICIANS/H/Hubbard_Rob/Delta.sid",
        "/MUSICIANS/H/Hubbard_Rob/",
        "/MUSICIANS/H/Empty/",
    ]
    assert report.counts == {"DELETE": 3}
    assert tree(root) == ["/MUSICIANS/", "/MUSICIANS/H/"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "DELETE\n/MUSICIANS/H/Hubbard_Rob/\n",
            "directory /MUSICIANS/H/Hubbard_Rob/ is not empty (1 entries, e.g. 'Delta.sid')",
        ),
        ("DELETE\n/MUSICIANS/H/Nobody/\n", "directory /MUSICIANS/H/Nobody/ does not exist"),
        (
            # A directory written without '/' is that directory (Update73.hvs): still only when empty.
            "DELETE\n/MUSICIANS/H/Hubbard_Rob\n",
            "directory /MUSICIANS/H/Hubbard_Rob/ is not empty (1 entries, e.g. 'Delta.sid')",
        ),
        ("DELETE\n/MUSICIANS/H/Hubbard_Rob/Delta.sid/\n", "is a file, not a directory"),
        ("DELETE\n/\n", "refusing to delete the collection root"),
        ("MKDIR\n/MUSICIANS/X/Xenon/\n", "parent directory of /MUSICIANS/X/Xenon/ does not exist"),
        ("MKDIR\n/musicians/h/hubbard_rob/\n", "/musicians/h/hubbard_rob/ already exists"),
        ("MKDIR\n/\n", "the collection root already exists"),
    ],
)
def test_delete_and_mkdir_refusals(root: Path, body: str, fragment: str) -> None:
    put(root, "/MUSICIANS/H/Hubbard_Rob/Delta.sid")
    before = tree(root)
    with pytest.raises(HvsScriptError) as info:
        run(root, "# first command succeeds\nMKDIR\n/DEMOS/\n" + body)
    assert info.value.line == HEADER_LINES + 5
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"Update75.hvs line {HEADER_LINES + 5}: {body.split()[0]}: ")
    # Not transactional: the first command's effect stays, documented for the caller.
    assert tree(root) == sorted([*before, "/DEMOS/"])


def test_delete_of_an_absent_file_is_a_no_op_that_is_reported(root: Path) -> None:
    """Update73.hvs and Update74.hvs both delete /DOCUMENTS/Songlengths.txt, which an
    earlier update already removed: the state DELETE asks for holds, nothing changes."""
    put(root, "/MUSICIANS/H/Hubbard_Rob/Delta.sid")
    before = tree(root)
    report = run(root, "DELETE\n/MUSICIANS/H/Hubbard_Rob/Commando.sid\n/DOCUMENTS/Songlengths.txt\n")
    assert tree(root) == before
    assert report.deleted == []
    assert report.already_absent == ["/MUSICIANS/H/Hubbard_Rob/Commando.sid", "/DOCUMENTS/Songlengths.txt"]
    assert report.counts == {"DELETE": 2}


def test_mkdir_creates_the_last_component_with_the_script_case(root: Path) -> None:
    (root / "MUSICIANS" / "X").mkdir(parents=True)
    report = run(root, "MKDIR\n/musicians/x/Xenon_Man/\n")
    assert (root / "MUSICIANS" / "X" / "Xenon_Man").is_dir()
    assert report.created_dirs == ["/MUSICIANS/X/Xenon_Man/"]
    assert report.counts == {"MKDIR": 1}


# --------------------------------------------------------------------------- MOVE


def test_move_file_to_file_is_case_insensitive_and_keeps_bytes(root: Path) -> None:
    original = put(root, "/GAMES/S-Z/Tour_De_France.sid").read_bytes()
    report = run(
        root,
        "MOVE\n/games/s-z/TOUR_DE_FRANCE.SID\n/Games/S-Z/Tour_de_France_.sid\n"
        "/GAMES/S-Z/Tour_de_France_.sid\n/GAMES/S-Z/Tour_de_France.sid\n",
    )
    assert tree(root) == ["/GAMES/", "/GAMES/S-Z/", "/GAMES/S-Z/Tour_de_France.sid"]
    assert (root / "GAMES" / "S-Z" / "Tour_de_France.sid").read_bytes() == original
    # Old and new paths as they are on disk, so ratings keyed by path can follow.
    assert report.moves == [
        ("/GAMES/S-Z/Tour_De_France.sid", "/GAMES/S-Z/Tour_de_France_.sid"),
        ("/GAMES/S-Z/Tour_de_France_.sid", "/GAMES/S-Z/Tour_de_France.sid"),
    ]
    assert report.counts == {"MOVE": 2}


def test_move_file_into_a_directory_created_on_the_way(root: Path) -> None:
    put(root, "/DEMOS/UNKNOWN/Unknown_152.sid")
    (root / "MUSICIANS" / "M").mkdir(parents=True)
    report = run(root, "MOVE\n/DEMOS/UNKNOWN/unknown_152.sid\n/musicians/M/Mr_New/\n")
    # The new directory takes the destination's case, the file the source path's case.
    assert tree(root) == [
        "/DEMOS/",
        "/DEMOS/UNKNOWN/",
        "/MUSICIANS/",
        "/MUSICIANS/M/",
        "/MUSICIANS/M/Mr_New/",
        "/MUSICIANS/M/Mr_New/unknown_152.sid",
    ]
    assert report.created_dirs == ["/MUSICIANS/M/Mr_New/"]
    assert report.moves == [
        ("/DEMOS/UNKNOWN/Unknown_152.sid", "/MUSICIANS/M/Mr_New/unknown_152.sid")
    ]


def test_move_file_into_an_existing_directory_and_to_the_root(root: Path) -> None:
    put(root, "/MUSICIANS/K/Kelly_Tony/Big_Mac.sid")
    put(root, "/readme.txt", b"text")
    (root / "GAMES" / "A-F").mkdir(parents=True)
    report = run(
        root,
        "MOVE\n/MUSICIANS/K/Kelly_Tony/Big_Mac.sid\n/GAMES/A-F/\n/readme.txt\n/DOCUMENTS/\n"
        "/DOCUMENTS/readme.txt\n/README.TXT\n",
    )
    assert (root / "GAMES" / "A-F" / "Big_Mac.sid").is_file()
    assert (root / "README.TXT").read_bytes() == b"text"
    assert report.moves[-1] == ("/DOCUMENTS/readme.txt", "/README.TXT")
    assert report.created_dirs == ["/DOCUMENTS/"]


def test_move_directory_is_not_recursive(root: Path) -> None:
    a = put(root, "/update/new/MUSICIANS/Z/Zeta/Angeldog.sid").read_bytes()
    put(root, "/update/new/MUSICIANS/Z/Zeta/Its_a_Beautiful_Life.sid")
    put(root, "/update/new/MUSICIANS/Z/Zeta/sub/Deep.sid")
    (root / "MUSICIANS" / "Z").mkdir(parents=True)
    report = run(root, "MOVE\n/UPDATE/new/musicians/z/zeta/\n/MUSICIANS/Z/Zeta/\n")
    assert tree(root) == [
        "/MUSICIANS/",
        "/MUSICIANS/Z/",
        "/MUSICIANS/Z/Zeta/",
        "/MUSICIANS/Z/Zeta/Angeldog.sid",
        "/MUSICIANS/Z/Zeta/Its_a_Beautiful_Life.sid",
        "/update/",
        "/update/new/",
        "/update/new/MUSICIANS/",
        "/update/new/MUSICIANS/Z/",
        "/update/new/MUSICIANS/Z/Zeta/",
        "/update/new/MUSICIANS/Z/Zeta/sub/",
        "/update/new/MUSICIANS/Z/Zeta/sub/Deep.sid",
    ]
    assert (root / "MUSICIANS" / "Z" / "Zeta" / "Angeldog.sid").read_bytes() == a
    assert report.moves == [
        ("/update/new/MUSICIANS/Z/Zeta/Angeldog.sid", "/MUSICIANS/Z/Zeta/Angeldog.sid"),
        (
            "/update/new/MUSICIANS/Z/Zeta/Its_a_Beautiful_Life.sid",
            "/MUSICIANS/Z/Zeta/Its_a_Beautiful_Life.sid",
        ),
    ]
    assert report.counts == {"MOVE": 1}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("MOVE\n/A/one.sid\n/A/TWO.SID\n", "destination /A/two.sid already exists"),
        (
            "MOVE\n/A/one.sid\n/B/one.sid\n",
            "directory of the destination /B/one.sid does not exist",
        ),
        (
            "MOVE\n/A/one.sid\n/B/C/\n",
            "destination directory /B/C/ does not exist and neither does its parent",
        ),
        ("MOVE\n/A/one.sid\n/A/two.sid/\n", "destination /A/two.sid/ is a file, not a directory"),
        ("MOVE\n/A/missing.sid\n/A/x.sid\n", "/A/missing.sid does not exist"),
        ("MOVE\n/A/\n/D/\n", "destination /D/two.sid already exists"),
        ("MOVE\n/nowhere/\n/D/\n", "directory /nowhere/ does not exist"),
        ("MOVE\n/A/one.sid\n/A/sub\n", "destination /A/sub already exists"),
    ],
)
def test_move_refusals(root: Path, body: str, fragment: str) -> None:
    put(root, "/A/one.sid")
    put(root, "/A/two.sid")
    put(root, "/D/two.sid")
    (root / "A" / "sub").mkdir()
    with pytest.raises(HvsScriptError) as info:
        run(root, body)
    assert info.value.line == HEADER_LINES + 2
    assert fragment in info.value.message


# --------------------------------------------------------------------------- REPLACE


def test_replace_file_into_directory_overwrites(root: Path) -> None:
    put(root, "/MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid", sid_bytes(name="old"))
    fixed = put(
        root, "/update/fix/MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid", sid_bytes(name="fixed")
    ).read_bytes()
    report = run(
        root,
        "REPLACE\n/update/fix/MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid\n/musicians/r/rage/\n",
    )
    assert (root / "MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid").read_bytes() == fixed
    assert not (root / "update/fix/MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid").exists()
    assert report.replaced == ["/MUSICIANS/R/Rage/Spirit_of_the_Past_5_menu.sid"]
    assert report.moves == [] and report.counts == {"REPLACE": 1}


def test_replace_takes_the_destination_case_and_leaves_one_file(root: Path) -> None:
    put(root, "/DOCUMENTS/songlengths.md5", b"old")
    put(root, "/update/DOCUMENTS/Songlengths.md5", b"new")
    report = run(root, "REPLACE\n/update/DOCUMENTS/Songlengths.md5\n/DOCUMENTS/Songlengths.md5\n")
    assert [p.name for p in (root / "DOCUMENTS").iterdir()] == ["Songlengths.md5"]
    assert (root / "DOCUMENTS" / "Songlengths.md5").read_bytes() == b"new"
    assert report.replaced == ["/DOCUMENTS/Songlengths.md5"]


def test_replace_without_an_existing_destination_and_onto_itself(root: Path) -> None:
    put(root, "/update/a.sid", b"A")
    put(root, "/B/keep.sid", b"K")
    report = run(root, "REPLACE\n/update/a.sid\n/B/Fresh.sid\n/B/keep.sid\n/b/KEEP.sid\n")
    assert sorted(p.name for p in (root / "B").iterdir()) == ["Fresh.sid", "KEEP.sid"]
    assert (root / "B" / "KEEP.sid").read_bytes() == b"K"
    assert report.replaced == ["/B/Fresh.sid", "/B/KEEP.sid"]


def test_replace_directory_merges_non_recursively(root: Path) -> None:
    put(root, "/DOCUMENTS/STIL.txt", b"old stil")
    put(root, "/DOCUMENTS/Keep.txt", b"untouched")
    put(root, "/update/DOCUMENTS/stil.txt", b"new stil")
    put(root, "/update/DOCUMENTS/Update75.hvs", b"script")
    put(root, "/update/DOCUMENTS/Update_Announcements/20201220.txt", b"news")
    report = run(root, "REPLACE\n/update/DOCUMENTS/\n/DOCUMENTS/\n")
    assert tree(root) == [
        "/DOCUMENTS/",
        "/DOCUMENTS/Keep.txt",
        "/DOCUMENTS/Update75.hvs",
        "/DOCUMENTS/stil.txt",
        "/update/",
        "/update/DOCUMENTS/",
        "/update/DOCUMENTS/Update_Announcements/",
        "/update/DOCUMENTS/Update_Announcements/20201220.txt",
    ]
    assert (root / "DOCUMENTS" / "stil.txt").read_bytes() == b"new stil"
    assert report.replaced == ["/DOCUMENTS/Update75.hvs", "/DOCUMENTS/stil.txt"]


def test_replace_into_a_directory_entry_is_refused(root: Path) -> None:
    put(root, "/update/Old.sid")
    (root / "Dst" / "old.sid").mkdir(parents=True)
    with pytest.raises(
        HvsScriptError, match=r"line 7: REPLACE: destination /Dst/old.sid is a directory"
    ):
        run(root, "REPLACE\n/update/Old.sid\n/Dst/\n")


# --------------------------------------------------------------------------- header edits


def edit(root: Path, body: str, data: bytes | None = None) -> tuple[bytes, bytes, ApplyReport]:
    path = put(root, "/MUSICIANS/H/Hubbard_Rob/Delta.sid", sid_bytes() if data is None else data)
    before = path.read_bytes()
    report = run(root, body)
    return before, path.read_bytes(), report


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("TITLE\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n#1 Hit\n", {"name": "#1 Hit"}),
        ("TITLE\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n" + "T" * 32 + "\n", {"name": "T" * 32}),
        ("AUTHOR\n/musicians/h/hubbard_rob/DELTA.sid\nRob Hubbard\n", {"author": "Rob Hubbard"}),
        (
            "RELEASED\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n1987 Thalamus\n",
            {"released": "1987 Thalamus"},
        ),
        ("COPYRIGHT\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n\n", {"released": ""}),
        (
            "CREDITS\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n*\nRob Hubbard\n*\n",
            {"name": "Tune", "author": "Rob Hubbard", "released": "1987 Label"},
        ),
        (
            "CREDITS\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\nDelta\n*\n1987 Thalamus\n",
            {"name": "Delta", "author": "Composer", "released": "1987 Thalamus"},
        ),
        ("SPEED\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n02\n", {"speed": 2}),
        ("SPEED\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n$FFFFFFFF\n", {"speed": 0xFFFFFFFF}),
        ("SONGS\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n40, 3\n", {"songs": 40, "start_song": 3}),
        (
            "INITPLAY\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n1003,0x1006\n",
            {"init_address": 0x1003, "play_address": 0x1006},
        ),
        (
            "FREEPAGES\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\nC0,0F\n",
            {"start_page": 0xC0, "page_length": 0x0F},
        ),
    ],
)
def test_text_and_number_edits(root: Path, body: str, expected: dict[str, object]) -> None:
    before, after, report = edit(root, body)
    old, new = parse_sid(before), parse_sid(after)
    assert {key: getattr(new.header, key) for key in expected} == expected
    assert new.payload == old.payload == CODE
    # Every other field is untouched.
    untouched = {k for k in old.header.__dataclass_fields__} - set(expected)
    assert {k: getattr(new.header, k) for k in untouched} == {
        k: getattr(old.header, k) for k in untouched
    }
    assert report.edited == ["/MUSICIANS/H/Hubbard_Rob/Delta.sid"]
    assert sum(report.counts.values()) == 1


def test_credits_with_only_stars_changes_nothing(root: Path) -> None:
    before, after, report = edit(root, "CREDITS\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n*\n*\n*\n")
    assert after == before
    assert report.counts == {"CREDITS": 1}


# build_psid writes PAL + 6581: flags 0b01_01_00 = 0x14.
@pytest.mark.parametrize(
    ("body", "flags", "clock", "model"),
    [
        ("CLOCK\n{p}\nNTSC\n", 0x18, "NTSC", "6581"),
        ("VIDEO\n{p}\nany\n", 0x1C, "PAL+NTSC", "6581"),
        ("CLOCK\n{p}\nUNKNOWN\n", 0x10, "Unknown", "6581"),
        ("SIDMODEL\n{p}\n8580\n", 0x24, "PAL", "8580"),
        ("SIDCHIP\n{p}\nANY\n", 0x34, "PAL", "6581+8580"),
        ("SIDMODEL\n{p}\nUnknown\n", 0x04, "PAL", "Unknown"),
        ("MUSPLAYER\n{p}\nYES\n", 0x15, "PAL", "6581"),
        ("PLAYSID\n{p}\n1\n", 0x16, "PAL", "6581"),
        ("FLAGS\n{p}\n1\n*\nNTSC\n*\n", 0x19, "NTSC", "6581"),
        ("FLAGS\n{p}\n*\ntrue\n*\n8580\n", 0x26, "PAL", "8580"),
        ("FLAGS\n{p}\n*\n*\n*\n*\n", 0x14, "PAL", "6581"),
        (
            "FLAGS\n{p}\nYES\nON\nPAL\n6581\nMUSPLAYER\n{p}\nNO\nPLAYSID\n{p}\noff\n",
            0x14,
            "PAL",
            "6581",
        ),
    ],
)
def test_flag_edits_keep_the_other_bits(
    root: Path, body: str, flags: int, clock: str, model: str
) -> None:
    _, after, report = edit(root, body.format(p="/MUSICIANS/H/Hubbard_Rob/Delta.sid"))
    header = parse_sid(after).header
    assert (header.flags, header.clock, header.sid_model) == (flags, clock, model)
    assert report.edited == ["/MUSICIANS/H/Hubbard_Rob/Delta.sid"]


def test_flag_edit_upgrades_a_v1_header(root: Path) -> None:
    v2 = parse_sid(sid_bytes())
    v1 = encode_header(replace(v2.header, version=1, data_offset=0x76, flags=0)) + v2.payload
    _, after, _ = edit(root, "SIDMODEL\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n8580\n", data=v1)
    new = parse_sid(after)
    assert (new.header.version, new.header.data_offset, new.header.flags) == (2, 0x7C, 0x20)
    assert new.payload == CODE


def test_fixload_with_load_address_in_the_header(root: Path) -> None:
    before, after, report = edit(root, "FIXLOAD\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n")
    old, new = parse_sid(before), parse_sid(after)
    assert new.header.load_address == old.header.load_address + 2 == 0x1002
    assert new.payload == CODE[2:]
    assert len(after) == len(before) - 2
    assert (new.header.init_address, new.header.play_address) == (0x1000, 0x1003)
    assert report.counts == {"FIXLOAD": 1}


def test_fixload_with_load_address_in_the_data(root: Path) -> None:
    data = (
        encode_header(replace(parse_sid(sid_bytes()).header, load_address=0)) + b"\x00\x10" + CODE
    )
    _, after, _ = edit(root, "FIXLOAD\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n", data=data)
    new = parse_sid(after)
    assert new.header.load_address == 0
    assert new.load_address == 0x1002
    assert new.c64_data == CODE[2:]


def test_fixload_refuses_to_leave_no_data(root: Path) -> None:
    data = build_psid(
        b"\x60\x60",
        load_address=0x1000,
        init_address=0x1000,
        play_address=0x1001,
        songs=1,
        name="n",
        author="a",
        released="r",
    )
    with pytest.raises(HvsScriptError, match=r"line 7: FIXLOAD: only 2 bytes of C64 data"):
        edit(root, "FIXLOAD\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\n", data=data)


def test_edits_are_listed_once_per_file_and_counted_per_command(root: Path) -> None:
    put(root, "/B.sid")
    _, after, report = edit(
        root,
        "TITLE\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\nDelta\n/B.sid\nB\n"
        "AUTHOR\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\nRob Hubbard\n",
    )
    assert report.edited == ["/MUSICIANS/H/Hubbard_Rob/Delta.sid", "/B.sid"]
    assert report.counts == {"TITLE": 2, "AUTHOR": 1}
    assert (parse_sid(after).header.name, parse_sid(after).header.author) == (
        "Delta",
        "Rob Hubbard",
    )


def test_header_edit_writes_atomically_and_keeps_the_mode(root: Path) -> None:
    path = put(root, "/MUSICIANS/H/Hubbard_Rob/Delta.sid")
    path.chmod(0o640)
    run(root, "TITLE\n/MUSICIANS/H/Hubbard_Rob/Delta.sid\nDelta\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(path.parent) == ["Delta.sid"]  # no temporary file left behind


def test_a_failed_atomic_write_removes_its_temp_file(tmp_path: Path) -> None:
    # os.replace of a file over a directory fails after the temp file was written.
    (tmp_path / "Delta.sid").mkdir()
    with pytest.raises(OSError):
        _atomic_write(tmp_path / "Delta.sid", b"new bytes")
    assert os.listdir(tmp_path) == ["Delta.sid"]
    assert (tmp_path / "Delta.sid").is_dir()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "TITLE\n/MUSICIANS/H/Hubbard_Rob/Missing.sid\nX\n",
            "/MUSICIANS/H/Hubbard_Rob/Missing.sid does not exist",
        ),
        ("TITLE\n/MUSICIANS/H/Hubbard_Rob\nX\n", "is a directory"),
        ("SONGS\n/MUSICIANS/H/Hubbard_Rob/notes.txt\n2,1\n", "bad magic"),
    ],
)
def test_header_edit_refusals(root: Path, body: str, fragment: str) -> None:
    put(root, "/MUSICIANS/H/Hubbard_Rob/notes.txt", b"not a SID file at all, just text")
    with pytest.raises(HvsScriptError) as info:
        run(root, body)
    assert info.value.line == HEADER_LINES + 2
    assert fragment in info.value.message


# --------------------------------------------------------------------------- staying inside root


def test_symbolic_links_are_not_followed(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.sid").write_bytes(sid_bytes())
    (root / "MUSICIANS").symlink_to(outside, target_is_directory=True)
    with pytest.raises(HvsScriptError, match=r"line 7: DELETE: /MUSICIANS is a symbolic link"):
        run(root, "DELETE\n/MUSICIANS/victim.sid\n")
    assert (outside / "victim.sid").exists()


def test_parent_components_are_refused_before_anything_runs(root: Path) -> None:
    put(root, "/a.sid")
    with pytest.raises(HvsScriptError) as info:
        run(root, "DELETE\n/a.sid\nMOVE\n/a.sid\n\\..\\escaped.sid\n")
    assert info.value.line == HEADER_LINES + 5
    assert "must stay inside C64Music" in str(info.value)
    assert (root / "a.sid").exists()


def test_hand_built_scripts_are_checked_too(root: Path) -> None:
    # A caller may build an UpdateScript without the parser; paths are checked again.
    put(root, "/a.sid")
    for params, fragment in [
        (("DELETE", ("/x/../../outside.sid",)), "must stay inside C64Music"),
        (("TITLE", ("/a.sid/", "Name")), "expected a file, got the directory /a.sid/"),
        (("TITLE", ("/a.sid",)), "takes 2 parameter lines, got 1"),
        (("COPYRIGHT", ("/a.sid", "1987")), "not a canonical keyword (one of TITLE"),
    ]:
        built = UpdateScript(75, 74, [Command(params[0], params[1], 3)], name="Built.hvs")
        with pytest.raises(
            HvsScriptError, match=rf"^Built.hvs line 3: {params[0]}: .*{re.escape(fragment)}"
        ):
            apply_update_script(built, root, installed_version=74)
    assert (root / "a.sid").read_bytes() == sid_bytes(name="a")


def test_a_file_used_as_a_directory_is_missing(root: Path) -> None:
    put(root, "/A/one.sid")
    with pytest.raises(HvsScriptError, match=r"line 7: DELETE: /A/one.sid/x.sid does not exist"):
        run(root, "DELETE\n/A/one.sid/x.sid")  # no newline at the end of the script either


def test_names_differing_only_in_case_are_ambiguous(root: Path) -> None:
    put(root, "/X/Tune.sid")
    put(root, "/X/TUNE.sid")
    with pytest.raises(HvsScriptError, match=r"line 7: DELETE: 'tune.sid' is ambiguous in /X"):
        run(root, "DELETE\n/X/tune.sid\n")
    # An exact match wins over case-insensitive ones.
    assert run(root, "DELETE\n/X/TUNE.sid\n").deleted == ["/X/TUNE.sid"]


# --------------------------------------------------------------------------- the real Update74.hvs

_FILE = re.compile(r"^/[^\\]+[^/]$")
_DIR = re.compile(r"^/(?:[^\\]+/)?$")


@pytest.mark.hvsc_sample
def test_real_update74_parses_completely(hvsc_sample: Path) -> None:
    parsed = load_update_script(hvsc_sample / "DOCUMENTS" / "Update74.hvs")
    assert (parsed.resulting_version, parsed.previous_version, parsed.name) == (
        74,
        73,
        "Update74.hvs",
    )
    assert parsed.counts() == {
        "REPLACE": 57,
        "MOVE": 272,
        "DELETE": 251,
        "CREDITS": 26,
        "TITLE": 32,
        "AUTHOR": 35,
        "RELEASED": 87,
        "SONGS": 2,
        "SPEED": 5,
        "FLAGS": 3,
        "CLOCK": 10,
        "SIDMODEL": 4,
    }
    assert len(parsed.commands) == 784
    kinds: dict[str, int] = {}
    for cmd in parsed.commands:
        assert len(cmd.params) == BLOCK_LINES[cmd.keyword]
        path = cmd.params[0]
        assert path.startswith("/"), cmd
        if cmd.keyword in ("MOVE", "REPLACE"):
            assert cmd.params[1].startswith("/"), cmd
            kind = (
                f"{cmd.keyword} {'dir' if path.endswith('/') else 'file'}->"
                f"{'dir' if cmd.params[1].endswith('/') else 'file'}"
            )
            kinds[kind] = kinds.get(kind, 0) + 1
        elif cmd.keyword == "DELETE":
            kind = f"DELETE {'dir' if path.endswith('/') else 'file'}"
            kinds[kind] = kinds.get(kind, 0) + 1
        else:
            assert _FILE.match(path), cmd
        values = cmd.params[1:]
        if cmd.keyword in ("TITLE", "AUTHOR", "RELEASED", "CREDITS"):
            assert all(0 < len(v) <= 32 for v in values), cmd
        elif cmd.keyword == "SPEED":
            assert 0 <= int(values[0], 16) <= 0xFFFFFFFF
        elif cmd.keyword == "SONGS":
            songs, start = (int(v) for v in values[0].split(","))
            assert 1 <= start <= songs <= 256
        elif cmd.keyword == "CLOCK":
            assert values[0] in ("PAL", "NTSC")
        elif cmd.keyword == "SIDMODEL":
            assert values[0] == "6581"
        elif cmd.keyword == "FLAGS":
            assert values == ("*", "*", "PAL", "6581")
    assert kinds == {
        "REPLACE file->dir": 55,
        "REPLACE dir->dir": 2,
        "MOVE dir->dir": 181,
        "MOVE file->file": 53,
        "MOVE file->dir": 38,
        "DELETE dir": 249,
        "DELETE file": 2,
    }
    # Titles like "Caza" and paths sit in blocks, the banners around keywords are comments.
    assert (
        Command(
            "FLAGS", ("/MUSICIANS/G/Galimberti_Paolo/Clik_Clak.sid", "*", "*", "PAL", "6581"), 2223
        )
        in parsed.commands
    )


def _seed_release_73(parsed: UpdateScript, root: Path) -> int:
    """Create what the script expects to find; return how many files its MOVEs will move.

    The files the script will see are followed by case-folded path; a file a command
    needs that nothing earlier produced is created up front (with its directories),
    as release 73 plus the unpacked update would have it. Each ``update/`` source
    directory gets one tune, so that directory moves move something and the script's
    later DELETEs of the emptied directories are exercised.
    """
    files: set[str] = set()
    on_disk: dict[str, Path] = {"": root}  # case-folded directory -> as created
    moved = 0

    def key(path: str) -> str:
        return "/".join(part for part in re.split(r"[/\\]", path) if part).casefold()

    def parent(text: str) -> str:
        return text.rpartition("/")[0]

    def need_dir(path: str) -> Path:
        spelled = path.strip("/")
        if key(spelled) not in on_disk:
            created = need_dir(parent(spelled)) / spelled.rpartition("/")[2]
            created.mkdir()
            on_disk[key(spelled)] = created
        return on_disk[key(spelled)]

    def need_file(path: str) -> None:
        spelled = path.strip("/")
        if key(spelled) not in files:
            name = spelled.rpartition("/")[2]
            (need_dir(parent(spelled)) / name).write_bytes(sid_bytes(name=name[:32]))
            files.add(key(spelled))

    for cmd in parsed.commands:
        src = cmd.params[0]
        if cmd.keyword in ("MOVE", "REPLACE"):
            dst = cmd.params[1]
            if src.endswith("/"):
                if key(src) not in on_disk and src.startswith("/update/"):
                    need_file(src + src.strip("/").rpartition("/")[2] + "_tune.sid")
                need_dir(src)
                sources = sorted(f for f in files if parent(f) == key(src))
            else:
                need_file(src)
                sources = [key(src)]
            need_dir(parent(dst.strip("/")))
            targets = [f"{key(dst)}/{f.rpartition('/')[2]}".lstrip("/") for f in sources] if dst.endswith("/") else [key(dst)]
            files.difference_update(sources)
            files.update(targets)
            moved += len(sources) if cmd.keyword == "MOVE" else 0
        elif cmd.keyword == "DELETE" and src.endswith("/"):
            need_dir(src)
        elif cmd.keyword == "DELETE":
            need_file(src)
            files.discard(key(src))
        else:
            need_file(src)
    return moved


@pytest.mark.hvsc_sample
def test_real_update74_applies_to_a_matching_tree(hvsc_sample: Path, root: Path) -> None:
    parsed = load_update_script(hvsc_sample / "DOCUMENTS" / "Update74.hvs")
    expected_moves = _seed_release_73(parsed, root)
    report = apply_update_script(parsed, root, installed_version=73)
    assert report.counts == parsed.counts()
    assert len(report.moves) == expected_moves
    assert len(report.deleted) == 251
    # 55 single files, plus the tune seeded in update/DOCUMENTS/Update_Announcements/
    # (update/DOCUMENTS/ already existed as its parent, so it got no tune of its own).
    assert len(report.replaced) == 56
    # The two-step case rename in the script ends with the final spelling.
    assert (
        "/DEMOS/M-R/Managed_to_Do_a_Crappy_Tune_.sid",
        "/DEMOS/M-R/Managed_to_Do_a_Crappy_Tune.sid",
    ) in report.moves
    assert (root / "DEMOS" / "M-R" / "Managed_to_Do_a_Crappy_Tune.sid").is_file()
    # Emptied directories deleted by the script are gone, new composers' directories exist.
    assert not (root / "MUSICIANS" / "K" / "Kelly_Tony").exists()
    assert (root / "MUSICIANS" / "Z" / "Zeta" / "Zeta_tune.sid").is_file()
    assert not (root / "update" / "new").exists()
    # An identified tune: credited in place (Latin-1 author), then moved to its composer.
    assert (
        "/DEMOS/UNKNOWN/Prophecy_II.sid",
        "/MUSICIANS/R/Rosenstiel_Joerg/Caza.sid",
    ) in report.moves
    caza = parse_sid((root / "MUSICIANS/R/Rosenstiel_Joerg/Caza.sid").read_bytes()).header
    assert (caza.name, caza.author, caza.released) == (
        "Caza",
        "J\xf6rg Rosenstiel (Han Solo)",
        "1988 Triad",
    )
    hallelujah = parse_sid((root / "DEMOS/G-L/Hallelujah.sid").read_bytes()).header
    assert (hallelujah.name, hallelujah.author) == (
        "Hallelujah.sid",
        "N. Monfort(Nom de Nom) & DIYDSP",
    )
