"""mastering/project.py without Dagster: the analysis `mastering_profiles` runs, the
profile-file check and the ratings digest."""

from __future__ import annotations

import json
from pathlib import Path

from sidflow_pipeline.mastering.audio import write_audio
from sidflow_pipeline.mastering.loop import master_file, rate_file
from sidflow_pipeline.mastering.profiles import ensure_profiles
from sidflow_pipeline.mastering.project import analyse_profiles, check_profile_files, ratings_digest
from sidflow_pipeline.mastering.signals import make_signal


def test_analysis_seeds_reads_ratings_and_versions_the_result(tmp_path: Path) -> None:
    profiles, feedback = tmp_path / "profiles", tmp_path / "mastering-feedback"
    lines: list[str] = []
    first = analyse_profiles(profiles, feedback, lines.append)
    assert len(first.seeded) == 9 and lines == [f"seeded 9 default profile files into {profiles}"]
    assert first.ratings == 0 and first.suggestions == 0 and first.versions["studio"] == "1.0"
    assert first.patterns_path == feedback / "patterns.json" and json.loads(first.patterns_path.read_text()) == first.patterns
    again = analyse_profiles(profiles, feedback, lines.append)
    assert again.seeded == [] and again.version == first.version and len(lines) == 1

    assert ratings_digest(feedback) == "none"
    audio = tmp_path / "noise.wav"
    write_audio(audio, make_signal("pink_noise", 44100, 3.0), 44100)
    mastered = master_file(audio, tmp_path / "noise.mastered.wav", profiles)
    for i in range(10):
        rate_file(feedback, mastered.output, 2 + i % 2, "too much bass, muddy")
    digest = ratings_digest(feedback)
    assert len(digest) == 64
    with (feedback / "ratings.jsonl").open("a") as handle:
        handle.write("{broken\n")
    assert ratings_digest(feedback) != digest
    rated = analyse_profiles(profiles, feedback)
    assert rated.ratings == 10 and rated.skipped_lines == 1 and rated.suggestions >= 1
    assert rated.version != first.version


def test_profile_check_covers_every_file_and_says_when_there_is_none(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    empty = check_profile_files(profiles)
    assert empty.nothing_to_check and not empty.passed and empty.summary == f"no profile files in {profiles}"
    ensure_profiles(profiles)
    ok = check_profile_files(profiles)
    assert ok.passed and ok.checked == 8 and ok.summary == "all 8 profile files valid"
    broken = profiles / "metal_v1.0.json"
    profile = json.loads(broken.read_text())
    profile["eq"]["bass"]["gain_db"] = 40
    broken.write_text(json.dumps(profile))
    bad = check_profile_files(profiles)
    assert not bad.passed and not bad.nothing_to_check and list(bad.failures) == ["metal_v1.0.json"]
    assert bad.summary == "1 profile file(s) failed: metal_v1.0.json"
