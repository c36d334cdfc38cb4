"""Issue 20: a rating is what the listener said — partial ratings keep the rest,
Enter writes only the dimensions given, and undo puts the tags file back byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.ratings.tags import Rating, TagsError, undo_journal_for, undo_last, write_rating
from sidflow_pipeline_tests.processes import null_audio_home, spawn_sidflow


@pytest.fixture()
def collection(tmp_path: Path) -> tuple[Path, Path]:
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "tagsPath": "tags", "dataPath": "data", "classifiedPath": "data/classified"}))
    return config, null_audio_home(tmp_path)


def _sid(tmp_path: Path) -> tuple[Path, str]:
    sid = sorted((tmp_path / "hvsc" / "C64Music" / "MUSICIANS").rglob("*.sid"))[0]
    return sid, sid.relative_to(tmp_path / "hvsc" / "C64Music").as_posix()


def _entry(target: Path, song: int) -> dict[str, int]:
    data = json.loads(target.read_text())
    entry = data["songs"][str(song)] if "songs" in data else data
    return {k: v for k, v in entry.items() if k in "emcp"}


def _rate(config: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--config", str(config), "rate", *args])


def test_a_partial_rating_keeps_the_others(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = collection
    sid, rel = _sid(tmp_path)
    target = tmp_path / "tags" / f"{rel}.tags.json"
    first = _rate(config, str(sid), "--song", "1", "--e", "4", "--m", "2", "--c", "5")
    assert first.exit_code == 0, first.output
    assert _entry(target, 1) == {"e": 4, "m": 2, "c": 5}
    second = _rate(config, str(sid), "--song", "1", "--p", "4")
    assert second.exit_code == 0, second.output
    assert _entry(target, 1) == {"e": 4, "m": 2, "c": 5, "p": 4}
    # One line says what is pending for the model and how it gets picked up.
    assert "since the last training" in second.output or "no training yet" in second.output
    assert "sidflow train" in second.output
    third = _rate(config, str(sid), "--song", "1", "--e", "1")
    assert _entry(target, 1) == {"e": 1, "m": 2, "c": 5, "p": 4}, third.output


def test_undo_restores_the_file_byte_for_byte(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = collection
    sid, rel = _sid(tmp_path)
    target = tmp_path / "tags" / f"{rel}.tags.json"
    target.parent.mkdir(parents=True)
    legacy = b'{"s": 2, "note": "hand written"}'  # a legacy, hand-formatted file
    target.write_bytes(legacy)
    assert _rate(config, str(sid), "--song", "1", "--p", "5").exit_code == 0
    assert target.read_bytes() != legacy
    before_second = target.read_bytes()
    assert _rate(config, str(sid), "--song", "1", "--m", "1").exit_code == 0
    undone = _rate(config, "--undo")
    assert undone.exit_code == 0 and "undone" in undone.output, undone.output
    assert target.read_bytes() == before_second
    assert _rate(config, "--undo").exit_code == 0
    assert target.read_bytes() == legacy
    nothing = _rate(config, "--undo")
    assert nothing.exit_code == 0 and "nothing to undo" in nothing.output
    journal = tmp_path / "tags" / ".sidflow-rate-undo.jsonl"
    assert [json.loads(line)["op"] for line in journal.read_text().splitlines()] == ["rate", "rate", "undo", "undo"]


def test_undo_of_a_first_rating_removes_the_file_and_refuses_a_changed_file(tmp_path: Path) -> None:
    hvsc, tags = tmp_path / "hvsc", tmp_path / "tags"
    journal = undo_journal_for(hvsc, tags)
    target = tags / "A" / "x.sid.tags.json"
    write_rating(target, 2, 3, Rating(e=4), journal=journal)
    assert undo_last(journal) == (target, 2) and not target.exists()
    write_rating(target, 1, 1, Rating(p=3), journal=journal)
    target.write_text('{"p": 1}\n')  # edited by hand since
    with pytest.raises(TagsError, match="changed since that rating"):
        undo_last(journal)
    assert target.read_text() == '{"p": 1}\n'


@pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")
def test_enter_with_only_p_writes_only_p_and_u_takes_it_back(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, home = collection
    child = spawn_sidflow(config, home, "rate", "--path", "MUSICIANS/D/Demo_Composer")
    child.expect(r"\[1/\d+\] (\S+)  song (\d+)/")
    first = (child.match.group(1), int(child.match.group(2)))
    child.expect("saved: not rated yet")
    child.send("\r")
    child.expect("nothing given")
    child.send("p4")
    child.expect("p=4")
    child.send("\r")
    child.expect("saved p=4")
    target = tmp_path / "tags" / f"{first[0]}.tags.json"
    assert _entry(target, first[1]) == {"p": 4}
    child.expect(r"\[2/\d+\]")
    child.send("u")
    child.expect("undone")
    child.expect(r"\[1/\d+\] (\S+)  song (\d+)/")  # back to the song whose rating was taken back
    assert (child.match.group(1), int(child.match.group(2))) == first
    child.expect("saved: not rated yet")
    assert not target.exists() or str(first[1]) not in json.loads(target.read_text()).get("songs", {})
    child.send("e2\r")
    child.expect("saved e=2")
    child.expect(r"\[2/\d+\] (\S+)  song (\d+)/")
    child.send("q")
    child.expect(r"done: 1 saved, 0 skipped")
    child.expect("sidflow train")
    child.expect(pexpect.EOF)
    assert _entry(target, first[1]) == {"e": 2}


@pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")
def test_the_loop_shows_what_is_saved(collection: tuple[Path, Path], tmp_path: Path) -> None:
    config, home = collection
    sid, rel = _sid(tmp_path)
    assert _rate(config, str(sid), "--song", "1", "--c", "2", "--p", "5").exit_code == 0
    child = spawn_sidflow(config, home, "rate", "--path", rel)
    child.expect(r"\[1/\d+\]")
    child.expect(r"saved: c=2 p=5")
    child.send("q")
    child.expect(pexpect.EOF)


def test_an_unrated_dimension_stays_absent_downstream() -> None:
    """Training gets a target only for the dimensions given; classified marks the rest
    as predicted — a partial rating never turns into 3s."""
    from sidflow_pipeline.classify.classified import classify_rows
    from sidflow_pipeline.training.samples import build_samples

    key = ("MUSICIANS/A/x.sid", 1)
    [sample] = build_samples([key], {key[0]: {1: Rating(p=4)}}, [])
    assert sample.targets == {"p": 4.0} and set(sample.weights) == {"p"}
    rows, _ = classify_rows([{"sid_path": key[0], "song_index": 1, "features": None}], {key: Rating(e=2)})
    assert rows[0]["sources"] == {"e": "manual", "m": "predicted", "c": "predicted", "p": "predicted"}
    assert rows[0]["ratings"]["e"] == 2


def test_song_names_from_the_catalog(tmp_path: Path) -> None:
    """A song the catalog knows is a name to accept and to suggest, even before its file
    is on disk (the catalog is read instead of walking the collection)."""
    import polars as pl

    from sidflow_pipeline.sid.paths import SongPathError, collection_paths, resolve_song

    catalog = tmp_path / "catalog.parquet"
    pl.DataFrame({"sid_path": ["MUSICIANS/H/Hubbard_Rob/Commando.sid", "GAMES/A/Arkanoid.sid"]}).write_parquet(catalog)
    hvsc = tmp_path / "hvsc"
    assert collection_paths(hvsc, catalog) == ["GAMES/A/Arkanoid.sid", "MUSICIANS/H/Hubbard_Rob/Commando.sid"]
    ref = resolve_song("/MUSICIANS/H/Hubbard_Rob/Commando.sid#2", hvsc, catalog=catalog)
    assert (ref.sid_path, ref.song, ref.label) == ("MUSICIANS/H/Hubbard_Rob/Commando.sid", 2, "MUSICIANS/H/Hubbard_Rob/Commando.sid#2")
    with pytest.raises(SongPathError, match=r"nearest: /MUSICIANS/H/Hubbard_Rob/Commando.sid"):
        resolve_song("MUSICIANS/H/Hubard_Rob/Commando.sid", hvsc, catalog=catalog)
    with pytest.raises(SongPathError, match="nothing like it"):
        resolve_song("zzz", hvsc, known=list)
    with pytest.raises(SongPathError, match="empty song name"):
        resolve_song("  ", hvsc)


def test_undo_passes_over_a_cut_journal_line(tmp_path: Path) -> None:
    """A line cut by a killed writer (or a stray value) costs that one undo, not the journal."""
    journal = undo_journal_for(tmp_path / "hvsc", None)
    assert undo_last(journal) is None  # no journal yet
    target = tmp_path / "hvsc" / "A" / "x.sid.tags.json"
    write_rating(target, 1, 1, Rating(e=2), journal=journal)
    first = target.read_bytes()
    with journal.open("a") as f:
        f.write('{"op": "rate", "file": "cut\n[1]\n"undo"\n')
    write_rating(target, 1, 1, Rating(m=5), journal=journal)
    assert undo_last(journal) == (target, 1) and target.read_bytes() == first
    assert undo_last(journal) == (target, 1) and not target.exists()
    assert undo_last(journal) is None
