from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import sosfreqz

from sidflow_pipeline.mastering.detect import DETECTABLE_TYPES
from sidflow_pipeline.mastering.dsp import (
    FINAL_MARGIN_DB,
    SHELF_CORNER_TOLERANCE_DB,
    _backward_mean,
    _forward_max,
    _release,
    apply_eq,
    apply_profile,
    apply_width,
    biquad,
    eq_sos,
    limit,
    shelf_midpoint_hz,
    sos_response_db,
)
from sidflow_pipeline.mastering.fingerprint import fingerprint, integrated_loudness_lufs, true_peak_dbtp
from sidflow_pipeline.mastering.profiles import Profile, default_profile_files, load_profile, parse_profile
from sidflow_pipeline.mastering.signals import pink_noise, sid_like, sine_sweep
from sidflow_pipeline_tests.mastering.synthetic import metal_like, studio_like

REPO_PROFILES = Path(__file__).resolve().parents[2] / "data" / "profiles"
SR = 44100


def make_profile(**changes: float) -> Profile:
    """The studio v1.0 profile with dotted fields changed (``eq__bass__gain_db=6``)."""
    data = copy.deepcopy(json.loads(default_profile_files()["studio_v1.0.json"]))
    for key, value in changes.items():
        node = data
        *parents, leaf = key.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return parse_profile(data, "test profile")


def tone_gain_db(profile: Profile, freq: float, sr: int = SR, band: str | None = None) -> float:
    """The EQ's gain for a steady sine, measured on the signal (after the filters settle):
    through the whole applied EQ, or through ``band`` alone."""
    bands = profile.bands if band is None else {band: profile.bands[band]}
    t = np.arange(round(2.0 * sr)) / sr
    x = 0.1 * np.sin(2 * np.pi * freq * t)
    y, _ = apply_eq(x[:, np.newaxis], sr, bands)
    steady = slice(sr, None)
    return 20 * math.log10(np.sqrt(np.mean(y[steady, 0] ** 2)) / np.sqrt(np.mean(x[steady] ** 2)))


def cascade_db(profile: Profile, freq: float, sr: int = SR) -> float:
    sos, _ = eq_sos(profile.bands, sr)
    return float(20 * np.log10(np.abs(sosfreqz(sos, worN=[freq], fs=sr)[1][0])))


def assert_gain_at_each_band_frequency(profile: Profile, sr: int = SR) -> None:
    """The Done-means check: each band's gain, measured with a sine tone at the band's
    ``freq_hz`` through the filter ``apply_eq`` runs for that band, is the profile's
    gain within ±0.5 dB. (Band by band: where bands overlap — bootleg's mid at 400 Hz
    sits on its bass shelf's slope — the cascade adds them, as any EQ does.)"""
    for name, band in profile.bands.items():
        measured = tone_gain_db(profile, band.freq_hz, sr, band=name)
        assert measured == pytest.approx(band.gain_db, abs=0.5), (profile.type, name, band)
        sos, _ = eq_sos({name: band}, sr)
        computed = sos_response_db(sos, band.freq_hz, sr) if len(sos) else 0.0
        assert measured == pytest.approx(computed, abs=0.05), (profile.type, name)


@pytest.mark.parametrize("kind", DETECTABLE_TYPES)
def test_every_default_profile_has_its_gains_at_its_band_frequencies(kind: str) -> None:
    assert_gain_at_each_band_frequency(load_profile(REPO_PROFILES, kind))


@pytest.mark.parametrize("kind", DETECTABLE_TYPES)
def test_each_band_alone_has_its_full_gain_at_freq_hz_and_beyond(kind: str) -> None:
    """Band by band: full gain at ``freq_hz`` within the corner tolerance (a peaking
    filter exactly), the shelf's plateau at its far end, and a shelf's gain staying
    within the tolerance everywhere beyond the corner (no overshoot at Q 0.707)."""
    profile = load_profile(REPO_PROFILES, kind)
    for name, band in profile.bands.items():
        sos, _ = eq_sos({name: band}, SR)
        if not len(sos):
            assert band.gain_db == 0
            continue
        at_f0 = sos_response_db(sos, band.freq_hz, SR)
        tolerance = 0.01 if band.filter == "peaking" else SHELF_CORNER_TOLERANCE_DB + 1e-9
        assert at_f0 == pytest.approx(band.gain_db, abs=tolerance), name
        if band.filter != "peaking":
            beyond = np.geomspace(1.0, band.freq_hz, 50) if band.filter == "low_shelf" else np.geomspace(
                band.freq_hz, SR / 2 - 1, 50
            )
            response = 20 * np.log10(np.abs(sosfreqz(sos, worN=beyond, fs=SR)[1]))
            assert np.all(np.abs(response - band.gain_db) <= SHELF_CORNER_TOLERANCE_DB + 1e-9), name
            # The transition lies on the other side: half the gain (the cookbook
            # midpoint) well inside the audible range, not at freq_hz.
            midpoint, reached = shelf_midpoint_hz(band.filter, band.gain_db, band.freq_hz, band.q, SR)
            assert reached
            assert (midpoint > band.freq_hz) == (band.filter == "low_shelf")
            assert sos_response_db(sos, midpoint, SR) == pytest.approx(band.gain_db / 2, abs=0.01)


def test_an_updated_profile_has_its_gains_at_its_band_frequencies(tmp_path: Path) -> None:
    """After ``update`` (new gains and frequencies), the applied EQ still has the new
    profile's gains at the new frequencies — at 44.1 kHz and 48 kHz."""
    from sidflow_pipeline.mastering.profiles import ensure_profiles
    from sidflow_pipeline.mastering.update import update_profile

    profiles = tmp_path / "profiles"
    ensure_profiles(profiles)
    changes = {
        "eq.bass.gain_db": -5.0, "eq.bass.freq_hz": 250.0, "eq.bass.q": 0.5,
        "eq.mid.gain_db": 3.0, "eq.mid.freq_hz": 2500.0,
        "eq.treble.gain_db": 6.0, "eq.treble.freq_hz": 5000.0, "eq.treble.q": 1.2,
    }  # fmt: skip
    update_profile(profiles, "studio", changes, "test: bigger moves")
    updated = load_profile(profiles, "studio")
    assert str(updated.version) == "1.1" and updated.treble.freq_hz == 5000.0
    for sr in (SR, 48000):
        assert_gain_at_each_band_frequency(updated, sr)


@pytest.mark.parametrize("q", [0.3, 0.707, 2.0])
@pytest.mark.parametrize("gain", [-12.0, -0.5, 0.15, 3.0, 12.0])
@pytest.mark.parametrize(
    ("kind", "corner"), [("low_shelf", 20.0), ("low_shelf", 500.0), ("high_shelf", 1000.0), ("high_shelf", 16000.0)]
)
def test_the_shelf_midpoint_gives_full_gain_at_the_corner(kind: str, corner: float, gain: float, q: float) -> None:
    """Over the allowed range (Q 0.3–2, ±12 dB), including resonant shelves that
    overshoot past the corner, the derived midpoint puts the full gain at the corner."""
    midpoint, reached = shelf_midpoint_hz(kind, gain, corner, q, SR)
    assert reached and 0 < midpoint < 0.45 * SR
    at_corner = sos_response_db(biquad(kind, gain, midpoint, q, SR), corner, SR)
    assert abs(at_corner - gain) <= SHELF_CORNER_TOLERANCE_DB + 1e-9
    if abs(gain) <= 2 * SHELF_CORNER_TOLERANCE_DB:
        assert midpoint == corner  # half the gain is already within the tolerance


def test_a_shelf_that_cannot_reach_full_gain_says_so() -> None:
    with pytest.raises(ValueError, match="not a shelf"):
        shelf_midpoint_hz("peaking", 1.0, 100.0, 0.7, SR)
    # A wide bass shelf on a 4 kHz signal: the midpoint may not go above 0.45 × 4 kHz.
    profile = make_profile(eq__bass__gain_db=-12.0, eq__bass__freq_hz=500.0, eq__bass__q=0.3)
    sos, notes = eq_sos({"bass": profile.bass}, 4000)
    assert len(notes) == 1 and notes[0].startswith("bass low_shelf: ")
    assert notes[0].endswith("instead of -12 dB (midpoint limited to 1800 Hz at 4000 Hz)")
    assert -12.0 + SHELF_CORNER_TOLERANCE_DB < sos_response_db(sos, 500.0, 4000) < -6.0
    # A corner at the clamp has no room at all: the midpoint stays on it.
    assert shelf_midpoint_hz("low_shelf", 6.0, 1800.0, 0.707, 4000) == (1800.0, False)


def test_eq_measured_with_sine_tones_matches_the_profile() -> None:
    profile = make_profile(eq__bass__gain_db=6.0, eq__mid__gain_db=-4.0, eq__treble__gain_db=5.0)
    # Full gain at each band's frequency and beyond the shelf corners (inside each
    # shelf); ±0.5 dB of the profile (the other bands leak a little), and the tone
    # measurement agrees with the filters' computed response to 0.05 dB.
    expectations = [
        (30.0, 6.0),
        (profile.bass.freq_hz, 6.0),
        (profile.mid.freq_hz, -4.0),
        (profile.treble.freq_hz, 5.0),
        (12000.0, 5.0),
        (19000.0, 5.0),
    ]
    for freq, expected in expectations:
        measured = tone_gain_db(profile, freq)
        assert measured == pytest.approx(expected, abs=0.5), freq
        assert measured == pytest.approx(cascade_db(profile, freq), abs=0.05), freq


def test_zero_gain_bands_are_skipped_and_high_frequencies_clamped() -> None:
    flat = load_profile(REPO_PROFILES, "unknown")
    sos, notes = eq_sos(flat.bands, SR)
    assert sos.shape == (0, 6) and notes == []
    audio = pink_noise(SR, 0.5)
    assert np.array_equal(apply_eq(audio, SR, flat.bands)[0], audio)
    studio = load_profile(REPO_PROFILES, "studio")
    sos, notes = eq_sos(studio.bands, 8000)
    assert notes == ["treble high_shelf moved from 8000 Hz to 3600 Hz (0.45 × 8000 Hz)"]
    with pytest.raises(ValueError, match="unknown filter kind"):
        biquad("notch", 1.0, 100.0, 1.0, SR)


@pytest.mark.parametrize("kind", DETECTABLE_TYPES)
@pytest.mark.parametrize(
    ("signal", "sr"),
    [("sweep", SR), ("pink", SR), ("sid_mono_22k", 22050), ("studio", SR), ("metal", SR)],
)
def test_loudness_and_true_peak_targets_are_met(kind: str, signal: str, sr: int) -> None:
    audio = {
        "sweep": lambda: sine_sweep(sr, 3.0),
        "pink": lambda: pink_noise(sr, 3.0, seed=5),
        "sid_mono_22k": lambda: sid_like(sr, 3.0, channels=1)[:, 0],
        "studio": lambda: studio_like(3.0),
        "metal": lambda: metal_like(3.0),
    }[signal]()
    profile = load_profile(REPO_PROFILES, kind)
    out, report = apply_profile(audio, sr, profile)
    assert out.shape == audio.shape
    assert integrated_loudness_lufs(out, sr) == pytest.approx(profile.target_lufs, abs=0.5)
    assert true_peak_dbtp(out) <= profile.true_peak_ceiling_dbtp
    assert report.loudness_out_lufs == pytest.approx(integrated_loudness_lufs(out, sr))
    assert report.true_peak_out_dbtp == pytest.approx(true_peak_dbtp(out))
    assert report.profile_type == kind and report.profile_version == "1.0" and not report.silent


def test_applying_a_profile_is_deterministic() -> None:
    audio = sid_like(SR, 3.0, seed=9)
    profile = load_profile(REPO_PROFILES, "sid_8580")
    first, report_1 = apply_profile(audio, SR, profile)
    second, report_2 = apply_profile(audio.copy(), SR, profile)
    assert first.tobytes() == second.tobytes()
    assert report_1 == report_2


def test_heavy_limiting_still_meets_both_targets() -> None:
    profile = make_profile(loudness__target_lufs=-8.0, loudness__true_peak_ceiling_dbtp=-1.0)
    audio = pink_noise(SR, 4.0, level_dbfs=-30.0)  # Gaussian peaks ~13 dB over RMS
    out, report = apply_profile(audio, SR, profile)
    assert report.limiter_max_reduction_db > 3.0
    assert integrated_loudness_lufs(out, SR) == pytest.approx(-8.0, abs=0.5)
    assert true_peak_dbtp(out) <= -1.0 - FINAL_MARGIN_DB + 1e-9
    assert report.iterations > 1 and not report.target_missed


def test_an_unreachable_target_is_reported_not_raised() -> None:
    profile = make_profile(loudness__target_lufs=-5.0, loudness__true_peak_ceiling_dbtp=-9.0)
    out, report = apply_profile(sine_sweep(SR, 2.0), SR, profile)
    assert any("not reached" in note for note in report.notes)
    assert report.target_missed and report.to_json()["target_missed"] is True
    assert true_peak_dbtp(out) <= -9.0
    assert report.loudness_out_lufs < -5.5


def test_width_scales_the_side_signal_only() -> None:
    audio = studio_like(2.0)
    wider = apply_width(audio, 1.5)
    mid_in, mid_out = audio.sum(axis=1), wider.sum(axis=1)
    side_in, side_out = audio[:, 0] - audio[:, 1], wider[:, 0] - wider[:, 1]
    assert np.allclose(mid_in, mid_out) and np.allclose(side_out, 1.5 * side_in)
    profile = make_profile(
        stereo__width_factor=1.5, eq__bass__gain_db=0.0, eq__mid__gain_db=0.0, eq__treble__gain_db=0.0
    )
    out, _ = apply_profile(audio, SR, profile)
    before = fingerprint(audio, SR, tempo=False).stereo_width_ratio
    assert fingerprint(out, SR, tempo=False).stereo_width_ratio == pytest.approx(before * 2.25, rel=0.02)
    mono, report = apply_profile(audio[:, 0], SR, profile)
    assert mono.ndim == 1 and "mono: stereo width left alone" in report.notes


def test_silence_is_left_as_silence() -> None:
    profile = load_profile(REPO_PROFILES, "studio")
    for audio in (np.zeros((SR, 2)), np.zeros(SR), np.zeros(0), np.full((SR, 2), 1e-6)):
        out, report = apply_profile(audio, SR, profile)
        assert report.silent and out.shape == audio.shape and np.array_equal(out, audio)
        assert any(note.startswith("silent") for note in report.notes)
        assert report.to_json()["silent"] is True


def test_nothing_audible_after_eq_is_left_unchanged() -> None:
    profile = make_profile(
        eq__bass__gain_db=-12.0, eq__bass__freq_hz=500.0,
        eq__mid__gain_db=-12.0, eq__mid__q=0.1,
        eq__treble__gain_db=-12.0, eq__treble__freq_hz=1000.0,
    )  # fmt: skip
    audio = pink_noise(SR, 2.0, level_dbfs=-66.0)
    assert integrated_loudness_lufs(audio, SR) > -70
    out, report = apply_profile(audio, SR, profile)
    assert report.silent and np.array_equal(out, audio)
    assert "nothing audible left after EQ: left unchanged" in report.notes


def test_very_short_clips_are_mastered() -> None:
    profile = load_profile(REPO_PROFILES, "studio")
    clip = pink_noise(SR, 0.1, seed=3)
    out, report = apply_profile(clip, SR, profile)
    assert integrated_loudness_lufs(out, SR) == pytest.approx(profile.target_lufs, abs=0.5)
    assert true_peak_dbtp(out) <= profile.true_peak_ceiling_dbtp
    assert report.notes[0] == "shorter than 0.4 s: loudness measured as if looped"
    tiny, _ = apply_profile(np.array([0.2, -0.3, 0.25, -0.1]), SR, profile)
    assert tiny.shape == (4,) and np.all(np.isfinite(tiny))
    with pytest.raises(ValueError, match="sample rate"):
        apply_profile(clip, -1, profile)


@pytest.mark.parametrize("span", [1, 2, 3, 4, 7])
def test_limiter_building_blocks_match_brute_force(span: int) -> None:
    values = np.random.default_rng(span).uniform(0, 5, 60) * (np.random.default_rng(span + 1).uniform(size=60) > 0.7)
    forward = [max(values[i : i + span + 1]) for i in range(len(values))]
    assert np.allclose(_forward_max(values, span), forward)
    padded = np.concatenate([np.full(span, values[0]), values])
    backward = [padded[i : i + span + 1].mean() for i in range(len(values))]
    assert np.allclose(_backward_mean(values, span), backward)
    decay = 5.0
    held = [max(values[j] * math.exp(-(i - j) / decay) for j in range(i + 1)) for i in range(len(values))]
    assert np.allclose(_release(values, decay), held)
    assert np.array_equal(_forward_max(values, 0), values) and np.array_equal(_backward_mean(values, 0), values)


def test_limiter_looks_ahead_and_releases() -> None:
    sr = 48000
    t = np.arange(sr) / sr
    quiet = 0.1 * np.sin(2 * np.pi * 997 * t)
    burst = slice(24000, 24480)  # 10 ms at full scale
    audio = quiet.copy()
    audio[burst] *= 10
    lookahead_ms, release_ms = 5.0, 50.0
    out, reduction = limit(
        audio[:, np.newaxis], sr, ceiling_dbtp=-6.0, lookahead_ms=lookahead_ms, release_ms=release_ms
    )
    gain = np.divide(out[:, 0], audio, out=np.ones_like(audio), where=np.abs(audio) > 1e-3)
    ahead = round(lookahead_ms * sr / 1000)
    assert reduction == pytest.approx(6.0, abs=0.3)
    assert true_peak_dbtp(out) <= -6.0
    assert np.allclose(gain[: burst.start - ahead - 50], 1.0)  # untouched well before
    assert gain[burst.start - ahead // 2] < 0.9  # already ramping down before the peak
    loud = np.abs(audio) > 0.5
    assert np.allclose(gain[loud], 10 ** (-reduction / 20), rtol=0.05)
    # Released exponentially in dB: one time constant after the burst ~1/e of the reduction left.
    later = burst.stop + round(release_ms * sr / 1000)
    left_db = -20 * math.log10(abs(gain[later]))
    assert left_db == pytest.approx(reduction / math.e, rel=0.25)
    untouched, none = limit(audio[:, np.newaxis], sr, ceiling_dbtp=0.0, lookahead_ms=5.0, release_ms=50.0, gain_db=-3.0)
    assert none == 0.0 and np.allclose(untouched[:, 0], audio * 10 ** (-3 / 20))


def test_report_json_is_rounded_and_complete() -> None:
    _, report = apply_profile(pink_noise(SR, 1.0), SR, load_profile(REPO_PROFILES, "metal"))
    data = report.to_json()
    assert data["profile_type"] == "metal" and data["parameters"]["eq.bass.gain_db"] == 2.0
    assert all(round(v, 4) == v for v in data.values() if isinstance(v, float))
    assert isinstance(data["notes"], list)


def test_the_final_trim_catches_what_the_limiter_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    from sidflow_pipeline.mastering import dsp

    monkeypatch.setattr(dsp, "LIMITER_MARGIN_DB", -0.5)  # a limiter aiming 0.5 dB too high
    profile = make_profile(loudness__target_lufs=-10.0)
    out, report = apply_profile(pink_noise(SR, 2.0), SR, profile)
    assert true_peak_dbtp(out) == pytest.approx(-1.0 - FINAL_MARGIN_DB, abs=1e-6)
    assert report.true_peak_out_dbtp == pytest.approx(true_peak_dbtp(out))
