"""Exported audio carries its song's tags, read back as a player reads them (mutagen)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from mutagen.flac import FLAC

from sidflow_pipeline.catalog.catalog import build_catalog, write_catalog
from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.radio.queue import m3u_lines, read_playlist
from sidflow_pipeline.sid.header import read_sid

pytestmark = pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")


@pytest.mark.parametrize("mastered", [False, True])
def test_flac_tags_name_the_song(tmp_path: Path, mastered: bool) -> None:
    root = write_demo_collection(tmp_path / "hvsc", version=1).root
    write_catalog(build_catalog(root).frame, tmp_path / "data" / "catalog" / "sid_catalog.parquet")
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data"}))
    tune = next(p for p in sorted(root.rglob("*.sid")) if read_sid(p).header.songs >= 2)
    header = read_sid(tune).header
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("\n".join(m3u_lines([(3, header.author, "Second Song", 2, str(tune))])) + "\n", encoding="utf-8")
    args = ["--config", str(config), "export-audio", str(playlist), str(tmp_path / "out"), "--preview", "1"]
    result = CliRunner().invoke(cli, [*args, *(["--master"] if mastered else [])])
    assert result.exit_code == 0, result.output
    (flac,) = sorted((tmp_path / "out").iterdir())
    tags = FLAC(flac)
    sid_path = "/" + tune.relative_to(root).as_posix()
    assert tags["ARTIST"] == [header.author] and tags["TITLE"] == ["Second Song"]
    assert tags["ALBUM"] == [header.released] and tags["DATE"] == [header.released[:4]]
    assert tags["TRACKNUMBER"] == ["2"] and tags["COMMENT"] == [sid_path]
    assert tags.info.sample_rate == 44100 and tags.info.channels == 2


def test_m3u_entries_read_back_by_the_radio(tmp_path: Path) -> None:
    playlist = tmp_path / "x.m3u8"
    playlist.write_text("\n".join(m3u_lines([(245, "Rob Hubbard", "Commando - High Score", 3, "/c/Commando.sid")])) + "\n")
    (item,) = read_playlist(playlist, tmp_path, 180)
    assert (item.composer, item.title, item.song_index, item.length_s) == ("Rob Hubbard", "Commando - High Score", 3, 245)
    old = tmp_path / "old.m3u8"  # an export from before: "#EXTINF:<s>,Title — Composer (song N)"
    old.write_text("#EXTM3U\n#EXTINF:60,Delta — Rob Hubbard (song 2)\n#SIDFLOW-SONG:2\n/d/Delta.sid\n")
    (item,) = read_playlist(old, tmp_path, 180)
    assert (item.composer, item.title, item.song_index) == ("Rob Hubbard", "Delta", 2)
