from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidflow_pipeline.ratings.tags import (
    Rating,
    TagsError,
    iter_tags_files,
    rating_for_song,
    read_tags,
    tags_path_for,
    write_rating,
)


def test_legacy_s_is_read_as_e_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "a.sid.tags.json"
    path.write_text('{"s": 4, "m": 2, "source": "manual", "timestamp": "2025-01-01T00:00:00Z"}')
    ratings = read_tags(path)
    assert ratings[None] == Rating(e=4, m=2, timestamp="2025-01-01T00:00:00Z")
    write_rating(path, 1, 1, Rating(e=5, m=2, c=3, p=4, timestamp="2026-11-22T10:00:00Z"))
    data = json.loads(path.read_text())
    assert data == {"c": 3, "e": 5, "m": 2, "p": 4, "source": "manual", "timestamp": "2026-11-22T10:00:00Z"}
    assert "s" not in data
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_explicit_e_wins_over_legacy_s(tmp_path: Path) -> None:
    path = tmp_path / "x.sid.tags.json"
    path.write_text('{"e": 2, "s": 5}')
    assert read_tags(path)[None].e == 2


def test_multi_song_files_keep_other_songs(tmp_path: Path) -> None:
    path = tmp_path / "multi.sid.tags.json"
    write_rating(path, 2, 3, Rating(e=1))
    write_rating(path, 3, 3, Rating(p=5))
    ratings = read_tags(path)
    assert ratings[2].e == 1 and ratings[3].p == 5 and None not in ratings
    assert rating_for_song(ratings, 1) is None
    assert json.loads(path.read_text())["songs"].keys() == {"2", "3"}


def test_flat_file_applies_to_unrated_songs_of_multi_song_tune(tmp_path: Path) -> None:
    path = tmp_path / "old.sid.tags.json"
    path.write_text('{"s": 3}')
    write_rating(path, 2, 2, Rating(e=5))
    ratings = read_tags(path)
    assert rating_for_song(ratings, 2).e == 5  # type: ignore[union-attr]
    assert rating_for_song(ratings, 1).e == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [("{bad", "invalid JSON"), ("[1]", "expected a JSON object"), ('{"e": 9}', "must be 1–5"), ('{"songs": [1]}', "'songs' must be"),
     ('{"songs": {"x": {}}}', "bad song entry"), ('{"e": true}', "must be 1–5")],
)
def test_bad_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.sid.tags.json"
    path.write_text(text)
    with pytest.raises(TagsError, match=message) as info:
        read_tags(path)
    assert str(path) in str(info.value)


def test_paths_and_iteration(tmp_path: Path) -> None:
    assert tags_path_for("/MUSICIANS/A/b.sid", tmp_path / "hvsc", tmp_path / "tags") == tmp_path / "tags/MUSICIANS/A/b.sid.tags.json"
    assert tags_path_for("MUSICIANS/A/b.sid", tmp_path / "hvsc", None) == tmp_path / "hvsc/MUSICIANS/A/b.sid.tags.json"
    write_rating(tmp_path / "tags/Z/z.sid.tags.json", 1, 1, Rating(e=1))
    write_rating(tmp_path / "tags/A/a.sid.tags.json", 1, 1, Rating(e=2))
    assert [s for s, _ in iter_tags_files(tmp_path / "tags")] == ["A/a.sid", "Z/z.sid"]
    assert list(iter_tags_files(tmp_path / "missing")) == []
    assert not list((tmp_path / "tags").rglob("*.tmp"))
