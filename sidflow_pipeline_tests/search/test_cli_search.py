"""`sidflow search`, `recommend --where` and the output forms, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import m3u8
import pytest

from sidflow_pipeline.config import load_config
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.recommend.engine import Recommender, RecommendRequest
from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
from sidflow_pipeline_tests.processes import SIDFLOW
from sidflow_pipeline_tests.project import write_config
from sidflow_pipeline_tests.search.fixture import SONGS, key, write_fixture


def _build_db(data: Path, likes: dict | None = None) -> None:
    rows = []
    for path in sorted((data / "classified").glob("*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    names = {SONGS[n][:2]: (SONGS[n][3], SONGS[n][4]) for n in SONGS}
    build_database(data / "sidflow.lance", rows, likes or {}, names, sources={"classified": "x", "feedback": "y"}, feedback_events=0)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "hvsc" / "C64Music").mkdir(parents=True)
    write_fixture(root / "data")
    _build_db(root / "data")
    return write_config(root / ".sidflow.json", root / "hvsc", root / "data")


def run(config: Path, *args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run([SIDFLOW, "--config", str(config), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("columns", [30, 50, 80, 120, 200])
def test_tables_never_exceed_columns(project: Path, columns: int) -> None:
    for args in (["search"], ["search", "composer:hubbard"], ["recommend", "--mood", "quiet", "--limit", "6"]):
        done = run(project, *args, columns=columns)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) >= 4 and max(len(line) for line in lines) <= columns, (args, done.stdout)
    wide = run(project, "search", "path:DEMOS", columns=columns).stdout
    assert "…" in wide  # the long composer and path are cut, not wrapped onto a second line
    assert sum("DEMOS" in line or "…" in line for line in wide.splitlines()[3:4]) == 1


def test_search_formats(project: Path) -> None:
    root = project.parent
    data = json.loads(run(project, "search", "composer:hubbard", "--format", "json").stdout)
    assert data["query"] == "composer:hubbard" and data["total"] == 3
    first = data["results"][0]
    assert set(first) == {
        "sid_path", "song_index", "songs", "composer", "title", "released", "year", "chip", "clock",
        "length_ms", "e", "m", "c", "p", "rated", "bpm", "file",
    }  # fmt: skip
    assert first["file"] == str(root / "hvsc" / "C64Music" / "MUSICIANS/H/Hubbard_Rob/Commando.sid")
    lines = run(project, "search", "composer:hubbard", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["song_index"] for line in lines] == [1, 2, 1]
    paths = run(project, "search", "composer:hubbard", "--format", "paths").stdout.splitlines()
    assert [Path(p).name for p in paths] == ["Commando.sid", "Delta.sid"]  # each file once
    limited = run(project, "search", "composer:hubbard", "--limit", "1")
    assert "1 of 3 songs" in limited.stdout
    negated = json.loads(run(project, "search", "composer:hubbard", "-song:1", "--format", "json").stdout)
    assert [r["song_index"] for r in negated["results"]] == [2]  # "-term" is a query term, not an option
    typo = run(project, "search", "composer:hubbard", "--limt", "1")
    assert typo.returncode == 2 and typo.stderr.startswith("error: no such option: --limt")


def test_m3u_reads_back_as_a_player_reads_it(project: Path, tmp_path: Path) -> None:
    text = run(project, "search", "composer:hubbard", "OR", "path:DEMOS", "--format", "m3u").stdout
    assert "#EXTINF:245,Rob Hubbard - Commando\n" in text
    playlist = m3u8.loads(text)
    segments = [(s.duration, s.title, Path(s.uri).name) for s in playlist.segments]
    assert segments == [
        (-1, "A Composer Whose Name Is Longer Than Any Column Should Be - <?>", SONGS["unknown"][0].rsplit("/", 1)[1]),
        (245, "Rob Hubbard - Commando", "Commando.sid"),
        (30, "Rob Hubbard - High Score", "Commando.sid"),
        (150, "Rob Hubbard - Delta", "Delta.sid"),
    ]
    assert [line for line in text.splitlines() if line.startswith("#SIDFLOW-SONG")] == [
        "#SIDFLOW-SONG:1", "#SIDFLOW-SONG:1", "#SIDFLOW-SONG:2", "#SIDFLOW-SONG:1",
    ]  # fmt: skip


def test_search_errors_are_one_line(project: Path, tmp_path: Path) -> None:
    for args, message in (
        (["search", "foo:1"], "error: unknown field 'foo'"),
        (["search", "(composer:a"], "error: a '(' is not closed"),
        (["recommend", "--mood", "quiet", "--where", "year:19"], "error: --where: year:19: 19 is outside"),
    ):
        done = run(project, *args)
        assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    empty = write_config(tmp_path / "empty.json", tmp_path / "hvsc", tmp_path / "data")
    done = run(empty, "search")
    assert done.returncode == 2 and "materialize sid_catalog" in done.stderr


def test_recommend_where_and_real_durations(project: Path) -> None:
    def keys(*args: str) -> list[str]:
        done = run(project, "recommend", "--mood", "quiet", "--limit", "10", "--format", "json", *args)
        assert done.returncode == 0, done.stderr
        return [f"{r['sid_path']}#{r['song_index']}" for r in json.loads(done.stdout)["results"]]

    assert set(keys()) == {key(n) for n in SONGS if n != "unknown"}
    assert set(keys("--where", "composer:hubbard")) == {key("commando1"), key("commando2"), key("delta")}
    assert set(keys("--where", "composer:hubbard year:1987 OR chip:8580")) == {key("delta"), key("parallax"), key("cybernoid")}
    assert keys("--where", "composer:nobody") == []
    # duration is the song's length (Songlengths), not the 20-second excerpt
    assert set(keys("--filters", "duration>=120")) == {key("commando1"), key("delta"), key("parallax")}
    assert set(keys("--filters", "duration=30")) == {key("commando2")}
    assert set(keys("--filters", "duration=90-160", "--where", "chip:6581")) == {key("delta")}
    result = json.loads(run(project, "recommend", "--mood", "quiet", "--format", "json", "--where", "title:delta").stdout)
    assert result["query"]["where"] == "title:delta" and result["results"][0]["length_ms"] == 150_000
    m3u = run(project, "recommend", "--mood", "quiet", "--format", "m3u", "--where", "title:delta").stdout
    assert "#EXTINF:150,Rob Hubbard - Delta" in m3u


def test_snapshot_answers_like_lancedb_and_follows_rebuilds(project: Path) -> None:
    layout = load_config(project).layout
    db, cache = layout.lance_db, layout.recommend_snapshot
    lance = Recommender(db)
    snapshot = SnapshotRecommender(db, cache, layout.catalog)
    for request in (
        RecommendRequest(vector=(1, 2, 1), limit=3, exploration=0.0),
        RecommendRequest(vector=(4, 4, 4, 4), limit=5, exploration=0.5, seed=3, diversity=0.5),
        RecommendRequest(vector=(3, 3, 3), limit=5, only=frozenset({key("delta"), key("parallax")})),
        RecommendRequest(like=SONGS["delta"][:2], limit=4, exploration=0.0),
        RecommendRequest(vector=(3, 3, 3), limit=5, unrated=True, exclude=frozenset({key("commando2")})),
    ):
        ours, theirs = snapshot.recommend(request), lance.recommend(request)
        assert [r.key for r in ours] == [r.key for r in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-6) and a.e == b.e and a.likes == b.likes
    stamp_before = cache.stat().st_mtime_ns
    _build_db(layout.data, {SONGS["parallax"][:2]: {"likes": 4, "dislikes": 0, "skips": 0, "plays": 4}})
    rebuilt = SnapshotRecommender(db, cache, layout.catalog)
    assert cache.stat().st_mtime_ns != stamp_before
    liked = [r for r in rebuilt.recommend(RecommendRequest(vector=(3, 3, 3), limit=5)) if r.key == key("parallax")]
    assert liked and liked[0].likes == 4
