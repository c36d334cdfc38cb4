"""bench/similarity.py's measurement on designed vectors: the metric is right and the ablation runs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.similarity import composer_of, evaluate, random_metrics, rank_metrics
from sidflow_pipeline.lance.similarity import DEFAULT_SPEC
from sidflow_pipeline_tests.lance.test_similarity import _rows


def _keys(composers: int, files: int, subtunes: int = 1) -> list[tuple[str, int]]:
    return [
        (f"MUSICIANS/C/Composer_{c}/Tune_{f}.sid", s)
        for c in range(composers)
        for f in range(files)
        for s in range(1, subtunes + 1)
    ]


def test_perfect_vectors_score_one_and_own_subtunes_do_not_count() -> None:
    keys = _keys(4, 3, subtunes=2)
    composer = np.array([int(p.split("_")[1].split("/")[0]) for p, _ in keys])
    vectors = np.eye(4)[composer] + 0.01 * np.arange(len(keys))[:, None] / len(keys)
    metrics = rank_metrics(vectors, keys)
    assert metrics["queries"] == 12  # song 1 of each file
    assert metrics["ndcg@10"] == pytest.approx(1.0)
    # 2 other files × 2 subtunes are relevant; the query's own second subtune is not a hit.
    assert metrics["p@10"] == pytest.approx(0.4)
    assert composer_of("MUSICIANS/C/Composer_1/x.sid") == "MUSICIANS/C/Composer_1" and composer_of("GAMES/x.sid") is None


def test_wrong_vectors_score_zero_and_random_is_in_between() -> None:
    keys = _keys(4, 3)
    composer = np.array([int(p.split("_")[1].split("/")[0]) for p, _ in keys])
    # Each song points at the next composer's direction: every neighbour is someone else.
    vectors = np.eye(4)[(composer + 1) % 4] * np.where(np.arange(len(keys)) % 3 == 0, 1.0, -1.0)[:, None]
    assert rank_metrics(vectors, keys)["ndcg@10"] < 0.5
    chance = random_metrics(keys)
    assert 0.0 < chance["ndcg@10"] < 0.6 and chance["queries"] == 12


def test_every_ablation_of_the_chosen_vector_runs() -> None:
    features, sketches = _rows(36, 9)
    keys = _keys(6, 6)
    for block in DEFAULT_SPEC.blocks:
        for spec in (DEFAULT_SPEC.only([block]), DEFAULT_SPEC.without([block])):
            result = evaluate(spec, features, sketches, keys)
            assert 0.0 <= result["ndcg@10"] <= 1.0 and result["dimensions"] >= 1
