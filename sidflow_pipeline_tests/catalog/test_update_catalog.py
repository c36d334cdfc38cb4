"""update_catalog (what `sid_catalog` materializes), without Dagster."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from sidflow_pipeline.catalog.catalog import HvscTreeMissingError, update_catalog
from sidflow_pipeline.demo.collection import demo_songs, write_demo_collection
from sidflow_pipeline.errors import SidflowError


def test_update_catalog_writes_every_demo_song(tmp_path: Path) -> None:
    write_demo_collection(tmp_path / "hvsc", version=2)
    out = tmp_path / "data" / "catalog" / "sid_catalog.parquet"
    result, digest = update_catalog(tmp_path / "hvsc" / "C64Music", out)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest() and result.errors == []
    frame = pl.read_parquet(out)
    assert frame.height == result.stats()["songs"] == len(demo_songs(2))
    assert update_catalog(tmp_path / "hvsc" / "C64Music", out)[1] == digest  # deterministic


def test_no_tree_is_one_line_for_the_user(tmp_path: Path) -> None:
    with pytest.raises(HvscTreeMissingError, match=r"HVSC tree not found at .*materialize hvsc_mirror") as info:
        update_catalog(tmp_path / "nothing-here", tmp_path / "c.parquet")
    assert isinstance(info.value, SidflowError) and "\n" not in str(info.value)
    assert not (tmp_path / "c.parquet").exists()
