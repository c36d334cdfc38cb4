"""The layout owner agrees with docs/artifacts.md: every artifact listed there is a path it spells."""

from __future__ import annotations

import re
from pathlib import Path

from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.layout import Layout

DOC = Path(__file__).resolve().parents[1] / "docs" / "artifacts.md"


def _layout_paths(layout: Layout) -> set[str]:
    paths: set[str] = set()
    for name in dir(Layout):
        value = getattr(layout, name)
        if isinstance(value, Path):
            paths.add(value.as_posix())
    paths.add(layout.features_file("x").parent.as_posix())
    paths.add(layout.classified_file("x").parent.as_posix())
    return paths


def test_every_documented_artifact_has_its_place_in_the_layout(tmp_path: Path) -> None:
    layout = SidflowConfig().layout
    known = _layout_paths(layout) | {str(layout.tags), str(layout.wav_cache)}
    documented = re.findall(r"^\| `(data/[^`]*)`", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert len(documented) >= 20
    for artifact in documented:
        # The artifact itself or the folder that holds it (patterns like <id>, *, YYYY are below it).
        parts = artifact.rstrip("/").split("/")
        prefixes = {"/".join(parts[: n + 1]) for n in range(len(parts))}
        assert prefixes & known, f"{artifact} is not spelled by sidflow_pipeline/layout.py"


def test_layout_follows_the_configured_roots(tmp_path: Path) -> None:
    config = SidflowConfig.model_validate({"dataPath": tmp_path / "d", "hvscPath": tmp_path / "h"})
    layout = config.layout
    assert layout.lance_db == tmp_path / "d" / "sidflow.lance"
    assert layout.path_moves == tmp_path / "h" / "path-moves.jsonl"
    assert layout.hvsc_root == tmp_path / "h" / "C64Music"  # where a sync will put it
    (tmp_path / "h" / "DOCUMENTS").mkdir(parents=True)
    assert layout.hvsc_root == tmp_path / "h"  # hvscPath names C64Music itself
    assert layout.features_file("MUSICIANS_A") == tmp_path / "d" / "features" / "MUSICIANS_A.jsonl"
    assert layout.training_inputs.name == "training-inputs.jsonl"
