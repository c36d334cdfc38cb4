"""Playlist reading and writing without a player: the error paths a user's file can hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidflow_pipeline.radio.queue import PlaylistError, QueueItem, export_text, load_lengths, read_playlist


def _item(tmp_path: Path) -> QueueItem:
    return QueueItem("A/x.sid#2", "A/x.sid", 2, "Tune", "Someone", 42, str(tmp_path / "hvsc" / "A" / "x.sid"), {}, 0.5)


def test_no_catalog_means_no_lengths(tmp_path: Path) -> None:
    assert load_lengths(tmp_path / "absent.parquet") == {}


def test_an_unknown_export_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'xspf'"):
        export_text([_item(tmp_path)], "xspf", {})


def test_an_own_m3u_reads_back_to_the_same_songs(tmp_path: Path) -> None:
    playlist = tmp_path / "q.m3u8"
    playlist.write_text(export_text([_item(tmp_path)], "m3u8", {}))
    [item] = read_playlist(playlist, tmp_path / "hvsc", 180)
    assert (item.sid_path, item.song_index, item.length_s, item.title, item.composer) == ("A/x.sid", 2, 42, "Tune", "Someone")


def test_a_foreign_m3u_with_relative_paths_and_no_durations(tmp_path: Path) -> None:
    playlist = tmp_path / "foreign.m3u"
    playlist.write_bytes("#EXTM3U\n# a comment\nelsewhere/y.sid\n#EXTINF:-1,Live stream\n/abs/z.sid\n".encode("latin-1"))
    first, second = read_playlist(playlist, tmp_path / "hvsc", 90.4)
    assert first.sid_path == str(tmp_path / "elsewhere" / "y.sid") and first.song_index == 1 and first.length_s == 90
    assert second.sid_path == "/abs/z.sid" and second.length_s == 90  # -1 = unknown length


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("#EXTM3U\n#EXTINF:abc,Title\nx.sid\n", r"q.m3u8:2: bad #EXTINF duration 'abc'"),
        ("#EXTM3U\n#SIDFLOW-SONG:two\nx.sid\n", r"q.m3u8:2: bad song number"),
        ("#EXTM3U\n#PLAYLIST:empty\n", r"no songs in this playlist"),
        ('{"version": 1, "songs": [{"key": 1}]}', r"not a sidflow playlist export"),
    ],
)
def test_broken_playlists_are_one_line(tmp_path: Path, content: str, message: str) -> None:
    playlist = tmp_path / "q.m3u8"
    playlist.write_text(content)
    with pytest.raises(PlaylistError, match=message):
        read_playlist(playlist, tmp_path, 180)


def test_an_unreadable_playlist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PlaylistError, match="cannot read"):
        read_playlist(tmp_path / "missing.m3u8", tmp_path, 180)
