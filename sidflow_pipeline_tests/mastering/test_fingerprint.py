from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sidflow_pipeline.mastering.audio import as_frames, read_audio, write_audio
from sidflow_pipeline.mastering.errors import AudioReadError, MasteringError
from sidflow_pipeline.mastering.fingerprint import (
    BANDS,
    LEVEL_FLOOR_DB,
    LOUDNESS_FLOOR_LUFS,
    Fingerprint,
    fingerprint,
    fingerprint_file,
    integrated_loudness_lufs,
    oversampled_peaks,
    true_peak_dbtp,
)
from sidflow_pipeline.mastering.signals import pink_noise, sid_like, sine_sweep

SR = 44100


def tone(freq: float, seconds: float = 2.0, amplitude: float = 0.5, sr: int = SR, phase: float = 0.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr + phase)


def band_fractions(fp: Fingerprint) -> dict[str, float]:
    return {name: getattr(fp, f"band_{name}_fraction") for name, _, _ in BANDS}


def test_units_are_in_the_field_names() -> None:
    fp = fingerprint(pink_noise(SR, 1.0), SR, tempo=False)
    for name in (
        "spectral_centroid_hz",
        "loudness_lufs",
        "true_peak_dbtp",
        "crest_factor_db",
        "bass_mid_ratio_db",
        "stereo_width_ratio",
        "tempo_bpm",
        "duration_s",
        "sample_rate_hz",
    ):
        assert name in fp.to_json()
    assert all(
        key.endswith(
            ("_fraction", "_hz", "_db", "_dbfs", "_lufs", "_dbtp", "_bpm", "_s", "_ratio", "flatness", "channels")
        )
        for key in fp.to_json()
    )


@pytest.mark.parametrize(
    ("freq", "band"),
    [
        (40.0, "sub"),
        (100.0, "bass"),
        (300.0, "low_mid"),
        (1000.0, "mid"),
        (3000.0, "high_mid"),
        (5000.0, "presence"),
        (10000.0, "air"),
    ],
)
def test_a_tone_lands_in_its_band_and_is_the_centroid(freq: float, band: str) -> None:
    fp = fingerprint(tone(freq), SR, tempo=False)
    fractions = band_fractions(fp)
    assert fractions[band] > 0.99
    assert math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-4)
    assert fp.spectral_centroid_hz == pytest.approx(freq, rel=0.01)


def test_bass_mid_ratio_sign_and_clamp() -> None:
    bass_heavy = tone(100.0, amplitude=0.5) + tone(1000.0, amplitude=0.05)
    assert fingerprint(bass_heavy, SR, tempo=False).bass_mid_ratio_db == pytest.approx(20.0, abs=0.2)
    assert fingerprint(tone(1000.0), SR, tempo=False).bass_mid_ratio_db == -60.0  # no bass at all: clamped
    assert fingerprint(tone(100.0), SR, tempo=False).bass_mid_ratio_db == 60.0


def test_stereo_width_side_over_mid() -> None:
    noise = np.random.default_rng(0).standard_normal((SR, 2)) * 0.1
    assert fingerprint(noise[:, 0], SR, tempo=False).stereo_width_ratio == 0.0  # mono
    assert fingerprint(np.column_stack([noise[:, 0]] * 2), SR, tempo=False).stereo_width_ratio == 0.0
    assert fingerprint(noise, SR, tempo=False).stereo_width_ratio == pytest.approx(1.0, abs=0.05)
    anti = np.column_stack([noise[:, 0], -noise[:, 0]])
    assert fingerprint(anti, SR, tempo=False).stereo_width_ratio == 10.0


def test_crest_factor_levels_and_flatness() -> None:
    sine = fingerprint(tone(1000.0, amplitude=0.5), SR, tempo=False)
    assert sine.crest_factor_db == pytest.approx(3.01, abs=0.02)
    assert sine.sample_peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert sine.rms_dbfs == pytest.approx(20 * math.log10(0.5) - 3.01, abs=0.02)
    assert sine.spectral_flatness < 0.01
    square = np.sign(tone(441.0)) * 0.25
    assert fingerprint(square, SR, tempo=False).crest_factor_db == pytest.approx(0.0, abs=0.01)
    white = np.random.default_rng(1).standard_normal(SR * 2) * 0.1
    assert fingerprint(white, SR, tempo=False).spectral_flatness > 0.9


def test_loudness_of_a_1khz_sine_follows_bs1770() -> None:
    # BS.1770: a 1 kHz sine with peak A in both channels reads 20·log10(A) LUFS (±0.1).
    stereo = np.column_stack([tone(1000.0, 3.0, amplitude=0.1)] * 2)
    assert integrated_loudness_lufs(stereo, SR) == pytest.approx(-20.0, abs=0.1)
    assert integrated_loudness_lufs(stereo[:, 0], SR) == pytest.approx(-23.01, abs=0.1)


def test_true_peak_finds_the_peak_between_samples() -> None:
    # fs/4 at 45°: every sample is at ±A/√2, the waveform reaches ±A between them.
    # (Faded in and out: an abrupt start rings in any interpolator, a true-peak meter's too.)
    quarter = tone(SR / 4, 1.0, amplitude=0.5, phase=math.pi / 4)
    fade = np.minimum(1.0, np.minimum(np.arange(len(quarter)), np.arange(len(quarter))[::-1]) / 2000)
    quarter = quarter * fade
    assert 20 * math.log10(np.abs(quarter).max()) == pytest.approx(-9.03, abs=0.01)
    assert true_peak_dbtp(quarter) == pytest.approx(20 * math.log10(0.5), abs=0.1)
    assert oversampled_peaks(as_frames(quarter)).max() == pytest.approx(0.5, abs=0.01)
    # Never below the sample peak.
    click = np.zeros(1000)
    click[500] = 0.9
    assert true_peak_dbtp(click) >= 20 * math.log10(0.9)


def test_tempo_of_a_click_track() -> None:
    sr = 22050
    clicks = np.zeros(sr * 8)
    for start in range(0, len(clicks), round(sr * 0.5)):  # 120 BPM
        clicks[start : start + 200] = np.hanning(200) * np.sin(np.arange(200))
    assert fingerprint(clicks, sr).tempo_bpm == pytest.approx(120.0, rel=0.05)
    assert fingerprint(clicks, sr, tempo=False).tempo_bpm is None
    assert fingerprint(clicks[:sr], sr).tempo_bpm == 0.0  # under 2 s


def test_silence_and_empty_give_floors_not_nan() -> None:
    for audio in (np.zeros((SR, 2)), np.zeros(0)):
        fp = fingerprint(audio, SR)
        values = fp.to_json()
        assert all(v is None or math.isfinite(v) for v in values.values())
        assert fp.loudness_lufs == LOUDNESS_FLOOR_LUFS
        assert fp.true_peak_dbtp == LEVEL_FLOOR_DB
        assert fp.crest_factor_db == 0.0 and fp.spectral_centroid_hz == 0.0 and fp.tempo_bpm == 0.0
        assert sum(band_fractions(fp).values()) == 0.0


def test_short_clips_are_measured_as_looped() -> None:
    clip = np.column_stack([tone(1000.0, 0.1, amplitude=0.1)] * 2)
    assert integrated_loudness_lufs(clip, SR) == pytest.approx(-20.0, abs=0.2)
    single = fingerprint(np.array([0.5]), SR, tempo=False)
    assert math.isfinite(single.loudness_lufs) and single.duration_s == pytest.approx(1 / SR, rel=1e-5)


def test_fingerprint_is_deterministic_and_round_trips_json() -> None:
    audio = sid_like(SR, 3.0, seed=4)
    first, second = fingerprint(audio, SR), fingerprint(audio.copy(), SR)
    assert first == second
    assert Fingerprint.from_json({**first.to_json(), "future_field": 1}) == first
    assert fingerprint(audio, SR, tempo=False).to_json()["tempo_bpm"] is None


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_fingerprint_of_files(tmp_path: Path, ext: str) -> None:
    if ext.upper() not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {ext}")
    audio = sine_sweep(SR, 2.0)
    path = tmp_path / f"sweep.{ext}"
    sf.write(str(path), audio, SR)
    fp = fingerprint_file(path, tempo=False)
    reference = fingerprint(audio, SR, tempo=False)
    assert fp.channels == 2 and fp.sample_rate_hz == SR
    tolerance = 0.05 if ext in ("wav", "flac") else 1.5  # lossy codecs move levels a little
    assert fp.loudness_lufs == pytest.approx(reference.loudness_lufs, abs=tolerance)


def test_unreadable_files_are_one_line_naming_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(AudioReadError) as info:
        fingerprint_file(corrupt)
    assert "corrupt.wav" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(AudioReadError, match=r"missing.flac: no such audio file"):
        fingerprint_file(tmp_path / "missing.flac")
    surround = tmp_path / "surround.wav"
    sf.write(str(surround), np.zeros((100, 3)), SR)
    with pytest.raises(AudioReadError, match="3 channels"):
        read_audio(surround)


def test_array_layouts() -> None:
    assert as_frames(np.zeros(5)).shape == (5, 1)
    assert as_frames(np.zeros((5, 2))).shape == (5, 2)
    assert as_frames(np.array([16384, -32768], dtype=np.int16))[:, 0].tolist() == [0.5, -1.0]
    for bad, message in [
        (np.zeros((2, 100)), "1 or 2 channels"),
        (np.zeros((2, 2, 2)), "shape"),
        (np.array(["a"]), "numeric"),
        (np.array([0.0, np.nan]), "NaN"),
    ]:
        with pytest.raises(MasteringError, match=message):
            as_frames(bad)
    with pytest.raises(ValueError, match="sample rate"):
        fingerprint(np.zeros(10), 0)


def test_write_audio_formats(tmp_path: Path) -> None:
    audio = pink_noise(SR, 0.5)
    wav = write_audio(tmp_path / "a.wav", audio, SR)
    assert sf.info(str(wav)).subtype == "PCM_24"
    back, sr = read_audio(wav)
    assert sr == SR and np.abs(back - audio).max() < 1e-6
    assert sf.info(str(write_audio(tmp_path / "a.ogg", audio, SR))).format == "OGG"
    with pytest.raises(MasteringError, match=r"unknown audio format '.xyz'"):
        write_audio(tmp_path / "a.xyz", audio, SR)
    with pytest.raises(MasteringError, match="cannot encode"):
        write_audio(tmp_path / "b.wav", audio, 0)
