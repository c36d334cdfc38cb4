"""The fingerprint of a recording: what the detector reads and the feedback log keeps.

Every field carries its unit in its name, so a line of ``ratings.jsonl`` can be read
months later without this module. All spectral fields come from one long-term
average spectrum (Welch, Hann window, 8,192-sample segments, half overlap, summed over
the channels), so they are consistent with each other and cheap: the band fractions
add up to 1, and the centroid is the balance point of the same power that the
fractions split. Power (not magnitude) weighting makes the centroid read like the
reference measurements the recording types were described with: bass-heavy live
bootlegs at a few hundred Hz, bright compressed metal well above 1 kHz.

======================  ==============================================================
field                   meaning
======================  ==============================================================
``duration_s``          length (s)
``sample_rate_hz``      sample rate (Hz)
``channels``            1 (mono) or 2 (stereo)
``band_*_fraction``     share of the 20 Hz–20 kHz power in each band of :data:`BANDS`
                        (0–1; bands above the Nyquist frequency are 0)
``spectral_centroid_hz``  power-weighted mean frequency of the long-term spectrum (Hz)
``spectral_flatness``   geometric / arithmetic mean of that spectrum (≈1 white noise,
                        ≈0.4 pink noise, ≈0 a few pure tones)
``bass_mid_ratio_db``   power 20–250 Hz over power 250 Hz–4 kHz (dB, clamped to ±60)
``stereo_width_ratio``  side/mid energy ratio, S = (L−R)/2 over M = (L+R)/2 (0 mono or
                        identical channels, 1 uncorrelated, capped at 10 for anti-phase)
``crest_factor_db``     sample peak over RMS of all samples (dB; 0 for silence)
``sample_peak_dbfs``    largest absolute sample (dBFS, floor −120)
``rms_dbfs``            RMS of all samples (dBFS, floor −120)
``loudness_lufs``       ITU-R BS.1770-4 integrated loudness (pyloudnorm; LUFS, floor −70)
``true_peak_dbtp``      peak of the 4× oversampled signal (dBTP, floor −120)
``tempo_bpm``           librosa's tempo estimate (BPM); 0 for silence or under 2 s;
                        ``None`` when not asked for (it is the one slow field)
======================  ==============================================================

Edge cases, decided once here so that every caller agrees:

* **Silence** gives the floors above, zero fractions, centroid, flatness, width and
  crest — never a division by zero or a NaN.
* **Shorter than 0.4 s** (one BS.1770 gating block): loudness is measured on the clip
  repeated to one block, i.e. the loudness it has when looped, instead of failing.
* **True peak** is the larger of the sample peak and the 4× polyphase-oversampled peak
  (``scipy.signal.resample_poly``), so it is never below the sample peak even where the
  interpolation filter's ripple would undershoot.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.mastering.audio import as_frames, read_audio
from sidflow_pipeline.numba_lock import load_librosa

__all__ = [
    "BANDS",
    "LEVEL_FLOOR_DB",
    "LOUDNESS_BLOCK_S",
    "LOUDNESS_FLOOR_LUFS",
    "OVERSAMPLING",
    "Fingerprint",
    "fingerprint",
    "fingerprint_file",
    "integrated_loudness_lufs",
    "oversampled_peaks",
    "true_peak_dbtp",
]

# (name, low Hz inclusive, high Hz exclusive): the usual seven mastering bands.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 250.0),
    ("low_mid", 250.0, 500.0),
    ("mid", 500.0, 2000.0),
    ("high_mid", 2000.0, 4000.0),
    ("presence", 4000.0, 6000.0),
    ("air", 6000.0, 20000.0),
)
SPECTRUM_LOW_HZ = 20.0
SPECTRUM_HIGH_HZ = 20000.0
BASS_RANGE_HZ = (20.0, 250.0)
MID_RANGE_HZ = (250.0, 4000.0)
WELCH_SEGMENT = 8192

OVERSAMPLING = 4  # ITU-R BS.1770-4 true peak at 4× (the standard's figure for 48 kHz)
LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block: pyloudnorm needs at least this much
LOUDNESS_FLOOR_LUFS = -70.0  # BS.1770 absolute gate: nothing quieter counts as programme
LEVEL_FLOOR_DB = -120.0
RATIO_LIMIT_DB = 60.0
WIDTH_CAP = 10.0
MIN_TEMPO_S = 2.0  # under two beats at 60 BPM there is no tempo to estimate
TEMPO_HOP = 512
SIGNIFICANT_DIGITS = 6


@dataclass(frozen=True)
class Fingerprint:
    """Measured once per recording; values are rounded to 6 significant digits so the
    object and its JSON agree exactly and two runs give identical log lines."""

    duration_s: float
    sample_rate_hz: int
    channels: int
    band_sub_fraction: float
    band_bass_fraction: float
    band_low_mid_fraction: float
    band_mid_fraction: float
    band_high_mid_fraction: float
    band_presence_fraction: float
    band_air_fraction: float
    spectral_centroid_hz: float
    spectral_flatness: float
    bass_mid_ratio_db: float
    stereo_width_ratio: float
    crest_factor_db: float
    sample_peak_dbfs: float
    rms_dbfs: float
    loudness_lufs: float
    true_peak_dbtp: float
    tempo_bpm: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        """Tolerates extra keys (a newer writer) but not missing ones."""
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def _round(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return 0.0 if rounded == 0 else rounded


def _db(power_ratio: float, floor: float = LEVEL_FLOOR_DB) -> float:
    return max(floor, 10.0 * math.log10(power_ratio)) if power_ratio > 0 else floor


def _oversample(frames: np.ndarray) -> np.ndarray:
    """``(channels, frames × 4)``: channel rows, so each channel is contiguous.

    In float32: 2.5× faster than float64, and its 6e-8 relative error moves a peak
    by under 1e-6 dB.
    """
    from scipy.signal import resample_poly

    rows = np.ascontiguousarray(frames.T, dtype=np.float32)
    return np.asarray(resample_poly(rows, OVERSAMPLING, 1, axis=1))


def oversampled_peaks(frames: np.ndarray) -> np.ndarray:
    """Per input frame, the largest absolute value of any channel in the 4×
    oversampled signal over the interval (frame − 1, frame + 1), and the frame itself.

    This is what the limiter must keep under its ceiling: a peak between two samples
    belongs to both neighbours, so either may carry the gain reduction.
    """
    count = frames.shape[0]
    if count == 0:
        return np.zeros(0)
    upsampled = np.abs(_oversample(frames))
    envelope = upsampled[0]
    for row in upsampled[1:]:
        np.maximum(envelope, row, out=envelope)
    quads = envelope[: count * OVERSAMPLING].reshape(count, OVERSAMPLING)
    # Element-wise maxima of the four phases: much faster than a 4-wide axis reduction.
    per_interval = np.maximum(np.maximum(quads[:, 0], quads[:, 1]), np.maximum(quads[:, 2], quads[:, 3]))
    per_interval = per_interval.astype(np.float64)
    peaks: np.ndarray = np.maximum(per_interval, np.abs(frames).max(axis=1) if frames.shape[1] > 1 else np.abs(frames[:, 0]))
    peaks[1:] = np.maximum(peaks[1:], per_interval[:-1])
    return peaks


def true_peak_dbtp(audio: Any) -> float:
    """True peak (dBTP, floor −120) of ``(frames,)`` or ``(frames, channels)`` audio."""
    frames = as_frames(audio)
    if frames.shape[0] == 0:
        return LEVEL_FLOOR_DB
    upsampled = _oversample(frames)
    peak = max(float(upsampled.max()), -float(upsampled.min()), float(frames.max()), -float(frames.min()))
    return max(LEVEL_FLOOR_DB, 20.0 * math.log10(peak)) if peak > 0 else LEVEL_FLOOR_DB


def integrated_loudness_lufs(audio: Any, sr: int) -> float:
    """BS.1770-4 integrated loudness (LUFS, floor −70); clips under 0.4 s are looped."""
    import pyloudnorm

    frames = as_frames(audio)
    if frames.shape[0] == 0 or not np.any(frames):
        return LOUDNESS_FLOOR_LUFS
    block = math.ceil(LOUDNESS_BLOCK_S * sr) + 1
    if frames.shape[0] < block:
        frames = np.tile(frames, (math.ceil(block / frames.shape[0]), 1))
    value = float(pyloudnorm.Meter(sr, block_size=LOUDNESS_BLOCK_S).integrated_loudness(frames))
    return value if math.isfinite(value) and value > LOUDNESS_FLOOR_LUFS else LOUDNESS_FLOOR_LUFS


def _spectrum(frames: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and channel-summed Welch power in the analysed 20 Hz–20 kHz range."""
    from scipy.signal import welch

    count = frames.shape[0]
    if count < 2:
        return np.zeros(0), np.zeros(0)
    segment = min(WELCH_SEGMENT, count)
    freqs, power = welch(frames, fs=sr, nperseg=segment, axis=0, window="hann")
    power = power.sum(axis=1)
    keep = (freqs >= SPECTRUM_LOW_HZ) & (freqs < SPECTRUM_HIGH_HZ)
    return freqs[keep], power[keep]


def _band_power(freqs: np.ndarray, power: np.ndarray, low: float, high: float) -> float:
    return float(power[(freqs >= low) & (freqs < high)].sum())


def _tempo_bpm(frames: np.ndarray, sr: int) -> float:
    librosa = load_librosa()

    if frames.shape[0] < MIN_TEMPO_S * sr or not np.any(frames):
        return 0.0
    mono = frames.mean(axis=1).astype(np.float32)
    envelope = librosa.onset.onset_strength(y=mono, sr=sr, hop_length=TEMPO_HOP)
    if not float(envelope.max(initial=0.0)) > 1e-6:  # a held tone: nothing starts or stops
        return 0.0
    return float(librosa.feature.tempo(onset_envelope=envelope, sr=sr, hop_length=TEMPO_HOP)[0])


def fingerprint(audio: Any, sr: int, *, tempo: bool = True) -> Fingerprint:
    """Fingerprint of an in-memory signal (``(frames,)`` mono or ``(frames, 2)``).

    ``tempo=False`` skips librosa (the slowest part, and ~2 s of JIT warm-up on the
    first call in a process) for callers that only compare levels and spectra.
    """
    if not sr > 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    frames = as_frames(audio)
    count, channels = frames.shape
    freqs, power = _spectrum(frames, sr)
    total = float(power.sum())
    if total > 0:
        fractions = [_band_power(freqs, power, low, high) / total for _, low, high in BANDS]
        centroid = float((freqs * power).sum() / total)
        flatness = float(np.exp(np.mean(np.log(np.maximum(power, total * 1e-30)))) / power.mean())
        bass = _band_power(freqs, power, *BASS_RANGE_HZ)
        mid = _band_power(freqs, power, *MID_RANGE_HZ)
        if bass > 0 and mid > 0:
            ratio = max(-RATIO_LIMIT_DB, min(RATIO_LIMIT_DB, 10.0 * math.log10(bass / mid)))
        else:
            ratio = RATIO_LIMIT_DB if bass > 0 else (-RATIO_LIMIT_DB if mid > 0 else 0.0)
    else:
        fractions, centroid, flatness, ratio = [0.0] * len(BANDS), 0.0, 0.0, 0.0

    width = 0.0
    if channels == 2 and count:
        mid_energy = float(np.mean(((frames[:, 0] + frames[:, 1]) / 2) ** 2))
        side_energy = float(np.mean(((frames[:, 0] - frames[:, 1]) / 2) ** 2))
        if mid_energy > 0:
            width = min(WIDTH_CAP, side_energy / mid_energy)
        elif side_energy > 0:
            width = WIDTH_CAP

    peak = float(np.abs(frames).max()) if count else 0.0
    mean_square = float(np.mean(frames**2)) if count else 0.0
    crest = _db(peak**2 / mean_square, floor=0.0) if mean_square > 0 else 0.0
    values: dict[str, Any] = {
        "duration_s": count / sr,
        "spectral_centroid_hz": centroid,
        "spectral_flatness": flatness,
        "bass_mid_ratio_db": ratio,
        "stereo_width_ratio": width,
        "crest_factor_db": crest,
        "sample_peak_dbfs": _db(peak**2),
        "rms_dbfs": _db(mean_square),
        "loudness_lufs": integrated_loudness_lufs(frames, sr),
        "true_peak_dbtp": true_peak_dbtp(frames),
    }
    values.update({f"band_{name}_fraction": share for (name, _, _), share in zip(BANDS, fractions, strict=True)})
    rounded = {key: _round(value) for key, value in values.items()}
    return Fingerprint(
        sample_rate_hz=int(sr),
        channels=int(channels),
        tempo_bpm=_round(_tempo_bpm(frames, sr)) if tempo else None,
        **rounded,
    )


def fingerprint_file(path: Path | str, *, tempo: bool = True) -> Fingerprint:
    """Fingerprint of any file libsndfile reads; :class:`AudioReadError` names the file."""
    frames, sr = read_audio(path)
    return fingerprint(frames, sr, tempo=tempo)
