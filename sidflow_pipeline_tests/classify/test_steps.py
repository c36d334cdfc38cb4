"""The classification steps (classify/steps.py) without Dagster: what each writes per
section, what it reports, and the manual-ratings join."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidflow_pipeline.catalog.catalog import build_catalog, write_catalog
from sidflow_pipeline.classify.predict import load_calibration
from sidflow_pipeline.classify.steps import (
    CatalogMissingError,
    analyse_sections,
    catalog_rows,
    classify_sections,
    manual_ratings_for,
    manual_ratings_version,
    render_sections,
    write_per_partition,
)
from sidflow_pipeline.config import load_config
from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.features import FEATURE_SET_VERSION
from sidflow_pipeline.jsonl import read_jsonl_rows
from sidflow_pipeline.ratings.tags import Rating, write_rating
from sidflow_pipeline.training.model import load_predictor
from sidflow_pipeline_tests.project import write_config


def _features() -> dict[str, float]:
    return {name: values["center"] for name, values in load_calibration()["reference"].items()}


def _feature_row(sid_path: str, song: int, features: dict[str, float] | None) -> dict:
    return {"sid_path": sid_path, "song_index": song, "features": features, "featureSetVersion": "v", "status": "ok"}


def test_write_per_partition_splits_rows_and_empties_a_section_without_songs(tmp_path: Path) -> None:
    items = [("MUSICIANS/K/Karl/a.sid", 1), ("GAMES/A-F/Ace.sid", 2), ("MUSICIANS/K/Karl/b.sid", 1)]
    stale = tmp_path / "MUSICIANS_Z.jsonl"
    stale.write_text('{"sid_path": "MUSICIANS/Z/gone.sid"}\n')
    digest = write_per_partition(
        ["MUSICIANS/K", "GAMES/A-F", "MUSICIANS/Z"],
        items,
        lambda key: tmp_path / f"{key.replace('/', '_')}.jsonl",
        lambda item: {"sid_path": item[0], "song_index": item[1]},
        lambda item: item[0],
    )
    k_rows, _ = read_jsonl_rows(tmp_path / "MUSICIANS_K.jsonl")
    assert [r["sid_path"] for r in k_rows] == ["MUSICIANS/K/Karl/a.sid", "MUSICIANS/K/Karl/b.sid"]
    assert read_jsonl_rows(tmp_path / "GAMES_A-F.jsonl")[0] == [{"sid_path": "GAMES/A-F/Ace.sid", "song_index": 2}]
    assert stale.read_text() == ""  # a section that lost its songs keeps no stale rows
    again = write_per_partition(
        ["MUSICIANS/K", "GAMES/A-F", "MUSICIANS/Z"],
        items,
        lambda key: tmp_path / f"{key.replace('/', '_')}.jsonl",
        lambda item: {"sid_path": item[0], "song_index": item[1]},
        lambda item: item[0],
    )
    assert again == digest and len(digest) == 64


def test_manual_ratings_join_song_and_file_wide() -> None:
    rows = [_feature_row("A/x.sid", 1, None), _feature_row("A/x.sid", 2, None), _feature_row("B/y.sid", 3, None)]
    tags = {"A/x.sid": {None: Rating(p=2), 2: Rating(e=5)}, "C/z.sid": {1: Rating(p=5)}}
    assert manual_ratings_for(rows, tags) == {("A/x.sid", 1): Rating(p=2), ("A/x.sid", 2): Rating(e=5)}


def _project(tmp_path: Path) -> Path:
    config = write_config(tmp_path / ".sidflow.json", tmp_path / "hvsc", "data")
    (tmp_path / "hvsc").mkdir()
    return config


def test_classify_sections_writes_rows_and_auto_tags_per_section(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path))
    features = cfg.layout.features_dir
    features.mkdir(parents=True)
    k_rows = [_feature_row("MUSICIANS/K/Karl/a.sid", 1, _features()), _feature_row("MUSICIANS/K/Karl/b.sid", 1, None)]
    (features / "MUSICIANS_K.jsonl").write_text("".join(json.dumps(r) + "\n" for r in k_rows) + "{broken\n")
    (features / "GAMES_A-F.jsonl").write_text(json.dumps(_feature_row("GAMES/A-F/Ace.sid", 1, _features())) + "\n")
    write_rating(cfg.layout.tags / "MUSICIANS/K/Karl/a.sid.tags.json", 1, 1, Rating(e=5))
    (cfg.layout.tags / "MUSICIANS/K/Karl/broken.sid.tags.json").write_text("{not json")
    warnings: list[str] = []

    predictor = load_predictor(cfg.layout.model_dir, FEATURE_SET_VERSION)  # no model: the baseline
    outcome = classify_sections(cfg, ["MUSICIANS/K", "GAMES/A-F"], predictor, warnings.append)

    assert [r["sid_path"] for r in outcome.rows] == ["GAMES/A-F/Ace.sid", "MUSICIANS/K/Karl/a.sid"]
    assert outcome.skipped == 1 and outcome.bad_feature_lines == 1 and outcome.manual_songs == 1
    assert outcome.manual_dimensions == 1 and outcome.predictor == "baseline-1"
    assert len(warnings) == 1 and warnings[0].startswith("ignored tags file: ") and "broken.sid.tags.json" in warnings[0]
    k_out, _ = read_jsonl_rows(cfg.layout.classified_file("MUSICIANS_K"))
    assert [(r["sid_path"], r["ratings"]["e"], r["sources"]["e"]) for r in k_out] == [("MUSICIANS/K/Karl/a.sid", 5, "manual")]
    assert [r["sid_path"] for r in read_jsonl_rows(cfg.layout.classified_file("GAMES_A-F"))[0]] == ["GAMES/A-F/Ace.sid"]
    auto = sorted(p.relative_to(cfg.layout.auto_tags_dir).as_posix() for p in cfg.layout.auto_tags_dir.rglob("auto-tags.json"))
    assert outcome.auto_tags_files == len(auto) == 2 and auto[0].startswith("GAMES_A-F/") and auto[1].startswith("MUSICIANS_K/")
    # Same inputs, same files (the digest is the data version).
    assert classify_sections(cfg, ["MUSICIANS/K", "GAMES/A-F"], predictor).digest == outcome.digest


def test_manual_ratings_version_follows_the_effective_files(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path))
    empty = manual_ratings_version(cfg)
    write_rating(cfg.layout.tags / "MUSICIANS/K/Karl/a.sid.tags.json", 1, 1, Rating(p=4))
    one = manual_ratings_version(cfg)
    assert one != empty and len(one) == 16 and manual_ratings_version(cfg) == one
    write_rating(cfg.layout.tags / "MUSICIANS/K/Karl/a.sid.tags.json", 1, 1, Rating(p=5))
    assert manual_ratings_version(cfg) not in (empty, one)


def test_steps_need_the_catalog(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path))
    with pytest.raises(CatalogMissingError, match="materialize sid_catalog first"):
        catalog_rows(cfg, "MUSICIANS/K")
    with pytest.raises(CatalogMissingError):
        analyse_sections(cfg, ["MUSICIANS/K"])


def test_render_then_analyse_one_section_and_reuse_on_the_second_run(tmp_path: Path) -> None:
    """Real renders of one demo section: the index and features files are per section,
    and a second run reuses every render and every feature row."""
    config = _project(tmp_path)
    write_demo_collection(tmp_path / "hvsc", version=2)
    cfg = load_config(config)
    write_catalog(build_catalog(cfg.layout.hvsc_root).frame, cfg.layout.catalog)
    section = "MUSICIANS/K"
    songs = catalog_rows(cfg, section)
    assert songs and all(r["sid_path"].startswith("MUSICIANS/K/") for r in songs)
    lines: list[str] = []

    rendered = render_sections(cfg, [section], lines.append)
    assert len(rendered.records) == len(songs) and len(rendered.rendered) == len(songs)
    assert rendered.statuses == {"ok": len(songs)} and rendered.problems == []
    index, _ = read_jsonl_rows(cfg.layout.render_index_file("MUSICIANS_K"))
    assert [(r["sid_path"], r["song_index"]) for r in index] == [(r["sid_path"], r["song_index"]) for r in songs]

    features = analyse_sections(cfg, [section])
    assert features.extracted == len(songs) and features.reused == 0 and features.with_features == len(songs)
    assert read_jsonl_rows(cfg.layout.features_file("MUSICIANS_K"))[0] == features.rows

    again = render_sections(cfg, [section])
    assert again.rendered == [] and again.digest == rendered.digest
    features_again = analyse_sections(cfg, [section])
    assert features_again.reused == len(songs) and features_again.extracted == 0 and features_again.digest == features.digest
