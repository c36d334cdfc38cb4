"""`check_tree_against_manifest`: each way a synced tree can drift from its manifest is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.demo.collection import write_demo_mirror
from sidflow_pipeline.hvsc.sync import sync_collection
from sidflow_pipeline.hvsc.verify import check_tree_against_manifest


@pytest.fixture()
def synced(tmp_path: Path) -> Path:
    write_demo_mirror(tmp_path / "mirror", base_version=1, updates=1)
    layout = SidflowConfig.model_validate({"hvscPath": tmp_path / "hvsc", "dataPath": tmp_path / "data", "tagsPath": None}).layout
    sync_collection(str(tmp_path / "mirror"), layout.hvsc, layout.hvsc_manifest_copy, layout.tags, progress=False)
    return tmp_path / "hvsc"


def test_a_fresh_sync_matches(synced: Path) -> None:
    ok, metadata, why = check_tree_against_manifest(synced)
    assert ok and why == "tree matches manifest" and metadata["version"] == metadata["hvsc_txt_release"] == 2


def test_no_manifest_says_what_to_run(tmp_path: Path) -> None:
    ok, _, why = check_tree_against_manifest(tmp_path)
    assert not ok and "materialize hvsc_mirror" in why


def test_an_extra_file_and_a_wrong_release_are_named(synced: Path) -> None:
    root = synced / "C64Music"
    (root / "MUSICIANS" / "stray.sid").write_bytes(b"PSID")
    hvsc_txt = root / "DOCUMENTS" / "HVSC.txt"
    text = hvsc_txt.read_bytes().decode("latin-1")
    hvsc_txt.write_bytes(text.replace("#2", "#9", 1).encode("latin-1"))
    ok, _, why = check_tree_against_manifest(synced)
    assert not ok
    assert "files on disk, manifest says" in why
    assert "HVSC.txt names release 9, manifest 2" in why


def test_missing_documents_are_named(synced: Path) -> None:
    shutil.rmtree(synced / "C64Music" / "DOCUMENTS")
    ok, _, why = check_tree_against_manifest(synced)
    assert not ok and "DOCUMENTS/ is missing" in why
