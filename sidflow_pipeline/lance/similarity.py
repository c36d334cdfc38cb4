"""The "more like this" vector: which features, how normalised, how weighted.

The vector behind ``sidflow recommend --like`` / ``sidflow play --like`` (LanceDB column
``similarity_vector``, searched by cosine distance). It is *fitted* only in the
unsupervised sense — medians and spreads over the collection being built, never labels —
so it needs no training data and behaves the same on composers nobody measured. The
choice among the alternatives below was made with ``bench/similarity.py`` (nDCG@10 of
"same composer"); the reasons are in :mod:`sidflow_pipeline.lance.build`.

Steps, per feature ``x`` of a song:

1. **Missing → centre.** A feature the song lacks (no trace, nothing to measure) is
   put at the collection median, i.e. 0 after step 3: it adds nothing to the cosine
   in either direction instead of pretending to be a measured 0.
2. **log1p of rates** (:data:`LOG_FEATURES`): notes, arpeggio steps, register changes
   per second span orders of magnitude (a digi tune changes its volume 200×/s, a ballad
   never); on a log scale "twice as fast" is the same step everywhere.
3. **Robust z-score** ``(x − median) / (IQR/1.349)`` (falling back to the standard
   deviation, then 1, when the IQR is 0, as for features most songs never use), clipped
   to ±3, so a single extreme song or feature cannot dominate the cosine.
4. **Group weights.** Features come in groups of different sizes (13 MFCCs, 4 ADSR
   nibbles × 2, …). With ``weighting="group"`` every feature is multiplied by
   ``1/sqrt(group size)``, so each group contributes the same expected squared norm
   and no group wins by having more columns.
5. Optional **whitening** (ZCA with shrinkage toward the identity): decorrelates
   features that measure one thing twice. Measured, not chosen by default (see build.py).

Equal inputs give equal bytes: statistics are over rows sorted by key, rounded to 6
significant digits and stored in the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from sidflow_pipeline.features.trace import TRACE_GROUPS

__all__ = [
    "AUDIO_GROUPS",
    "DEFAULT_SPEC",
    "LOG_FEATURES",
    "SIMILARITY_GROUPS",
    "SimilarityModel",
    "SimilaritySpec",
    "fit_similarity",
]

# The audio features by what they describe (names from features/extract.py). energy/rms
# repeat the loudness, and duration is the excerpt's length, not the music's.
AUDIO_GROUPS: dict[str, tuple[str, ...]] = {
    "audio_timbre": (
        "spectralCentroid",
        "spectralRolloff",
        "spectralFlatness",
        "spectralContrast",
        "zeroCrossingRate",
        *(f"mfcc{i}" for i in range(1, 14)),
    ),
    "audio_dynamics": ("loudnessLufs", "rmsStd", "dynamicRange", "dynamicComplexity", "silenceRatio"),
    "audio_rhythm": ("bpm", "confidence", "onsetRate", "spectralFlux"),
    "audio_tonal": ("keyStrength", "keyMode", "chromaEntropy"),
}
SIMILARITY_GROUPS: dict[str, tuple[str, ...]] = {**AUDIO_GROUPS, **{f"trace_{k}": v for k, v in TRACE_GROUPS.items()}}

# Rates (per second or per frame) whose spread is multiplicative.
LOG_FEATURES: frozenset[str] = frozenset(
    {
        "onsetRate",
        "spectralFlux",
        "sidGateRate",
        "sidWaveSwitchRate",
        "sidPwmRate",
        "sidVibratoRate",
        "sidArpeggioRate",
        "sidFilterSweepRate",
        "sidVolumeChangeRate",
        "sidChangesPerFrame",
        "sidCiaCallsPerFrame",
    }
)
CLIP = 3.0


@dataclass(frozen=True)
class SimilaritySpec:
    """How to turn feature rows into vectors (the bench compares several)."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(SIMILARITY_GROUPS))
    weighting: Literal["flat", "group"] = "group"
    log_rates: bool = True
    # ZCA whitening shrinkage in (0, 1]: covariance (1−s)·C + s·I; None = no whitening.
    whiten: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for group in self.groups.values() for name in group)

    def only(self, groups: Sequence[str]) -> SimilaritySpec:
        return replace(self, groups={g: self.groups[g] for g in self.groups if g in groups})

    def without(self, groups: Sequence[str]) -> SimilaritySpec:
        return replace(self, groups={g: f for g, f in self.groups.items() if g not in groups})


DEFAULT_SPEC = SimilaritySpec()


def _value(features: Mapping[str, Any] | None, name: str) -> float:
    if not features:
        return math.nan
    value = features.get(name)
    if value is None:
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _round(value: float) -> float:
    return float(f"{value:.6g}") + 0.0


@dataclass(frozen=True)
class SimilarityModel:
    """A fitted spec: per-feature centre/scale/weight (and the whitening matrix, if any)."""

    spec: SimilaritySpec
    names: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    whitening: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        return len(self.names)

    def _raw(self, rows: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
        matrix = np.array([[_value(r, n) for n in self.names] for r in rows], dtype=np.float64)
        matrix = matrix.reshape(len(rows), len(self.names))
        if self.spec.log_rates:
            logged = np.array([n in LOG_FEATURES for n in self.names])
            matrix[:, logged] = np.log1p(np.maximum(matrix[:, logged], 0.0))
        return matrix

    def matrix(self, rows: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
        """One vector per feature row (``float32`` like the LanceDB column)."""
        z = (self._raw(rows) - self.center) / self.scale
        z = np.clip(np.nan_to_num(z, nan=0.0), -CLIP, CLIP) * self.weight
        if self.whitening is not None:
            z = z @ self.whitening
        return np.round(z, 6).astype(np.float32)

    def vector(self, features: Mapping[str, Any] | None) -> list[float]:
        return [float(v) for v in self.matrix([features])[0]]

    def to_json(self) -> dict[str, Any]:
        """What the manifest records: enough to recompute every vector by hand."""
        out: dict[str, Any] = {
            "metric": "cosine",
            "weighting": self.spec.weighting,
            "log1p": sorted(n for n in self.names if self.spec.log_rates and n in LOG_FEATURES),
            "clip": CLIP,
            "missing": "collection median (0 after normalisation)",
            "groups": {g: list(f) for g, f in self.spec.groups.items()},
            "features": [
                {"name": n, "center": _round(c), "scale": _round(s), "weight": _round(w)}
                for n, c, s, w in zip(self.names, self.center, self.scale, self.weight, strict=True)
            ],
        }
        if self.spec.whiten is not None:
            out["whitening"] = {"method": "ZCA", "shrinkage": self.spec.whiten}
        return out


def fit_similarity(rows: Sequence[Mapping[str, Any] | None], spec: SimilaritySpec = DEFAULT_SPEC) -> SimilarityModel:
    """Fit centres, scales (and whitening) on ``rows`` — the collection being built.

    ``rows`` are feature dicts (``None`` for a song without features); pass them in a
    fixed order (the database sorts by key) so the result is deterministic.
    """
    names = spec.names
    if len(set(names)) != len(names):
        raise ValueError("a feature appears in two similarity groups")
    weight = np.array(
        [1.0 / math.sqrt(len(group)) if spec.weighting == "group" else 1.0 for group in spec.groups.values() for _ in group]
    )
    probe = SimilarityModel(spec, names, np.zeros(len(names)), np.ones(len(names)), weight)
    raw = probe._raw(rows)
    center = np.zeros(len(names))
    scale = np.ones(len(names))
    for j in range(len(names)):
        column = raw[:, j][np.isfinite(raw[:, j])]
        if column.size == 0:
            continue
        q1, median, q3 = np.percentile(column, [25, 50, 75])
        spread = float(q3 - q1) / 1.349 or float(column.std()) or 1.0
        center[j], scale[j] = _round(float(median)), _round(spread)
    model = SimilarityModel(spec, names, center, scale, weight)
    if spec.whiten is None or not len(rows):
        return model
    z = np.clip(np.nan_to_num((raw - center) / scale, nan=0.0), -CLIP, CLIP) * weight
    covariance = np.cov(z, rowvar=False, bias=True) if len(rows) > 1 else np.zeros((len(names), len(names)))
    average = float(np.trace(covariance)) / len(names) or 1.0
    shrunk = (1.0 - spec.whiten) * covariance + spec.whiten * average * np.eye(len(names))
    values, vectors = np.linalg.eigh(shrunk)
    # ZCA (V Λ^-½ Vᵀ) rather than PCA whitening: it is unique (no eigenvector sign choice),
    # so the vectors do not depend on the LAPACK build; scaled to keep the average variance.
    whitening = (vectors * (1.0 / np.sqrt(np.maximum(values, 1e-12)))) @ vectors.T * math.sqrt(average)
    return replace(model, whitening=np.round(whitening, 9))
