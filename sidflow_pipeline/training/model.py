"""The rating model: one LightGBM regressor per dimension (e, m, c, p).

Lifecycle — :func:`create_model` (a configuration), :func:`train_model`,
:func:`save_model` / :func:`load_model`, :func:`evaluate`, and
:meth:`RatingModel.predict` (ratings 1–5 and a confidence, the ``Predictor`` protocol
``classified`` uses).

Files in ``<dataPath>/model/``: ``feature-stats.json`` (the z-score normalisation, in
git), ``model-metadata.json`` (versions, parameters, sample counts, metrics, in git)
and ``model-<dim>.txt`` (LightGBM text boosters: derived, ignored by git, rebuilt by
``sidflow train``). The metadata is written last, so a reader never pairs new
metadata with missing boosters.

Why these choices:

* Trees do not need normalised inputs, but the stored stats define the input space:
  the per-song confidence is the model's held-out R² scaled by the share of features
  within ±4σ of the training data, so a tune unlike anything rated is flagged.
* A dimension with too few samples gets no booster and falls back to the baseline for
  that dimension instead of predicting noise.
* ``deterministic``, ``force_row_wise``, one thread and fixed seeds make retraining on
  the same data give the same boosters and the same metrics.
* A model trained on another feature set would mis-read every column; it is refused.
* Inputs are the audio features, the SID register-trace features and the header facts.
  A feature a song does not have (no trace: the ``sidplayfp`` backend; nothing to
  measure: the ADSR of a song without notes) is ``NaN``: LightGBM learns which branch
  missing values take instead of reading an invented number, the normalisation
  stats ignore it, and the familiarity share counts only measured features.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.atomic import atomic_write_json, atomic_write_text
from sidflow_pipeline.classify.predict import baseline_predict
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.layout import FEATURE_STATS, MODEL_METADATA, booster_file

__all__ = [
    "DEFAULT_PARAMS",
    "DIMENSIONS",
    "HEADER_FEATURES",
    "MIN_SAMPLES",
    "MODEL_VERSION",
    "FeatureStats",
    "Metrics",
    "ModelError",
    "ModelSpec",
    "RatingModel",
    "check_model",
    "create_model",
    "evaluate",
    "load_model",
    "load_predictor",
    "model_features",
    "save_model",
    "train_model",
]

MODEL_VERSION = "lgbm-1.0"
DIMENSIONS = ("e", "m", "c", "p")
HEADER_FEATURES = ("sidModel8580", "clockNtsc", "sidCount")
MIN_SAMPLES = 8
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 4,
    "lambda_l2": 1.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 42,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}
DEFAULT_ROUNDS = 300


class ModelError(SidflowError, RuntimeError):
    """A model on disk that cannot be used; one line for the user."""


def model_features() -> tuple[str, ...]:
    from sidflow_pipeline.features import ROW_FEATURE_NAMES

    return (*ROW_FEATURE_NAMES, *HEADER_FEATURES)


@dataclass(frozen=True)
class FeatureStats:
    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, names: Sequence[str], matrix: np.ndarray) -> FeatureStats:
        """Mean and std over the measured values of each column (missing = NaN is skipped)."""
        measured = np.isfinite(matrix)
        count = measured.sum(axis=0) if len(matrix) else np.zeros(len(names))
        filled = np.where(measured, matrix, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.zeros(len(names)), where=count > 0) if len(matrix) else np.zeros(len(names))
        squares = np.where(measured, (matrix - mean) ** 2, 0.0)
        variance = np.divide(squares.sum(axis=0), count, out=np.ones(len(names)), where=count > 0) if len(matrix) else np.ones(len(names))
        std = np.sqrt(variance)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(tuple(names), tuple(round(float(v), 8) for v in mean), tuple(round(float(v), 8) for v in std))

    def normalise(self, matrix: np.ndarray) -> np.ndarray:
        normalised: np.ndarray = (matrix - np.asarray(self.mean)) / np.asarray(self.std)
        return normalised

    def to_json(self) -> dict[str, Any]:
        # A list, not an object: the column order is the model's input order.
        return {
            "normalisation": "z = (x - mean) / std",
            "features": [{"name": n, "mean": m, "std": s} for n, m, s in zip(self.names, self.mean, self.std, strict=True)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureStats:
        items = data["features"]
        return cls(
            tuple(str(i["name"]) for i in items), tuple(float(i["mean"]) for i in items), tuple(float(i["std"]) for i in items)
        )


def feature_matrix(rows: Sequence[Mapping[str, float | None]], names: Sequence[str]) -> np.ndarray:
    """Rows × names; a feature that is ``None`` or absent from the row is ``NaN`` (missing)."""

    def value(row: Mapping[str, float | None], name: str) -> float:
        v = row.get(name)
        return math.nan if v is None else float(v)

    return np.array([[value(r, n) for n in names] for r in rows], dtype=np.float64).reshape(len(rows), len(names))


@dataclass(frozen=True)
class ModelSpec:
    """An untrained model: parameters and boosting rounds."""

    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    num_boost_round: int = DEFAULT_ROUNDS


def create_model(num_boost_round: int = DEFAULT_ROUNDS, **overrides: Any) -> ModelSpec:
    params = dict(DEFAULT_PARAMS)
    params.update(overrides)
    return ModelSpec(params=params, num_boost_round=num_boost_round)


@dataclass(frozen=True)
class Metrics:
    """MAE and R² per dimension over ``n`` samples (weighted like training)."""

    per_dim: dict[str, dict[str, float]]

    @property
    def mean_mae(self) -> float | None:
        values = [m["mae"] for m in self.per_dim.values()]
        return sum(values) / len(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {d: {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()} for d, m in self.per_dim.items()}


class RatingModel:
    """Trained boosters + normalisation; predicts like the baseline where it has no booster."""

    def __init__(self, boosters: Mapping[str, Any], stats: FeatureStats, metadata: Mapping[str, Any]) -> None:
        self.boosters = dict(boosters)
        self.stats = stats
        self.metadata = dict(metadata)
        self.name = f"lightgbm-{self.metadata.get('modelVersion', MODEL_VERSION)}"
        self.confidence = float(self.metadata.get("confidence", 0.5))

    @property
    def feature_set_version(self) -> str | None:
        """The feature set it was trained on: ``classified`` refuses rows of another one."""
        version = self.metadata.get("featureSetVersion")
        return str(version) if version is not None else None

    def predict_matrix(self, rows: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
        x = self.stats.normalise(feature_matrix(rows, self.stats.names))
        out = {}
        for dim in DIMENSIONS:
            booster = self.boosters.get(dim)
            if booster is None:
                out[dim] = np.array([baseline_predict(r)[0][dim] for r in rows], dtype=np.float64)
            else:
                out[dim] = np.clip(booster.predict(x), 1.0, 5.0) if len(rows) else np.zeros(0)
        return out

    def predict(self, features: Mapping[str, float]) -> tuple[dict[str, float], float]:
        predicted = self.predict_matrix([features])
        ratings = {d: round(float(v[0]), 2) if math.isfinite(float(v[0])) else 3.0 for d, v in predicted.items()}
        z = self.stats.normalise(feature_matrix([features], self.stats.names))[0]
        measured = z[np.isfinite(z)]
        familiar = float(np.mean(np.abs(measured) <= 4.0)) if measured.size else 1.0
        return ratings, round(self.confidence * familiar, 3)


def train_model(
    spec: ModelSpec,
    samples: Sequence[Any],
    features: Mapping[tuple[str, int], Mapping[str, float]],
    *,
    feature_set_version: str,
) -> RatingModel:
    """Boosters for every dimension with at least :data:`MIN_SAMPLES` targets."""
    import lightgbm as lgb

    names = model_features()
    usable = [s for s in samples if s.key in features]
    stats = FeatureStats.fit(names, feature_matrix([features[s.key] for s in usable], names))
    boosters: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for dim in DIMENSIONS:
        rows = [s for s in usable if dim in s.targets]
        counts[dim] = len(rows)
        if len(rows) < MIN_SAMPLES:
            continue
        x = stats.normalise(feature_matrix([features[s.key] for s in rows], names))
        y = np.array([s.targets[dim] for s in rows], dtype=np.float64)
        w = np.array([s.weights[dim] for s in rows], dtype=np.float64)
        dataset = lgb.Dataset(x, label=y, weight=w, feature_name=list(names), params={"verbosity": -1}, free_raw_data=False)
        boosters[dim] = lgb.train(spec.params, dataset, num_boost_round=spec.num_boost_round)
    metadata = {
        "modelVersion": MODEL_VERSION,
        "featureSetVersion": feature_set_version,
        "featureNames": list(names),
        "parameters": {**spec.params, "num_boost_round": spec.num_boost_round},
        "trainSamples": counts,
        "dimensions": sorted(boosters),
    }
    return RatingModel(boosters, stats, metadata)


def evaluate(
    predict: Any,
    samples: Sequence[Any],
    features: Mapping[tuple[str, int], Mapping[str, float]],
) -> Metrics:
    """Weighted MAE and R² per dimension; ``predict`` maps feature rows → {dim: array}."""
    usable = [s for s in samples if s.key in features]
    per_dim: dict[str, dict[str, float]] = {}
    if not usable:
        return Metrics(per_dim)
    predicted = predict([features[s.key] for s in usable])
    for dim in DIMENSIONS:
        idx = [i for i, s in enumerate(usable) if dim in usable[i].targets]
        if not idx:
            continue
        y = np.array([usable[i].targets[dim] for i in idx])
        w = np.array([usable[i].weights[dim] for i in idx])
        p = np.asarray(predicted[dim])[idx]
        mae = float(np.average(np.abs(y - p), weights=w))
        mean = float(np.average(y, weights=w))
        total = float(np.sum(w * (y - mean) ** 2))
        r2 = 1.0 - float(np.sum(w * (y - p) ** 2)) / total if total > 0 else 0.0
        per_dim[dim] = {"mae": mae, "r2": r2, "n": len(idx)}
    return Metrics(per_dim)


def baseline_matrix(rows: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
    predictions = [baseline_predict(r)[0] for r in rows]
    return {d: np.array([p[d] for p in predictions], dtype=np.float64) for d in DIMENSIONS}


BOOSTER_CHECKSUMS = "boosterSha256"
REBUILD = "rebuild it with 'sidflow train --force'"


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def save_model(model: RatingModel, model_dir: Path) -> None:
    """Boosters, stats, then the metadata — last, and naming each booster's sha256.

    LightGBM aborts the whole process (SIGABRT, exit 134) on many damaged model
    files instead of raising, so a booster is only handed to it when its bytes are
    the ones this function wrote; the checksums also catch a crash between writing
    new boosters and the metadata that describes them.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    checksums: dict[str, str] = {}
    for dim in DIMENSIONS:
        path = booster_file(model_dir, dim)
        booster = model.boosters.get(dim)
        if booster is None:
            path.unlink(missing_ok=True)
        else:
            text = booster.model_to_string()
            atomic_write_text(path, text)
            checksums[dim] = _sha256(text.encode("utf-8"))
    model.metadata[BOOSTER_CHECKSUMS] = checksums
    atomic_write_json(model_dir / FEATURE_STATS, model.stats.to_json())
    atomic_write_json(model_dir / MODEL_METADATA, model.metadata)


def _looks_complete(text: str) -> bool:
    """For models saved before checksums were recorded: a LightGBM text model that was
    not cut short (the tree count it declares is there, and the trailer after it)."""
    if not text.startswith("tree\n") or "\nend of trees\n" not in text or "end of parameters" not in text:
        return False
    sizes = next((line for line in text.splitlines() if line.startswith("tree_sizes=")), None)
    return sizes is not None and len(sizes.split("=", 1)[1].split()) == text.count("\nTree=")


def _load_booster(path: Path, expected: str | None) -> Any:
    import lightgbm as lgb

    if not path.is_file():
        raise ModelError(f"{path} is missing (the binary model is not in git); {REBUILD}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc}); {REBUILD}") from exc
    if expected is not None and _sha256(data) != expected:
        raise ModelError(f"{path} is damaged (its sha256 differs from {MODEL_METADATA}); {REBUILD}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{path} is damaged (not a LightGBM text model); {REBUILD}") from None
    if expected is None and not _looks_complete(text):
        raise ModelError(f"{path} is damaged (cut short or not a LightGBM text model); {REBUILD}")
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"{path} is damaged ({str(exc).splitlines()[0]}); {REBUILD}") from exc


def load_model(model_dir: Path, feature_set_version: str) -> RatingModel | None:
    """The published model, or None when there is none yet.

    Every way the files can be damaged ends as :class:`ModelError` naming the file and
    the rebuild command — never a LightGBM abort: see :func:`save_model`.
    """
    meta_path = model_dir / MODEL_METADATA
    if not meta_path.is_file():
        return None
    stats_path = model_dir / FEATURE_STATS
    reading = meta_path
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise TypeError("not a JSON object")
        reading = stats_path
        stats = FeatureStats.from_json(json.loads(stats_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise ModelError(f"{reading}: unreadable model file ({exc}); retrain with 'sidflow train --force'") from exc
    trained_on = meta.get("featureSetVersion")
    if trained_on != feature_set_version:
        raise ModelError(
            f"{meta_path}: model was trained on feature set {trained_on!r}, the data has {feature_set_version!r}; "
            "retrain with 'sidflow train --force'"
        )
    checksums = meta.get(BOOSTER_CHECKSUMS)
    checksums = checksums if isinstance(checksums, dict) else {}
    dims = meta.get("dimensions", DIMENSIONS)
    if not isinstance(dims, list) or not all(d in DIMENSIONS for d in dims):
        raise ModelError(f"{meta_path}: bad 'dimensions' {dims!r}; {REBUILD}")
    boosters = {}
    for dim in dims:
        expected = checksums.get(dim)
        boosters[dim] = _load_booster(booster_file(model_dir, dim), expected if isinstance(expected, str) else None)
    if len(stats.names) != len(stats.mean) or not stats.names:
        raise ModelError(f"{model_dir / FEATURE_STATS}: damaged feature statistics; {REBUILD}")
    return RatingModel(boosters, stats, meta)


def check_model(model_dir: Path, feature_set_version: str) -> tuple[bool, str]:
    """(ok, detail) for ``sidflow verify``: no model is fine (the baseline rates)."""
    try:
        model = load_model(model_dir, feature_set_version)
    except ModelError as exc:
        return False, str(exc)
    if model is None:
        return True, "no trained model yet: the baseline rates songs (sidflow train)"
    trained = model.metadata.get("trainedAt", "?")
    return True, f"{model.name}, trained {trained}, dimensions {', '.join(sorted(model.boosters)) or 'none'}"


def load_predictor(model_dir: Path, feature_set_version: str) -> RatingModel | None:
    """What ``classified`` uses: the published model, or None for the baseline."""
    model = load_model(model_dir, feature_set_version)
    return model if model is not None and model.boosters else None
