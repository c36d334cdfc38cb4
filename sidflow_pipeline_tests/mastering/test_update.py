"""Profile updates: validation, versioning, git commits and rejections."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidflow_pipeline.layout import PROFILE_VERSIONS
from sidflow_pipeline.mastering.errors import MasteringError, ProfileError, UpdateRejected
from sidflow_pipeline.mastering.profiles import (
    ProfileVersion,
    current_version,
    ensure_profiles,
    load_profile,
    profile_path,
    read_versions,
)
from sidflow_pipeline.mastering.update import git_toplevel, update_profile, validate_profile

REPO_PROFILES = Path(__file__).resolve().parents[2] / "data" / "profiles"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def git_profiles(tmp_path: Path) -> Path:
    """A temporary git repository with the default profiles committed in data/profiles."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet")
    git(repo, "config", "user.name", "Mastering Test")
    git(repo, "config", "user.email", "mastering@test.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    profiles = repo / "data" / "profiles"
    ensure_profiles(profiles)
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "initial profiles")
    return profiles


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_validation_passes_for_every_shipped_profile() -> None:
    for kind in ("studio", "sid_digi"):
        checks = validate_profile(load_profile(REPO_PROFILES, kind))
        assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
        names = [c.name for c in checks]
        assert "eq treble at 8000 Hz" in names or "eq treble at 6000 Hz" in names
        assert any(n.endswith("deterministic") for n in names)
        assert any(n.startswith("sid_like 22050 Hz mono") for n in names)
        assert checks[0].to_json()["passed"] is True


def test_update_outside_git_records_history(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    assert git_toplevel(profiles) is None
    when = datetime(2026, 11, 17, 21, 35, tzinfo=UTC)
    result = update_profile(
        profiles, "studio", {"eq.bass.gain_db": 1.8, "eq.treble.gain_db": 1.8}, "user feedback", when=when
    )
    assert result.new_version == ProfileVersion(1, 1) and result.old_version == ProfileVersion(1, 0)
    assert result.commit is None and result.recorded_in == PROFILE_VERSIONS
    assert result.changes == {"eq.bass.gain_db": (1.5, 1.8), "eq.treble.gain_db": (2.0, 1.8)}
    assert all(c.passed for c in result.checks)
    new = load_profile(profiles, "studio")
    assert new.version == ProfileVersion(1, 1) and new.bass.gain_db == 1.8 and new.reason == "user feedback"
    assert new.data["parent_version"] == "1.0"
    assert new.data["changes"]["eq.bass.gain_db"] == {"from": 1.5, "to": 1.8}
    history = read_versions(profiles)["types"]["studio"]["history"]
    assert history[-1] == {
        "version": "1.1", "file": "studio_v1.1.json", "parent_version": "1.0", "reason": "user feedback",
        "changes": {"eq.bass.gain_db": {"from": 1.5, "to": 1.8}, "eq.treble.gain_db": {"from": 2.0, "to": 1.8}},
        "date": "2026-11-17T21:35:00.000Z", "recorded_in": PROFILE_VERSIONS,
    }  # fmt: skip
    assert load_profile(profiles, "studio", "1.0").bass.gain_db == 1.5  # the old file is untouched
    assert not list(profiles.glob(".*"))  # no temporary files left


def test_update_inside_git_commits_only_its_files(git_profiles: Path) -> None:
    repo = git_profiles.parents[1]
    (repo / "unrelated.txt").write_text("staged by someone else")
    git(repo, "add", "unrelated.txt")
    result = update_profile(git_profiles, "metal", {"eq.treble.gain_db": -1.5}, "feedback: treble -0.5")
    assert result.recorded_in == "git" and result.commit
    assert git(repo, "rev-parse", "HEAD").strip() == result.commit
    log = git(repo, "log", "--format=%s", "-n", "1")
    assert log.strip() == "mastering: metal profile v1.1 - feedback: treble -0.5"
    committed = set(git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert committed == {"data/profiles/metal_v1.1.json", "data/profiles/versions.json"}
    assert git(repo, "diff", "--cached", "--name-only").split() == ["unrelated.txt"]  # still staged, not committed
    assert git(repo, "status", "--porcelain", "data/profiles") == ""
    assert read_versions(git_profiles)["types"]["metal"]["history"][-1]["recorded_in"] == "git"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"eq.bass.gain_db": 40.0}, ProfileError, "'eq.bass.gain_db' = 40 is outside -12..12 dB"),
        ({"loudness.true_peak_ceiling_dbtp": 3.0}, ProfileError, "is outside -9..0 dBTP"),
        ({"eq.bass.colour": 1.0}, ProfileError, "unknown profile field 'eq.bass.colour'"),
        ({"eq.bass.gain_db": float("nan")}, ProfileError, "must be a finite number"),
        ({"eq.bass.gain_db": 1.5}, ProfileError, "already has those values"),
        # In range, but −5 LUFS under a −9 dBTP ceiling cannot be reached: validation rejects it.
        (
            {"loudness.target_lufs": -5.0, "loudness.true_peak_ceiling_dbtp": -9.0},
            UpdateRejected,
            "rejected: sine_sweep",
        ),
    ],
)
def test_a_rejected_update_leaves_nothing_behind(
    git_profiles: Path, changes: dict[str, float], error: type[Exception], message: str
) -> None:
    repo = git_profiles.parents[1]
    before = snapshot(git_profiles)
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(error) as info:
        update_profile(git_profiles, "studio", changes, "absurd")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert snapshot(git_profiles) == before
    assert git(repo, "rev-parse", "HEAD") == head
    assert current_version(git_profiles, "studio") == ProfileVersion(1, 0)


def test_a_failing_commit_undoes_the_update(git_profiles: Path) -> None:
    repo = git_profiles.parents[1]
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'profiles are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(git_profiles)
    with pytest.raises(MasteringError, match=r"git commit failed .*profiles are frozen; profile not updated"):
        update_profile(git_profiles, "studio", {"eq.bass.gain_db": 1.0}, "try")
    assert snapshot(git_profiles) == before
    assert git(repo, "status", "--porcelain") == ""


def test_ignored_profiles_are_recorded_not_committed(git_profiles: Path) -> None:
    repo = git_profiles.parents[1]
    (repo / ".gitignore").write_text("data/profiles/*_v1.1.json\n")
    result = update_profile(git_profiles, "studio", {"eq.mid.gain_db": -1.5}, "local tweak")
    assert result.commit is None and result.recorded_in == PROFILE_VERSIONS


def test_the_next_version_is_past_the_highest_file(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    update_profile(profiles, "studio", {"eq.bass.gain_db": 1.0}, "first")
    versions = read_versions(profiles)
    versions["types"]["studio"]["current"] = "1.0"  # a manual rollback
    (profiles / PROFILE_VERSIONS).write_text(json.dumps(versions))
    result = update_profile(profiles, "studio", {"eq.bass.gain_db": 2.0}, "second")
    assert result.new_version == ProfileVersion(1, 2) and result.old_version == ProfileVersion(1, 0)
    assert load_profile(profiles, "studio", "1.1").bass.gain_db == 1.0  # never overwritten


def test_update_needs_a_reason_and_a_change(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    with pytest.raises(ProfileError, match="say why"):
        update_profile(profiles, "studio", {"eq.bass.gain_db": 1.0}, "  ")
    with pytest.raises(ProfileError, match="nothing to change"):
        update_profile(profiles, "studio", {}, "why")
    with pytest.raises(ProfileError, match="no profile for type 'jazz'"):
        update_profile(profiles, "jazz", {"eq.bass.gain_db": 1.0}, "why")
    assert not profile_path(profiles, "studio", "1.1").exists()


def test_compare_versions_on_generated_signals(tmp_path: Path) -> None:
    from sidflow_pipeline.mastering.compare import compare_versions

    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    update_profile(profiles, "sid_8580", {"eq.treble.gain_db": -2.5}, "darker")
    result = compare_versions(profiles, "sid_8580", 3, seed=7)
    assert (str(result.old_version), str(result.new_version)) == ("1.0", "1.1")
    assert [row.track for row in result.rows] == ["sine_sweep #1", "pink_noise #2", "sid_like #3"]
    for row in result.rows:
        assert row.new.spectral_centroid_hz < row.old.spectral_centroid_hz  # less treble
        assert row.new.loudness_lufs == pytest.approx(load_profile(profiles, "sid_8580").target_lufs, abs=0.5)
    assert result.source == "generated signals"  # no ratings log asked for
    same = compare_versions(profiles, "sid_8580", 1, old="1.1", new="1.1")
    assert same.rows[0].old == same.rows[0].new
    assert same.to_json()["tracks"][0]["loudness_lufs"]["old"] == same.rows[0].old.loudness_lufs
    with pytest.raises(MasteringError, match="sample size must be at least 1"):
        compare_versions(profiles, "sid_8580", 0)


def _rate(feedback: Path, file: Path, kind: str) -> None:
    from sidflow_pipeline.mastering.ratings import append_rating, timestamp

    append_rating(feedback, {
        "timestamp": timestamp(), "file": str(file), "mastered_file": None, "mastered": False,
        "rating": 3, "comment": None, "detected_type": kind, "confidence": 0.9, "profile_version": None,
        "fingerprint": {}, "parameters_applied": None, "hints": {},
    })  # fmt: skip


def test_compare_versions_uses_the_rated_tracks_of_the_type(tmp_path: Path) -> None:
    """Without --files, "old vs new on N tracks" means the user's own tracks of that
    type: each rated file that still exists, once, a seeded sample of N."""
    import soundfile as sf

    from sidflow_pipeline.mastering.compare import compare_versions, rated_tracks
    from sidflow_pipeline_tests.mastering.synthetic import SR, metal_like, studio_like

    profiles, feedback, music = tmp_path / "profiles", tmp_path / "feedback", tmp_path / "music"
    ensure_profiles(profiles)
    update_profile(profiles, "studio", {"eq.bass.gain_db": 0.0}, "less bass")
    music.mkdir()
    studio_files = []
    for index in range(4):
        path = music / f"studio{index}.wav"
        sf.write(str(path), studio_like(2.0, seed=index + 1), SR, subtype="PCM_24")
        studio_files.append(path)
        _rate(feedback, path, "studio")
    _rate(feedback, studio_files[0], "studio")  # rated twice: still one track
    metal = music / "metal.wav"
    sf.write(str(metal), metal_like(2.0), SR, subtype="PCM_24")
    _rate(feedback, metal, "metal")  # another type
    _rate(feedback, music / "deleted.wav", "studio")  # no longer on disk
    (music / "notes.txt").write_text("not audio")
    _rate(feedback, music / "notes.txt", "studio")

    assert rated_tracks(feedback, "studio", 10) == studio_files
    picked = rated_tracks(feedback, "studio", 2, seed=3)
    assert len(picked) == 2 and set(picked) <= set(studio_files) and picked == sorted(picked)
    assert rated_tracks(feedback, "studio", 2, seed=3) == picked  # the seed decides
    assert {tuple(rated_tracks(feedback, "studio", 2, seed=s)) for s in range(10)} != {tuple(picked)}

    result = compare_versions(profiles, "studio", 2, feedback_dir=feedback, seed=3)
    assert result.source == f"rated studio tracks ({feedback / 'ratings.jsonl'})"
    assert [row.track for row in result.rows] == [str(path) for path in picked]
    target = load_profile(profiles, "studio").target_lufs
    for row in result.rows:
        assert row.new.bass_mid_ratio_db < row.old.bass_mid_ratio_db  # bass 1.5 → 0 dB
        assert row.new.loudness_lufs == pytest.approx(target, abs=0.5)
    assert result.to_json()["source"] == result.source
    # --files still wins over the ratings.
    on_folder = compare_versions(profiles, "studio", 1, files_dir=music, feedback_dir=feedback)
    assert on_folder.source == str(music) and on_folder.rows[0].track in {"metal.wav", *(p.name for p in studio_files)}


def test_compare_versions_falls_back_to_generated_signals_and_says_so(tmp_path: Path) -> None:
    from sidflow_pipeline.mastering.compare import compare_versions, rated_tracks

    profiles, feedback = tmp_path / "profiles", tmp_path / "feedback"
    ensure_profiles(profiles)
    update_profile(profiles, "metal", {"eq.treble.gain_db": -2.0}, "less harsh")
    ratings = feedback / "ratings.jsonl"
    expected = f"generated signals (no rated metal track on disk in {ratings})"
    assert rated_tracks(feedback, "metal", 3) == []  # no log at all
    assert compare_versions(profiles, "metal", 1, feedback_dir=feedback).source == expected
    _rate(feedback, tmp_path / "gone.wav", "metal")  # rated, since deleted
    _rate(feedback, tmp_path / "gone-too.wav", "studio")
    result = compare_versions(profiles, "metal", 2, feedback_dir=feedback, seed=7)
    assert result.source == expected
    assert [row.track for row in result.rows] == ["sine_sweep #1", "pink_noise #2"]
