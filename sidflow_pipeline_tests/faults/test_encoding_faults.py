"""Fault #8: a non-UTF-8 byte in the config, in a tags file or in a SID file name is
reported for that one file (the one tune), never as a traceback or a failed asset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import polars as pl
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.classify import classified, manual_ratings
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.sections import partition_file_stem, partition_of
from sidflow_pipeline_tests.faults.helpers import assert_one_line_error, collection, sid_bytes

GOOD = "MUSICIANS/A/Alpha/One.sid"
OTHER = "MUSICIANS/A/Alpha/Two.sid"


def test_fault08_non_utf8_config(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_bytes(b'{"threads": 2,\n "dataPath": "d\xe4ta"}\n')  # Latin-1, not UTF-8
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "validate"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(config), "not valid UTF-8", "line 2")


def test_fault08_non_utf8_sid_file_name_skips_that_tune_only(tmp_path: Path) -> None:
    """Was: the whole sid_catalog asset failed on one badly named file."""
    config = collection(tmp_path, {GOOD: 3})
    folder = os.fsencode(tmp_path / "hvsc" / "C64Music" / "MUSICIANS" / "A" / "Alpha")
    with open(os.path.join(folder, b"Caf\xe9.sid"), "wb") as handle:  # a Latin-1 name
        handle.write(sid_bytes("Cafe"))
    result = dg.materialize([sid_catalog], resources={"sidflow": SidflowConfigResource(config_path=str(config))})
    assert result.success
    catalog = pl.read_parquet(tmp_path / "data" / "catalog" / "sid_catalog.parquet")
    assert catalog["sid_path"].unique().to_list() == [GOOD] and catalog.height == 3
    metadata = result.asset_materializations_for_node("sid_catalog")[0].metadata
    unreadable = metadata["unreadable_files"].value
    assert unreadable == {"MUSICIANS/A/Alpha/Caf\\xe9.sid": "file name is not valid UTF-8; rename the file"}


def test_fault08_non_utf8_tags_file_skips_that_tune_only(tmp_path: Path) -> None:
    """Was: UnicodeDecodeError failed the whole classified partition."""
    config = collection(tmp_path, {GOOD: 1, OTHER: 1})
    tags = tmp_path / "data" / "tags" / "MUSICIANS" / "A" / "Alpha"
    tags.mkdir(parents=True)
    (tags / "One.sid.tags.json").write_text('{"e": 5, "m": 5, "c": 5, "p": 5, "source": "manual"}\n')
    (tags / "Two.sid.tags.json").write_bytes(b'{"e": 1, "source": "man\xfcal"}\n')
    with open(os.path.join(os.fsencode(tags), b"Caf\xe9.sid.tags.json"), "wb") as handle:
        handle.write(b'{"e": 2}\n')
    partition = partition_of(GOOD)
    features = tmp_path / "data" / "features" / f"{partition_file_stem(partition)}.jsonl"
    features.parent.mkdir(parents=True)
    features.write_text("".join(json.dumps({"sid_path": p, "song_index": 1, "features": {}}) + "\n" for p in (GOOD, OTHER)))
    resources = {"sidflow": SidflowConfigResource(config_path=str(config))}
    instance = dg.DagsterInstance.ephemeral()
    observed = dg.materialize([manual_ratings], resources=resources, instance=instance)
    assert observed.success
    result = dg.materialize([classified], resources=resources, partition_key=partition, instance=instance)
    assert result.success
    rows = {r["sid_path"]: r for r in map(json.loads, (tmp_path / "data" / "classified" / features.name).read_text().splitlines())}
    assert rows[GOOD]["sources"]["e"] == "manual" and rows[GOOD]["ratings"]["e"] == 5
    assert rows[OTHER]["sources"]["e"] == "predicted"  # its tags file is reported, not used
