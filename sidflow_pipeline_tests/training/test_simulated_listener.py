"""The station learns its listener: a hidden taste over audio features rates 60 % of a
generated collection; training must beat the baseline and improve recommendations.

Real pipeline end to end — generated SIDs, sidplayfp renders, Essentia/librosa
features, LightGBM, LanceDB — so it is marked slow (CI runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.defs.catalog import sid_catalog
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS, audio_features, classified, manual_ratings, wav_cache
from sidflow_pipeline.defs.feedback import feedback_aggregates, feedback_events, sidflow_lance
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.defs.training import rating_model
from sidflow_pipeline.ratings.tags import Rating, write_rating
from sidflow_pipeline.training.train import read_training_log
from sidflow_pipeline_tests.demo.generated import write_generated_collection
from sidflow_pipeline_tests.training.listener import Listener

pytestmark = pytest.mark.slow

SONGS = 240


def _run(config: Path, assets: list) -> dg.ExecuteInProcessResult:
    result = dg.materialize(assets, resources={"sidflow": SidflowConfigResource(config_path=str(config))}, tags=ALL_SECTIONS_TAGS)
    assert result.success
    return result


def _features(data: Path) -> dict[tuple[str, int], dict[str, float]]:
    out = {}
    for path in sorted((data / "features").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["features"] is not None:
                out[(row["sid_path"], row["song_index"])] = row["features"]
    return out


def _mean_taste(config: Path, vector: str, listener: Listener, features: dict, *extra: str) -> tuple[float, list[str]]:
    args = ["--config", str(config), "recommend", "--vector", vector, "--limit", "20", "--json", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    picks = json.loads(result.output)["results"]
    assert len(picks) == 20
    scores = [listener.score(features[(r["sid_path"], r["song_index"])], "p") for r in picks]
    return sum(scores) / len(scores), [r["key"] for r in picks]


def test_simulated_listener(tmp_path: Path) -> None:
    info = write_generated_collection(tmp_path / "hvsc", count=SONGS, seed=2026)
    assert info.songs >= 200
    config = tmp_path / "cfg.json"
    config.write_text(
        json.dumps(
            {
                "hvscPath": str(tmp_path / "hvsc"),
                "dataPath": "data",
                "tagsPath": "data/tags",
                "threads": 2,
                "render": {"excerptSeconds": 12, "introSkipSeconds": 4},
            }
        )
    )
    data = tmp_path / "data"
    _run(config, [sid_catalog, wav_cache, audio_features])
    features = _features(data)
    assert len(features) >= 200

    listener = Listener(features)
    rated = 0
    for i, key in enumerate(sorted(features)):
        if i % 5 < 3:  # 60 %
            songs = max(k[1] for k in features if k[0] == key[0])
            write_rating(data / "tags" / f"{key[0]}.tags.json", key[1], songs, Rating(**listener.rate(features[key])))
            rated += 1
    assert rated >= 0.6 * len(features) - 1

    # Before: the baseline rates every unrated song.
    _run(config, [manual_ratings, classified, feedback_events, feedback_aggregates, sidflow_lance])
    loved = [features[k] for k in features if listener.rate(features[k])["p"] >= 4]
    favourite = [sum(listener.rate(f)[d] for f in loved) / len(loved) for d in "emc"]
    vector = ",".join(f"{v:.2f}" for v in favourite) + ",5"
    before, _ = _mean_taste(config, vector, listener, features)
    before_new, _ = _mean_taste(config, vector, listener, features, "--unrated")

    _run(config, [manual_ratings, feedback_events, rating_model, classified, feedback_aggregates, sidflow_lance])
    entry = read_training_log(data / "training" / "training-log.jsonl")[-1]
    assert entry["published"] and entry["testSamples"] >= 20
    for dim in "emcp":
        model_mae, baseline_mae = entry["metrics"][dim]["mae"], entry["baseline"][dim]["mae"]
        assert model_mae <= 0.75 * baseline_mae, f"{dim}: model {model_mae} vs baseline {baseline_mae}"
    after, _ = _mean_taste(config, vector, listener, features)
    after_new, _ = _mean_taste(config, vector, listener, features, "--unrated")
    # Over all songs the top 20 are mostly songs the listener rated (60 % are, with the
    # exact values, before and after): retraining may swap a few of them for unrated
    # songs it now predicts well, so this list must not get worse (within 0.02 on the
    # 1-5 scale, measured 4.311 -> 4.300 with the trace features in the model)...
    assert after >= before - 0.02, f"mean hidden taste of recommendations: before {before:.3f}, after {after:.3f}"
    # ...while among songs the listener never rated, where the model's p is all there is
    # to go on, it must get clearly better.
    assert after_new > before_new + 0.3, f"unrated: before {before_new:.3f}, after {after_new:.3f}"

    # Retraining from the same data gives the same metrics.
    _run(config, [rating_model])
    again = read_training_log(data / "training" / "training-log.jsonl")[-1]
    # … which is not better than the published one, so it is kept (and the job still succeeds).
    assert again["metrics"] == entry["metrics"] and not again["published"] and "not better than the current model" in again["reason"]
    print(
        "\nheld-out MAE model/baseline: "
        + ", ".join(f"{d} {entry['metrics'][d]['mae']:.3f}/{entry['baseline'][d]['mae']:.3f}" for d in "emcp")
    )
    print(f"recommendation taste before {before:.3f} → after {after:.3f}; unrated {before_new:.3f} → {after_new:.3f}")
