from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sidflow_pipeline.layout import PROFILE_VERSIONS
from sidflow_pipeline.mastering.detect import DETECTABLE_TYPES
from sidflow_pipeline.mastering.errors import ProfileError
from sidflow_pipeline.mastering.profiles import (
    PARAMETERS,
    ProfileVersion,
    current_version,
    default_profile_files,
    ensure_profiles,
    export_profiles,
    iter_profile_files,
    list_versions,
    load_profile,
    load_profile_file,
    parse_profile,
    profile_path,
    read_versions,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def profiles(tmp_path: Path) -> Path:
    directory = tmp_path / "profiles"
    ensure_profiles(directory)
    return directory


def studio_data() -> dict[str, Any]:
    return json.loads(default_profile_files()["studio_v1.0.json"])


def test_versions_compare_numerically() -> None:
    assert ProfileVersion.parse("v1.10") > ProfileVersion.parse("1.9")
    assert sorted(ProfileVersion.parse(v) for v in ["1.10", "1.9", "2.0", "1.2"]) == [
        ProfileVersion(1, 2), ProfileVersion(1, 9), ProfileVersion(1, 10), ProfileVersion(2, 0),
    ]  # fmt: skip
    assert str(ProfileVersion.parse("v1.10").next_minor()) == "1.11"
    assert ProfileVersion.parse(ProfileVersion(3, 4)) == ProfileVersion(3, 4)
    for bad in ("1", "1.x", "v", "1.2.3", ""):
        with pytest.raises(ProfileError, match="bad profile version"):
            ProfileVersion.parse(bad)


def test_list_versions_sorts_by_number(profiles: Path) -> None:
    for version in ("1.9", "1.10", "1.2"):
        data = {**studio_data(), "version": version}
        profile_path(profiles, "studio", version).write_text(json.dumps(data))
    assert [str(v) for v in list_versions(profiles, "studio")] == ["1.0", "1.2", "1.9", "1.10"]
    names = [p.name for p in iter_profile_files(profiles) if p.name.startswith("studio")]
    assert names == ["studio_v1.0.json", "studio_v1.2.json", "studio_v1.9.json", "studio_v1.10.json"]


def test_every_shipped_profile_is_valid_and_the_repo_copy_matches_the_package(profiles: Path) -> None:
    defaults = default_profile_files()
    for name, payload in defaults.items():
        assert (REPO / "data" / "profiles" / name).read_bytes() == payload if name != PROFILE_VERSIONS else True, name
    repo_versions = read_versions(REPO / "data" / "profiles")
    assert set(repo_versions["types"]) == set(json.loads(defaults[PROFILE_VERSIONS])["types"])
    for kind in DETECTABLE_TYPES:
        profile = load_profile(profiles, kind)
        assert profile.type == kind and profile.version == ProfileVersion(1, 0)
        assert set(profile.parameters()) == set(PARAMETERS)
        assert profile.path == profile_path(profiles, kind, "1.0")


def _break(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(studio_data())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["eq"]["bass"].update(gain_db=40.0), "'eq.bass.gain_db' = 40 is outside -12..12 dB"),
        (
            lambda d: d["loudness"].update(true_peak_ceiling_dbtp=0.5),
            "'loudness.true_peak_ceiling_dbtp' = 0.5 is outside",
        ),
        (lambda d: d["stereo"].update(width_factor=-1), "'stereo.width_factor' = -1 is outside 0..2"),
        (lambda d: d["eq"]["mid"].update(q=True), "'eq.mid.q' must be a number"),
        (lambda d: d["eq"]["mid"].update(q="wide"), "'eq.mid.q' must be a number"),
        (lambda d: d["eq"]["treble"].update(filter="peaking"), "'eq.treble.filter' must be \"high_shelf\""),
        (lambda d: d["eq"]["treble"].pop("q"), "missing required key 'eq.treble.q'"),
        (lambda d: d["eq"]["treble"].update(gain=1), "unknown key 'eq.treble.gain'"),
        (lambda d: d["eq"].update(bass=3), "'eq.bass' must be an object"),
        (lambda d: d.pop("limiter"), "missing required key 'limiter'"),
        (lambda d: d["limiter"].pop("release_ms"), "missing required key 'limiter.release_ms'"),
        (lambda d: d["limiter"].update(attack_ms=1), "unknown key 'limiter.attack_ms'"),
        (lambda d: d.update(stereo=[]), "'stereo' must be an object"),
        (lambda d: d.update(bass_gain=1), "unknown key 'bass_gain'"),
        (lambda d: d.update(type="Studio!"), "'type' must be a lower-case name"),
        (lambda d: d.update(version=1.0), "'version' must be a string"),
        (lambda d: d.update(version="one"), "bad profile version"),
        (lambda d: d.update(reason=3), "'reason' must be a string"),
    ],
)
def test_validation_errors_are_one_line(mutate: Any, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(_break(mutate), "studio_v1.0.json")
    assert message in str(info.value)
    assert str(info.value).startswith("studio_v1.0.json: ") and "\n" not in str(info.value)
    with pytest.raises(ProfileError, match="must be a JSON object"):
        parse_profile([], "x")


def test_file_errors(profiles: Path) -> None:
    broken = profiles / "studio_v1.5.json"
    broken.write_text("{ nope")
    with pytest.raises(ProfileError, match=r"studio_v1.5.json: invalid JSON at line 1"):
        load_profile_file(broken)
    misnamed = profiles / "metal_v1.0.json"
    misnamed.write_text(json.dumps(studio_data()))
    with pytest.raises(ProfileError, match=r"says studio v1.0 but is named for metal v1.0"):
        load_profile_file(misnamed)
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile_file(profiles / "nothing_v1.0.json")
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(profiles, "studio", "7.0")
    with pytest.raises(ProfileError, match="no profile for type 'jazz'"):
        current_version(profiles, "jazz")


def test_versions_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"versions.json: not found"):
        read_versions(tmp_path)
    (tmp_path / PROFILE_VERSIONS).write_text('{"types": {"studio": {"current": "x", "history": []}}}')
    with pytest.raises(ProfileError, match=r"types.studio.current: bad profile version"):
        read_versions(tmp_path)
    (tmp_path / PROFILE_VERSIONS).write_text('{"types": {"studio": {"current": "1.0"}}}')
    with pytest.raises(ProfileError, match="needs 'current' and a 'history' list"):
        read_versions(tmp_path)
    (tmp_path / PROFILE_VERSIONS).write_text("[]")
    with pytest.raises(ProfileError, match="expected an object with a 'types' object"):
        read_versions(tmp_path)


def test_ensure_profiles_seeds_and_never_overwrites(tmp_path: Path) -> None:
    directory = tmp_path / "fresh"
    written = ensure_profiles(directory)
    assert len(written) == len(DETECTABLE_TYPES) + 1
    assert ensure_profiles(directory) == []  # already complete
    # A tuned profile and a newer `current` survive; a type missing from versions.json is added back.
    tuned = profile_path(directory, "studio", "1.0")
    tuned.write_text(tuned.read_text().replace('"gain_db": 1.5', '"gain_db": 1.0'))
    versions = read_versions(directory)
    del versions["types"]["metal"]
    versions["types"]["studio"]["current"] = "1.0"
    (directory / PROFILE_VERSIONS).write_text(json.dumps(versions))
    profile_path(directory, "metal", "1.0").unlink()
    again = ensure_profiles(directory)
    assert {p.name for p in again} == {"metal_v1.0.json", PROFILE_VERSIONS}
    assert load_profile(directory, "studio").bass.gain_db == 1.0
    assert current_version(directory, "metal") == ProfileVersion(1, 0)


def test_export(profiles: Path, tmp_path: Path) -> None:
    data = {**studio_data(), "version": "1.1", "reason": "brighter"}
    data["eq"]["treble"]["gain_db"] = 2.5
    profile_path(profiles, "studio", "1.1").write_text(json.dumps(data))
    out = tmp_path / "dist"
    written, skipped = export_profiles(profiles, "v1.1", out)
    assert [p.name for p in written] == ["studio_v1.1.json", PROFILE_VERSIONS]
    assert "metal" in skipped
    assert load_profile(out, "studio").treble.gain_db == 2.5  # the export is a profiles folder
    assert read_versions(out)["types"]["studio"]["history"][0]["reason"] == "brighter"
    only, _ = export_profiles(profiles, "1.0", tmp_path / "one", ["metal"])
    assert [p.name for p in only] == ["metal_v1.0.json", PROFILE_VERSIONS]
    with pytest.raises(ProfileError, match=r"no profile has version 9.9"):
        export_profiles(profiles, "9.9", tmp_path / "none")
    with pytest.raises(ProfileError, match="no profile for type 'jazz'"):
        export_profiles(profiles, "1.0", tmp_path / "none", ["jazz"])
