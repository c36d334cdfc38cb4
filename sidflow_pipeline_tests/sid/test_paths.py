"""Issue 20: one way to name a song — every form resolves to the same song, and a name
that is no song is refused at once (before anything runs) with the nearest names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.sid.paths import SongPathError, collection_paths, resolve_song, split_song_number


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, Path, str]:
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "tagsPath": "tags", "dataPath": "data"}))
    root = tmp_path / "hvsc" / "C64Music"
    rel = sorted(p.relative_to(root).as_posix() for p in (root / "MUSICIANS").rglob("*.sid"))[0]
    return config, root, rel


def test_split_song_number() -> None:
    assert split_song_number("/A/b.sid#3") == ("/A/b.sid", 3)
    assert split_song_number("A/b.sid:2") == ("A/b.sid", 2)
    assert split_song_number("A/b.sid:2", colon=False) == ("A/b.sid:2", None)
    assert split_song_number("A/b#c.sid") == ("A/b#c.sid", None)
    assert split_song_number("A/b.sid") == ("A/b.sid", None)
    with pytest.raises(SongPathError, match="start at 1"):
        split_song_number("A/b.sid#0")
    with pytest.raises(SongPathError, match="song number after '#'"):
        split_song_number("A/b.sid#x")


def test_every_form_names_the_same_song(project: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, root, rel = project
    monkeypatch.chdir(root / Path(rel).parent)
    assert os.path.relpath(root / rel) == Path(rel).name
    monkeypatch.chdir(root / "MUSICIANS")
    forms = [
        f"/{rel}#2",  # as HVSC writes it
        f"{rel}#2",  # without the leading slash
        f"{rel}:2",  # the older :N form
        f"{root / rel}#2",  # absolute file
        f"{Path(rel).relative_to('MUSICIANS')}#2",  # relative to the working directory
        f"../{rel}#2",  # relative, climbing
    ]
    refs = [resolve_song(form, root) for form in forms]
    assert {(r.file.resolve(), r.sid_path, r.song) for r in refs} == {((root / rel).resolve(), rel, 2)}
    assert resolve_song(f"/{rel}", root).song is None


def test_a_missing_song_is_refused_with_the_nearest_names(project: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, root, rel = project
    typo = "/" + rel.replace(".sid", "x.sid")
    with pytest.raises(SongPathError) as err:
        resolve_song(typo, root)
    message = str(err.value)
    assert message.startswith(f"no such song: {typo}; nearest: /{rel}") and "\n" not in message
    outside = tmp_path / "elsewhere.sid"
    outside.write_bytes(b"x")
    assert resolve_song(str(outside), root).sid_path is None  # a file outside the collection is a file
    assert rel in collection_paths(root)
    with pytest.raises(SongPathError, match="not a SID file"):
        resolve_song(str(tmp_path), root)


def _run(config: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_commands_refuse_a_missing_song_before_anything_runs(project: tuple[Path, Path, str], tmp_path: Path) -> None:
    config, _, rel = project
    typo = "/" + rel.replace(".sid", "_.sid")
    for args in (
        ["info", typo],
        ["rate", typo, "--p", "4"],
        ["feedback", "like", typo],
        ["recommend", "--like", typo],
        ["play", "--like", typo],
    ):
        result = _run(config, *args)
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: no such song") and f"nearest: /{rel}" in lines[0], (args, result.output)
    assert not (tmp_path / "tags").exists() and not (tmp_path / "data").exists()  # nothing written, nothing ran


def test_commands_take_every_form(project: tuple[Path, Path, str], tmp_path: Path) -> None:
    config, root, rel = project
    for form in (f"/{rel}#1", f"{rel}#1", str(root / rel)):
        info = _run(config, "info", form, "--format", "json")
        assert info.exit_code == 0, info.output
        assert json.loads(info.output)["hvsc_path"] == "/" + rel
    single = json.loads(_run(config, "info", f"/{rel}#1", "--format", "json").output)
    assert [s["song_index"] for s in single["songs"]] == [1]
    for value, form in enumerate((f"/{rel}#1", f"{rel}:1", str(root / rel)), start=2):
        rated = _run(config, "rate", form, "--song", "1", "--p", str(value))
        assert rated.exit_code == 0, rated.output
    data = json.loads((tmp_path / "tags" / f"{rel}.tags.json").read_text())
    entry = data["songs"]["1"] if "songs" in data else data
    assert entry["p"] == 4  # all three wrote to the one song
