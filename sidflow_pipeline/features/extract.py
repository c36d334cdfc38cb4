"""Per-song audio features for the ``audio_features`` asset (Phase 5 ``features`` object).

Why it looks the way it does:

* **Budget.** The whole pipeline may spend about one CPU-second per song, and
  rendering with sidplayfp already takes 0.6–0.75 s of it, so this module has about
  0.2 CPU-s for a 30 s mono 22,050 Hz excerpt (it uses ~0.1 s; ``bench/features.py``
  measures it). Therefore the STFT is computed **once** and every spectral, mel,
  MFCC, chroma and onset feature is derived from it (librosa's ``S=`` arguments);
  tempo comes from that same onset envelope (autocorrelation tempogram) instead of a
  second analysis chain; nothing that is numba-JIT-heavy (``beat_track``: 1–8 s
  first-call compile) or costly (HPSS for a harmonic ratio: 70–120 ms even on the
  mel spectrogram; Essentia RhythmExtractor2013: 80–290 ms) is used. Essentia
  PitchSalience was tried and dropped: it reads ~π/4 on white noise, as high as on a
  clear pitched lead, so flatness and the chroma features carry "tonal vs noisy".
* **Cheap import.** librosa (numba compiles at import, ~1 s) and Essentia (~0.6 s)
  are imported inside the functions that need them, so the Dagster definitions and
  the CLI can import this module — and :data:`FEATURE_NAMES` — without paying for
  them. A worker process pays once, on its first song.
* **Threads.** Nothing here starts threads, but numpy's BLAS may; the pipeline runs
  one worker per core, so workers should set ``OMP_NUM_THREADS=1`` /
  ``OPENBLAS_NUM_THREADS=1`` (or use threadpoolctl) — the budget assumes one core.
* **Byte-deterministic JSONL.** Every value is a plain ``float`` rounded to
  :data:`SIGNIFICANT_DIGITS` significant digits, ``-0.0`` becomes ``0.0``, and a
  non-finite value (which only a library edge case could produce) becomes ``0.0``,
  so the same samples give the same JSON text on every run, and last-bit differences
  between machines' FFT/BLAS builds are rounded away.
* **Silence.** SID renders often start, end or pause in digital silence. Averages of
  per-frame spectral features (centroid, rolloff, flatness, ZCR, MFCC, …) are taken
  over *sounding* frames only (frame RMS ≥ :data:`SILENCE_DBFS`), otherwise a tune
  with a long pause would look darker rather than merely sparser; how much is silent
  is reported separately as ``silenceRatio``. An all-silent signal yields 0.0 for
  those averages, ``bpm = confidence = 0`` and ``loudnessLufs =`` :data:`LOUDNESS_FLOOR_LUFS`.

Features, in :data:`FEATURE_NAMES` order (the dict is built in this order, so a plain
``json.dumps`` keeps it; ``sort_keys=True`` is equally deterministic):

========================  =====================================================================
``energy``                mean squared amplitude of the whole excerpt (full scale = 1.0)
``rms``                   ``sqrt(energy)`` (linear, full scale = 1.0)
``spectralCentroid``      magnitude-weighted mean frequency, mean over sounding frames (Hz)
``spectralRolloff``       frequency below which 85 % of a frame's *energy* lies, mean (Hz)
``zeroCrossingRate``      sign changes per sample, mean over sounding frames (0–1)
``bpm``                   tempo (beats per minute); 0.0 when there is no pulse to measure
``confidence``            tempo confidence: onset-envelope autocorrelation at the beat lag (0–1)
``duration``              excerpt length (s)
``loudnessLufs``          ITU-R BS.1770 / EBU R128 integrated loudness (LUFS), floor -70
``rmsStd``                standard deviation of frame RMS (linear, full scale = 1.0)
``dynamicRange``          95th minus 10th percentile of sounding-frame level (dB)
``dynamicComplexity``     Essentia DynamicComplexity: mean loudness fluctuation (dB)
``silenceRatio``          fraction of frames whose RMS is below -60 dBFS (0–1)
``onsetRate``             detected note/drum onsets per second (1/s), sounding frames only
``spectralFlux``          mean positive log-mel spectral flux = librosa onset strength (dB/frame)
``spectralFlatness``      Wiener entropy of the power spectrum, mean (≈0 pure tone, ≈0.56 white noise)
``spectralContrast``      peak-to-valley contrast, mean over octave bands and frames (dB)
``mfcc1`` … ``mfcc13``    means of the first 13 MFCCs of a 128-band log-mel spectrum (dB scale)
``keyStrength``           Essentia Key (Krumhansl profiles) correlation of the mean chroma (≤ 1)
``keyMode``               1.0 major, 0.0 minor (also 0.0 when there is no tonal content)
``chromaEntropy``         Shannon entropy of the mean chroma / log2(12) (0 one pitch class … 1 all)
========================  =====================================================================
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from sidflow_pipeline.numba_lock import load_librosa

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SET_VERSION",
    "LOUDNESS_FLOOR_LUFS",
    "SIGNIFICANT_DIGITS",
    "SILENCE_DBFS",
    "STAGES",
    "extract_features",
    "extract_features_from_wav",
]

# Bump whenever a definition, parameter or rounding below changes: the trained model's
# ``model-metadata.json`` records the feature set it was trained on.
# 2026-12-05.4: rows also carry the SID register-trace features and sketch (features/trace.py).
FEATURE_SET_VERSION = "2026-12-05.4"

MFCC_COUNT = 13
FEATURE_NAMES: tuple[str, ...] = (
    # The design's Phase 5 fields first, in the design's order.
    "energy",
    "rms",
    "spectralCentroid",
    "spectralRolloff",
    "zeroCrossingRate",
    "bpm",
    "confidence",
    "duration",
    # Loudness and dynamics (energy / drive).
    "loudnessLufs",
    "rmsStd",
    "dynamicRange",
    "dynamicComplexity",
    "silenceRatio",
    # Rhythmic activity (energy / complexity).
    "onsetRate",
    "spectralFlux",
    # Timbre (mood / texture).
    "spectralFlatness",
    "spectralContrast",
    *(f"mfcc{index}" for index in range(1, MFCC_COUNT + 1)),
    # Tonality (mood / complexity).
    "keyStrength",
    "keyMode",
    "chromaEntropy",
)

# Stage names reported through ``extract_features(..., timings=...)``.
STAGES: tuple[str, ...] = ("stft", "spectral", "mfcc", "tempo", "key", "loudness", "dynamics")

SIGNIFICANT_DIGITS = 6
SILENCE_DBFS = -60.0
# EBU R128's absolute gate: nothing quieter counts as programme, so it is the honest
# value for silence (0.0 — the generic non-finite fallback — would read as "very loud").
LOUDNESS_FLOOR_LUFS = -70.0

N_FFT = 2048  # 93 ms at 22,050 Hz: ~11 Hz bins, enough for chroma above the bass octave
HOP = 512  # 23 ms frames: onset/tempo resolution, and ~1,300 frames per 30 s
ROLLOFF_PERCENT = 0.85
TEMPO_WINDOW_S = 8.0  # librosa.feature.tempo's default autocorrelation window
MAX_BPM = 320.0  # librosa.feature.tempo's default max_tempo
MIN_PULSE_FLUX_DB = 0.05  # below this mean onset strength nothing starts or stops (music: 0.6–2.8 dB)
CONTRAST_FMIN = 200.0
# ±1e-15 (−300 dBFS) at the Nyquist frequency: keeps IIR filter state out of the
# denormal range after a tune falls silent. Without it pyloudnorm takes 10–15× longer
# (12 → 190 ms) and Essentia DynamicComplexity 10× on mostly silent renders; the
# results are unchanged to every printed digit.
_DENORMAL_GUARD = 1e-15
_LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block


def extract_features(
    samples: np.ndarray,
    sample_rate: int,
    *,
    timings: dict[str, float] | None = None,
) -> dict[str, float]:
    """Features of one mono excerpt, keyed and ordered as :data:`FEATURE_NAMES`.

    ``samples`` is mono audio in [-1, 1] (any float dtype; analysed as float64 —
    float32 reductions differ in the last digits with memory alignment, which broke
    byte-identical JSONL across runs; Essentia stages get an exact float32 copy —
    non-finite samples count as 0). Stereo must be downmixed by the caller — a 2-D
    array is rejected rather than guessed at. Input shorter than one STFT frame
    (including empty input) is zero-padded to one frame for the spectral analysis, so
    it never crashes; ``duration`` still reports the true length.

    When ``timings`` is given, the CPU seconds of each stage in :data:`STAGES` are
    added to it — the benchmark uses this to see where the budget goes.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    y = np.asarray(samples, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"expected mono samples (1-D array), got shape {y.shape}")
    if not np.isfinite(y).all():
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    sr = int(sample_rate)
    duration = len(y) / sr
    energy = float(np.mean(np.square(y, dtype=np.float64))) if len(y) else 0.0
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))

    raw: dict[str, float] = {"energy": energy, "rms": math.sqrt(energy), "duration": duration}
    with _stage(timings, "stft"):
        magnitude, frame_rms = _spectrogram(y)
        frame_db = 20.0 * np.log10(np.maximum(frame_rms, 1e-10))
        sounding = frame_db >= SILENCE_DBFS
    with _stage(timings, "spectral"):
        raw.update(_spectral(y, sr, magnitude, sounding))
        raw["silenceRatio"] = 1.0 - float(np.mean(sounding))
        raw["rmsStd"] = float(np.std(frame_rms))
        raw["dynamicRange"] = (
            float(np.percentile(frame_db[sounding], 95) - np.percentile(frame_db[sounding], 10))
            if np.count_nonzero(sounding) > 1
            else 0.0
        )
    with _stage(timings, "mfcc"):
        mel_db, mfcc_means = _mel_and_mfcc(sr, magnitude, sounding)
        raw.update(mfcc_means)
    with _stage(timings, "tempo"):
        raw.update(_rhythm(sr, mel_db, sounding, duration))
    with _stage(timings, "key"):
        raw.update(_tonality(sr, magnitude, sounding))
    with _stage(timings, "loudness"):
        guarded = _denormal_guarded(y)
        raw["loudnessLufs"] = _integrated_loudness(guarded, sr)
    with _stage(timings, "dynamics"):
        raw["dynamicComplexity"] = _dynamic_complexity(guarded, sr)
    return {name: _clean(raw[name]) for name in FEATURE_NAMES}


def extract_features_from_wav(path: Path) -> dict[str, float]:
    """Features of a WAV file (e.g. a ``wav_cache`` excerpt); multi-channel is averaged to mono.

    The renders are mono already; averaging keeps a stray stereo file usable instead
    of failing the song.
    """
    data, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    return extract_features(mono, int(sample_rate))


@contextmanager
def _stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the CPU time of the block to ``timings[name]`` (no-op without a dict)."""
    if timings is None:
        yield
        return
    start = time.process_time()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.process_time() - start


def _clean(value: Any) -> float:
    """Plain float, finite (else 0.0), rounded to SIGNIFICANT_DIGITS, never -0.0."""
    number = float(value)
    if not math.isfinite(number):
        return 0.0
    return float(f"{number:.{SIGNIFICANT_DIGITS}g}") + 0.0


def _sounding_mean(values: np.ndarray, sounding: np.ndarray) -> float:
    """Mean over sounding frames; 0.0 when nothing sounds (see module docstring)."""
    count = min(values.shape[-1], sounding.shape[-1])
    selected = values[..., :count][..., sounding[:count]]
    return float(np.mean(selected)) if selected.size else 0.0


def _spectrogram(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one STFT magnitude everything spectral derives from, plus aligned frame RMS."""
    librosa = load_librosa()

    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    # Same framing (centred, hop, length) as the STFT, so frame i of both agree.
    frame_rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    return magnitude, frame_rms


def _spectral(y: np.ndarray, sr: int, magnitude: np.ndarray, sounding: np.ndarray) -> dict[str, float]:
    """Brightness, noisiness and texture from the shared magnitude spectrogram."""
    librosa = load_librosa()

    power = magnitude**2
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=N_FFT)
    # Rolloff over power, not magnitude: the design defines it by spectral *energy*.
    rolloff = librosa.feature.spectral_rolloff(S=power, sr=sr, n_fft=N_FFT, roll_percent=ROLLOFF_PERCENT)
    flatness = librosa.feature.spectral_flatness(S=magnitude)
    # Octave bands from 200 Hz; fewer bands at low sample rates so the top one fits below Nyquist.
    n_bands = max(1, min(6, int(math.floor(math.log2(sr / 2 / CONTRAST_FMIN - 1e-9))) + 1))
    contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=N_FFT, fmin=CONTRAST_FMIN, n_bands=n_bands)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)
    return {
        "spectralCentroid": _sounding_mean(centroid[0], sounding),
        "spectralRolloff": _sounding_mean(rolloff[0], sounding),
        "spectralFlatness": _sounding_mean(flatness[0], sounding),
        "spectralContrast": _sounding_mean(contrast, sounding),
        "zeroCrossingRate": _sounding_mean(zcr[0], sounding),
    }


def _mel_and_mfcc(sr: int, magnitude: np.ndarray, sounding: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Log-mel spectrum (shared with onset detection) and the MFCC means."""
    librosa = load_librosa()

    mel = librosa.feature.melspectrogram(S=magnitude**2, sr=sr, n_fft=N_FFT)
    # Absolute dB (ref 1.0) so mfcc1 tracks level; librosa's own onset_strength uses the same scaling.
    mel_db = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=MFCC_COUNT)
    means = {f"mfcc{index + 1}": _sounding_mean(mfcc[index], sounding) for index in range(MFCC_COUNT)}
    return mel_db, means


def _rhythm(sr: int, mel_db: np.ndarray, sounding: np.ndarray, duration: float) -> dict[str, float]:
    """Onsets, spectral flux and tempo from one onset-strength envelope.

    Tempo is librosa's autocorrelation-tempogram estimate (log-normal prior around
    120 BPM) on the envelope the MFCCs' mel spectrum already gave: ~13 ms per 30 s.
    Measured on the HVSC sample (``bench/features.py --compare-tempo``), Essentia
    PercivalBpmEstimator and RhythmExtractor2013(degara) cost ~40 ms and
    RhythmExtractor2013(multifeature) ~150 ms, the latter two assume 44.1 kHz input,
    and multifeature mostly agrees with this estimate up to the octave (SID tunes at
    "speed 6" are 125 BPM, which multifeature often calls 250).

    The tempogram's lag bins are ~5 % apart near 120 BPM at a 512-sample hop (117.5,
    123.0, …), which would collapse 120 and 125 BPM onto one value; a parabola through
    the peak and its neighbours recovers the fractional lag.

    ``confidence`` is the autocorrelation of the mean-removed envelope at that lag
    over the whole excerpt (lag 0 = 1): near 1 for a click track, near 0 for noise.
    The tempogram itself is no measure of confidence: it does not remove the mean, so
    steady noise scores ~0.9 at every lag. An envelope with (almost) no flux — a held
    tone — has no pulse at all, and neither has an excerpt shorter than two beats:
    both report ``bpm = confidence = 0``.
    """
    librosa = load_librosa()

    envelope = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP)
    onsets = onsets[onsets < len(sounding)]
    flux = _sounding_mean(envelope, sounding)
    result = {
        "spectralFlux": flux,
        "onsetRate": int(np.count_nonzero(sounding[onsets])) / duration if duration > 0 else 0.0,
        "bpm": 0.0,
        "confidence": 0.0,
    }
    if flux < MIN_PULSE_FLUX_DB:
        return result
    window = int(librosa.time_to_frames(TEMPO_WINDOW_S, sr=sr, hop_length=HOP))
    tempogram = librosa.feature.tempogram(onset_envelope=envelope, sr=sr, hop_length=HOP, win_length=window)
    bpm = float(librosa.feature.tempo(tg=tempogram, sr=sr, hop_length=HOP, max_tempo=MAX_BPM)[0])
    autocorrelation = tempogram.mean(axis=1)
    lag = int(round(60.0 * sr / (HOP * bpm)))
    fractional_lag = float(lag)
    if 0 < lag < len(autocorrelation) - 1:
        before, peak, after = autocorrelation[lag - 1 : lag + 2]
        curvature = float(before - 2.0 * peak + after)
        if curvature < 0:
            fractional_lag += min(0.5, max(-0.5, 0.5 * float(before - after) / curvature))
    # The first and last N_FFT/HOP frames see the zero padding of the centred STFT.
    edge = N_FFT // HOP
    body = envelope[edge:-edge]
    if len(body) < 2 * fractional_lag + 1:
        return result
    periodicity = librosa.autocorrelate(body - body.mean())
    if not periodicity[0] > 0:
        return result
    result["bpm"] = 60.0 * sr / (HOP * fractional_lag)
    pulse = float(np.interp(fractional_lag, np.arange(len(periodicity)), periodicity / periodicity[0]))
    result["confidence"] = min(1.0, max(0.0, pulse))
    return result


def _tonality(sr: int, magnitude: np.ndarray, sounding: np.ndarray) -> dict[str, float]:
    """Key strength/mode (Essentia Key, Krumhansl) and pitch-class spread of the mean chroma."""
    import essentia.standard as es
    librosa = load_librosa()
    from scipy.stats import entropy

    # tuning=0: librosa would otherwise estimate tuning with piptrack, the costliest step by far.
    chroma = librosa.feature.chroma_stft(S=magnitude**2, sr=sr, n_fft=N_FFT, tuning=0.0)
    count = min(chroma.shape[1], len(sounding))
    frames = chroma[:, :count][:, sounding[:count]]
    profile = frames.mean(axis=1) if frames.size else np.zeros(12)
    if not profile.sum() > 0:
        return {"keyStrength": 0.0, "keyMode": 0.0, "chromaEntropy": 0.0}
    # librosa's chroma starts at C, Essentia's HPCP (which Key expects) at A.
    pcp = np.ascontiguousarray(np.roll(profile, -9), dtype=np.float32)
    _key, scale, strength, _relative = es.Key(profileType="krumhansl", pcpSize=12)(pcp)
    return {
        "keyStrength": float(strength),
        "keyMode": 1.0 if scale == "major" else 0.0,
        "chromaEntropy": float(entropy(profile, base=2) / math.log2(12)),
    }


def _denormal_guarded(y: np.ndarray) -> np.ndarray:
    """``y`` plus a −300 dBFS Nyquist-rate signal (see ``_DENORMAL_GUARD``), for IIR stages."""
    guard = np.full(len(y), _DENORMAL_GUARD, dtype=np.float64)
    guard[1::2] = -_DENORMAL_GUARD
    return y + guard


def _integrated_loudness(y: np.ndarray, sr: int) -> float:
    """BS.1770 integrated loudness with pyloudnorm; floor for silence and very short input.

    pyloudnorm needs one 400 ms gating block, so shorter excerpts are looped up to
    one block (the loudness of a repeated sound is the sound's loudness); silence
    gives -inf there and :data:`LOUDNESS_FLOOR_LUFS` here.
    """
    import pyloudnorm

    data = y.astype(np.float64)
    block = int(math.ceil(_LOUDNESS_BLOCK_S * sr))
    if len(data) < block:
        data = np.resize(data, block)
    loudness = float(pyloudnorm.Meter(sr, block_size=_LOUDNESS_BLOCK_S).integrated_loudness(data))
    return max(loudness, LOUDNESS_FLOOR_LUFS) if math.isfinite(loudness) else LOUDNESS_FLOOR_LUFS


def _dynamic_complexity(y: np.ndarray, sr: int) -> float:
    """Essentia DynamicComplexity (mean absolute deviation of 200 ms loudness, dB)."""
    import essentia.standard as es

    complexity, _loudness = es.DynamicComplexity(sampleRate=float(sr))(np.ascontiguousarray(y, dtype=np.float32))
    return float(complexity)

