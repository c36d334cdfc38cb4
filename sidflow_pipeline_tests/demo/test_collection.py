"""The demo collection's releases, update scripts and mirror archives.

The key property is the HVSC ground truth: applying update k's script to release
k−1 gives exactly release k as built directly. It is checked twice: with a minimal
interpreter written here from ``docs/hvs-update-script.md`` (independent of the
generator and of the project's executor), and with the project's executor, which is
what a real sync runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import py7zr
import pytest

from sidflow_pipeline.demo.collection import (
    BASE_VERSION,
    DEMO_MARKER,
    build_release_tree,
    build_update_archive_tree,
    demo_songs,
    full_archive_name,
    iter_demo_songs,
    release,
    update_archive_name,
    update_plan,
    update_script_text,
    write_demo_collection,
    write_demo_mirror,
    write_mirror,
)
from sidflow_pipeline.hvsc.update_script import apply_update_script, load_update_script
from sidflow_pipeline.sid.header import parse_sid, rewrite_header
from sidflow_pipeline.sid.songlengths import load_songlengths
from sidflow_pipeline.sid.stil import load_stil
from sidflow_pipeline_tests.demo.generated import random_song_specs, write_generated_collection


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every directory (``a/b/`` → None) and file (→ bytes) under ``root``."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in dirnames:
            out[(rel / name).as_posix() + "/"] = None
        for name in filenames:
            out[(rel / name).as_posix()] = (Path(dirpath) / name).read_bytes()
    return out


# ------------------------------------------------------------------ a minimal script interpreter

_BLOCK_LINES = {"MOVE": 2, "REPLACE": 2, "DELETE": 1, "MKDIR": 1, "TITLE": 2, "AUTHOR": 2, "CREDITS": 4}


def run_script(text: str, root: Path) -> None:
    """Execute the commands our scripts use, with the semantics of hvs-update-script.md
    (exact-case lookup is enough here). Fails loudly on anything else."""
    mode: str | None = None
    block: list[str] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not block:
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.upper() in _BLOCK_LINES:
                mode = stripped.upper()
                continue
            assert stripped.startswith("/"), f"expected a keyword or an HVSC path, got {stripped!r}"
        assert mode is not None, f"parameter before any keyword: {line!r}"
        block.append(line if mode in ("TITLE", "AUTHOR", "CREDITS") and block else stripped)
        if len(block) == _BLOCK_LINES[mode]:
            _execute(mode, block, root)
            block = []
    assert not block, f"script ends inside a {mode} block"


def _local(root: Path, hvsc_path: str) -> Path:
    assert hvsc_path.startswith("/"), hvsc_path
    return root / hvsc_path.strip("/")


def _execute(mode: str, params: list[str], root: Path) -> None:
    target = _local(root, params[0])
    if mode == "DELETE":
        if params[0].endswith("/"):
            assert target.is_dir() and not any(target.iterdir()), f"DELETE {params[0]}: not an empty dir"
            target.rmdir()
        else:
            assert target.is_file(), f"DELETE {params[0]}: no such file"
            target.unlink()
    elif mode == "MKDIR":
        assert target.parent.is_dir() and not target.exists(), f"MKDIR {params[0]}"
        target.mkdir()
    elif mode in ("MOVE", "REPLACE"):
        destination = params[1]
        sources = sorted(p for p in target.iterdir() if p.is_file()) if params[0].endswith("/") else [target]
        assert all(s.is_file() for s in sources), f"{mode} {params[0]}: no such file"
        for source in sources:
            if destination.endswith("/"):
                dest_dir = _local(root, destination)
                if not dest_dir.is_dir():
                    assert dest_dir.parent.is_dir(), f"{mode}: parent of {destination} missing"
                    dest_dir.mkdir()
                dest = dest_dir / source.name
            else:
                dest = _local(root, destination)
                assert dest.parent.is_dir(), f"{mode}: directory of {destination} missing"
            if mode == "MOVE":
                assert not dest.exists(), f"MOVE: {dest} exists"
            source.replace(dest)
    else:
        assert target.is_file(), f"{mode} {params[0]}: no such file"
        data = target.read_bytes()
        if mode == "TITLE":
            data = rewrite_header(data, name=params[1])
        elif mode == "AUTHOR":
            data = rewrite_header(data, author=params[1])
        else:
            fields = dict(zip(("name", "author", "released"), params[1:], strict=True))
            data = rewrite_header(data, **{k: v for k, v in fields.items() if v.strip() != "*"})
        target.write_bytes(data)


def apply_update(tmp: Path, version: int, executor: str) -> Path:
    """Release ``version - 1`` + update archive ``version`` → tree, by ``executor``."""
    info = build_release_tree(tmp, version - 1)
    build_update_archive_tree(info.root, version)
    script_path = info.root / "update" / "DOCUMENTS" / f"Update{version}.hvs"
    if executor == "test":
        run_script(script_path.read_text("latin-1"), info.root)
    else:
        apply_update_script(load_update_script(script_path), info.root, version - 1)
    # The update tool removes the emptied update/ folder after a successful run.
    assert snapshot(info.root / "update") == {}
    (info.root / "update").rmdir()
    return info.root


# ------------------------------------------------------------------ ground truth


@pytest.mark.parametrize("executor", ["test", "project"])
@pytest.mark.parametrize("version", [BASE_VERSION + 1, BASE_VERSION + 2])
def test_applying_update_gives_the_directly_built_release(tmp_path: Path, version: int, executor: str) -> None:
    applied = apply_update(tmp_path / "applied", version, executor)
    direct = build_release_tree(tmp_path / "direct", version).root
    got, want = snapshot(applied), snapshot(direct)
    assert sorted(got) == sorted(want)
    assert [p for p in want if got[p] != want[p]] == []


def test_interpreter_notices_a_script_that_skips_a_change(tmp_path: Path) -> None:
    # Guards the guard: drop the TITLE block and the trees must differ in that file.
    info = build_release_tree(tmp_path / "applied", 1)
    build_update_archive_tree(info.root, 2)
    text = update_script_text(2)
    ((path, title),) = update_plan(2).titles
    text = text.replace(f"#####\nTITLE\n#####\n\n/{path}\n{title}\n", "")
    run_script(text, info.root)
    (info.root / "update").rmdir()
    got, want = snapshot(info.root), snapshot(build_release_tree(tmp_path / "direct", 2).root)
    assert sorted(got) == sorted(want)
    assert [p for p in want if got[p] != want[p]] == [path]
    with pytest.raises(AssertionError, match="expected a keyword"):
        run_script("FIXLOAD\n/x.sid\n", tmp_path)


def test_consecutive_updates_make_different_changes() -> None:
    two, three = update_plan(2), update_plan(3)
    touched = lambda plan: {  # noqa: E731
        *(p for p, _ in plan.fixes),
        *plan.deletes,
        *(p for p, _ in plan.titles),
        *(p for p, _ in plan.authors),
        *(s for s, _ in plan.moves),
    }
    assert touched(two).isdisjoint(touched(three))
    assert {p for p, _ in two.new}.isdisjoint({p for p, _ in three.new})
    assert two.mkdirs != three.mkdirs
    for plan in (two, three):
        assert len(plan.fixes) == 1 and len(plan.deletes) == 1 and len(plan.new) >= 2
        assert plan.credits and plan.titles and plan.authors
        assert all(s.startswith("DEMOS/UNKNOWN/") for s, _ in plan.moves)
        # one identified tune goes into a folder made by MKDIR in the same update
        assert any(d.startswith(m) for _, d in plan.moves for m in plan.mkdirs)


def test_header_edits_are_in_place_rewrites_of_the_previous_bytes() -> None:
    for version in (2, 3):
        plan = update_plan(version)
        before, after = release(version - 1).files, release(version).files
        ((path, title),) = plan.titles
        assert after[path].data() == rewrite_header(before[path].data(), name=title)
        author_path, author = plan.authors[0]
        assert after[author_path].data() == rewrite_header(before[author_path].data(), author=author)
        source, destination = plan.moves[0]
        moved = destination + source.rsplit("/", 1)[1] if destination.endswith("/") else destination
        _, _, new_author, released = plan.credits[0]
        assert after[moved].data() == rewrite_header(before[source].data(), author=new_author, released=released)
        fixed_path, fixed = plan.fixes[0]
        assert len(fixed.songs) == len(before[fixed_path].tune.songs) + 1
        assert parse_sid(after[fixed_path].data()).header.author == parse_sid(before[fixed_path].data()).header.author


def test_update_script_looks_like_hvsc(tmp_path: Path) -> None:
    text = update_script_text(2)
    assert "\r" not in text  # Update74.hvs has LF line endings
    text.encode("latin-1")
    assert re.search(r"^#\s*Resulting Version:\s*2$", text, re.M)
    assert re.search(r"^#\s+Previous Version:\s*1$", text, re.M)
    keywords = [line for line in text.splitlines() if line.isupper() and line.isalpha()]
    assert keywords == [
        "REPLACE",
        "MOVE",
        "DELETE",
        "CREDITS",
        "TITLE",
        "AUTHOR",
        "MKDIR",
        "MOVE",
        "DELETE",
        "REPLACE",
        "DELETE",
    ]
    assert "/update/new/" in text and "/update/fix/" in text
    assert text.endswith("REPLACE\n\n/update/DOCUMENTS/\n/DOCUMENTS/\n\nDELETE\n/update/DOCUMENTS/\n")
    parsed = load_update_script_text(tmp_path, text)
    assert (parsed.resulting_version, parsed.previous_version) == (2, 1)


def load_update_script_text(tmp: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp / "Update2.hvs"
    path.write_text(text, encoding="latin-1")
    return load_update_script(path)


def test_update_archive_tree_is_an_update_folder(tmp_path: Path) -> None:
    written = build_update_archive_tree(tmp_path, 2)
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert all(p.startswith("update/") for p in rel)
    assert {p for p in rel if p.startswith("update/DOCUMENTS/")} == {
        "update/DOCUMENTS/HVSC.txt",
        "update/DOCUMENTS/STIL.txt",
        "update/DOCUMENTS/Songlengths.md5",
        "update/DOCUMENTS/Update2.hvs",
    }
    assert any(p.startswith("update/fix/") for p in rel) and any(p.startswith("update/new/") for p in rel)


# ------------------------------------------------------------------ release trees


@pytest.mark.parametrize("version", [1, 2, 3])
def test_release_tree_is_consistent(tmp_path: Path, version: int) -> None:
    info = build_release_tree(tmp_path, version)
    root = info.root
    sids = sorted(root.rglob("*.sid"))
    assert info.files == len(sids) >= 24 and info.version == version
    assert info.bytes == sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert info.sid_bytes == sum(p.stat().st_size for p in sids)
    lengths = load_songlengths(root / "DOCUMENTS" / "Songlengths.md5", strict=True)
    by_path = {entry.path: entry for entry in lengths.values()}
    songs = 0
    for sid_path in sids:
        data = sid_path.read_bytes()
        sid = parse_sid(data)
        hvsc = "/" + sid_path.relative_to(root).as_posix()
        md5 = hashlib.md5(data).hexdigest()
        assert md5 in lengths, hvsc
        assert by_path[hvsc].md5 == md5
        assert len(lengths[md5].lengths_ms) == sid.header.songs
        assert all(20_000 <= ms <= 120_000 for ms in lengths[md5].lengths_ms)
        songs += sid.header.songs
    assert len(lengths) == len(sids) and songs == info.songs
    stil = load_stil(root / "DOCUMENTS" / "STIL.txt")
    assert len(stil) >= 5
    assert all((root / path.strip("/")).is_file() for path in stil)
    assert any(entry.subtunes for entry in stil.values())
    hvsc_txt = (root / "DOCUMENTS" / "HVSC.txt").read_text("latin-1")
    assert int(re.search(r"Release #(\d+)", hvsc_txt).group(1)) == version  # type: ignore[union-attr]
    scripts = sorted(p.name for p in (root / "DOCUMENTS").glob("Update*.hvs"))
    assert scripts == sorted(f"Update{k}.hvs" for k in range(BASE_VERSION + 1, version + 1))
    assert {p.parts[len(root.parts)] for p in sids} == {"MUSICIANS", "GAMES", "DEMOS"}


def test_stil_entries(tmp_path: Path) -> None:
    stil = load_stil(build_release_tree(tmp_path, 1).root / "DOCUMENTS" / "STIL.txt")
    blinky = stil["/DEMOS/A-F/Blinky_Intro.sid"].file_block
    assert blinky.name == ["Blinky Crew intro (party version)"]
    assert blinky.title == ["Blinky Blues (cover)"] and blinky.artist == ["The Imaginary Quartet"]
    assert blinky.comment[0].startswith("A cover of a song") and "\n" in blinky.comment[0]  # wrapped
    cavern = stil["/GAMES/A-F/Cavern_Courier.sid"]
    assert sorted(cavern.subtunes) == [1, 2, 3]
    assert cavern.subtunes[1].title == ["Title screen"] and cavern.subtunes[1].author == ["Demo Composer"]
    tempo = stil["/MUSICIANS/D/Demo_Composer/Tempo_Study.sid"]
    assert tempo.file_block.comment and tempo.subtunes[3].title == ["Fast"]
    # A single-song file's subtune-less text lands in the file block.
    assert stil["/MUSICIANS/S/Sawtooth_Sally/Rusty_Gears.sid"].subtunes == {}


def test_stil_follows_identified_tunes(tmp_path: Path) -> None:
    stil = load_stil(build_release_tree(tmp_path, 2).root / "DOCUMENTS" / "STIL.txt")
    for source, destination in update_plan(2).moves:
        target = destination + source.rsplit("/", 1)[1] if destination.endswith("/") else destination
        assert f"/{source}" not in stil
        assert stil[f"/{target}"].file_block.comment == [f"Identified in update 2 (was /{source})."]


def test_stil_and_credits_text() -> None:
    files = release(1).files
    tempo = files["MUSICIANS/D/Demo_Composer/Tempo_Study.sid"]
    assert parse_sid(tempo.data()).header.name == "Tempo Study"
    unknown = parse_sid(files["DEMOS/UNKNOWN/Party_Loader.sid"].data()).header
    assert unknown.author == "<?>"


def test_release_trees_are_deterministic(tmp_path: Path) -> None:
    for version in (1, 2):
        a = snapshot(build_release_tree(tmp_path / "a", version).root)
        release.cache_clear()
        update_plan.cache_clear()
        b = snapshot(build_release_tree(tmp_path / "b", version).root)
        assert a == b


def test_demo_songs_join_the_tree(tmp_path: Path) -> None:
    info = write_demo_collection(tmp_path)
    assert info.version == BASE_VERSION + 1
    songs = demo_songs()
    assert len(songs) == info.songs
    on_disk = {p.relative_to(info.root).as_posix() for p in info.root.rglob("*.sid")}
    assert {path for path, _ in songs} == on_disk
    for (path, index), song in songs.items():
        assert parse_sid((info.root / path).read_bytes()).header.songs >= index
        assert song.song is song.tune.songs[index - 1]
    assert [s.path for s in iter_demo_songs(1)] == sorted(s.path for s in iter_demo_songs(1))


def test_write_demo_collection_replaces_only_demo_trees(tmp_path: Path) -> None:
    write_demo_collection(tmp_path, 1)
    info = write_demo_collection(tmp_path, 3)
    assert info.version == 3 and (info.root / "DOCUMENTS" / "Update3.hvs").is_file()
    assert DEMO_MARKER in (info.root / "DOCUMENTS" / "HVSC.txt").read_text("latin-1")
    real = tmp_path / "real"
    (real / "C64Music" / "MUSICIANS").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not a SIDFlow demo collection"):
        write_demo_collection(real)
    assert (real / "C64Music" / "MUSICIANS").is_dir()


def test_bad_versions() -> None:
    with pytest.raises(ValueError, match="starts at release"):
        release(0)
    with pytest.raises(ValueError, match="updates start"):
        update_plan(1)
    with pytest.raises(ValueError, match="updates must be"):
        write_mirror(Path("/nonexistent"), 1, -1)


def test_many_updates_keep_working(tmp_path: Path) -> None:
    # Each update identifies two UNKNOWN tunes and adds two: the supply never runs out.
    for version in range(2, 9):
        assert len(release(version).files) > len(release(version - 1).files)
        applied = apply_update(tmp_path / f"a{version}", version, "project")
        assert snapshot(applied) == snapshot(build_release_tree(tmp_path / f"d{version}", version).root)


def test_odd_updates_delete_the_folder_they_empty() -> None:
    text = update_script_text(3)
    emptied = text.split("# delete emptied dirs first\n", 1)[1].split("\n\n", 1)[0].splitlines()
    (deleted,) = update_plan(3).deletes
    assert emptied[0] == "/" + deleted.rsplit("/", 1)[0] + "/"
    assert emptied == sorted(emptied, key=lambda d: -d.count("/"))  # deepest first
    assert "emptied" not in update_script_text(2)


# ------------------------------------------------------------------ mirror archives


def _extract(archive: Path, dest: Path) -> dict[str, bytes | None]:
    with py7zr.SevenZipFile(archive) as z:
        z.extractall(dest)
    return snapshot(dest)


def test_mirror_archives_are_byte_deterministic_and_unpack_like_hvsc(tmp_path: Path) -> None:
    first = write_mirror(tmp_path / "m1", base_version=1, updates=2)
    time.sleep(1.1)  # a timestamp leak would change the bytes
    second = write_demo_mirror(tmp_path / "m2", base_version=1, updates=2)
    assert [p.name for p in first] == [full_archive_name(1), update_archive_name(2), update_archive_name(3)]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        digest = hashlib.sha256(a.read_bytes()).hexdigest()
        assert a.with_name(a.name + ".sha256").read_text() == f"{digest}  {a.name}\n"
    full = _extract(first[0], tmp_path / "x_full")
    assert {p.split("/")[0] for p in full} == {"C64Music"}
    direct = snapshot(build_release_tree(tmp_path / "d1", 1).root)
    assert {p.removeprefix("C64Music/"): v for p, v in full.items() if p != "C64Music/"} == direct
    upd = _extract(first[1], tmp_path / "x_upd")
    assert {p.split("/")[0] for p in upd} == {"update"}
    build_update_archive_tree(tmp_path / "u2", 2)
    assert upd == snapshot(tmp_path / "u2")


def test_mirror_syncs_with_the_project_sync(tmp_path: Path) -> None:
    from sidflow_pipeline.hvsc.sync import sync_hvsc

    write_demo_mirror(tmp_path / "mirror", 1, 2)
    result = sync_hvsc(str(tmp_path / "mirror"), tmp_path / "hvsc")
    assert result.version == 3
    synced = snapshot(tmp_path / "hvsc" / "C64Music")
    assert synced == snapshot(build_release_tree(tmp_path / "direct", 3).root)


# ------------------------------------------------------------------ generated collection


def test_generated_collection(tmp_path: Path) -> None:
    started = time.perf_counter()
    info = write_generated_collection(tmp_path, count=200, seed=11)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert info.songs == 200
    specs = random_song_specs(200, seed=11)
    lengths = load_songlengths(info.root / "DOCUMENTS" / "Songlengths.md5", strict=True)
    assert len(lengths) == info.files
    for song in specs:
        data = (info.root / song.path).read_bytes()
        entry = lengths[hashlib.md5(data).hexdigest()]
        assert entry.lengths_ms[song.song_index - 1] == song.song.length_ms
    again = write_generated_collection(tmp_path / "again", count=200, seed=11)
    assert snapshot(info.root) == snapshot(again.root)
    shutil.rmtree(again.root)
