"""Faults #5 and #7 (database): a damaged LanceDB file makes `sidflow recommend` say
so in one line; a build that fails (full disk) leaves the previous database as it was."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.lance.build import DatabaseBuildError, build_database
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection, snapshot
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows


def _build(db: Path, count: int = 60, seed: int = 3) -> None:
    rows = synthetic_rows(count, seed=seed)
    build_database(db, rows, {}, {}, sources={}, feedback_events=0)


def _damage(db: Path) -> None:
    for data_file in (db / "songs.lance" / "data").glob("*.lance"):  # cut short: a crash while copying
        data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])


def test_fault05_damaged_lance_data_file_is_one_line(tmp_path: Path) -> None:
    """Was: a 70-line traceback from inside the query."""
    config = collection(tmp_path)
    db = tmp_path / "data" / "sidflow.lance"
    _build(db)
    _damage(db)
    result = CliRunner().invoke(cli, ["--config", str(config), "recommend", "--mood", "quiet", "--limit", "3"])
    assert result.exit_code == 2, result.output
    line = assert_one_line_error(result.output, str(db), "cannot be read")
    assert "--select sidflow_lance" in line and "rm -rf" in line
    assert not (tmp_path / "data" / "cache" / "recommend-snapshot.npz").exists()  # no copy of a damaged table


def test_fault05_damaged_lance_file_under_the_lancedb_engine(tmp_path: Path) -> None:
    """The LanceDB engine (used beside the CLI's numpy snapshot) says the same: it opens
    fine (only the manifest is read), and the first query names the damage."""
    from sidflow_pipeline.recommend.engine import DatabaseUnavailable, Recommender, RecommendRequest

    db = tmp_path / "sidflow.lance"
    _build(db)
    recommender = Recommender(db)
    assert recommender.recommend(RecommendRequest(vector=(1.0, 2.0, 1.0), limit=3))
    _damage(db)
    with pytest.raises(DatabaseUnavailable) as info:
        Recommender(db).recommend(RecommendRequest(vector=(1.0, 2.0, 1.0), limit=3))
    assert str(db) in str(info.value) and "--select sidflow_lance" in str(info.value) and "\n" not in str(info.value)


def test_fault07_failed_database_build_leaves_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a build that failed half-way (disk full) left a new table version behind."""
    db = tmp_path / "sidflow.lance"
    _build(db, seed=3)
    before = snapshot(db)
    from lancedb.table import LanceTable

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LanceTable, "create_index", full_disk)
    with pytest.raises(DatabaseBuildError) as info:
        _build(db, seed=4)
    assert str(db) in str(info.value) and "No space left on device" in str(info.value)
    assert "previous database is unchanged" in str(info.value) and "\n" not in str(info.value)
    assert snapshot(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sidflow.lance"]  # no staging left behind
    monkeypatch.undo()
    _build(db, seed=4)
    assert snapshot(db) != before
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == '["sidflow.lance"]'
