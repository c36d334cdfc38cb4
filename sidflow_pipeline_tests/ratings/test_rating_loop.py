"""The rating loop without a terminal: keys in, saved ratings and moves through the songs out."""

from __future__ import annotations

from pathlib import Path

from sidflow_pipeline.ratings.session import Player, RateSong, RatingLoop
from sidflow_pipeline.ratings.tags import rating_for_song, read_tags, tags_path_for, undo_journal_for


def _songs(hvsc: Path) -> list[RateSong]:
    out = []
    for name in ("A.sid", "B.sid"):
        (hvsc / "MUSICIANS").mkdir(parents=True, exist_ok=True)
        (hvsc / "MUSICIANS" / name).write_bytes(b"")
        out.append(RateSong(f"MUSICIANS/{name}", 1, 2, hvsc / "MUSICIANS" / name, name, "Tester", "2026", 2000, {}, None))
    return out


def _loop(tmp_path: Path) -> RatingLoop:
    hvsc, tags = tmp_path / "hvsc", tmp_path / "tags"
    songs = _songs(hvsc)
    return RatingLoop(songs, Player(None), hvsc, tags, undo_journal_for(hvsc, tags), lambda: "2026-12-05T00:00:00Z")


def _feed(loop: RatingLoop, keys: str) -> list[tuple[str, str, bool]]:
    return [(s.kind, s.text, s.song_over) for s in (loop.feed(k) for k in keys)]


def test_enter_saves_only_the_dimensions_given_and_moves_on(tmp_path: Path) -> None:
    loop = _loop(tmp_path)
    assert loop.start() is None and loop.describe()[-1] == "  saved: not rated yet"
    steps = _feed(loop, "e4p5\r")
    target = tags_path_for("MUSICIANS/A.sid", tmp_path / "hvsc", tmp_path / "tags")
    assert steps == [
        ("pending", "e", False),
        ("set", "e=4  (e=4)", False),
        ("pending", "p", False),
        ("set", "p=5  (e=4 p=5)", False),
        ("saved", f"saved e=4 p=5 → {target}", True),
    ]
    rating = rating_for_song(read_tags(target), 1)
    assert rating is not None and rating.values() == {"e": 4, "p": 5}
    assert (loop.index, loop.saved, loop.skipped) == (1, 1, 0)
    loop.start()  # the next song starts with no keys given
    assert _feed(loop, "\r") == [("nothing-given", "nothing given — type e/m/c/p and a digit, or s to skip", False)]


def test_undo_takes_the_rating_back_and_returns_to_its_song(tmp_path: Path) -> None:
    loop = _loop(tmp_path)
    loop.start()
    _feed(loop, "m2\r")
    target = tags_path_for("MUSICIANS/A.sid", tmp_path / "hvsc", tmp_path / "tags")
    assert target.is_file() and loop.index == 1
    loop.start()
    kind, text, over = _feed(loop, "u")[0]
    assert (kind, over) == ("undone", True) and "MUSICIANS/A.sid" in text
    assert not target.exists()  # the rating created the file, so taking it back removes it
    assert (loop.index, loop.saved) == (0, 0)
    assert loop.describe()[-1] == "  saved: not rated yet"
    assert _feed(loop, "u") == [("nothing-to-undo", "nothing to undo", False)]


def test_skip_bad_keys_and_quit(tmp_path: Path) -> None:
    loop = _loop(tmp_path)
    loop.start()
    assert _feed(loop, "x") == [("invalid", "unknown key 'x' (h for help)", False)]
    assert _feed(loop, "e9") == [("pending", "e", False), ("invalid", "e needs a digit 1–5", False)]
    assert _feed(loop, "s") == [("skip", "skipped", True)]
    assert (loop.index, loop.skipped) == (1, 1) and not loop.done
    loop.start()
    step = loop.feed("")  # end of input quits
    assert (step.kind, step.song_over) == ("quit", True)
    assert loop.done and loop.saved == 0
