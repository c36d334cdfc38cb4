"""Signals built to each recording type's documented fingerprint (docs/mastering.md).

Each one is the textbook case of its row in the detector's rules table, made from
seeded noise so the tests are reproducible: a studio mix is balanced, dynamic and
moderately wide; a bootleg is dark, bass-heavy and mono; metal is bright, dense,
clipped and wide; a lone 3 kHz tone fits nothing.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

SR = 44100


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _shaped_noise(rng: np.random.Generator, count: int, exponent: float) -> np.ndarray:
    """Noise with power ∝ 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    freqs = np.fft.rfftfreq(count, 1 / SR)
    spectrum[1:] /= np.maximum(freqs[1:], 10.0) ** (exponent / 2)
    spectrum[0] = 0
    out = np.fft.irfft(spectrum, n=count)
    return out / np.std(out)


def _normalise(stereo: np.ndarray, rms_dbfs: float = -20.0) -> np.ndarray:
    return stereo / np.sqrt(np.mean(stereo**2)) * 10 ** (rms_dbfs / 20)


def studio_like(seconds: float = 4.0, seed: int = 1) -> np.ndarray:
    rng = _rng(seed)
    count = round(seconds * SR)
    lowpass = butter(2, 5000, "low", fs=SR, output="sos")
    common, left, right = (sosfilt(lowpass, _shaped_noise(rng, count, 1.0)) for _ in range(3))
    t = np.arange(count) / SR
    dynamics = 0.25 + 0.75 * np.abs(np.sin(2 * np.pi * 0.7 * t)) ** 3  # verses and choruses
    stereo = np.column_stack([common + 0.7 * left, common + 0.7 * right]) * dynamics[:, np.newaxis]
    return _normalise(stereo)


def bootleg_like(seconds: float = 4.0, seed: int = 2) -> np.ndarray:
    rng = _rng(seed)
    lowpass = butter(2, 400, "low", fs=SR, output="sos")
    mono = sosfilt(lowpass, _shaped_noise(rng, round(seconds * SR), 2.0))
    return _normalise(np.column_stack([mono, mono]))


def metal_like(seconds: float = 4.0, seed: int = 3) -> np.ndarray:
    rng = _rng(seed)
    count = round(seconds * SR)
    highpass = butter(2, 300, "high", fs=SR, output="sos")
    common, left, right = (sosfilt(highpass, _shaped_noise(rng, count, 0.5)) for _ in range(3))
    stereo = np.column_stack([common + 0.7 * left, common + 0.7 * right])
    return _normalise(np.tanh(0.5 * stereo / np.std(stereo)))  # soft-clipped: a dense wall, crest ~7 dB


def unknown_like(seconds: float = 4.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return 0.3 * np.sin(2 * np.pi * 3000.0 * t)
