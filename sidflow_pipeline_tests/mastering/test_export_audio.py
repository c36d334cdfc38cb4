"""`sidflow export-audio --master` when the temp folder and DEST are different filesystems.

The mastered song is written in the system temp folder and then moved into DEST; a
rename across filesystems fails with EXDEV, which used to end in a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.mastering.audio import read_audio

pytestmark = pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")
REAL_REPLACE = os.replace


@pytest.fixture()
def playlist(tmp_path: Path) -> tuple[Path, Path]:
    """(config, an M3U of one demo SID file)."""
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data"}))
    first = sorted((tmp_path / "hvsc").rglob("*.sid"))[0]
    m3u = tmp_path / "one.m3u8"
    m3u.write_text(f"#EXTM3U\n#EXTINF:2,Demo\n{first}\n")
    return config, m3u


def _export(config: Path, m3u: Path, dest: Path) -> Result:
    args = ["--config", str(config), "export-audio", str(m3u), str(dest), "--master", "--preview", "2"]
    return CliRunner().invoke(cli, args)


def _exported(dest: Path) -> list[Path]:
    files = sorted(dest.iterdir())
    assert not [f for f in files if f.name.startswith(".")], "a temporary file was left in DEST"
    return files


def test_a_temp_folder_on_another_filesystem(playlist: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's temp folder")
    config, m3u = playlist
    with tempfile.TemporaryDirectory(dir=shm, prefix="sidflow-test-") as other:
        monkeypatch.setattr(tempfile, "tempdir", other)  # export-audio's temp folder: on tmpfs
        result = _export(config, m3u, tmp_path / "dest")
    assert result.exit_code == 0, result.output
    (flac,) = _exported(tmp_path / "dest")
    audio, sr = read_audio(flac)
    assert flac.suffix == ".flac" and sr == 44100 and audio.shape[1] == 2


def test_a_rename_refused_with_exdev_falls_back_to_a_copy(
    playlist: tuple[Path, Path], tmp_path: Path, monkeypatch
) -> None:
    config, m3u = playlist
    dest = tmp_path / "dest"
    refused: list[str] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        # Only the move from the temp folder into DEST crosses "filesystems"; the
        # atomic writes inside one folder (temp file → final name) still work.
        if Path(dst).parent == dest and Path(src).parent != dest and not refused:
            refused.append(str(src))
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
        REAL_REPLACE(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = _export(config, m3u, dest)
    assert result.exit_code == 0, result.output
    assert len(refused) == 1 and not Path(refused[0]).exists()  # the temp file was moved, not left
    (flac,) = _exported(dest)
    assert read_audio(flac)[1] == 44100


def test_a_write_error_in_dest_is_one_line(playlist: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    config, m3u = playlist
    dest = tmp_path / "dest"

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).parent == dest:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        REAL_REPLACE(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = _export(config, m3u, dest)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: cannot export song 1 to ") and line.endswith("No space left on device")
    assert _exported(dest) == []
