"""Fault #4: damaged model files. `sidflow verify` and `sidflow train` run as real
processes (a LightGBM abort would kill pytest itself): they name the damaged file in
one line with the command that rebuilds it, and `train --force` replaces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.training.model import load_model
from sidflow_pipeline.training.train import run_training
from sidflow_pipeline_tests.training.listener import write_project

SIDFLOW = str(Path(sys.executable).with_name("sidflow"))


def _sidflow(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIDFLOW, "--config", str(config), *args], capture_output=True, encoding="utf-8", errors="replace", timeout=300,
        env={**os.environ, "COLUMNS": "250"},
    )


def _damage(model_dir: Path, how: str) -> Path:
    if how == "truncated booster":  # a crash or a full disk while copying the model
        path = model_dir / "model-e.txt"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "flipped bytes":  # bit rot in the middle of a tree
        path = model_dir / "model-m.txt"
        data = path.read_text()
        path.write_text(data.replace("leaf_value=", "leaf_value=x", 1))
    elif how == "legacy model, truncated booster":  # saved before checksums were recorded
        meta_path = model_dir / "model-metadata.json"
        meta = json.loads(meta_path.read_text())
        del meta["boosterSha256"]
        meta_path.write_text(json.dumps(meta))
        path = model_dir / "model-p.txt"
        path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    elif how == "garbage booster":
        path = model_dir / "model-c.txt"
        path.write_bytes(b"tree\n" + os.urandom(300))
    else:  # metadata that is JSON but not an object
        path = model_dir / "model-metadata.json"
        path.write_text("[]\n")
    return path


@pytest.mark.parametrize(
    "how", ["truncated booster", "flipped bytes", "garbage booster", "metadata not an object", "legacy model, truncated booster"]
)
def test_fault04_damaged_model_is_named_and_train_force_replaces_it(tmp_path: Path, how: str) -> None:
    """Was: verify/train printed a traceback or aborted (exit 134); train --force could not replace it."""
    config_path, _features, _listener = write_project(tmp_path)
    config = load_config(config_path)
    assert run_training(config, now=datetime(2026, 12, 1, tzinfo=UTC)).published
    model_dir = config.layout.model_dir
    damaged = _damage(model_dir, how)

    verified = _sidflow(config_path, "verify")
    assert verified.returncode == 1, verified.stderr[-2000:]
    assert "Traceback" not in verified.stdout + verified.stderr
    fix = [line for line in verified.stdout.splitlines() if line.startswith("rating model:")]
    assert len(fix) == 1 and "fix: sidflow train --force" in fix[0]
    detail = json.loads(_sidflow(config_path, "verify", "--json").stdout)
    model = next(c for c in detail if c["artifact"] == "rating model")
    assert str(damaged) in model["detail"] and "sidflow train --force" in model["detail"]

    trained = _sidflow(config_path, "train", "--force", "--num-boost-round", "50")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "Traceback" not in trained.stdout + trained.stderr
    assert "published" in trained.stdout
    assert load_model(model_dir, FEATURE_SET_VERSION) is not None
    assert _sidflow(config_path, "verify").stdout.count("rating model:") == 0
