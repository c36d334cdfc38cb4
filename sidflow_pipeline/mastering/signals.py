"""Generated test signals: what a profile is validated on when no real tracks are at hand.

Three kinds stress a mastering chain in different ways: a logarithmic **sine sweep**
(one frequency at a time: exposes the EQ curve and inter-sample peaks at high
frequencies), **pink noise** (every band at once, Gaussian peaks ~13 dB above RMS: the
limiter must work) and a **SID-like tune** (naive pulse and sawtooth oscillators
stepped at the PAL frame rate, ADSR envelopes, a noise-waveform drum, a resonant
low-pass: square-ish, aliased, with flat-topped peaks — what our renders sound like).

Everything is seeded (``numpy.random.PCG64``), so a validation run is reproducible
bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["SIGNALS", "make_signal", "pink_noise", "sid_like", "sine_sweep"]

PAL_FRAME_HZ = 50.0
# A minor-key arpeggio and bass line in semitones from A4 (440 Hz), one step per frame group.
_ARPEGGIO = (0, 3, 7, 12, 7, 3)
_BASS_LINE = (-24, -24, -29, -27)


def _stereo(left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
    return np.column_stack([left, left if right is None else right])


def sine_sweep(sr: int, seconds: float, *, level_dbfs: float = -12.0, channels: int = 2) -> np.ndarray:
    """Exponential sweep from 20 Hz to 0.45·sr (≤ 20 kHz), identical on both channels."""
    count = max(1, round(seconds * sr))
    t = np.arange(count) / sr
    f0, f1 = 20.0, min(20000.0, 0.45 * sr)
    rate = np.log(f1 / f0)
    phase = 2 * np.pi * f0 * seconds / rate * (np.exp(t / seconds * rate) - 1.0)
    mono = 10 ** (level_dbfs / 20) * np.sin(phase)
    return _stereo(mono) if channels == 2 else mono[:, np.newaxis]


def pink_noise(sr: int, seconds: float, *, seed: int = 0, level_dbfs: float = -20.0, channels: int = 2) -> np.ndarray:
    """1/f noise (−3 dB/octave) at ``level_dbfs`` RMS; stereo channels are independent."""
    count = max(1, round(seconds * sr))
    rng = np.random.Generator(np.random.PCG64(seed))
    white = rng.standard_normal((count, channels))
    spectrum = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(count, 1 / sr)
    shaping = np.zeros_like(freqs)
    shaping[1:] = 1 / np.sqrt(np.maximum(freqs[1:], 10.0))
    pink = np.fft.irfft(spectrum * shaping[:, np.newaxis], n=count, axis=0)
    rms = float(np.sqrt(np.mean(pink**2))) or 1.0
    return pink / rms * 10 ** (level_dbfs / 20)


def _lowpass(signal: np.ndarray, cutoff_hz: float, sr: int, resonance: float) -> np.ndarray:
    from scipy.signal import lfilter

    # A 2-pole resonant low-pass, like the SID's state-variable filter in LP mode.
    w0 = 2 * np.pi * min(cutoff_hz, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * resonance)
    b = np.array([(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2])
    a = np.array([1 + alpha, -2 * np.cos(w0), 1 - alpha])
    return np.asarray(lfilter(b / a[0], a / a[0], signal, axis=0))


def sid_like(
    sr: int,
    seconds: float,
    *,
    seed: int = 0,
    cutoff_hz: float = 3000.0,
    channels: int = 2,
    voices: int = 3,
    digi: bool = False,
    level_dbfs: float = -14.0,
) -> np.ndarray:
    """A synthetic SID tune: pulse arpeggio, sawtooth bass, noise drum, resonant low-pass.

    ``voices=6`` with ``channels=2`` puts a second, differently seeded SID on the
    right channel (a stereo 2SID render); ``digi=True`` adds 4-bit samples played
    at 11 kHz with zero-order hold (volume-register digis: broadband, aliased, hissy).
    """
    count = max(1, round(seconds * sr))
    t = np.arange(count) / sr
    rng = np.random.Generator(np.random.PCG64(seed))

    def one_chip(chip_seed: int) -> np.ndarray:
        chip_rng = np.random.Generator(np.random.PCG64(chip_seed))
        frame = np.floor(t * PAL_FRAME_HZ).astype(np.int64)
        transpose = int(chip_rng.integers(-5, 6))
        arp = np.asarray(_ARPEGGIO)[frame % len(_ARPEGGIO)] + transpose
        bass = np.asarray(_BASS_LINE)[(frame // 25) % len(_BASS_LINE)] + transpose
        # Frequencies change per frame, so integrate them (phase continuity, as the SID does).
        lead_phase = np.cumsum(440.0 * 2 ** (arp / 12) / sr)
        bass_phase = np.cumsum(440.0 * 2 ** (bass / 12) / sr)
        width = 0.25 + 0.2 * np.sin(2 * np.pi * 0.5 * t)  # pulse-width modulation
        lead = np.where(np.mod(lead_phase, 1.0) < width, 1.0, -1.0)
        saw = 2 * np.mod(bass_phase, 1.0) - 1
        beat = np.mod(t, 60 / 125) / (60 / 125)  # 125 BPM: "speed 6" at PAL
        lead_env = np.exp(-3.0 * np.mod(t, 60 / 250))
        bass_env = np.exp(-1.5 * beat)
        drum_env = np.exp(-25.0 * beat)
        noise = chip_rng.uniform(-1.0, 1.0, count)
        mix = 0.35 * lead * lead_env + 0.4 * saw * bass_env + 0.3 * noise * drum_env
        return _lowpass(mix, cutoff_hz, sr, resonance=1.2)

    left = one_chip(seed)
    right = one_chip(seed + 1000) if voices > 3 else left
    if digi:
        sample_rate = 11000.0
        held = np.floor(t * sample_rate)
        # 4-bit "drum sample" values, one per digi sample period, held until the next.
        codes = rng.integers(0, 16, int(held[-1]) + 1)
        envelope = np.exp(-8.0 * np.mod(t, 60 / 125))
        digi_track = (codes[held.astype(np.int64)] / 7.5 - 1.0) * envelope
        left = 0.3 * left + 1.2 * digi_track
        right = 0.3 * right + 1.2 * digi_track
    out = _stereo(left, right) if channels == 2 else ((left + right) / 2)[:, np.newaxis]
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    return out / rms * 10 ** (level_dbfs / 20)


SIGNALS: dict[str, Callable[..., np.ndarray]] = {
    "sine_sweep": sine_sweep,
    "pink_noise": pink_noise,
    "sid_like": sid_like,
}


def make_signal(kind: str, sr: int, seconds: float, *, seed: int = 0, channels: int = 2) -> np.ndarray:
    """One of :data:`SIGNALS` by name (the validation suite and ``master test`` use this)."""
    if kind not in SIGNALS:
        raise ValueError(f"unknown test signal {kind!r} (expected one of {', '.join(SIGNALS)})")
    if kind == "sine_sweep":
        return sine_sweep(sr, seconds, channels=channels)
    return SIGNALS[kind](sr, seconds, seed=seed, channels=channels)
