"""HVSC sync end to end: a real HTTP server on 127.0.0.1 serving the real 7z archives
that ``sidflow demo-collection --mirror`` writes (base release + 2 updates)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import py7zr
import pytest

from sidflow_pipeline.demo.collection import build_release_tree, write_demo_mirror
from sidflow_pipeline.hvsc.moves import read_moves
from sidflow_pipeline.hvsc.sync import (
    SyncError,
    installed_version,
    read_manifest,
    sync_hvsc,
)
from sidflow_pipeline.layout import HVSC_MANIFEST, PATH_MOVES
from sidflow_pipeline_tests.hvsc.httpserver import MirrorServer, hvsc_mirror  # noqa: F401 - fixture
from sidflow_pipeline_tests.hvsc.test_archive import _hostile

BASE = 1
FAST = {"backoff_factor": 0.01, "backoff_max": 0.05, "max_retries": 4}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root → sha256, for byte-identical comparisons."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def mirror_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mirror = tmp_path_factory.mktemp("mirror")
    write_demo_mirror(mirror, base_version=BASE, updates=2)
    return mirror


@pytest.fixture(scope="module")
def expected_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, str]]:
    trees = {}
    for version in (BASE, BASE + 1, BASE + 2):
        dest = tmp_path_factory.mktemp(f"release{version}")
        build_release_tree(dest, version)
        trees[version] = snapshot(dest / "C64Music")
    return trees


def serve(server: MirrorServer, mirror: Path, names: list[str] | None = None) -> None:
    for path in sorted(mirror.iterdir()):
        if names is None or path.name in names or path.name.removesuffix(".sha256") in names:
            server.put(path.name, path.read_bytes())


def full_name(version: int) -> str:
    return f"HVSC_{version}-all-of-them.7z"


def update_name(version: int) -> str:
    return f"HVSC_Update_{version}.7z"


def test_fresh_install_base_plus_two_updates_equals_direct_build(
    hvsc_mirror: MirrorServer, mirror_files: Path, expected_trees: dict[int, dict[str, str]], tmp_path: Path
) -> None:
    serve(hvsc_mirror, mirror_files)
    target = tmp_path / "hvsc"
    result = sync_hvsc(hvsc_mirror.base_url, target, progress=False, **FAST)
    assert result.status == "installed"
    assert result.version == BASE + 2 and result.previous_version is None
    assert [a.filename for a in result.archives] == [full_name(BASE), update_name(BASE + 1), update_name(BASE + 2)]
    assert snapshot(target / "C64Music") == expected_trees[BASE + 2]
    manifest = read_manifest(target)
    assert manifest is not None
    assert manifest["baseVersion"] == BASE and manifest["baseFilename"] == full_name(BASE)
    assert manifest["baseChecksum"] == "sha256:" + hashlib.sha256((mirror_files / full_name(BASE)).read_bytes()).hexdigest()
    assert [d["version"] for d in manifest["deltas"]] == [BASE + 1, BASE + 2]
    assert all(d["checksum"].startswith("sha256:") and d["appliedAt"] for d in manifest["deltas"])
    assert manifest["lastUpdated"]
    assert result.moves, "the demo updates MOVE tunes; the move log must record them"
    assert read_moves(target)  # old → new paths persisted
    downloads = tmp_path / ".hvsc.downloads"
    assert downloads.is_dir() and not any(downloads.iterdir()), "verified archives are cleaned up"

    # Second run: nothing is downloaded or changed.
    before = snapshot(target)
    requests_before = len(hvsc_mirror.requests)
    again = sync_hvsc(hvsc_mirror.base_url, target, progress=False, **FAST)
    assert again.status == "current" and again.bytes_downloaded == 0 and not again.archives
    assert snapshot(target) == before
    fetched = [r for r in hvsc_mirror.requests[requests_before:] if r.path.endswith(".7z")]
    assert fetched == []


def test_incremental_updates_keep_user_files_and_follow_moves(
    hvsc_mirror: MirrorServer, mirror_files: Path, expected_trees: dict[int, dict[str, str]], tmp_path: Path
) -> None:
    serve(hvsc_mirror, mirror_files, [full_name(BASE)])
    target = tmp_path / "hvsc"
    first = sync_hvsc(hvsc_mirror.base_url, target, progress=False, **FAST)
    assert first.version == BASE and snapshot(target / "C64Music") == expected_trees[BASE]
    # A user rates every tune: ratings files live beside the SIDs.
    sids = sorted((target / "C64Music").rglob("*.sid"))
    for sid in sids:
        Path(f"{sid}.tags.json").write_text('{"e": 3}\n')
    (target / "notes.txt").write_text("mine\n")

    serve(hvsc_mirror, mirror_files)
    result = sync_hvsc(hvsc_mirror.base_url, target, progress=False, **FAST)
    assert result.status == "updated" and result.version == BASE + 2
    assert [a.kind for a in result.archives] == ["update", "update"]
    tree = snapshot(target / "C64Music")
    tunes = {k: v for k, v in tree.items() if not k.endswith(".tags.json")}
    assert tunes == expected_trees[BASE + 2]
    assert (target / "notes.txt").read_text() == "mine\n"
    moved = read_moves(target)
    rated = {"/" + sid.relative_to(target / "C64Music").as_posix() for sid in sids}
    followed = {old: new for old, new in moved.items() if old in rated}
    assert followed, "the demo updates move rated tunes"
    for old, new in followed.items():
        assert (target / "C64Music" / (new.lstrip("/") + ".tags.json")).is_file(), f"rating of {old} did not follow to {new}"
    # No rating is ever lost: one tags file per original tune.
    assert sum(1 for k in tree if k.endswith(".tags.json")) == len(sids)
    assert installed_version(target) == BASE + 2


def test_5xx_twice_then_success(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    serve(hvsc_mirror, mirror_files, [full_name(BASE)])
    hvsc_mirror.fault("/" + full_name(BASE), fail_first=2, fail_status=503)
    result = sync_hvsc(hvsc_mirror.base_url, tmp_path / "hvsc", progress=False, **FAST)
    assert result.version == BASE
    statuses = [r.status for r in hvsc_mirror.requests_for(full_name(BASE)) if r.method == "GET"]
    assert statuses[:3] == [503, 503, 200]


def test_connection_cut_half_way_is_resumed(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    serve(hvsc_mirror, mirror_files, [full_name(BASE)])
    size = (mirror_files / full_name(BASE)).stat().st_size
    hvsc_mirror.fault("/" + full_name(BASE), cut_after=size // 2)
    result = sync_hvsc(hvsc_mirror.base_url, tmp_path / "hvsc", progress=False, **FAST)
    assert result.version == BASE
    assert result.bytes_downloaded < 1.5 * size
    ranges = [r.range for r in hvsc_mirror.requests_for(full_name(BASE)) if r.range]
    assert ranges and ranges[0].startswith(f"bytes={size // 2}-")


def _installed_base(server: MirrorServer, mirror: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    serve(server, mirror, [full_name(BASE)])
    target = tmp_path / "hvsc"
    sync_hvsc(server.base_url, target, progress=False, **FAST)
    (target / "C64Music" / "DOCUMENTS" / "mine.sid.tags.json").write_text("{}\n")
    return target, snapshot(target)


def _failing_update(server: MirrorServer, target: Path, before: dict[str, str], match: str) -> None:
    with pytest.raises(SyncError, match=match) as info:
        sync_hvsc(server.base_url, target, progress=False, **FAST)
    assert "\n" not in str(info.value)
    assert snapshot(target) == before, "the previous release must stay byte-identical"
    assert not any(".staging" in p.name for p in target.parent.iterdir())


def test_checksum_mismatch_applies_nothing(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, before = _installed_base(hvsc_mirror, mirror_files, tmp_path)
    hvsc_mirror.put(update_name(BASE + 1), (mirror_files / update_name(BASE + 1)).read_bytes())
    hvsc_mirror.put(update_name(BASE + 1) + ".sha256", f"{'0' * 64}  {update_name(BASE + 1)}\n".encode())
    _failing_update(hvsc_mirror, target, before, "checksum")


def test_corrupt_archive_applies_nothing(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, before = _installed_base(hvsc_mirror, mirror_files, tmp_path)
    data = bytearray((mirror_files / update_name(BASE + 1)).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    hvsc_mirror.put(update_name(BASE + 1), bytes(data))
    _failing_update(hvsc_mirror, target, before, update_name(BASE + 1))


def _repack_update(mirror: Path, dest: Path, edit) -> bytes:  # type: ignore[no-untyped-def]
    work = dest / "unpacked"
    with py7zr.SevenZipFile(mirror / update_name(BASE + 1)) as archive:
        archive.extractall(work)
    edit(work)
    out = dest / update_name(BASE + 1)
    with py7zr.SevenZipFile(out, "w") as archive:
        for path in sorted(work.rglob("*")):
            archive.write(path, path.relative_to(work).as_posix())
    return out.read_bytes()


def _script(work: Path) -> Path:
    return next(p for p in work.rglob("*.hvs"))


def test_traversal_member_rejects_archive(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, before = _installed_base(hvsc_mirror, mirror_files, tmp_path)
    evil = _hostile(
        tmp_path / update_name(BASE + 1),
        [("update/DOCUMENTS/Update2.hvs", b"# Resulting Version: 2\r\n"), ("placeholder", b"gotcha")],
        rename={"placeholder": "update/../../escaped.txt"},
    )
    hvsc_mirror.put(update_name(BASE + 1), evil.read_bytes())
    _failing_update(hvsc_mirror, target, before, r"\.\.")
    assert not (tmp_path / "escaped.txt").exists()


def test_unknown_command_in_script(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, before = _installed_base(hvsc_mirror, mirror_files, tmp_path)

    def add_unknown(work: Path) -> None:
        script = _script(work)
        script.write_bytes(script.read_bytes() + b"\r\nFROBNICATE\r\n/MUSICIANS/x.sid\r\n")

    hvsc_mirror.put(update_name(BASE + 1), _repack_update(mirror_files, tmp_path, add_unknown))
    _failing_update(hvsc_mirror, target, before, r"line \d+")


def test_script_failing_half_way_keeps_previous_release(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, before = _installed_base(hvsc_mirror, mirror_files, tmp_path)

    def break_late(work: Path) -> None:
        script = _script(work)
        text = script.read_bytes().decode("latin-1")
        # Valid syntax, but the directory to delete does not exist: fails after earlier
        # commands ran. (An absent *file* is a no-op: real scripts delete those again.)
        script.write_bytes((text.rstrip() + "\r\n\r\nDELETE\r\n/MUSICIANS/Z/Nobody/\r\n").encode("latin-1"))

    hvsc_mirror.put(update_name(BASE + 1), _repack_update(mirror_files, tmp_path, break_late))
    _failing_update(hvsc_mirror, target, before, r"DELETE")


def test_gap_in_updates_reinstalls_from_full(hvsc_mirror: MirrorServer, mirror_files: Path, tmp_path: Path) -> None:
    target, _ = _installed_base(hvsc_mirror, mirror_files, tmp_path)
    # The mirror now offers only a newer full release: the installed one cannot be bridged.
    newer = tmp_path / "newer"
    write_demo_mirror(newer, base_version=BASE + 2, updates=0)
    for path in list(hvsc_mirror.root.iterdir()):
        path.unlink()
    serve(hvsc_mirror, newer)
    result = sync_hvsc(hvsc_mirror.base_url, target, progress=False, **FAST)
    assert result.status == "reinstalled" and result.version == BASE + 2 and result.previous_version == BASE
    assert (target / "C64Music" / "DOCUMENTS" / "mine.sid.tags.json").read_text() == "{}\n"


def test_local_directory_source_and_manifest_shape(mirror_files: Path, tmp_path: Path) -> None:
    result = sync_hvsc(str(mirror_files), tmp_path / "hvsc", progress=False)
    assert result.version == BASE + 2
    manifest = json.loads((tmp_path / "hvsc" / HVSC_MANIFEST).read_text())
    assert set(manifest) >= {"baseVersion", "baseFilename", "baseChecksum", "baseAppliedAt", "deltas", "lastUpdated"}
    assert (tmp_path / "hvsc" / PATH_MOVES).is_file()


def test_c64music_as_hvsc_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "C64Music" / "DOCUMENTS").mkdir(parents=True)
    with pytest.raises(SyncError, match="holds C64Music"):
        sync_hvsc(str(tmp_path), tmp_path / "C64Music")


def test_unreachable_mirror_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SyncError) as info:
        sync_hvsc("http://127.0.0.1:9/", tmp_path / "hvsc", progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "hvsc").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_mirrored_tags_follow_moves(tmp_path: Path) -> None:
    from sidflow_pipeline.hvsc.sync import migrate_mirrored_user_files

    tags = tmp_path / "tags"
    (tags / "DEMOS" / "UNKNOWN").mkdir(parents=True)
    (tags / "DEMOS" / "UNKNOWN" / "a.sid.tags.json").write_text('{"e": 4}\n')
    (tags / "DEMOS" / "UNKNOWN" / "b.sid.tags.json").write_text('{"e": 1}\n')
    (tags / "MUSICIANS" / "X").mkdir(parents=True)
    (tags / "MUSICIANS" / "X" / "b.sid.tags.json").write_text('{"e": 2}\n')
    moved = migrate_mirrored_user_files(
        tags, {"/DEMOS/UNKNOWN/a.sid": "/MUSICIANS/Y/Someone/a.sid", "/DEMOS/UNKNOWN/b.sid": "/MUSICIANS/X/b.sid"}
    )
    assert moved == 2
    assert (tags / "MUSICIANS/Y/Someone/a.sid.tags.json").read_text() == '{"e": 4}\n'
    assert (tags / "MUSICIANS/X/b.sid.tags.json").read_text() == '{"e": 2}\n'  # never overwritten
    assert (tags / "MUSICIANS/X/b.sid.tags.json.moved").read_text() == '{"e": 1}\n'


def test_newer_release_answers_the_daily_question(mirror_files: Path, tmp_path: Path) -> None:
    """What `hvsc_release_schedule` asks, without Dagster: a release only when it is newer."""
    from sidflow_pipeline.hvsc.sync import newer_release

    release, why = newer_release(str(mirror_files), tmp_path / "hvsc")
    assert release == BASE + 2 and why == f"HVSC release {BASE + 2} is newer than none installed"
    sync_hvsc(str(mirror_files), tmp_path / "hvsc", progress=False)
    assert newer_release(str(mirror_files), tmp_path / "hvsc") == (None, f"HVSC release {BASE + 2} is current (mirror has {BASE + 2})")
    release, why = newer_release("http://127.0.0.1:9/", tmp_path / "hvsc")
    assert release is None and why.startswith("mirror not reachable: ") and "\n" not in why
