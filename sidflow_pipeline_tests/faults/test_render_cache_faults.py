"""Fault #1: a moved or byte-identical duplicate tune dropped out of classification.

The render cache was keyed by content but its records carried the first path that
rendered it: after a tune moved into another section, or with the same bytes at two
paths, the other section's songs found a record under a foreign path and fell out of
the join (the partition kept 1 of its 4 songs and the run said success). Records now
take the path of the job that asks, and duplicates in one run render once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg

from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.classify import audio_features, wav_cache
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.sections import partition_file_stem, partition_of
from sidflow_pipeline_tests.faults.helpers import collection

BEFORE = "MUSICIANS/A/Alpha/Tiny_Tower.sid"
AFTER = "MUSICIANS/Z/Zeta/Tiny_Tower.sid"
TWIN = "MUSICIANS/Z/Zeta/Tiny_Tower_copy.sid"


def _section(tmp_path: Path, resources: dict, instance: dg.DagsterInstance, sid_path: str) -> list[dict]:
    partition = partition_of(sid_path)
    result = dg.materialize([wav_cache, audio_features], resources=resources, partition_key=partition, instance=instance)
    assert result.success
    rows = (tmp_path / "data" / "features" / f"{partition_file_stem(partition)}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in rows]


def test_fault01_moved_and_duplicate_tunes_keep_every_song(tmp_path: Path) -> None:
    config = collection(tmp_path, {BEFORE: 4})
    config.write_text(json.dumps({**json.loads(config.read_text()), "render": {"excerptSeconds": 2, "introSkipSeconds": 1}}))
    resources = {"sidflow": SidflowConfigResource(config_path=str(config))}
    instance = dg.DagsterInstance.ephemeral()
    root = tmp_path / "hvsc" / "C64Music"
    assert dg.materialize([sid_catalog], resources=resources, instance=instance).success
    first = _section(tmp_path, resources, instance, BEFORE)
    assert sorted((r["sid_path"], r["song_index"]) for r in first) == [(BEFORE, n) for n in (1, 2, 3, 4)]

    # The tune moves into the Z section, and a byte-identical copy appears beside it.
    (root / AFTER).parent.mkdir(parents=True)
    shutil.move(root / BEFORE, root / AFTER)
    shutil.copyfile(root / AFTER, root / TWIN)
    assert dg.materialize([sid_catalog], resources=resources, instance=instance).success
    moved = _section(tmp_path, resources, instance, AFTER)
    expected = sorted((p, n) for p in (AFTER, TWIN) for n in (1, 2, 3, 4))
    assert sorted((r["sid_path"], r["song_index"]) for r in moved) == expected
    assert all(r["features"] is not None for r in moved), [r for r in moved if r["features"] is None]
