"""Synthetic ``classified`` rows: a database of any size without rendering a note.

The benchmark needs 100,000 songs and tests need a few hundred with known ratings;
rendering that many tunes would measure sidplayfp, not the database. Ratings are
predicted-style floats (one decimal) and a dozen audio features are drawn around
plausible values (the SID-trace features are absent, as for the sidplayfp backend),
all from one seeded generator, so the same ``(count, seed)`` gives the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["synthetic_rows"]

_FEATURE_SCALE = {
    "onsetRate": (4.0, 2.0),
    "loudnessLufs": (-18.0, 4.0),
    "spectralCentroid": (1800.0, 600.0),
    "spectralFlux": (0.05, 0.02),
    "spectralFlatness": (0.2, 0.08),
    "spectralContrast": (20.0, 5.0),
    "chromaEntropy": (2.5, 0.5),
    "keyMode": (0.5, 0.5),
    "bpm": (125.0, 25.0),
    "dynamicComplexity": (3.0, 1.0),
    "mfcc1": (-200.0, 40.0),
    "mfcc2": (80.0, 20.0),
}


def synthetic_rows(count: int, seed: int = 0, *, composers: int = 500) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    ratings = np.round(np.clip(rng.normal(3.0, 1.1, size=(count, 4)), 1.0, 5.0), 1)
    features = {
        name: rng.normal(center, spread, size=count) for name, (center, spread) in _FEATURE_SCALE.items()
    }
    composer_ids = rng.integers(0, composers, size=count)
    rows = []
    for i in range(count):
        author = f"Composer_{composer_ids[i]:04d}"
        rows.append(
            {
                "sid_path": f"MUSICIANS/S/{author}/Tune_{i:06d}.sid",
                "song_index": 1 + i % 3,
                "ratings": dict(zip("emcp", (float(v) for v in ratings[i]), strict=True)),
                "sources": {d: "predicted" for d in "emcp"},
                "confidence": 0.5,
                "predictor": "synthetic",
                "features": {name: round(float(features[name][i]), 4) for name in _FEATURE_SCALE}
                | {"duration": 20.0},
            }
        )
    return rows
