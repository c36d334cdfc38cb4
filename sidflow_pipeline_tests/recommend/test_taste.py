"""The listener's taste: evidence from every feedback song in the similarity space."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sidflow_pipeline.recommend import engine
from sidflow_pipeline.recommend.engine import _auc, seedless_similarity, taste_profile, taste_scores

DIM = 64


def _around(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    return centre + spread * rng.standard_normal((n, DIM))


def _profile(vectors: dict[str, np.ndarray], weights: dict[str, float]) -> engine.TasteProfile | None:
    live = SimpleNamespace(taste=weights)
    return taste_profile(live, lambda keys: {k: vectors[k] for k in keys if k in vectors})


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _clusters(seed: int) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray, np.ndarray]:
    """Liked songs in two opposite clusters (+a, −a), disliked in two others (+b, −b):
    a taste of clusters that no single direction separates. Returns the feedback songs
    and fresh candidates near the liked / the disliked clusters."""
    rng = np.random.default_rng(seed)
    a, b = np.eye(DIM)[0] * 3, np.eye(DIM)[1] * 3
    vectors: dict[str, np.ndarray] = {}
    weights: dict[str, float] = {}
    for name, centre, weight in (("la", a, 1.0), ("lb", -a, 1.0), ("da", b, -1.0), ("db", -b, -0.3)):
        for i, v in enumerate(_around(rng, centre, 6, 0.3)):
            vectors[f"{name}{i}"], weights[f"{name}{i}"] = v, weight
    near_liked = _unit(np.vstack([_around(rng, a, 10, 0.3), _around(rng, -a, 10, 0.3)]))
    near_disliked = _unit(np.vstack([_around(rng, b, 10, 0.3), _around(rng, -b, 10, 0.3)]))
    return vectors, weights, near_liked, near_disliked


def _direction(seed: int) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray, np.ndarray]:
    """Songs spread evenly; the listener likes those far along one direction (a taste over
    sound, e.g. bright and busy): no few neighbours show it, a linear model does."""
    rng = np.random.default_rng(seed)
    d = np.eye(DIM)[5]
    songs = _unit(rng.standard_normal((160, DIM)))
    along = songs @ d
    vectors = {f"s{i:03d}": v for i, v in enumerate(songs)}
    weights = {f"s{i:03d}": (1.0 if along[i] > 0.1 else -1.0 if along[i] < -0.0 else -0.3) for i in range(len(songs))}
    fresh = _unit(rng.standard_normal((400, DIM)))
    score = fresh @ d
    return vectors, weights, fresh[score > 0.2], fresh[score < -0.2]


@pytest.mark.parametrize("model", ["auto", "local", "global"])
def test_songs_near_liked_rank_above_songs_near_disliked(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "TASTE_MODEL", model)
    vectors, weights, near_liked, near_disliked = _clusters(1)
    profile = _profile(vectors, weights)
    assert profile is not None
    liked, disliked = taste_scores(near_liked, profile), taste_scores(near_disliked, profile)
    if model == "global":
        # A linear model cannot separate +a/−a from +b/−b: it must not pretend to.
        assert abs(float(liked.mean() - disliked.mean())) < 0.5
        return
    assert liked.min() > disliked.max()
    assert np.all(seedless_similarity(liked, profile) > 0.5) and np.all(seedless_similarity(disliked, profile) < 0.5)


def test_the_listeners_own_feedback_picks_the_view() -> None:
    vectors, weights, _, _ = _clusters(2)
    clusters = _profile(vectors, weights)
    assert clusters is not None and clusters.model == "local"
    assert clusters.local_auc is not None and clusters.global_auc is not None and clusters.local_auc > 0.9 > clusters.global_auc

    vectors, weights, liked_side, disliked_side = _direction(3)
    direction = _profile(vectors, weights)
    assert direction is not None
    assert direction.model == "global" and direction.coef is not None, (direction.local_auc, direction.global_auc)
    # the global view ranks fresh songs along the direction above those against it
    assert _auc(np.concatenate([taste_scores(liked_side, direction), taste_scores(disliked_side, direction)]),
                np.array([True] * len(liked_side) + [False] * len(disliked_side))) > 0.9  # fmt: skip


def test_little_evidence_uses_the_local_view_and_weights_count() -> None:
    rng = np.random.default_rng(4)
    a, b = np.eye(DIM)[0] * 3, np.eye(DIM)[1] * 3
    vectors = {"like": _around(rng, a, 1, 0.2)[0], "play": _around(rng, b, 1, 0.2)[0], "skip": _around(rng, -a, 1, 0.2)[0]}
    # two songs on one side, one on the other: too few to fit a model
    profile = _profile(vectors, {"like": 1.0, "play": 0.1, "skip": -0.3})
    assert profile is not None and profile.model == "local" and profile.coef is None
    assert profile.liked is not None and len(profile.liked) == 2 and profile.disliked is not None and len(profile.disliked) == 1
    assert _profile(vectors, {}) is None
    assert _profile(vectors, {"elsewhere": 1.0}) is None  # a song the database does not have


def test_auc_counts_ties_half() -> None:
    assert _auc(np.array([0.0, 1.0]), np.array([False, True])) == 1.0
    assert _auc(np.array([1.0, 0.0]), np.array([False, True])) == 0.0
    assert _auc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5
