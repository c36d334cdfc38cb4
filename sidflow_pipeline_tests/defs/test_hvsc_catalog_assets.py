"""The Dagster layer for sync and catalog: definitions load, assets materialize on the
generated demo mirror, the check and the schedule behave."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from sidflow_pipeline.definitions import defs
from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.hvsc import hvsc_mirror, hvsc_release_schedule, hvsc_tree_matches_manifest
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.demo.collection import demo_songs, write_demo_mirror


@pytest.fixture()
def demo_config(tmp_path: Path) -> Path:
    write_demo_mirror(tmp_path / "mirror", base_version=1, updates=1)
    config = tmp_path / ".sidflow.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "hvscSource": "mirror", "dataPath": "data"}))
    return config


def test_definitions_load() -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"hvsc_mirror", "sid_catalog"} <= keys
    assert defs.resolve_job_def("sidflow_full") is not None
    assert defs.get_schedule_def("hvsc_release_schedule") is not None


def test_sync_then_catalog(demo_config: Path, tmp_path: Path) -> None:
    resources = {"sidflow": SidflowConfigResource(config_path=str(demo_config))}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([hvsc_mirror, sid_catalog], resources=resources, instance=instance)
    assert result.success
    mirror_meta = result.asset_materializations_for_node("hvsc_mirror")[0].metadata
    assert mirror_meta["status"].value == "installed" and mirror_meta["version"].value == 2
    manifest = json.loads((tmp_path / "data" / "hvsc-version.json").read_text())
    assert manifest["baseVersion"] == 1 and [d["version"] for d in manifest["deltas"]] == [2]

    catalog_meta = result.asset_materializations_for_node("sid_catalog")[0].metadata
    frame = pl.read_parquet(tmp_path / "data" / "catalog" / "sid_catalog.parquet")
    expected = demo_songs(2)
    assert frame.height == len(expected) == catalog_meta["songs"].value
    assert set(zip(frame["sid_path"], frame["song_index"], strict=True)) == set(expected)
    assert frame["length_ms"].null_count() == 0 == catalog_meta["songs_without_length"].value
    assert catalog_meta["files_by_format"].value == {"PSID": frame["sid_path"].n_unique()}
    assert set(catalog_meta["songs_by_section"].value) <= {"MUSICIANS", "GAMES", "DEMOS", "OTHER"}
    assert frame.filter(pl.col("stil_title").is_not_null()).height > 0

    check = hvsc_tree_matches_manifest(sidflow=resources["sidflow"])
    assert check.passed, check.metadata

    # Second materialization: nothing to download, the tree is current.
    again = dg.materialize([hvsc_mirror], resources=resources, instance=instance)
    meta = again.asset_materializations_for_node("hvsc_mirror")[0].metadata
    assert meta["status"].value == "current" and meta["bytes_downloaded"].value == 0


def test_check_fails_when_tree_drifts(demo_config: Path, tmp_path: Path) -> None:
    resources = {"sidflow": SidflowConfigResource(config_path=str(demo_config))}
    assert dg.materialize([hvsc_mirror], resources=resources).success
    next(iter((tmp_path / "hvsc" / "C64Music").rglob("*.sid"))).unlink()
    check = hvsc_tree_matches_manifest(sidflow=resources["sidflow"])
    assert not check.passed
    assert "files on disk" in check.metadata["detail"].value


def test_schedule_requests_run_only_for_newer_release(demo_config: Path, tmp_path: Path) -> None:
    resource = SidflowConfigResource(config_path=str(demo_config))
    context = dg.build_schedule_context(resources={"sidflow": resource})
    first = hvsc_release_schedule(context)
    assert isinstance(first, dg.RunRequest) and first.run_key == "hvsc-2"
    assert dg.materialize([hvsc_mirror], resources={"sidflow": resource}).success
    second = hvsc_release_schedule(dg.build_schedule_context(resources={"sidflow": resource}))
    assert isinstance(second, dg.SkipReason) and "current" in str(second.skip_message)
    write_demo_mirror(tmp_path / "mirror", base_version=1, updates=2)
    third = hvsc_release_schedule(dg.build_schedule_context(resources={"sidflow": resource}))
    assert isinstance(third, dg.RunRequest) and third.run_key == "hvsc-3"


def test_catalog_without_tree_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"hvscPath": "nothing-here"}))
    with pytest.raises(dg.Failure, match="HVSC tree not found"):
        dg.materialize([sid_catalog], resources={"sidflow": SidflowConfigResource(config_path=str(config))}, selection=[sid_catalog])


def test_check_warns_when_there_is_no_synced_tree(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"hvscPath": "nothing-here"}))
    check = hvsc_tree_matches_manifest(sidflow=SidflowConfigResource(config_path=str(config)))
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("nothing to check: no hvsc-version.json in ")
