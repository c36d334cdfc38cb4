"""Publish a retrained model only when it helps: a paired test on held-out songs.

A mean MAE over 5 held-out songs says nothing (issue 16 saw a model worse than the
baseline published that way). The rule:

* every held-out song with features gets one error per model — the mean absolute
  error over the dimensions it has targets for — so the models are compared **song by
  song** on the same songs (paired), which removes the songs' own difficulty from the
  comparison;
* the candidate must beat **both** the current model (when there is one) and the
  baseline predictor: the mean of ``error(reference) − error(candidate)`` must be
  positive with a one-sided paired z-statistic ≥ :data:`Z_PUBLISH` (1.645, the usual
  5 % level);
* with fewer than :data:`MIN_HELD_OUT` (20) held-out songs nothing is published: below
  about 20 pairs the normal approximation behind the statistic is not to be trusted.

When the candidate is better but not significantly so, the number of held-out songs
that would make the same mean difference significant is ``n·(Z/z)²`` (the statistic
grows with √n); since :data:`~sidflow_pipeline.training.train.HOLDOUT_FRACTION` of the
rated songs are held out, the listener needs about ``(that − n) / fraction`` more rated
songs. These constants come from the statistics, not from any collection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MIN_HELD_OUT", "Z_PUBLISH", "GateResult", "PairedComparison", "compare", "gate", "song_errors"]

MIN_HELD_OUT = 20
Z_PUBLISH = 1.645


def song_errors(
    predict: Callable[[list[Any]], Mapping[str, Any]], samples: Sequence[Any], features: Mapping[tuple[str, int], Any]
) -> dict[tuple[str, int], float]:
    """Per held-out song: mean |target − prediction| over the dimensions it has targets for."""
    usable = [s for s in samples if s.key in features and s.targets]
    if not usable:
        return {}
    predicted = predict([features[s.key] for s in usable])
    out = {}
    for i, s in enumerate(usable):
        errors = [abs(float(s.targets[d]) - float(np.asarray(predicted[d])[i])) for d in sorted(s.targets) if d in predicted]
        if errors:
            out[s.key] = sum(errors) / len(errors)
    return out


@dataclass(frozen=True)
class PairedComparison:
    name: str
    n: int
    mean_gain: float  # mean of error(reference) − error(candidate); > 0 = candidate better
    z: float

    @property
    def significant(self) -> bool:
        return self.n >= MIN_HELD_OUT and self.mean_gain > 0 and self.z >= Z_PUBLISH

    def songs_needed(self) -> int | None:
        """Held-out songs that would make this mean gain significant (None: no gain to confirm)."""
        if self.mean_gain <= 0:
            return None
        if self.z <= 0:
            return None
        return max(MIN_HELD_OUT, math.ceil(self.n * (Z_PUBLISH / self.z) ** 2))

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "meanGain": round(self.mean_gain, 4), "z": round(self.z, 3), "significant": self.significant}


def compare(name: str, candidate: Mapping[tuple[str, int], float], reference: Mapping[tuple[str, int], float]) -> PairedComparison:
    keys = sorted(set(candidate) & set(reference))
    gains = np.array([reference[k] - candidate[k] for k in keys], dtype=np.float64)
    if len(gains) == 0:
        return PairedComparison(name, 0, 0.0, 0.0)
    mean = float(gains.mean())
    sd = float(gains.std(ddof=1)) if len(gains) > 1 else 0.0
    z = mean / (sd / math.sqrt(len(gains))) if sd > 0 else (math.inf if mean > 0 else 0.0)
    return PairedComparison(name, len(gains), mean, z)


@dataclass(frozen=True)
class GateResult:
    publish: bool
    reason: str
    comparisons: tuple[PairedComparison, ...]
    more_ratings: int | None  # about how many more rated songs could change the answer (None: unknown)

    def to_json(self) -> dict[str, Any]:
        return {"publish": self.publish, "moreRatings": self.more_ratings, **{c.name: c.to_json() for c in self.comparisons}}


def gate(
    candidate: Mapping[tuple[str, int], float],
    references: Mapping[str, Mapping[tuple[str, int], float]],
    holdout_fraction: float,
) -> GateResult:
    """Whether to publish ``candidate`` given the per-song errors of each reference model."""
    comparisons = tuple(compare(name, candidate, errors) for name, errors in references.items())
    n = min((c.n for c in comparisons), default=len(candidate))
    if n < MIN_HELD_OUT:
        more: int | None = math.ceil((MIN_HELD_OUT - n) / holdout_fraction)
        return GateResult(
            False,
            f"only {n} held-out songs (at least {MIN_HELD_OUT} needed); about {more} more rated songs",
            comparisons,
            more,
        )
    failing = [c for c in comparisons if not c.significant]
    if not failing:
        text = ", ".join(f"{c.name} by {c.mean_gain:.3f} MAE/song (z {c.z:.2f})" for c in comparisons)
        return GateResult(True, f"beats {text} on {n} held-out songs", comparisons, 0)
    worst = failing[0]
    needed = [c.songs_needed() for c in failing]
    if any(x is None for x in needed):
        more = None
        hint = "more ratings are unlikely to change that"
    else:
        more = math.ceil((max(x for x in needed if x is not None) - n) / holdout_fraction)
        hint = f"about {more} more rated songs would make the difference significant"
    verb = "is not better than" if worst.mean_gain <= 0 else "is not significantly better than"
    return GateResult(
        False,
        f"candidate {verb} the {worst.name} on {worst.n} held-out songs"
        f" (gain {worst.mean_gain:+.3f} MAE/song, z {worst.z:.2f} < {Z_PUBLISH}); {hint}",
        comparisons,
        more,
    )
