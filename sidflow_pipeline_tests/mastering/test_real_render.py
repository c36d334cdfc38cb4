"""A real sidplayfp render of a generated demo tune, detected and mastered end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidflow_pipeline.demo.collection import write_demo_collection
from sidflow_pipeline.mastering.audio import read_audio
from sidflow_pipeline.mastering.detect import DetectionHints
from sidflow_pipeline.mastering.fingerprint import integrated_loudness_lufs, true_peak_dbtp
from sidflow_pipeline.mastering.loop import master_audio
from sidflow_pipeline.mastering.profiles import ensure_profiles, load_profile
from sidflow_pipeline.sid.header import read_sid
from sidflow_pipeline.sid.sidplayfp import RenderSettings, SidplayfpNotFound, find_sidplayfp, render_excerpt


@pytest.fixture(scope="module")
def sidplayfp() -> Path:
    try:
        return find_sidplayfp()
    except SidplayfpNotFound as exc:
        pytest.skip(str(exc))


def test_a_rendered_demo_tune_is_detected_and_mastered(sidplayfp: Path, tmp_path: Path) -> None:
    write_demo_collection(tmp_path / "hvsc", version=2)
    tunes = {}
    for path in sorted((tmp_path / "hvsc").rglob("*.sid")):
        header = read_sid(path).header
        tunes.setdefault(header.sid_model, (path, header))
    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    settings = RenderSettings(sample_rate=44100, mono=False, start_offset_s=1.0, duration_s=4.0)
    for model in ("6581", "8580"):
        path, header = tunes[model]
        result = render_excerpt(path, header.start_song, tmp_path / f"{model}.wav", settings, binary=sidplayfp)
        assert result.status == "ok", result.message
        audio, sr = read_audio(result.wav_path)  # type: ignore[arg-type]
        out, report, detection, fp = master_audio(audio, sr, profiles, hints=DetectionHints.from_sid_header(header))
        assert detection.type == f"sid_{model}" and detection.confidence >= 0.6
        assert fp.channels == 2 and fp.stereo_width_ratio == 0.0  # one SID: identical channels
        assert report.profile_type == f"sid_{model}"
        profile = load_profile(profiles, f"sid_{model}")  # its own target, whatever the current version says
        assert integrated_loudness_lufs(out, sr) == pytest.approx(profile.target_lufs, abs=0.5)
        assert true_peak_dbtp(out) <= profile.true_peak_ceiling_dbtp
