"""Feedback counts at once: the log is read at query time, no rebuild needed."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.feedback.log import append_event
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.recommend.engine import Recommender, RecommendRequest
from sidflow_pipeline.recommend.live import DISLIKE_DAYS, live_feedback
from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
from sidflow_pipeline_tests.faults.helpers import put_sid
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows


def _build(db: Path, rows: list[dict[str, Any]]) -> None:
    names = {(r["sid_path"], r["song_index"]): (r["sid_path"].split("/")[2], f"Title {i}") for i, r in enumerate(rows)}
    build_database(db, rows, {}, names, sources={"classified": "x", "feedback": "y"}, feedback_events=0)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return synthetic_rows(200, seed=3)


@pytest.fixture()
def db(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "data" / "sidflow.lance"
    _build(path, rows)
    return path


def _keys(results: list) -> list[str]:
    return [r.key for r in results]


def test_like_lifts_and_dislike_removes_without_rebuild(tmp_path: Path, db: Path) -> None:
    snapshot = SnapshotRecommender(db, tmp_path / "s.npz")
    feedback = tmp_path / "data" / "feedback"
    base = RecommendRequest(vector=(3, 3, 3), limit=20, exploration=0.0, diversity=0.0)
    before = snapshot.recommend(base)
    liked, disliked = before[10], before[0]
    append_event(feedback, liked.sid_path, "like", song_index=liked.song_index)
    append_event(feedback, disliked.sid_path, "dislike", song_index=disliked.song_index)
    live = live_feedback(feedback)
    assert disliked.key in live.blocked and live.events == 2
    after = snapshot.recommend(RecommendRequest(vector=(3, 3, 3), limit=20, exploration=0.0, diversity=0.0, live=live))
    assert disliked.key not in _keys(after)
    assert _keys(after).index(liked.key) < 10
    assert after[_keys(after).index(liked.key)].likes == 1  # the live count, not the table's 0
    # a later like lifts the block at once
    append_event(feedback, disliked.sid_path, "like", song_index=disliked.song_index)
    again = snapshot.recommend(RecommendRequest(vector=(3, 3, 3), limit=20, exploration=0.0, diversity=0.0, live=live_feedback(feedback)))
    assert disliked.key in _keys(again)


def test_an_old_dislike_only_sinks(tmp_path: Path) -> None:
    feedback = tmp_path / "fb"
    old = datetime.now(UTC) - timedelta(days=DISLIKE_DAYS + 1)
    append_event(feedback, "A/b.sid", "dislike", when=old)
    live = live_feedback(feedback)
    assert live.blocked == frozenset() and live.counts["A/b.sid#1"] == (0, 1, 0, 0)


def test_both_engines_agree_with_live_feedback_and_without_seed(tmp_path: Path, db: Path, rows: list[dict[str, Any]]) -> None:
    feedback = tmp_path / "data" / "feedback"
    rnd = random.Random(2)
    for row in rnd.sample(rows, 30):
        append_event(feedback, row["sid_path"], rnd.choice(["like", "dislike", "skip", "play"]), song_index=row["song_index"])
    live = live_feedback(feedback)
    lance, snapshot = Recommender(db), SnapshotRecommender(db, tmp_path / "s.npz")
    for options in (
        {"vector": (4, 2, 3)},
        {"like": (rows[0]["sid_path"], rows[0]["song_index"])},
        {},
        {"exploration": 0.0},
    ):
        request = RecommendRequest(limit=15, live=live, **options)
        ours, theirs = snapshot.recommend(request), lance.recommend(request)
        assert _keys(ours) == _keys(theirs), options
        assert not set(_keys(ours)) & live.blocked
        for a, b in zip(ours, theirs, strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-5)


def test_no_seed_follows_taste(tmp_path: Path, db: Path, rows: list[dict[str, Any]]) -> None:
    snapshot = SnapshotRecommender(db, tmp_path / "s.npz")
    assert len(snapshot.recommend(RecommendRequest(limit=5))) == 5  # no feedback at all: p + exploration
    seed = rows[7]
    neighbours = snapshot.recommend(RecommendRequest(like=(seed["sid_path"], seed["song_index"]), limit=10, exploration=0.0, diversity=0.0))
    feedback = tmp_path / "data" / "feedback"
    append_event(feedback, seed["sid_path"], "like", song_index=seed["song_index"])
    mine = snapshot.recommend(RecommendRequest(limit=10, exploration=0.0, diversity=0.0, live=live_feedback(feedback)))
    assert len(set(_keys(mine)) & set(_keys(neighbours))) >= 5


def test_cli_dislike_then_recommend(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    runner = CliRunner()
    first = json.loads(runner.invoke(cli, ["--config", str(config), "recommend", "--mood", "bright", "--json", "--limit", "5"]).output)
    top = first["results"][0]
    # The tune exists in the collection (feedback refuses a song that is nowhere).
    put_sid(tmp_path / "hvsc" / "C64Music", top["sid_path"], songs=max(2, int(top["song_index"])))
    result = runner.invoke(cli, ["--config", str(config), "feedback", "dislike", top["sid_path"], "--song", str(top["song_index"])])
    assert result.exit_code == 0, result.output
    second = json.loads(runner.invoke(cli, ["--config", str(config), "recommend", "--mood", "bright", "--json", "--limit", "5"]).output)
    assert top["sid_path"] not in [r["sid_path"] for r in second["results"] if r["song_index"] == top["song_index"]]
    mine = runner.invoke(cli, ["--config", str(config), "recommend", "--json", "--limit", "5"])
    assert mine.exit_code == 0 and len(json.loads(mine.output)["results"]) == 5


def test_feedback_before_a_rename_counts_under_the_new_path(tmp_path: Path) -> None:
    """As the database's aggregates do: the HVSC move log maps old paths to current ones."""
    from sidflow_pipeline.hvsc.moves import read_moves

    feedback, hvsc = tmp_path / "fb", tmp_path / "hvsc"
    hvsc.mkdir()
    (hvsc / "path-moves.jsonl").write_text(json.dumps({"from": "/A/old.sid", "to": "/B/new.sid"}) + "\n")
    append_event(feedback, "A/old.sid", "dislike")
    append_event(feedback, "B/new.sid", "like", song_index=2)
    live = live_feedback(feedback, moves=read_moves(hvsc))
    assert live.counts == {"B/new.sid#1": (0, 1, 0, 0), "B/new.sid#2": (1, 0, 0, 0)}
    assert live.blocked == frozenset({"B/new.sid#1"})
