"""Faults #6 and #7 (ratings), and the umask: concurrent raters, a full disk, file modes."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.ratings.tags import read_tags
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection, disk_full

TUNE = "MUSICIANS/M/Many/Hundred.sid"


def _rater(config: str, tune: str, songs: list[int]) -> None:
    """One `sidflow rate` user scripting ratings for some songs, in its own process."""
    for song in songs:
        try:
            cli.main(["--config", config, "rate", tune, "--song", str(song), "--e", str(1 + song % 5)], standalone_mode=False)
        except SystemExit as exc:  # pragma: no cover - a failure shows as a lost rating
            if exc.code:
                raise


def test_fault06_concurrent_raters_on_one_file_lose_nothing(tmp_path: Path) -> None:
    """Was: 16 of 100 ratings lost — the tags file was read-modify-written without a lock."""
    config = collection(tmp_path, {TUNE: 100})
    tune = str(tmp_path / "hvsc" / "C64Music" / TUNE)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_rater, args=(str(config), tune, list(range(w + 1, 101, 4)))) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
        assert worker.exitcode == 0
    ratings = read_tags(tmp_path / "data" / "tags" / f"{TUNE}.tags.json")
    assert sorted(k for k in ratings if k is not None) == list(range(1, 101))
    assert all(ratings[song].e == 1 + song % 5 for song in range(1, 101))


def test_fault07_full_disk_rating_keeps_the_tags_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a traceback. Now one line naming the file, and the previous file intact."""
    config = collection(tmp_path, {TUNE: 3})
    tune = str(tmp_path / "hvsc" / "C64Music" / TUNE)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "rate", tune, "--song", "1", "--e", "5"]).exit_code == 0
    tags = tmp_path / "data" / "tags" / f"{TUNE}.tags.json"
    before = tags.read_bytes()
    with disk_full(monkeypatch, after_bytes=10):
        result = runner.invoke(cli, ["--config", str(config), "rate", tune, "--song", "2", "--e", "1"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(tags), "No space left on device", "previous file is unchanged")
    assert tags.read_bytes() == before
    assert [p.name for p in tags.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_umask_written_files_are_shareable(tmp_path: Path) -> None:
    """Was: every file from the temp-file helper was 0600 whatever the umask."""
    config = collection(tmp_path, {TUNE: 3})
    tune = str(tmp_path / "hvsc" / "C64Music" / TUNE)
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli, ["--config", str(config), "rate", tune, "--song", "1", "--e", "5"])
        assert result.exit_code == 0, result.output
        tags = tmp_path / "data" / "tags" / f"{TUNE}.tags.json"
        assert stat.S_IMODE(tags.stat().st_mode) == 0o644
        os.umask(0o077)
        from sidflow_pipeline.atomic import atomic_write_json

        private = tmp_path / "private.json"
        atomic_write_json(private, {"a": 1})
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert json.loads(tags.read_text())["songs"]["1"]["e"] == 5


def test_fault07_read_only_filesystem_is_one_line_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem that refuses even the temp file (read-only, no permission)."""
    import errno
    import tempfile

    config = collection(tmp_path, {TUNE: 3})
    tune = str(tmp_path / "hvsc" / "C64Music" / TUNE)

    def refuse(*_args: object, **_kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    result = CliRunner().invoke(cli, ["--config", str(config), "rate", tune, "--song", "1", "--e", "5"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, "Read-only file system", "no file was written")
