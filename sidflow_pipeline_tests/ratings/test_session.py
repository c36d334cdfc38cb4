"""The rating session's pieces in-process: predictions, rated detection, the player's lifecycle."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from sidflow_pipeline.ratings.session import Player, RateSong, _is_rated, _predictions, collect_songs, describe
from sidflow_pipeline.ratings.tags import Rating, write_rating
from sidflow_pipeline_tests.processes import gone


def _song(tmp_path: Path, **overrides: object) -> RateSong:
    fields: dict[str, object] = {
        "sid_path": "MUSICIANS/A/Tester/Tune.sid",
        "song_index": 2,
        "songs": 3,
        "file": tmp_path / "Tune.sid",
        "title": "Tune",
        "author": "Tester",
        "released": "2026",
        "length_ms": 1500,
        "stil": {},
        "predicted": None,
    }
    fields.update(overrides)
    return RateSong(**fields)  # type: ignore[arg-type]


def _fake_player(tmp_path: Path, body: str) -> Path:
    """A stand-in for sidplayfp: a shell script whose behaviour the test chooses."""
    script = tmp_path / "fake-sidplayfp"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_predictions_skip_broken_lines_and_missing_folders(tmp_path: Path) -> None:
    assert _predictions(tmp_path / "absent") == {}
    (tmp_path / "A.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"sid_path": "A/x.sid", "song_index": 1, "ratings": {"e": 4.0}}),
                "{not json",
                json.dumps({"sid_path": "A/y.sid"}),  # no song_index / ratings
                json.dumps({"sid_path": "A/z.sid", "song_index": "two", "ratings": {}}),
            ]
        )
    )
    assert _predictions(tmp_path) == {("A/x.sid", 1): {"e": 4.0}}


def test_is_rated_reads_the_tags_root_then_beside_the_sid_and_ignores_corrupt_files(tmp_path: Path) -> None:
    hvsc, tags = tmp_path / "hvsc", tmp_path / "tags"
    (hvsc / "A").mkdir(parents=True)
    (hvsc / "A" / "x.sid").write_bytes(b"")
    assert not _is_rated(hvsc, tags, "A/x.sid", 1)
    write_rating(tags / "A" / "x.sid.tags.json", 1, 2, Rating(e=4, m=3, c=2, p=5, timestamp="2026-12-02T00:00:00Z"))
    assert _is_rated(hvsc, tags, "A/x.sid", 1)
    assert not _is_rated(hvsc, tags, "A/x.sid", 2)
    corrupt = tags / "A" / "x.sid.tags.json"
    corrupt.write_text("{broken")
    assert not _is_rated(hvsc, tags, "A/x.sid", 1)


def test_collect_songs_rejects_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        collect_songs(tmp_path, None, tmp_path / "classified", subdir="MUSICIANS/Nobody")


def test_describe_shows_stil_first_lines_and_predictions(tmp_path: Path) -> None:
    song = _song(tmp_path, stil={"comment": "First line.\nSecond line."}, predicted={"e": 4.0, "m": 2.5}, length_ms=None)
    lines = describe(song, 2, 9)
    assert lines[0] == "[2/9] MUSICIANS/A/Tester/Tune.sid  song 2/3"
    assert "length unknown" in lines[1]
    assert "  STIL comment: First line." in lines
    assert lines[-2:] == ["  predicted: e=4 m=2.5", "  saved: not rated yet"]
    from sidflow_pipeline.ratings.tags import Rating

    assert describe(song, 2, 9, Rating(p=4, timestamp="t"))[-1] == "  saved: p=4  (t)"


def test_without_a_binary_the_player_is_silent(tmp_path: Path) -> None:
    player = Player(None)
    assert not player.available and player.problem == "sidplayfp not found"
    assert player.play(_song(tmp_path)) is None
    assert player.pid is None


def test_a_player_that_fails_says_why_once_then_stays_quiet(tmp_path: Path) -> None:
    player = Player(_fake_player(tmp_path, 'echo "ALSA: no audio device" >&2; exit 1'))
    message = player.play(_song(tmp_path))
    assert message == "cannot play audio (ALSA: no audio device); rating without sound"
    assert player.play(_song(tmp_path)) is None and player.pid is None


def test_a_silent_failure_names_the_exit_status(tmp_path: Path) -> None:
    player = Player(_fake_player(tmp_path, "exit 3"))
    assert player.play(_song(tmp_path)) == "cannot play audio (sidplayfp exited with status 3); rating without sound"


def test_playing_passes_song_and_length_and_the_next_song_stops_the_last(tmp_path: Path) -> None:
    args = tmp_path / "args"
    player = Player(_fake_player(tmp_path, f'echo "$@" >> {args}; exec sleep 30'), default_seconds=7)
    assert player.play(_song(tmp_path)) is None
    first = player.pid
    assert first is not None
    assert player.play(_song(tmp_path, length_ms=None, song_index=3)) is None
    assert gone(first)
    player.stop()
    assert player.pid is None
    deadline = time.monotonic() + 5
    while len(args.read_text().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    first_args, second_args = args.read_text().splitlines()
    assert first_args.split()[:3] == ["-os2", "-t2", "-q"]
    assert second_args.split()[:3] == ["-os3", "-t7", "-q"]


def test_stop_kills_a_player_that_ignores_sigterm(tmp_path: Path) -> None:
    player = Player(_fake_player(tmp_path, "trap '' TERM; while :; do sleep 0.1; done"))
    assert player.play(_song(tmp_path)) is None
    pid = player.pid
    assert pid is not None
    started = time.monotonic()
    player.stop()
    assert gone(pid)
    assert 1.5 < time.monotonic() - started < 10  # waited for SIGTERM, then SIGKILL
    player.stop()  # nothing left to stop


def test_saved_rating_and_is_rated_agree_when_the_song_is_only_beside_the_sid(tmp_path: Path) -> None:
    """The tags root holds another song of the file; this song's rating is beside the SID."""
    from sidflow_pipeline.ratings.session import saved_rating

    hvsc, tags = tmp_path / "hvsc", tmp_path / "tags"
    (hvsc / "A").mkdir(parents=True)
    (hvsc / "A" / "x.sid").write_bytes(b"")
    write_rating(tags / "A" / "x.sid.tags.json", 1, 2, Rating(e=4, timestamp="2026-12-02T00:00:00Z"))
    write_rating(hvsc / "A" / "x.sid.tags.json", 2, 2, Rating(p=2, timestamp="2026-12-02T00:00:00Z"))
    shown = saved_rating(hvsc, tags, "A/x.sid", 2)
    assert shown is not None and shown.p == 2
    assert _is_rated(hvsc, tags, "A/x.sid", 2)
    assert saved_rating(hvsc, tags, "A/x.sid", 1).e == 4  # type: ignore[union-attr]
