"""safe_extract on real 7z archives built here with py7zr, hostile ones included."""

from __future__ import annotations

import io
import os
import random
import stat
from pathlib import Path

import py7zr
import pytest

from sidflow_pipeline.hvsc.archive import ArchiveError, check_member_name, safe_extract

UNIX_EXTENSION = 0x8000  # 7z attribute bit: the high 16 bits hold st_mode


def _tree(root: Path, *, seed: int = 7) -> dict[str, bytes]:
    """A tiny HVSC-shaped tree: tunes in composer folders plus the DOCUMENTS files."""
    rng = random.Random(seed)
    files = {
        "C64Music/MUSICIANS/H/Hubbard_Rob/Commando.sid": b"PSID" + rng.randbytes(3000),
        "C64Music/MUSICIANS/G/Galway_Martin/Parallax.sid": b"RSID" + rng.randbytes(5000),
        "C64Music/GAMES/A-F/Empty.sid": b"",
        "C64Music/DOCUMENTS/Songlengths.md5": b"; /MUSICIANS/H/Hubbard_Rob/Commando.sid\n" * 50,
        "C64Music/DOCUMENTS/STIL.txt": b"/MUSICIANS/H/Hubbard_Rob/Commando.sid\n  TITLE: Commando\n" * 40,
    }
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


def _pack(archive: Path, source: Path) -> Path:
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writeall(source / "C64Music", "C64Music")
    return archive


def _hostile(
    archive: Path,
    members: list[tuple[str, bytes]],
    *,
    rename: dict[str, str] | None = None,
    modes: dict[str, int] | None = None,
) -> Path:
    """An archive whose member names/types py7zr refuses to *write*, patched in before the
    header is written (what a malicious mirror could serve)."""
    with py7zr.SevenZipFile(archive, "w") as out:
        for name, data in members:
            out.writef(io.BytesIO(data), name)
        for info in out.header.files_info.files:
            original = info["filename"]
            if rename and original in rename:
                info["filename"] = rename[original]
            if modes and original in modes:
                info["attributes"] = UNIX_EXTENSION | (modes[original] << 16)
    return archive


def _listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_happy_path_extracts_everything(tmp_path: Path) -> None:
    files = _tree(tmp_path / "src")
    archive = _pack(tmp_path / "HVSC_80-all-of-them.7z", tmp_path / "src")
    dest = tmp_path / "staging"

    result = safe_extract(archive, dest)

    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data
    assert result.files == len(files)
    assert result.bytes == sum(len(d) for d in files.values())
    assert set(files) <= set(result.members)
    assert "C64Music/MUSICIANS/H/Hubbard_Rob" in result.members  # folders are members too
    assert result.seconds >= 0
    assert _listing(dest) == _listing(tmp_path / "src")


@pytest.mark.parametrize(
    ("evil", "why"),
    [
        ("../evil.txt", "'..' path component"),
        ("C64Music/../../evil.txt", "'..' path component"),
        ("/etc/x", "absolute path"),
        ("C:/Windows/evil.txt", "drive-letter path"),
        ("..\\evil.txt", "'..' path component"),  # py7zr reads '\\' as '/'
        ("C64Music/tune.sid:stream", "colon in member name"),
    ],
)
def test_unsafe_names_reject_the_whole_archive(tmp_path: Path, evil: str, why: str) -> None:
    archive = _hostile(
        tmp_path / "evil.7z",
        [("C64Music/ok.sid", b"fine"), ("placeholder", b"payload")],
        rename={"placeholder": evil},
    )
    dest = tmp_path / "work" / "staging"
    with pytest.raises(ArchiveError) as caught:
        safe_extract(archive, dest)
    message = str(caught.value)
    assert message.startswith("evil.7z: unsafe member ") and why in message and message.endswith("nothing extracted")
    assert "\n" not in message
    assert _listing(tmp_path) == ["evil.7z"]  # nothing written anywhere, not even the harmless member


def test_symlink_member_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src)
    os.symlink("/etc/passwd", src / "C64Music" / "DOCUMENTS" / "passwd.txt")
    archive = _pack(tmp_path / "links.7z", src)
    with py7zr.SevenZipFile(archive) as check:  # the link really is in the archive
        assert any(f.is_symlink for f in check.list())
    dest = tmp_path / "staging"
    dest.mkdir()
    with pytest.raises(ArchiveError, match=r"unsafe member 'C64Music/DOCUMENTS/passwd\.txt': symbolic link"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "why"),
    [(stat.S_IFIFO, r"special file \(mode 10000\)"), (stat.S_IFCHR, r"special file \(mode 20000\)"), (stat.S_IFSOCK, "socket")],
)
def test_special_file_member_is_rejected(tmp_path: Path, mode: int, why: str) -> None:
    archive = _hostile(tmp_path / "special.7z", [("C64Music/node", b"")], modes={"C64Music/node": mode | 0o644})
    with pytest.raises(ArchiveError, match=rf"'C64Music/node': {why}; nothing extracted"):
        safe_extract(archive, tmp_path / "staging")


def test_member_name_rules() -> None:
    assert check_member_name("C64Music/MUSICIANS/H/Hubbard_Rob/Commando.sid") is None
    assert check_member_name("C64Music/./x") is None
    assert check_member_name("") == "empty member name"
    assert check_member_name("a\x00b") == "NUL byte in member name"
    assert check_member_name("a\\..\\b") == "backslash in member name"


@pytest.mark.parametrize(
    "damage",
    ["truncated-half", "truncated-header", "flipped-data", "not-7z", "empty", "html-error-page"],
)
def test_corrupt_archives_are_one_line_errors(tmp_path: Path, damage: str) -> None:
    _tree(tmp_path / "src")
    good = _pack(tmp_path / "good.7z", tmp_path / "src").read_bytes()
    bad = {
        "truncated-half": good[: len(good) // 2],
        "truncated-header": good[:20],
        "flipped-data": good[:200] + bytes(b ^ 0xA5 for b in good[200:260]) + good[260:],
        "not-7z": b"PK\x03\x04 this is a zip, not a 7z" * 10,
        "empty": b"",
        "html-error-page": b"<html><body>502 Bad Gateway</body></html>",
    }[damage]
    archive = tmp_path / "HVSC_Update_81.7z"
    archive.write_bytes(bad)
    with pytest.raises(ArchiveError) as caught:
        safe_extract(archive, tmp_path / "staging")
    message = str(caught.value)
    assert message.startswith("HVSC_Update_81.7z: corrupt or not a 7z archive (") and "\n" not in message


def test_no_single_byte_corruption_escapes_as_a_traceback(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    good = _pack(tmp_path / "good.7z", tmp_path / "src").read_bytes()
    archive = tmp_path / "damaged.7z"
    rejected = 0
    positions = range(0, len(good), max(1, len(good) // 150))
    for position in positions:
        damaged = bytearray(good)
        damaged[position] ^= 0x55
        archive.write_bytes(bytes(damaged))
        dest = tmp_path / f"out-{position}"
        try:
            safe_extract(archive, dest)
        except ArchiveError as exc:
            assert "\n" not in str(exc)
            rejected += 1
    # a very few bytes (version, reserved fields) are not covered by any CRC
    assert rejected >= len(positions) - 3


def test_missing_archive_file(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"^HVSC_Update_81\.7z: no such archive file"):
        safe_extract(tmp_path / "HVSC_Update_81.7z", tmp_path / "staging")


def test_encrypted_archive(tmp_path: Path) -> None:
    archive = tmp_path / "secret.7z"
    with py7zr.SevenZipFile(archive, "w", password="hvsc") as out:
        out.writef(io.BytesIO(b"x" * 100), "C64Music/a.sid")
    with pytest.raises(ArchiveError, match=r"^secret\.7z: archive is encrypted"):
        safe_extract(archive, tmp_path / "staging")


def test_bomb_guard_rejects_before_extracting(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writef(io.BytesIO(bytes(50 * 2**20)), "C64Music/zeros.bin")
    assert archive.stat().st_size < 50 * 2**20 / 1000
    dest = tmp_path / "staging"
    dest.mkdir()
    with pytest.raises(ArchiveError, match=r"compression ratio \d+:1 .* exceeds 50:1 \(archive bomb guard\); nothing extracted"):
        safe_extract(archive, dest, max_ratio=50)
    assert list(dest.iterdir()) == []
    # the default limits catch it too
    with pytest.raises(ArchiveError, match="archive bomb guard"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []


def test_size_and_member_count_limits(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    archive = _pack(tmp_path / "small.7z", tmp_path / "src")
    dest = tmp_path / "staging"
    with pytest.raises(ArchiveError, match=r"declares \d+ uncompressed bytes, over the limit of 1000; nothing extracted"):
        safe_extract(archive, dest, max_total_bytes=1000)
    with pytest.raises(ArchiveError, match=r"small\.7z: \d+ members exceeds the limit of 3; nothing extracted"):
        safe_extract(archive, dest, max_members=3)
    assert not dest.exists()
    # small but highly compressible text is not a bomb (below the ratio floor)
    assert safe_extract(archive, dest, max_ratio=1.5).files == 5


def test_extracting_over_hard_links_never_writes_through(tmp_path: Path) -> None:
    """The sync stages updates in a hard-linked copy of the live tree."""
    live = tmp_path / "live" / "C64Music" / "DOCUMENTS"
    live.mkdir(parents=True)
    (live / "STIL.txt").write_bytes(b"live release text")
    staging = tmp_path / "staging" / "C64Music" / "DOCUMENTS"
    staging.mkdir(parents=True)
    os.link(live / "STIL.txt", staging / "STIL.txt")
    archive = _hostile(tmp_path / "upd.7z", [("C64Music/DOCUMENTS/STIL.txt", b"new text from the archive")])

    safe_extract(archive, tmp_path / "staging")

    assert (staging / "STIL.txt").read_bytes() == b"new text from the archive"
    assert (live / "STIL.txt").read_bytes() == b"live release text"


@pytest.mark.parametrize("with_folder_members", [False, True])
def test_symlinked_folder_in_destination_is_not_followed(tmp_path: Path, with_folder_members: bool) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "staging"
    dest.mkdir()
    os.symlink(outside, dest / "C64Music")
    if with_folder_members:  # the archive lists C64Music/ itself, as 7-Zip archives do
        _tree(tmp_path / "src")
        archive = _pack(tmp_path / "upd.7z", tmp_path / "src")
        expected = r"'C64Music': destination folder is a symbolic link"
    else:
        archive = _hostile(tmp_path / "upd.7z", [("C64Music/evil.sid", b"x")])
        expected = r"'C64Music/evil\.sid': would be written through a link to"
    with pytest.raises(ArchiveError, match=expected):
        safe_extract(archive, dest)
    assert list(outside.iterdir()) == []


def test_destination_that_cannot_be_created(tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    archive = _pack(tmp_path / "ok.7z", tmp_path / "src")
    (tmp_path / "staging").write_text("a file where the folder should be")
    with pytest.raises(ArchiveError, match=r"^ok\.7z: cannot extract into .*staging: .*File exists"):
        safe_extract(archive, tmp_path / "staging")


def test_symlinked_file_in_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    dest = tmp_path / "staging"
    (dest / "C64Music").mkdir(parents=True)
    os.symlink(victim, dest / "C64Music" / "a.sid")
    archive = _hostile(tmp_path / "upd.7z", [("C64Music/a.sid", b"tune")])
    safe_extract(archive, dest)
    assert victim.read_bytes() == b"keep me"
    assert not (dest / "C64Music" / "a.sid").is_symlink()
    assert (dest / "C64Music" / "a.sid").read_bytes() == b"tune"
