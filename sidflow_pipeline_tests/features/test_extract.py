"""Feature extraction against signals whose answers are known, plus real SID renders."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from sidflow_pipeline.features import FEATURE_NAMES, FEATURE_SET_VERSION, extract_features, extract_features_from_wav
from sidflow_pipeline.features.extract import LOUDNESS_FLOOR_LUFS, SIGNIFICANT_DIGITS, STAGES, _clean

SR = 22050
SIX_DB = 10 ** (6 / 20)


def _time(seconds: float, sr: int = SR) -> np.ndarray:
    return np.arange(int(round(seconds * sr))) / sr


def _sine(freq: float = 440.0, seconds: float = 5.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * _time(seconds, sr))).astype(np.float32)


def _noise(seconds: float = 5.0, amplitude: float = 0.5) -> np.ndarray:
    return np.random.default_rng(6502).uniform(-amplitude, amplitude, int(seconds * SR)).astype(np.float32)


def _clicks(bpm: float, seconds: float = 10.0) -> np.ndarray:
    """Short Hann-shaped clicks exactly every 60/bpm seconds, silence between."""
    signal = np.zeros(int(seconds * SR), dtype=np.float32)
    click = (0.5 * np.hanning(100)).astype(np.float32)
    for beat in range(int(seconds * bpm / 60)):
        start = int(round(beat * 60 / bpm * SR))
        signal[start : start + len(click)] = click[: len(signal) - start]
    return signal


def _chord(midi_notes: list[int], seconds: float = 3.0) -> np.ndarray:
    return sum(_sine(440.0 * 2 ** ((note - 69) / 12), seconds, 0.2) for note in midi_notes).astype(np.float32)


def _tune_like(seconds: float = 6.0) -> np.ndarray:
    """A busy, music-like signal: a melody of square-ish tones with noise-drum hits at 125 BPM."""
    t = _time(seconds)
    beat = 60 / 125
    pitches = 220.0 * 2 ** (np.array([0, 4, 7, 12, 7, 4]) / 12)
    note = pitches[(t // (beat / 2)).astype(int) % len(pitches)]
    lead = 0.25 * np.sign(np.sin(2 * np.pi * np.cumsum(note) / SR))
    envelope = np.exp(-((t % beat) / 0.05))
    drums = 0.3 * envelope * np.random.default_rng(64).uniform(-1, 1, len(t))
    return (lead + drums).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """librosa compiles with numba on first use (~1–2 s); pay it once for the module."""
    extract_features(_sine(seconds=0.5), SR)


def _assert_well_formed(features: dict[str, float]) -> None:
    assert tuple(features) == FEATURE_NAMES
    for name, value in features.items():
        assert type(value) is float, name
        assert math.isfinite(value), name
        assert value == float(f"{value:.{SIGNIFICANT_DIGITS}g}"), name


def test_feature_names_are_unique_and_the_version_is_a_string() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == 33
    assert FEATURE_NAMES[:8] == (
        "energy",
        "rms",
        "spectralCentroid",
        "spectralRolloff",
        "zeroCrossingRate",
        "bpm",
        "confidence",
        "duration",
    )
    assert FEATURE_SET_VERSION and isinstance(FEATURE_SET_VERSION, str)


def test_sine_440_has_its_frequency_as_centroid_rolloff_and_zero_crossing_rate() -> None:
    features = extract_features(_sine(440.0), SR)
    _assert_well_formed(features)
    assert features["spectralCentroid"] == pytest.approx(440.0, rel=0.05)
    assert features["spectralRolloff"] == pytest.approx(440.0, rel=0.05)
    assert features["zeroCrossingRate"] == pytest.approx(2 * 440 / SR, rel=0.03)
    assert features["rms"] == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)
    assert features["energy"] == pytest.approx(0.125, rel=1e-3)
    assert features["duration"] == 5.0
    assert features["silenceRatio"] == 0.0
    assert features["spectralFlatness"] < 0.001
    # A held tone has no pulse: no tempo is invented for it.
    assert features["bpm"] == 0.0 and features["confidence"] == 0.0
    # BS.1770 for one channel: -0.691 + 10·log10(mean square); K-weighting is ~0 dB at 440 Hz.
    assert features["loudnessLufs"] == pytest.approx(-0.691 + 10 * math.log10(0.125), abs=0.1)


def test_white_noise_is_brighter_flatter_and_crosses_zero_more_than_a_sine() -> None:
    sine, noise = extract_features(_sine(440.0), SR), extract_features(_noise(), SR)
    _assert_well_formed(noise)
    assert noise["spectralCentroid"] > 10 * sine["spectralCentroid"]
    assert noise["spectralCentroid"] == pytest.approx(SR / 4, rel=0.05)  # flat spectrum: centroid at Nyquist/2
    assert noise["spectralFlatness"] > 0.4 > 100 * sine["spectralFlatness"]
    assert noise["zeroCrossingRate"] == pytest.approx(0.5, rel=0.05)
    assert noise["spectralContrast"] < sine["spectralContrast"]
    # Noise has flux but no periodic pulse.
    assert noise["confidence"] < 0.2


@pytest.mark.parametrize("bpm", [90.0, 120.0, 150.0])
def test_click_train_gives_its_tempo_without_octave_errors_and_its_onset_rate(bpm: float) -> None:
    features = extract_features(_clicks(bpm), SR)
    _assert_well_formed(features)
    assert features["bpm"] == pytest.approx(bpm, rel=0.02)
    assert features["onsetRate"] == pytest.approx(bpm / 60, rel=0.08)
    assert features["confidence"] > 0.6
    assert features["silenceRatio"] > 0.5  # mostly the gaps between clicks


def test_six_decibels_of_gain_doubles_rms_and_adds_six_lufs_leaving_shape_features_alone() -> None:
    quiet = _tune_like()
    soft, loud = extract_features(quiet, SR), extract_features(quiet * np.float32(SIX_DB), SR)
    assert loud["rms"] / soft["rms"] == pytest.approx(SIX_DB, rel=1e-4)
    assert loud["energy"] / soft["energy"] == pytest.approx(SIX_DB**2, rel=1e-4)
    assert loud["loudnessLufs"] - soft["loudnessLufs"] == pytest.approx(6.0, abs=0.2)
    assert loud["rmsStd"] / soft["rmsStd"] == pytest.approx(SIX_DB, rel=1e-3)
    for name in ("spectralCentroid", "spectralRolloff", "spectralFlatness", "zeroCrossingRate", "bpm", "keyMode", "dynamicRange"):
        assert loud[name] == pytest.approx(soft[name], rel=0.01, abs=1e-6), name
    # mfcc1 follows the overall log level: 6 dB more on every mel band.
    assert loud["mfcc1"] > soft["mfcc1"]


def test_music_like_signal_has_plausible_values() -> None:
    features = extract_features(_tune_like(), SR)
    _assert_well_formed(features)
    assert features["bpm"] == pytest.approx(125.0, rel=0.03) or features["bpm"] == pytest.approx(250.0, rel=0.03)
    assert features["onsetRate"] > 1.5
    assert 0.0 < features["confidence"] <= 1.0
    assert features["spectralFlux"] > 0.5
    assert -40 < features["loudnessLufs"] < 0


def test_fluctuating_level_scores_higher_dynamics_than_a_steady_one() -> None:
    steady = _sine(330.0, seconds=6.0, amplitude=0.3)
    gates = np.where((_time(6.0) // 0.5) % 2 == 0, 1.0, 0.05).astype(np.float32)
    steady_features, pumping = extract_features(steady, SR), extract_features(steady * gates, SR)
    assert pumping["dynamicComplexity"] > steady_features["dynamicComplexity"] + 3.0
    assert pumping["dynamicRange"] > 20.0 > steady_features["dynamicRange"]
    assert pumping["rmsStd"] > 10 * steady_features["rmsStd"]


@pytest.mark.parametrize(("notes", "mode"), [([60, 64, 67], 1.0), ([55, 59, 62], 1.0), ([57, 60, 64], 0.0), ([52, 55, 59], 0.0)])
def test_triads_give_their_mode(notes: list[int], mode: float) -> None:
    features = extract_features(_chord(notes), SR)
    assert features["keyMode"] == mode
    assert features["keyStrength"] > 0.5


def test_chroma_entropy_rises_with_the_number_of_pitch_classes() -> None:
    single = extract_features(_chord([60]), SR)["chromaEntropy"]
    triad = extract_features(_chord([60, 64, 67]), SR)["chromaEntropy"]
    noise = extract_features(_noise(), SR)["chromaEntropy"]
    assert single < triad < noise <= 1.0


def test_silence_gives_finite_floor_values() -> None:
    features = extract_features(np.zeros(5 * SR, dtype=np.float32), SR)
    _assert_well_formed(features)
    assert features["silenceRatio"] == 1.0
    assert features["loudnessLufs"] == LOUDNESS_FLOOR_LUFS
    assert features["rms"] == features["energy"] == features["bpm"] == features["confidence"] == 0.0
    assert features["keyStrength"] == features["chromaEntropy"] == features["spectralCentroid"] == 0.0


@pytest.mark.parametrize("length", [0, 10, 2047, int(0.2 * SR)])
def test_very_short_input_does_not_crash(length: int) -> None:
    signal = _sine(1000.0, seconds=1.0)[:length]
    features = extract_features(signal, SR)
    _assert_well_formed(features)
    assert features["duration"] == pytest.approx(length / SR, rel=1e-5)
    # Shorter than two beats: no tempo claimed.
    assert features["bpm"] == 0.0
    if length >= 2047:
        assert features["loudnessLufs"] > -20  # looped up to one 400 ms block, not floored
    if length >= 0.2 * SR:
        assert features["spectralCentroid"] == pytest.approx(1000.0, rel=0.1)


def test_a_rhythmic_excerpt_shorter_than_two_beats_claims_no_tempo() -> None:
    features = extract_features(_tune_like(0.6), SR)  # beats are 0.48 s apart
    assert features["spectralFlux"] > 0.5 and features["onsetRate"] > 0
    assert features["bpm"] == features["confidence"] == 0.0


def test_values_are_cleaned_for_json() -> None:
    """Non-finite values become 0.0, numpy scalars plain floats, -0.0 plain 0.0, 6 significant digits."""
    assert _clean(np.float64("nan")) == 0.0 and _clean(float("-inf")) == 0.0
    assert type(_clean(np.float32(0.25))) is float
    assert math.copysign(1.0, _clean(-0.0)) == 1.0
    assert _clean(123.456789) == 123.457 and _clean(1.23456789e-7) == 1.23457e-7


def test_mostly_silent_signal_loudness_matches_plain_pyloudnorm() -> None:
    """The denormal guard must not change results: compare with pyloudnorm on the raw samples."""
    signal = np.zeros(10 * SR, dtype=np.float32)
    signal[: SR // 2] = _sine(500.0, seconds=0.5, amplitude=0.4)
    expected = pyloudnorm.Meter(SR).integrated_loudness(signal.astype(np.float64))
    features = extract_features(signal, SR)
    assert features["loudnessLufs"] == pytest.approx(expected, abs=0.01)
    assert features["silenceRatio"] == pytest.approx(0.95, abs=0.02)


def test_repeated_calls_are_identical_and_json_serialisable() -> None:
    signal = _tune_like(4.0)
    first, second = extract_features(signal, SR), extract_features(signal.copy(), SR)
    assert first == second
    assert json.dumps(first) == json.dumps(second)
    assert json.loads(json.dumps(first)) == first
    assert "-0.0" not in json.dumps(first)


def test_float64_input_and_non_finite_samples_are_accepted() -> None:
    signal = _sine(440.0, seconds=2.0).astype(np.float64)
    dirty = signal.copy()
    dirty[100] = np.nan
    dirty[200] = np.inf
    assert extract_features(signal, SR) == extract_features(signal.astype(np.float32), SR)
    _assert_well_formed(extract_features(dirty, SR))


def test_bad_input_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mono"):
        extract_features(np.zeros((SR, 2), dtype=np.float32), SR)
    with pytest.raises(ValueError, match="sample_rate"):
        extract_features(np.zeros(SR, dtype=np.float32), 0)


def test_other_sample_rates_work() -> None:
    features = extract_features(_sine(440.0, seconds=6.0, sr=8000), 8000)
    _assert_well_formed(features)
    assert features["spectralCentroid"] == pytest.approx(440.0, rel=0.05)
    assert features["zeroCrossingRate"] == pytest.approx(2 * 440 / 8000, rel=0.03)


def test_timings_report_cpu_seconds_per_stage() -> None:
    timings: dict[str, float] = {}
    extract_features(_tune_like(2.0), SR, timings=timings)
    assert set(timings) == set(STAGES)
    assert all(seconds >= 0.0 for seconds in timings.values())


def test_wav_files_mono_and_stereo(tmp_path: Path) -> None:
    signal = _tune_like(3.0)
    mono, stereo = tmp_path / "mono.wav", tmp_path / "stereo.wav"
    sf.write(mono, signal, SR, subtype="PCM_16")
    sf.write(stereo, np.stack([signal, signal], axis=1), SR, subtype="PCM_16")
    read_back, _ = sf.read(mono, dtype="float32")
    from_file = extract_features_from_wav(mono)
    assert from_file == extract_features(read_back, SR)
    assert extract_features_from_wav(stereo) == from_file
    assert from_file["duration"] == 3.0


# --- real SID tunes (skipped without the HVSC sample or sidplayfp) -----------------

REAL_TUNES = ("GAMES/G-L/Hyper_Circuit.sid", "MUSICIANS/B/Beat_Machine/Chris/Final_Countdown.sid", "DEMOS/UNKNOWN/Lucy.sid")


@pytest.mark.hvsc_sample
@pytest.mark.parametrize("relative", REAL_TUNES)
def test_real_sid_renders_have_plausible_features(hvsc_sample: Path, tmp_path: Path, relative: str) -> None:
    if shutil.which("sidplayfp") is None:
        pytest.skip("sidplayfp not installed")
    wav = tmp_path / "excerpt.wav"
    command = ["sidplayfp", "--resid", "-rif", "-f22050", "-m", "-os1", "-t12", f"-w{wav}", str(hvsc_sample / relative)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    features = extract_features_from_wav(wav)
    _assert_well_formed(features)
    assert features["duration"] == pytest.approx(12.0, abs=0.1)
    assert 40.0 <= features["bpm"] <= 250.0
    assert 0.0 < features["confidence"] <= 1.0
    assert 100.0 <= features["spectralCentroid"] <= 8000.0
    assert 50.0 <= features["spectralRolloff"] < SR / 2
    assert -50.0 < features["loudnessLufs"] < 0.0
    assert features["silenceRatio"] < 0.5
    assert features["onsetRate"] > 0.5
