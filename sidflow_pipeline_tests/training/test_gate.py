"""The model gate: publish only a candidate that beats the current model and the baseline
song by song on enough held-out songs; otherwise say how many more ratings could help."""

from __future__ import annotations

import numpy as np

from sidflow_pipeline.training.gate import MIN_HELD_OUT, compare, gate


def _errors(values: np.ndarray) -> dict[tuple[str, int], float]:
    return {(f"S/{i}.sid", 1): float(v) for i, v in enumerate(values)}


def test_a_clearly_better_candidate_is_published() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 1.5, 60)
    verdict = gate(_errors(base - 0.2 + rng.normal(0, 0.05, 60)), {"current model": _errors(base), "baseline": _errors(base + 0.3)}, 0.2)
    assert verdict.publish and "beats current model" in verdict.reason and verdict.more_ratings == 0


def test_a_worse_candidate_is_refused() -> None:
    # issue 16: mean held-out MAE 0.752 vs the baseline's 0.70 was published
    rng = np.random.default_rng(2)
    base = rng.uniform(0.4, 1.0, 40)
    verdict = gate(_errors(base + 0.05), {"baseline": _errors(base)}, 0.2)
    assert not verdict.publish and "not better than the baseline" in verdict.reason and verdict.more_ratings is None


def test_beating_the_current_model_is_not_enough_if_the_baseline_is_better() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0.4, 1.0, 40)
    verdict = gate(_errors(base), {"current model": _errors(base + 0.3), "baseline": _errors(base - 0.1)}, 0.2)
    assert not verdict.publish and "baseline" in verdict.reason


def test_too_few_held_out_songs_and_how_many_more() -> None:
    base = np.linspace(0.5, 1.0, 5)
    verdict = gate(_errors(base - 0.3), {"baseline": _errors(base)}, 0.2)
    assert not verdict.publish and verdict.more_ratings == (MIN_HELD_OUT - 5) * 5
    assert "only 5 held-out songs" in verdict.reason


def test_a_small_noisy_gain_asks_for_more_ratings() -> None:
    rng = np.random.default_rng(4)
    base = rng.uniform(0.4, 1.0, 30)
    candidate = base - 0.02 + rng.normal(0, 0.15, 30)
    paired = compare("baseline", _errors(candidate), _errors(base))
    assert paired.mean_gain > 0 and not paired.significant
    verdict = gate(_errors(candidate), {"baseline": _errors(base)}, 0.2)
    assert not verdict.publish and verdict.more_ratings and verdict.more_ratings > 0
    assert "more rated songs would make the difference significant" in verdict.reason
