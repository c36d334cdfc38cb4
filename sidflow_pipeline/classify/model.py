"""Loading a trained rating model for ``classified``.

A model lives in ``<dataPath>/model/``: ``model-metadata.json`` (in git: versions,
feature names, metrics) and one LightGBM text booster per dimension,
``model-<dim>.txt`` (derived, ignored by git). A model trained on another feature set
would silently mis-read every column, so it is refused with a message that says how
to fix it; with no model, ``classified`` uses the baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MODEL_METADATA", "LightGBMPredictor", "ModelError", "load_predictor"]

MODEL_METADATA = "model-metadata.json"
DIMENSIONS = ("e", "m", "c", "p")


class ModelError(RuntimeError):
    """A model on disk that cannot be used; one line for the user."""


class LightGBMPredictor:
    """Ratings from one LightGBM regressor per dimension, clipped to 1–5."""

    def __init__(self, boosters: Mapping[str, Any], feature_names: Sequence[str], version: str, confidence: float) -> None:
        self.boosters = dict(boosters)
        self.feature_names = list(feature_names)
        self.name = f"lightgbm-{version}"
        self.confidence = confidence

    def predict(self, features: Mapping[str, float]) -> tuple[dict[str, float], float]:
        import numpy as np

        row = np.array([[float(features.get(n, 0.0)) for n in self.feature_names]])
        ratings = {}
        for dim in DIMENSIONS:
            booster = self.boosters.get(dim)
            value = float(booster.predict(row)[0]) if booster is not None else 3.0
            ratings[dim] = round(min(5.0, max(1.0, value)), 2) if math.isfinite(value) else 3.0
        return ratings, self.confidence


def load_predictor(model_dir: Path, feature_set_version: str) -> LightGBMPredictor | None:
    """The trained model in ``model_dir``, or None when there is none yet."""
    meta_path = model_dir / MODEL_METADATA
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_path}: invalid JSON ({exc.msg}); retrain with 'sidflow train --force'") from exc
    trained_on = meta.get("featureSetVersion")
    if trained_on != feature_set_version:
        raise ModelError(
            f"{meta_path}: model was trained on feature set {trained_on!r}, the data has {feature_set_version!r}; "
            "retrain with 'sidflow train --force'"
        )
    import lightgbm as lgb

    boosters = {}
    for dim in DIMENSIONS:
        path = model_dir / f"model-{dim}.txt"
        if path.is_file():
            boosters[dim] = lgb.Booster(model_file=str(path))
    if not boosters:
        return None
    return LightGBMPredictor(
        boosters,
        meta["featureNames"],
        str(meta.get("modelVersion", "unknown")),
        float(meta.get("confidence", 0.6)),
    )
