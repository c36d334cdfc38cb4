"""wav_cache → audio_features → classified on the generated demo collection (real
sidplayfp renders, real Essentia/librosa features), through Dagster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from scipy.stats import spearmanr

from sidflow_pipeline.catalog.catalog import build_catalog
from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings, wav_cache
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.demo.collection import demo_songs, write_demo_collection
from sidflow_pipeline.sid.header import rewrite_header
from sidflow_pipeline_tests.project import write_config

ASSETS = [sid_catalog, wav_cache, audio_features, manual_ratings, classified]
RANK = {"slow": 0, "quiet": 0, "dark": 0, "medium": 1, "fast": 2, "loud": 2, "bright": 2}


def _config(tmp: Path, hvsc: Path, data: str = "data") -> Path:
    return write_config(tmp / f"{data}.sidflow.json", hvsc, data)


def run_pipeline(config: Path, selection: list[Any] | None = None) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        selection or ASSETS,
        resources={"sidflow": SidflowConfigResource(config_path=str(config))},
        tags=ALL_SECTIONS_TAGS,
    )
    assert result.success
    return result


def read_classified(folder: Path) -> dict[tuple[str, int], dict[str, Any]]:
    rows = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[(row["sid_path"], row["song_index"])] = row
    return rows


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dg.ExecuteInProcessResult]:
    tmp = tmp_path_factory.mktemp("classify")
    write_demo_collection(tmp / "hvsc", version=2)
    config = _config(tmp, tmp / "hvsc")
    return tmp, config, run_pipeline(config)


def test_every_demo_song_is_classified_with_metrics(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    tmp, _config_path, result = demo
    rows = read_classified(tmp / "data" / "classified")
    assert set(rows) == set(demo_songs(2))
    for row in rows.values():
        assert set(row["ratings"]) == {"e", "m", "c", "p"}
        assert all(1 <= v <= 5 for v in row["ratings"].values())
        assert set(row["sources"].values()) == {"predicted"} and row["predictor"] == "baseline-1"
        assert row["features"]["duration"] > 0 and "onsetRate" in row["features"] and "sidModel8580" in row["features"]
    render_meta = result.asset_materializations_for_node("wav_cache")[0].metadata
    assert render_meta["songs"].value == len(rows) and render_meta["rendered"].value == len(rows)
    assert render_meta["statuses"].value == {"ok": len(rows)}
    assert render_meta["songs_per_second"].value > 0
    assert (tmp / "data" / "classified" / "auto-tags").is_dir()


def test_feature_rows_carry_the_trace_features_and_fingerprint(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    from sidflow_pipeline.features import FEATURE_SET_VERSION, ROW_FEATURE_NAMES
    from sidflow_pipeline.features.trace import SKETCH_BUCKETS, SKETCH_FAMILIES, sketch_family

    tmp, _config_path, _result = demo
    rows = read_classified(tmp / "data" / "features")
    assert rows
    for (path, song), row in rows.items():
        assert row["featureSetVersion"] == FEATURE_SET_VERSION
        assert set(ROW_FEATURE_NAMES) <= set(row["features"]), path
        # The default backend (libsidplayfp) traces every song: every demo song plays notes.
        assert row["features"]["sidVoicesUsed"] >= 1 and row["features"]["sidGateRate"] > 0, (path, song)
        sketch = row["traceSketch"]
        assert sketch["buckets"] == SKETCH_BUCKETS and len(sketch["index"]) == len(sketch["share"])
        assert sketch_family(sketch, "instrument") and sketch_family(sketch, "noteProgram")
        assert max(sketch["index"]) < len(SKETCH_FAMILIES) * SKETCH_BUCKETS
    # The fingerprint stays out of the canonical classified rows.
    assert all("traceSketch" not in r for r in read_classified(tmp / "data" / "classified").values())


def test_energy_follows_design(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    tmp, _, _ = demo
    rows = read_classified(tmp / "data" / "classified")
    designs = demo_songs(2)
    design_energy, predicted = [], []
    for key, song in designs.items():
        design_energy.append(RANK[song.tempo_class] + RANK[song.loudness_class])
        predicted.append(rows[key]["ratings"]["e"])
    rho = spearmanr(design_energy, predicted).statistic
    assert rho > 0.6, f"Spearman rho {rho:.3f}"


def test_manual_ratings_override_dimension_by_dimension(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    tmp, config, _ = demo
    key = sorted(demo_songs(2))[0]
    tags = tmp / "data" / "tags" / f"{key[0]}.tags.json"
    tags.parent.mkdir(parents=True, exist_ok=True)
    songs = demo_songs(2)[key].tune.songs
    payload = {"s": 1, "m": 5, "source": "manual"}  # legacy 's' is energy
    tags.write_text(json.dumps(payload if len(songs) == 1 else {"songs": {str(key[1]): payload}}))
    run_pipeline(config, [classified, manual_ratings])
    row = read_classified(tmp / "data" / "classified")[key]
    assert row["ratings"]["e"] == 1 and row["ratings"]["m"] == 5
    assert row["sources"] == {"e": "manual", "m": "manual", "c": "predicted", "p": "predicted"}
    tags.unlink()
    run_pipeline(config, [classified, manual_ratings])


def test_touching_one_sid_rerenders_only_its_songs(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    tmp, config, _ = demo
    target = sorted((tmp / "hvsc" / "C64Music").rglob("*.sid"))[3]
    original = target.read_bytes()
    target.write_bytes(rewrite_header(original, name="Touched"))
    try:
        result = run_pipeline(config, [sid_catalog, wav_cache, audio_features])
        songs = len([k for k in demo_songs(2) if (tmp / "hvsc" / "C64Music" / k[0]) == target])
        meta = result.asset_materializations_for_node("wav_cache")[0].metadata
        assert meta["rendered"].value == songs and meta["reused"].value == meta["songs"].value - songs
        features_meta = result.asset_materializations_for_node("audio_features")[0].metadata
        assert features_meta["extracted"].value == songs
    finally:
        target.write_bytes(original)
        run_pipeline(config, [sid_catalog, wav_cache, audio_features])


def test_two_full_runs_are_byte_identical(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    tmp, _, _ = demo
    second = _config(tmp, tmp / "hvsc", data="data2")
    run_pipeline(second)
    for name in ("classified", "features"):
        first_files = {p.name: p.read_bytes() for p in sorted((tmp / "data" / name).glob("*.jsonl"))}
        second_files = {p.name: p.read_bytes() for p in sorted((tmp / "data2" / name).glob("*.jsonl"))}
        assert first_files and first_files == second_files
    shutil.rmtree(tmp / "data2")


@pytest.mark.hvsc_sample
def test_whole_sample_classifies_with_statuses(hvsc_sample: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, hvsc_sample)
    result = run_pipeline(config)
    meta = result.asset_materializations_for_node("wav_cache")[0].metadata
    statuses = meta["statuses"].value
    songs = build_catalog(hvsc_sample).frame.height
    assert sum(statuses.values()) == songs
    assert statuses.get("ok", 0) >= songs * 0.7
    assert set(statuses) - {"ok"}, "RSID/BASIC tunes without ROMs end with a status, not a crash"
    rows = read_classified(tmp_path / "data" / "classified")
    unclassified = result.asset_materializations_for_node("classified")[0].metadata["unclassified"].value
    assert len(rows) + unclassified == songs


def test_run_script_covers_every_partition() -> None:
    """The run command launches sidflow_full, whose own tags are the range over every section."""
    from sidflow_pipeline.definitions import defs
    from sidflow_pipeline.sections import PARTITION_KEYS

    script = (Path(__file__).resolve().parents[2] / "scripts" / "run.sh").read_text()
    assert "-j sidflow_full" in script
    tags = defs.resolve_job_def("sidflow_full").tags
    assert tags["dagster/asset_partition_range_start"] == PARTITION_KEYS[0]
    assert tags["dagster/asset_partition_range_end"] == PARTITION_KEYS[-1]
    assert ALL_SECTIONS_TAGS["dagster/asset_partition_range_end"] == PARTITION_KEYS[-1]


def test_trained_model_is_used_and_a_stale_one_refused(demo: tuple[Path, Path, dg.ExecuteInProcessResult]) -> None:
    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.layout import MODEL_METADATA
    from sidflow_pipeline.training.model import create_model, save_model, train_model
    from sidflow_pipeline.training.samples import Sample

    tmp, config, _ = demo
    rows = read_classified(tmp / "data" / "classified")
    features = {key: row["features"] for key, row in rows.items()}
    samples = [
        Sample(key[0], key[1], {"e": 5.0 if f["onsetRate"] > 3 else 1.0, "m": 2.0}, {"e": 1.0, "m": 1.0}, "manual")
        for key, f in features.items()
    ]
    model = train_model(create_model(num_boost_round=30), samples, features, feature_set_version=FEATURE_SET_VERSION)
    model.metadata["confidence"] = 0.7
    model_dir = tmp / "data" / "model"
    save_model(model, model_dir)
    meta = json.loads((model_dir / MODEL_METADATA).read_text())
    try:
        result = run_pipeline(config, [classified, manual_ratings])
        assert result.asset_materializations_for_node("classified")[0].metadata["predictor"].value == "lightgbm-lgbm-1.0"
        predicted = read_classified(tmp / "data" / "classified")
        assert {r["predictor"] for r in predicted.values()} == {"lightgbm-lgbm-1.0"}
        assert all(abs(r["ratings"]["m"] - 2.0) < 0.01 and r["ratings"]["p"] == 3.0 for r in predicted.values())
        # The model's confidence, lowered for songs with features far outside the training data.
        confidences = [r["confidence"] for r in predicted.values()]
        assert all(0 < c <= 0.7 for c in confidences) and max(confidences) == 0.7
        (model_dir / "model-metadata.json").write_text(json.dumps({**meta, "featureSetVersion": "old"}))
        with pytest.raises(dg.Failure, match="trained on feature set 'old'"):
            run_pipeline(config, [classified, manual_ratings])
    finally:
        shutil.rmtree(model_dir)
        run_pipeline(config, [classified, manual_ratings])
