"""A simulated listener: a fixed hidden taste over audio features.

It hears energy, mood, complexity and its own preference in ways the baseline does
not (its "mood" follows key mode and darkness, it prefers calm, tonal tunes), so a
model can only beat the baseline by learning from what it says. Centres and scales
are the collection's own medians / IQRs, so its ratings use the whole 1–5 range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sidflow_pipeline.classify.predict import load_calibration
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.jsonl import write_jsonl_rows
from sidflow_pipeline.ratings.tags import Rating, write_rating
from sidflow_pipeline.sections import partition_file_stem, partition_of
from sidflow_pipeline.training.model import model_features

TASTE: dict[str, dict[str, float]] = {
    "e": {"onsetRate": 0.9, "bpm": 0.5, "spectralFlatness": -0.4},
    "m": {"keyMode": 0.8, "spectralCentroid": -0.7},
    "c": {"chromaEntropy": 0.8, "dynamicComplexity": 0.6, "onsetRate": 0.3},
    "p": {"onsetRate": -0.8, "keyStrength": 0.6, "spectralCentroid": -0.3},
}


class Listener:
    def __init__(self, collection: Mapping[tuple[str, int], Mapping[str, float]]) -> None:
        names = sorted({n for w in TASTE.values() for n in w})
        self.reference: dict[str, tuple[float, float]] = {}
        for name in names:
            values = np.array([float(f[name]) for f in collection.values()])
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            self.reference[name] = (float(median), float(q3 - q1) / 1.349 or float(values.std()) or 1.0)

    def score(self, features: Mapping[str, float], dim: str) -> float:
        total = 0.0
        for name, weight in TASTE[dim].items():
            center, scale = self.reference[name]
            total += weight * max(-3.0, min(3.0, (float(features[name]) - center) / scale))
        return 1.0 + 4.0 / (1.0 + math.exp(-1.6 * total))

    def rate(self, features: Mapping[str, float]) -> dict[str, int]:
        return {d: int(min(5, max(1, round(self.score(features, d))))) for d in TASTE}


def synthetic_features(count: int, seed: int) -> dict[tuple[str, int], dict[str, float]]:
    rng = np.random.default_rng(seed)
    reference = load_calibration()["reference"]
    out = {}
    for i in range(count):
        features = {}
        for name in model_features():
            center, scale = (reference[name]["center"], reference[name]["scale"]) if name in reference else (0.0, 1.0)
            features[name] = round(float(rng.normal(center, scale)), 5)
        features["keyMode"] = float(rng.integers(0, 2))
        features["keyStrength"] = round(float(rng.uniform(0.2, 0.9)), 4)
        out[(f"MUSICIANS/T/Tester_{i % 40:02d}/Tune_{i:04d}.sid", 1)] = features
    return out


def write_project(tmp_path: Path, count: int = 320, seed: int = 5, **config: object) -> tuple[Path, dict, Listener]:
    """A data directory with synthetic features for ``count`` songs, 60 % rated by the listener."""
    features = synthetic_features(count, seed=seed)
    listener = Listener(features)
    by_file: dict[str, list[dict]] = {}
    for key, f in sorted(features.items()):
        row = {"sid_path": key[0], "song_index": key[1], "featureSetVersion": FEATURE_SET_VERSION, "features": f, "status": "ok"}
        by_file.setdefault(partition_file_stem(partition_of(key[0])), []).append(row)
    for stem, rows in by_file.items():
        write_jsonl_rows(tmp_path / "data" / "features" / f"{stem}.jsonl", rows)
    for i, (key, f) in enumerate(sorted(features.items())):
        if i % 5 < 3:
            write_rating(tmp_path / "data" / "tags" / f"{key[0]}.tags.json", key[1], 1, Rating(**listener.rate(f)))
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc", "tagsPath": "data/tags", **config}))
    return path, features, listener
