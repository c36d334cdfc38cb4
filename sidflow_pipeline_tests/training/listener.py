"""A simulated listener: a fixed hidden taste over audio features.

It hears energy, mood, complexity and its own preference in ways the baseline does
not (its "mood" follows key mode and darkness, it prefers calm, tonal tunes), so a
model can only beat the baseline by learning from what it says. Centres and scales
are the collection's own medians / IQRs, so its ratings use the whole 1–5 range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

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
