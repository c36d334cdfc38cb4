"""mastering_profiles, its validation check and the ratings sensor, through Dagster."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from sidflow_pipeline.config import load_config
from sidflow_pipeline.defs.mastering import (
    mastering_profiles,
    mastering_ratings_sensor,
    profiles_load_and_validate,
)
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.mastering.audio import write_audio
from sidflow_pipeline.mastering.loop import master_file, rate_file
from sidflow_pipeline.mastering.profiles import ensure_profiles, read_versions, write_versions
from sidflow_pipeline.mastering.signals import make_signal


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"dataPath": "data", "hvscPath": "hvsc"}))
    return config


def _resources(config: Path) -> dict:
    return {"sidflow": SidflowConfigResource(config_path=str(config))}


def test_profiles_are_seeded_analysed_and_validated(tmp_path: Path) -> None:
    config = _config(tmp_path)
    data = load_config(config).data_path
    result = dg.materialize([mastering_profiles], resources=_resources(config))
    assert result.success
    meta = result.asset_materializations_for_node("mastering_profiles")[0].metadata
    assert meta["ratings"].value == 0 and meta["current_versions"].value["studio"] == "1.0"
    assert (data / "profiles" / "versions.json").is_file() and (data / "mastering-feedback" / "patterns.json").is_file()

    # Ten ratings of one mastered file (the sidecar says what was applied), all asking
    # for less bass → a suggestion.
    audio = tmp_path / "noise.wav"
    write_audio(audio, make_signal("pink_noise", 44100, 3.0), 44100)
    mastered = master_file(audio, tmp_path / "noise.mastered.wav", data / "profiles")
    for i in range(10):
        rate_file(data / "mastering-feedback", mastered.output, 2 + i % 2, "too much bass, muddy")
    result = dg.materialize([mastering_profiles], resources=_resources(config))
    meta = result.asset_materializations_for_node("mastering_profiles")[0].metadata
    assert meta["ratings"].value == 10 and meta["suggestions"].value >= 1
    patterns = json.loads((data / "mastering-feedback" / "patterns.json").read_text())
    assert sum(t["samples"] for t in patterns["types"].values()) == 10
    summary = patterns["types"][mastered.profile.type]
    assert summary["analysed_samples"] == 10 and summary["unmastered_samples"] == 0

    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert check.passed and check.metadata["profiles_checked"].value == 8
    broken = data / "profiles" / "studio_v1.0.json"
    profile = json.loads(broken.read_text())
    profile["loudness"]["target_lufs"] = 12  # louder than digital full scale
    broken.write_text(json.dumps(profile))
    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert not check.passed and "studio_v1.0.json" in check.metadata["failures"].value


def test_unmastered_ratings_do_not_make_suggestions(tmp_path: Path) -> None:
    config = _config(tmp_path)
    data = load_config(config).data_path
    ensure_profiles(data / "profiles")
    audio = tmp_path / "noise.wav"
    write_audio(audio, make_signal("pink_noise", 44100, 3.0), 44100)
    for i in range(10):  # the same complaints as above, about audio no profile touched
        entry = rate_file(data / "mastering-feedback", audio, 2 + i % 2, "too much bass, muddy")
        assert entry["mastered"] is False and entry["profile_version"] is None and entry["parameters_applied"] is None
    result = dg.materialize([mastering_profiles], resources=_resources(config))
    meta = result.asset_materializations_for_node("mastering_profiles")[0].metadata
    assert meta["ratings"].value == 10 and meta["suggestions"].value == 0
    patterns = json.loads((data / "mastering-feedback" / "patterns.json").read_text())
    (summary,) = patterns["types"].values()
    assert summary["samples"] == 10 and summary["unmastered_samples"] == 10 and summary["analysed_samples"] == 0


def test_the_check_validates_every_version_not_just_the_current(tmp_path: Path) -> None:
    config = _config(tmp_path)
    profiles = load_config(config).data_path / "profiles"
    ensure_profiles(profiles)
    # studio v1.1 is current and fine; v1.0 (a rollback target) is broken on disk.
    current = json.loads((profiles / "studio_v1.0.json").read_text())
    newer = {**current, "version": "1.1", "parent_version": "1.0", "reason": "test"}
    (profiles / "studio_v1.1.json").write_text(json.dumps(newer))
    versions = read_versions(profiles)
    versions["types"]["studio"]["current"] = "1.1"
    versions["types"]["studio"]["history"].append({"version": "1.1", "file": "studio_v1.1.json", "reason": "test"})
    write_versions(profiles, versions)
    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert check.passed and check.metadata["profiles_checked"].value == 9
    older = json.loads((profiles / "studio_v1.0.json").read_text())
    older["eq"]["bass"]["gain_db"] = 40  # out of range
    (profiles / "studio_v1.0.json").write_text(json.dumps(older))
    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert not check.passed and list(check.metadata["failures"].value) == ["studio_v1.0.json"]
    assert "studio_v1.0.json" in check.description and check.metadata["profiles_checked"].value == 8
    # A version listed in versions.json but missing on disk fails too, by name.
    (profiles / "studio_v1.0.json").unlink()
    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert not check.passed and "no such profile file" in check.metadata["failures"].value["studio_v1.0.json"][0]


def test_sensor_runs_on_new_ratings_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    data = load_config(config).data_path
    context = dg.build_sensor_context(resources=_resources(config))
    assert "no mastering ratings yet" in mastering_ratings_sensor(context).skip_reason.skip_message
    ensure_profiles(data / "profiles")
    audio = tmp_path / "sweep.wav"
    write_audio(audio, make_signal("sine_sweep", 44100, 2.0), 44100)
    rate_file(data / "mastering-feedback", audio, 4)
    first = mastering_ratings_sensor(dg.build_sensor_context(resources=_resources(config)))
    assert len(first.run_requests) == 1
    again = mastering_ratings_sensor(dg.build_sensor_context(cursor=first.cursor, resources=_resources(config)))
    assert not again.run_requests and "no new" in again.skip_reason.skip_message
    rate_file(data / "mastering-feedback", audio, 5)
    third = mastering_ratings_sensor(dg.build_sensor_context(cursor=first.cursor, resources=_resources(config)))
    assert third.run_requests[0].run_key != first.run_requests[0].run_key


def test_the_check_warns_when_there_is_no_profile_folder(tmp_path: Path) -> None:
    config = _config(tmp_path)
    check = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("nothing to check: no profile files in ")
    ensure_profiles(load_config(config).data_path / "profiles")
    (load_config(config).data_path / "profiles" / "versions.json").unlink()
    broken = profiles_load_and_validate(dg.build_asset_check_context(resources=_resources(config)))
    assert not broken.passed and broken.severity == dg.AssetCheckSeverity.ERROR
