"""Ratings from features: the trained model when there is one, else the baseline.

The **baseline** is deterministic and needs no training data, so a fresh install rates
its whole collection before the listener has rated anything. Each dimension is a
weighted sum of robust z-scores, ``z = clip((x − center) / scale, ±3)``, mapped to
1–5 with ``1 + 4·sigmoid(1.5·score)``. Weights say what each dimension means
(energy: onsets, loudness, flux, tempo; mood: brightness and major key; complexity:
pitch variety, onsets, spectral contrast, dynamics). Centers and scales are the
median and IQR/1.349 of each feature, measured over the generated demo collection
and the 60-tune HVSC sample with the default render settings; the numbers live in
``baseline_calibration.json`` beside this module (regenerate with
``python -m sidflow_pipeline.classify.predict --calibrate FEATURES.jsonl ...``).
``p`` (preference) has no audio meaning before the listener says something, so the
baseline leaves it neutral at 3.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from sidflow_pipeline.errors import SidflowError

__all__ = ["BASELINE_NAME", "FeatureSetMismatchError", "Predictor", "baseline_predict", "check_feature_sets", "load_calibration"]

BASELINE_NAME = "baseline-1"
DIMENSIONS = ("e", "m", "c", "p")
_CALIBRATION_FILE = Path(__file__).with_name("baseline_calibration.json")


class Predictor(Protocol):
    """What ``classified`` needs from a model: ratings 1–5 and a confidence.

    A trained model also has ``feature_set_version`` (the feature set it was trained
    on); a predictor without one (the baseline) reads features by name and takes any.
    """

    name: str

    def predict(self, features: Mapping[str, float]) -> tuple[dict[str, float], float]: ...


class FeatureSetMismatchError(SidflowError, ValueError):
    """Feature rows of another feature set than the model's; one line for the user."""


def check_feature_sets(rows: Iterable[Mapping[str, Any]], predictor: object) -> None:
    """Refuse rows whose own ``featureSetVersion`` differs from the model's.

    Loading the model only compares it with the code's feature-set constant; the rows
    on disk may still be older (or newer) than that, and a model would then mis-read
    their columns without a word. Rows without features are not predicted, so they
    do not count.
    """
    expected = getattr(predictor, "feature_set_version", None)
    if expected is None:
        return
    other: dict[str, list[str]] = {}
    for row in rows:
        if row.get("features") is None:
            continue
        version = row.get("featureSetVersion")
        if version != expected:
            other.setdefault(str(version), []).append(f"{row.get('sid_path')}#{row.get('song_index')}")
    if not other:
        return
    count = sum(len(v) for v in other.values())
    version, songs = max(other.items(), key=lambda item: (len(item[1]), item[0]))
    raise FeatureSetMismatchError(
        f"{count} songs (e.g. {min(songs)}) have features of feature set {version!r} but the model "
        f"{getattr(predictor, 'name', '?')} was trained on {expected!r}; re-materialize audio_features for them "
        "(scripts/run.sh or the Dagster UI), or retrain on the current features with 'sidflow train --force'"
    )


@cache
def load_calibration(path: Path = _CALIBRATION_FILE) -> dict[str, Any]:
    calibration: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return calibration


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def baseline_predict(features: Mapping[str, float], calibration: Mapping[str, Any] | None = None) -> tuple[dict[str, float], float]:
    """``({e, m, c, p}, confidence)`` from features by the documented baseline."""
    cal = calibration or load_calibration()
    reference: Mapping[str, Mapping[str, float]] = cal["reference"]
    ratings: dict[str, float] = {}
    for dim, weights in cal["weights"].items():
        score = 0.0
        for name, weight in weights.items():
            ref = reference[name]
            z = (float(features.get(name, ref["center"])) - ref["center"]) / ref["scale"]
            score += weight * max(-3.0, min(3.0, z))
        ratings[dim] = round(1.0 + 4.0 * _sigmoid(cal["gain"] * score), 2)
    ratings.setdefault("p", 3.0)
    return {d: ratings[d] for d in DIMENSIONS}, float(cal["confidence"])


class BaselinePredictor:
    name = BASELINE_NAME

    def predict(self, features: Mapping[str, float]) -> tuple[dict[str, float], float]:
        return baseline_predict(features)


def calibrate(rows: list[Mapping[str, float]], weights: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Median and IQR/1.349 per weighted feature, over feature dicts."""
    import numpy as np

    names = sorted({n for w in weights.values() for n in w})
    reference = {}
    for name in names:
        values = np.array([float(r[name]) for r in rows if name in r])
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        scale = float(q3 - q1) / 1.349 or float(values.std()) or 1.0
        reference[name] = {"center": round(float(median), 6), "scale": round(scale, 6)}
    return {"reference": reference}


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - maintenance tool
    import argparse

    parser = argparse.ArgumentParser(description="Recalibrate the baseline from features JSONL files.")
    parser.add_argument("--calibrate", nargs="+", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = []
    for path in args.calibrate:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("features"):
                rows.append(row["features"])
    cal = dict(load_calibration())
    cal.update(calibrate(rows, cal["weights"]))
    cal["calibrated_on_songs"] = len(rows)
    from sidflow_pipeline.atomic import atomic_write_text

    atomic_write_text(_CALIBRATION_FILE, json.dumps(cal, indent=2, sort_keys=True) + "\n")
    print(f"calibrated on {len(rows)} songs → {_CALIBRATION_FILE}")


if __name__ == "__main__":  # pragma: no cover
    main()
