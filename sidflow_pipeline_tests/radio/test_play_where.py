"""`sidflow play --where`: the radio plays only what a catalog search finds (in a pty)."""

from __future__ import annotations

from pathlib import Path

import pexpect

from sidflow_pipeline.demo.collection import demo_songs
from sidflow_pipeline_tests.processes import player_pid
from sidflow_pipeline_tests.radio.test_play import _song, _spawn, needs_sidplayfp, radio  # noqa: F401 - the fixture


@needs_sidplayfp
def test_where_keeps_the_radio_to_the_search(radio: tuple[Path, Path]) -> None:
    config, home = radio
    files: dict[str, int] = {}
    for sid_path, _song_index in demo_songs(1):
        files[sid_path] = files.get(sid_path, 0) + 1
    wanted = next(path for path, count in sorted(files.items()) if count >= 2)
    child = _spawn(config, home, "--mood", "quiet", "--limit", "10", "--where", f"path:{wanted}")
    child.expect(rf"SIDFlow radio — {files[wanted]} songs")
    for position in range(1, files[wanted] + 1):
        assert _song(child, position)[0] == wanted
        player_pid(child)
        child.send("n")
    child.expect(pexpect.EOF)
    nothing = _spawn(config, home, "--mood", "quiet", "--where", "composer:nobody-at-all")
    nothing.expect(pexpect.EOF)
    assert "error: no songs match this query" in nothing.before
