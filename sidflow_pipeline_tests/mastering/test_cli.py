"""`sidflow master`: the whole loop in a temporary git repository, and every error as one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from click.testing import CliRunner, Result

from sidflow_pipeline.cli.common import Context
from sidflow_pipeline.cli.master import master
from sidflow_pipeline.mastering.analyze import STEPS
from sidflow_pipeline.mastering.fingerprint import fingerprint_file
from sidflow_pipeline.mastering.profiles import ensure_profiles, load_profile
from sidflow_pipeline.mastering.ratings import append_rating, timestamp
from sidflow_pipeline_tests.mastering.synthetic import SR, studio_like


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class Workspace:
    """A git repository with ``.sidflow.json`` (dataPath: data) and committed profiles."""

    def __init__(self, root: Path) -> None:
        self.repo = root / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "--quiet")
        git(self.repo, "config", "user.name", "Mastering Test")
        git(self.repo, "config", "user.email", "mastering@test.invalid")
        git(self.repo, "config", "commit.gpgsign", "false")
        self.config = self.repo / ".sidflow.json"
        self.config.write_text('{"dataPath": "data"}\n')
        self.profiles = self.repo / "data" / "profiles"
        self.feedback = self.repo / "data" / "mastering-feedback"
        ensure_profiles(self.profiles)
        git(self.repo, "add", ".")
        git(self.repo, "commit", "--quiet", "-m", "initial profiles")
        self.music = root / "music"
        self.music.mkdir()

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(master, [str(a) for a in args], obj=Context(str(self.config)))

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").output)

    def error(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        return lines[-1]

    def track(self, name: str, seed: int) -> Path:
        path = self.music / name
        sf.write(str(path), studio_like(3.0, seed=seed), SR, subtype="PCM_24")
        return path


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


COMMENTS = [
    "too much bass",
    "less bass please",
    "bass a bit heavy",
    "nice, but too much bass",
    "not enough treble? no: too much bass",
    "Perfect!",
    "don't boost the bass",
    None,
    "good",
    "the bass is fine",
]


def test_the_whole_loop(ws: Workspace) -> None:
    # apply: detected as studio, mastered with v1.0.
    sources = [ws.track(f"song{i}.wav", seed=i + 1) for i in range(2)]
    outputs = []
    v10 = load_profile(ws.profiles, "studio")  # the numbers come from the profile, never from here
    for source in sources:
        output = ws.music / f"{source.stem}.mastered.flac"
        done = ws.json("apply", source, output, "--auto")
        assert done["detection"]["type"] == "studio" and done["profile_version"] == "1.0"
        assert done["parameters_applied"] == v10.parameters()
        assert Path(f"{output}.mastering.json").is_file()
        after = fingerprint_file(output, tempo=False)
        assert after.loudness_lufs == pytest.approx(v10.target_lufs, abs=0.5)
        assert after.true_peak_dbtp <= v10.true_peak_ceiling_dbtp
        outputs.append(output)

    # rate ×10 (the sidecar says what was applied to which source).
    for index, comment in enumerate(COMMENTS):
        args = ["rate", outputs[index % 2], "--rating", str(3 + index % 3)]
        result = ws.ok(*args, *(["--comment", comment] if comment else []))
        assert "studio (confidence" in result.output and "profile v1.0" in result.output
    lines = (ws.feedback / "ratings.jsonl").read_text().splitlines()
    assert len(lines) == 10
    first = json.loads(lines[0])
    assert first["file"] == str(sources[0].resolve()) and first["mastered_file"] == str(outputs[0].resolve())
    assert first["fingerprint"]["loudness_lufs"] < -15  # the source's, not the master's
    assert {"spectral_centroid_hz", "true_peak_dbtp", "tempo_bpm"} <= set(first["fingerprint"])

    # analyze: bass down one step.
    patterns = ws.json("analyze", "--type", "studio")
    studio = patterns["types"]["studio"]
    assert studio["samples"] == 10
    (bass,) = studio["suggestions"]
    bass_step = STEPS["bass"][1]
    assert bass["parameter"] == "bass" and bass["suggested"] == v10.bass.gain_db - bass_step and bass["less"] == 6
    assert json.loads((ws.feedback / "patterns.json").read_text()) == patterns
    table = ws.ok("analyze", "--type", "studio").output
    assert "suggest bass" in table and f"sidflow master update studio --bass {bass['suggested']:g}" in table

    # update: v1.1, validated, committed with the reason.
    reason = f"feedback: bass {-bass_step:+g} (10 ratings of v1.0)"
    updated = ws.ok("update", "studio", "--bass", str(bass["suggested"]), "--reason", reason).output
    assert "v1.0 → v1.1" in updated and "checks passed" in updated and "committed" in updated
    assert git(ws.repo, "log", "--format=%s", "-n", "1").strip() == f"mastering: studio profile v1.1 - {reason}"
    assert "data/profiles/studio_v1.1.json" in git(ws.repo, "show", "--name-only", "--format=", "HEAD")
    assert git(ws.repo, "status", "--porcelain", "data/profiles") == ""

    # The next apply uses v1.1.
    again = ws.json("apply", sources[0], ws.music / "song0.v11.wav")
    assert again["profile_version"] == "1.1" and again["parameters_applied"]["eq.bass.gain_db"] == bass["suggested"]

    # v1.0's complaints no longer drive suggestions.
    assert ws.json("analyze", "--type", "studio")["types"]["studio"]["suggestions"] == []

    # test: old vs new on the two rated sources — less bass, same loudness.
    compared = ws.json("test", "studio", "--sample-size", "2")
    assert (compared["old_version"], compared["new_version"]) == ("1.0", "1.1")
    assert compared["source"] == f"rated studio tracks ({ws.feedback / 'ratings.jsonl'})"
    assert [track["track"] for track in compared["tracks"]] == [str(s.resolve()) for s in sources]
    v11 = load_profile(ws.profiles, "studio")
    for track in compared["tracks"]:
        assert track["bass_mid_ratio_db"]["new"] < track["bass_mid_ratio_db"]["old"]
        assert track["loudness_lufs"]["new"] == pytest.approx(v11.target_lufs, abs=0.5)
    on_files = ws.ok("test", "studio", "--sample-size", "1", "--files", ws.music).output
    assert "v1.0 (old) vs v1.1 (new)" in on_files and f"tracks     {ws.music}" in on_files
    from sidflow_pipeline.cli.output import terminal_width

    assert max(len(line) for line in on_files.splitlines()[1:]) <= terminal_width()  # the table fits, never wraps
    lines = ws.ok("test", "studio", "--sample-size", "2", "--format", "jsonl").output.splitlines()
    assert [json.loads(line)["track"] for line in lines] == [str(s.resolve()) for s in sources]
    assert ws.ok("test", "studio", "--sample-size", "2", "--format", "paths").output.splitlines() == [str(s.resolve()) for s in sources]
    assert "#EXTINF:-1," in ws.ok("test", "studio", "--sample-size", "2", "--format", "m3u").output

    # export the new version.
    dist = ws.repo.parent / "dist"
    exported = ws.ok("export", "--version", "1.1", "--output-dir", dist).output
    assert "studio_v1.1.json" in exported and "no v1.1 for:" in exported
    assert sorted(p.name for p in dist.iterdir()) == ["studio_v1.1.json", "versions.json"]

    # An absurd update is refused in one line and leaves no file and no commit.
    head = git(ws.repo, "rev-parse", "HEAD")
    line = ws.error("update", "studio", "--bass", "40", "--reason", "louder!")
    assert "'eq.bass.gain_db' = 40 is outside -12..12 dB" in line
    assert not (ws.profiles / "studio_v1.2.json").exists() and git(ws.repo, "rev-parse", "HEAD") == head


def test_apply_prints_what_it_did(ws: Workspace) -> None:
    source = ws.track("a.wav", 4)
    result = ws.ok("apply", source, ws.music / "a.out.wav", "--profile", "metal")
    output = result.output
    metal = load_profile(ws.profiles, "metal")
    assert "metal (confidence 1.00: forced with --profile)" in output
    assert f"metal v{metal.version}" in output and f"LUFS (target {metal.target_lufs:g})" in output
    assert f"dBTP (ceiling {metal.true_peak_ceiling_dbtp:g}" in output
    assert "warning" not in result.stderr  # the target was reached
    sid = ws.music / "sid.wav"
    from sidflow_pipeline.mastering.signals import sid_like

    sf.write(str(sid), sid_like(22050, 2.0, channels=1, cutoff_hz=1200.0), 22050)
    done = ws.json("apply", sid, ws.music / "sid.out.wav", "--sid-model", "6581")
    assert done["detection"]["type"] == "sid_6581"
    detected = json.loads(ws.ok("detect", sid, "--sid-model", "6581", "--json").output)
    assert detected["detection"]["type"] == "sid_6581"
    assert "spectral_centroid_hz" in ws.ok("detect", sid, "--sid").output


def test_rating_a_source_detects_it(ws: Workspace) -> None:
    source = ws.track("plain.wav", 5)
    assert "studio" in ws.ok("rate", source, "--rating", "5").output
    (line,) = (ws.feedback / "ratings.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert entry["mastered_file"] is None and entry["detected_type"] == "studio" and entry["comment"] is None
    # Nothing was applied, and the line says so instead of naming the current profile.
    assert entry["mastered"] is False and entry["profile_version"] is None and entry["parameters_applied"] is None


def test_rating_unmastered_audio_does_not_drive_suggestions(ws: Workspace) -> None:
    source = ws.track("raw.wav", 7)
    for _ in range(6):
        output = ws.ok("rate", source, "--rating", "2", "--comment", "too much bass, muddy").output
        assert "not mastered" in output and "profile v" not in output
    studio = ws.json("analyze", "--type", "studio")["types"]["studio"]
    assert studio["samples"] == 6 and studio["unmastered_samples"] == 6 and studio["analysed_samples"] == 0
    assert studio["suggestions"] == [] and studio["update_command"] is None
    assert "unmastered: 6 (not counted)" in ws.ok("analyze", "--type", "studio").output
    # Master it, then rate the master: now it counts.
    mastered = ws.music / "raw.mastered.wav"
    ws.ok("apply", source, mastered, "--profile", "studio")
    for _ in range(2):
        assert "profile v1.0" in ws.ok("rate", mastered, "--rating", "2", "--comment", "less bass").output
    (bass,) = ws.json("analyze", "--type", "studio")["types"]["studio"]["suggestions"]
    assert (bass["parameter"], bass["less"]) == ("bass", 2)


def test_analyze_one_type_keeps_the_others(ws: Workspace) -> None:
    def rating(kind: str, comment: str) -> dict[str, Any]:
        return {
            "timestamp": timestamp(), "file": f"/music/{kind}.wav", "mastered_file": f"/music/{kind}.m.wav",
            "rating": 2, "comment": comment, "detected_type": kind, "confidence": 0.9, "profile_version": "1.0",
            "fingerprint": {}, "parameters_applied": {}, "hints": {},
        }  # fmt: skip

    for kind, comment in (("studio", "less bass"), ("studio", "less bass"), ("metal", "too harsh")):
        append_rating(ws.feedback, rating(kind, comment))
    ws.ok("analyze")
    patterns_file = ws.feedback / "patterns.json"
    assert sorted(json.loads(patterns_file.read_text())["types"]) == ["metal", "studio"]
    append_rating(ws.feedback, rating("metal", "too harsh"))
    printed = ws.json("analyze", "--type", "metal")
    assert list(printed["types"]) == ["metal"]  # what was asked for is printed …
    written = json.loads(patterns_file.read_text())  # … and merged into the file
    assert sorted(written["types"]) == ["metal", "studio"] and written["ratings"] == 4
    assert written["types"]["metal"] == printed["types"]["metal"] and written["types"]["metal"]["samples"] == 2
    assert written["types"]["studio"]["samples"] == 2


def test_apply_warns_when_the_loudness_target_cannot_be_reached(ws: Workspace) -> None:
    # A profile asking for more loudness than its ceiling allows (validation would refuse
    # it as an update; a hand-edited file can still say it).
    path = ws.profiles / "studio_v1.0.json"
    data = json.loads(path.read_text())
    data["loudness"].update(target_lufs=-5.0, true_peak_ceiling_dbtp=-9.0)
    path.write_text(json.dumps(data))
    source = ws.track("quiet.wav", 8)
    result = ws.run("apply", source, ws.music / "loud.wav", "--profile", "studio")
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert warning.startswith("warning: loudness target -5 LUFS not reached: ")
    assert "true-peak ceiling of -9 dBTP" in warning
    achieved = fingerprint_file(ws.music / "loud.wav", tempo=False)
    assert f"{achieved.loudness_lufs:.2f} LUFS" in warning and achieved.true_peak_dbtp <= -9.0
    as_json = ws.run("apply", source, ws.music / "loud2.wav", "--profile", "studio", "--json")
    assert as_json.exit_code == 0 and "warning: loudness target" in as_json.stderr
    assert json.loads(as_json.stdout)["report"]["target_missed"] is True


def test_every_bad_input_is_one_line_and_exit_2(ws: Workspace, tmp_path: Path) -> None:
    source = ws.track("ok.wav", 6)
    corrupt = ws.music / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    assert "corrupt.wav: cannot read audio" in ws.error("apply", corrupt, ws.music / "x.wav")
    assert "choose --profile TYPE or --auto" in ws.error(
        "apply", source, ws.music / "x.wav", "--profile", "studio", "--auto"
    )
    assert "must not overwrite the input" in ws.error("apply", source, source)
    assert "unknown audio format" in ws.error("apply", source, ws.music / "x.mp9")
    assert "Invalid value for '--rating'" in ws.error("rate", source, "--rating", "6")
    assert "no such file to rate" in ws.error("rate", ws.music / "gone.wav", "--rating", "3")
    assert "no version before v1.0" in ws.error("test", "studio")
    assert "no profile has version 9.9" in ws.error("export", "--version", "9.9", "--output-dir", tmp_path / "d")
    assert "bad profile version" in ws.error("export", "--version", "one", "--output-dir", tmp_path / "d")
    assert "--set expects FIELD=NUMBER" in ws.error("update", "studio", "--set", "eq.bass.freq_hz", "--reason", "r")
    assert "nothing to change" in ws.error("update", "studio", "--reason", "r")
    assert "not a folder" in ws.error("test", "studio", "--files", ws.music / "none", "--old", "1.0", "--new", "1.0")
    (ws.music / "empty").mkdir()
    assert "no audio files" in ws.error("test", "studio", "--files", ws.music / "empty", "--old", "1.0", "--new", "1.0")
    sidecar = ws.music / "ok.wav.mastering.json"
    for broken, why in (("{}", "lacks 'source'"), ("[]", "not a JSON object"), ("{nope", "Expecting")):
        sidecar.write_text(broken)
        assert "unusable mastering sidecar" in ws.error("rate", source, "--rating", "3")
        assert why in ws.error("rate", source, "--rating", "3")
    sidecar.unlink()
    (ws.profiles / "versions.json").write_text("{broken")
    assert "versions.json: invalid JSON" in ws.error("analyze")
    ws.config.write_text("{nope")
    assert "invalid JSON" in ws.error("analyze")


def test_update_with_set_and_analyze_without_ratings(ws: Workspace) -> None:
    assert "no ratings yet" in ws.ok("analyze").output
    result = ws.ok("update", "bootleg", "--set", "eq.bass.freq_hz=100", "--width", "1.2", "--reason", "tighter low end")
    assert "eq.bass.freq_hz: 150 → 100" in result.output and "stereo.width_factor: 1.3 → 1.2" in result.output
    compared = ws.ok("test", "bootleg", "--sample-size", "1").output
    assert "v1.0 (old) vs v1.1 (new)" in compared
    assert "tracks     generated signals (no rated bootleg track on disk in" in compared


def test_a_fresh_data_dir_is_seeded(tmp_path: Path) -> None:
    config = tmp_path / "cfg.json"
    config.write_text('{"dataPath": "elsewhere"}')
    source = tmp_path / "in.wav"
    sf.write(str(source), studio_like(1.0), SR)
    result = CliRunner().invoke(master, ["apply", str(source), str(tmp_path / "out.wav")], obj=Context(str(config)))
    assert result.exit_code == 0, result.output
    assert "seeded 9 profile files" in result.output
    assert (tmp_path / "elsewhere" / "profiles" / "versions.json").is_file()
