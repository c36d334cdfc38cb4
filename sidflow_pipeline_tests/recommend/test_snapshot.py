"""The snapshot engine (numpy, what the CLI uses) gives LanceDB's lists on the same table."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.recommend.engine import DatabaseUnavailable, Recommender, RecommendRequest
from sidflow_pipeline.recommend.filters import QueryError, parse_filters
from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows


def test_same_lists_as_lancedb_on_random_requests(tmp_path: Path) -> None:
    rows = synthetic_rows(300, seed=11)
    for i, row in enumerate(rows[:100]):  # integer ratings, as manual ones are: many exact ties
        row["ratings"] = {d: float(1 + (i * (j + 2)) % 5) for j, d in enumerate("emcp")}
    db = tmp_path / "sidflow.lance"
    feedback = {(rows[5]["sid_path"], rows[5]["song_index"]): {"likes": 2, "dislikes": 0, "skips": 1, "plays": 3}}
    build_database(db, rows, feedback, {}, sources={"classified": "x", "feedback": "y"}, feedback_events=0)
    lance, snapshot = Recommender(db), SnapshotRecommender(db, tmp_path / "snapshot.npz")
    rnd = random.Random(5)
    for _ in range(60):
        options: dict = {
            "limit": rnd.choice([1, 5, 20]), "exploration": rnd.choice([0.0, 0.3]), "diversity": rnd.choice([0.0, 0.4]),
            "seed": rnd.randint(0, 5), "k": rnd.choice([5, 21, 100]),
        }  # fmt: skip
        pick = rnd.random()
        if pick < 0.7:
            options["vector"] = tuple(rnd.choice([1, 2, 3, 4, 5, 2.5]) for _ in range(rnd.choice([3, 4])))
        else:
            row = rnd.choice(rows)
            options["like"] = (row["sid_path"], row["song_index"])
        if rnd.random() < 0.3:
            options["filters"] = parse_filters(rnd.choice(["e>=3", "c=4", "p!=3,bpm=100-160", "m<3"]))
        if rnd.random() < 0.2:
            options["unrated"] = True
        if rnd.random() < 0.2:
            options["only"] = frozenset(f"{r['sid_path']}#{r['song_index']}" for r in rnd.sample(rows, 150))
        request = RecommendRequest(**options)
        ours, theirs = snapshot.recommend(request), lance.recommend(request)
        assert [r.key for r in ours] == [r.key for r in theirs], options
        for a, b in zip(ours, theirs, strict=True):
            # rating-space distances agree exactly; cosine ones to float32 rounding
            assert a.score == pytest.approx(b.score, abs=1e-6) and (a.e, a.p, a.likes, a.title) == (b.e, b.p, b.likes, b.title)


def test_errors_match_the_engine(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="materialize sidflow_lance"):
        SnapshotRecommender(tmp_path / "none.lance", tmp_path / "s.npz")
    db = tmp_path / "sidflow.lance"
    build_database(db, synthetic_rows(20, seed=1), {}, {}, sources={"classified": "x", "feedback": "y"}, feedback_events=0)
    snapshot = SnapshotRecommender(db, tmp_path / "s.npz")
    with pytest.raises(QueryError, match="not in the song database"):
        snapshot.recommend(RecommendRequest(like=("NOPE/x.sid", 1)))
    with pytest.raises(QueryError, match="duration filters are song lengths"):
        RecommendRequest(vector=(1, 1, 1), filters=parse_filters("duration>=60"))
    assert snapshot.recommend(RecommendRequest(vector=(1, 1, 1), only=frozenset())) == []
    (tmp_path / "s.npz").write_bytes(b"garbage")  # a broken snapshot is rebuilt, not trusted
    assert SnapshotRecommender(db, tmp_path / "s.npz").size == 20
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the snapshot cannot be written under a file: answered from memory
    assert len(SnapshotRecommender(db, blocked / "s.npz").recommend(RecommendRequest(vector=(3, 3, 3), limit=4))) == 4

