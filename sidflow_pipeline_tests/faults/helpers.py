"""Small builders the fault tests share: SID bytes, HVSC-like trees, snapshots, a
one-line-error check and a disk that fills up."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sidflow_pipeline.sid.header import build_psid

CODE = bytes([0xA9, 0x0F, 0x8D, 0x18, 0xD4, 0x60, 0x60, 0xEA])  # LDA #$0F; STA $D418; RTS; RTS; NOP


def sid_bytes(name: str = "Tune", songs: int = 2, author: str = "Composer") -> bytes:
    return build_psid(
        CODE, load_address=0x1000, init_address=0x1000, play_address=0x1003, songs=songs,
        name=name[:32], author=author, released="1987 Label",
    )


def put_sid(root: Path, rel: str, songs: int = 2) -> Path:
    path = root / rel.strip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sid_bytes(path.stem, songs))
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` → sha256 (byte-identical comparisons)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def collection(tmp_path: Path, tunes: dict[str, int] | None = None) -> Path:
    """A config file for a small collection at ``tmp_path/hvsc/C64Music`` (data in ``data/``)."""
    root = tmp_path / "hvsc" / "C64Music"
    (root / "DOCUMENTS").mkdir(parents=True)
    for rel, songs in (tunes or {"MUSICIANS/A/Alpha/One.sid": 3}).items():
        put_sid(root, rel, songs)
    (tmp_path / "data").mkdir(exist_ok=True)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data", "tagsPath": "data/tags"}))
    return config


def assert_one_line_error(output: str, *fragments: str) -> str:
    """The CLI's failure contract: one ``error: …`` line, no traceback."""
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, after_bytes: int = 0, match: Callable[[str], bool] | None = None) -> Iterator[list[int]]:
    """``os.write`` fails with ENOSPC once ``after_bytes`` more bytes went to files
    matching ``match`` (by path): the first write that would cross is cut short there,
    exactly as a full filesystem does it."""
    real_write = os.write
    budget = [after_bytes]

    def write(fd: int, data: bytes) -> int:  # type: ignore[override]
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if (match is not None and not match(target)) or target.startswith(("/dev/", "pipe:", "socket:")) or not target:
            return real_write(fd, data)
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        take = min(len(data), budget[0])
        budget[0] -= take
        return real_write(fd, bytes(data[:take]))

    monkeypatch.setattr(os, "write", write)
    try:
        yield budget
    finally:
        monkeypatch.setattr(os, "write", real_write)
