"""Apply a profile: EQ → stereo width → loudness → true-peak limiter.

Why each stage is built the way it is:

* **EQ** is three biquads with the RBJ "Audio EQ Cookbook" coefficients (low shelf,
  peaking, high shelf), run as one second-order-sections cascade with
  ``scipy.signal.sosfilt``. A peaking filter has its full gain at ``freq_hz`` (its
  centre, as in the cookbook). A shelf's ``freq_hz`` is its **corner**, read the way
  a user reads "+2 dB treble at 8 kHz": from there outwards (below it for the low
  shelf, above it for the high shelf) the shelf gives its full gain — at ``freq_hz``
  the response is within :data:`SHELF_CORNER_TOLERANCE_DB` of the profile's gain.
  The cookbook's own frequency parameter is the shelf's *midpoint* (half the gain in
  dB), so the midpoint is derived from the corner: :func:`shelf_midpoint_hz` solves
  for it numerically on the very biquad the filter runs (same gain, Q and sample
  rate), so no second set of numbers has to live in the profiles. With Q above
  0.707 a shelf overshoots (a bump just past the corner); the corner is then where
  the response first reaches the full gain within the tolerance. A frequency at or
  above 0.45·sr (a treble shelf at 8 kHz on an 8 kHz render) is moved down to
  0.45·sr, a midpoint is never placed above it either, and the report says so when
  that leaves less than the full gain at the corner. A 0 dB band is skipped (it
  would be the identity).
* **Width** scales the side signal, S = (L−R)/2, by ``width_factor`` and leaves the
  mid alone; it does nothing to mono.
* **Loudness**: a gain brings the BS.1770 integrated loudness to the profile's target.
  Limiting lowers loudness again, so gain and limiter are iterated (secant steps on
  the measured loudness) until the result is within 0.05 LU of the target — or, when
  a target cannot be reached under the ceiling, the closest the iterations got, with
  ``target_missed`` set in the report so that callers can warn instead of passing a
  quieter file off as on target.
* **Limiter**: the gain is computed on the 4× oversampled peak envelope (the same
  oversampler :func:`~sidflow_pipeline.mastering.fingerprint.true_peak_dbtp` measures
  with), so inter-sample peaks are caught. Per sample, the attenuation needed to keep
  the envelope 0.05 dB under the ceiling is (1) held for the look-ahead window
  ahead of the sample (a sliding maximum), (2) released exponentially with the
  profile's release time (attenuation in dB decays by 1/e per ``release_ms``), and
  (3) smoothed by a moving average over the look-ahead, which turns each onset into a
  linear ramp that *finishes* at the peak. Working offline, the gain curve itself
  looks ahead, so the output is not delayed. Stereo channels share one gain, so the
  image does not move. A final true-peak measurement trims any residue (the product
  of a smooth gain and an interpolated signal is not exactly the interpolated
  product), so the output true peak is at most ceiling − 0.01 dB — room for 24-bit
  quantisation when the result is written.

Edge cases: **silence** (nothing above the −70 LUFS absolute gate) is returned
unchanged — normalising it would only amplify noise or divide by zero — and the
report says so; **clips shorter than 0.4 s** are measured as looped (see
:mod:`~sidflow_pipeline.mastering.fingerprint`) and processed normally. Everything is
plain deterministic numpy/scipy: the same input gives identical output bytes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from sidflow_pipeline.mastering.audio import as_frames
from sidflow_pipeline.mastering.fingerprint import (
    LOUDNESS_BLOCK_S,
    LOUDNESS_FLOOR_LUFS,
    integrated_loudness_lufs,
    oversampled_peaks,
    true_peak_dbtp,
)
from sidflow_pipeline.mastering.profiles import EqBand, Profile

__all__ = [
    "LIMITER_MARGIN_DB",
    "LOUDNESS_TOLERANCE_LU",
    "MasteringReport",
    "apply_eq",
    "apply_profile",
    "apply_width",
    "band_sos",
    "biquad",
    "eq_sos",
    "limit",
    "shelf_midpoint_hz",
    "sos_response_db",
]

LOUDNESS_TOLERANCE_LU = 0.05  # iterate until this close (the promise to callers is ±0.5 LU)
LIMITER_MARGIN_DB = 0.05  # the limiter aims this far under the ceiling
FINAL_MARGIN_DB = 0.01  # the output's true peak is at most ceiling − this
MAX_LOUDNESS_ITERATIONS = 10
MAX_LIMITING_DB = 40.0  # the most gain the limiter may be asked to take back
MAX_FREQ_FRACTION = 0.45  # of the sample rate: above this a biquad's shape collapses
# What a shelf's ``freq_hz`` means: the response there is within this of the full gain
# (0.1 dB: well inside the ±0.5 dB the profiles promise, for every allowed gain).
SHELF_CORNER_TOLERANCE_DB = 0.1
# The midpoint is looked for within this factor of the corner (the gentlest allowed
# shelf, Q 0.3 at ±12 dB, needs about 24×), on a log grid of this many steps: the
# first grid point that reaches the tolerance brackets the root, which bisection
# narrows (keeping the end that reaches it) to far below a hertz.
SHELF_SEARCH_SPAN = 100.0
SHELF_SEARCH_STEPS = 400
SHELF_BISECTIONS = 40
_ENVELOPE_FLOOR = 1e-12


@dataclass(frozen=True)
class MasteringReport:
    """What :func:`apply_profile` did, in the units of the fingerprint."""

    profile_type: str
    profile_version: str
    sample_rate_hz: int
    channels: int
    duration_s: float
    loudness_in_lufs: float
    true_peak_in_dbtp: float
    loudness_out_lufs: float
    true_peak_out_dbtp: float
    gain_db: float
    limiter_max_reduction_db: float
    iterations: int
    silent: bool
    parameters: dict[str, float]
    notes: tuple[str, ...] = field(default=())
    # True when the loudness iterations could not get within LOUDNESS_TOLERANCE_LU of
    # the target under the true-peak ceiling: callers warn, since the output is then
    # quieter (or louder) than the profile promises.
    target_missed: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 4)
        return data


def biquad(kind: str, gain_db: float, f0_hz: float, q: float, sr: int) -> np.ndarray:
    """One RBJ-cookbook section as a ``(1, 6)`` SOS row ``[b0 b1 b2 1 a1 a2]``.

    ``f0_hz`` is the cookbook's frequency: a peaking filter's centre, a shelf's
    *midpoint* (half the gain in dB). Profiles give a shelf's corner instead;
    :func:`band_sos` converts.
    """
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0_hz / sr
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "peaking":
        b = (1 + alpha * a, -2 * cos_w0, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cos_w0, 1 - alpha / a)
    elif kind in ("low_shelf", "high_shelf"):
        sign = 1 if kind == "low_shelf" else -1
        root = 2 * math.sqrt(a) * alpha
        b = (
            a * ((a + 1) - sign * (a - 1) * cos_w0 + root),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos_w0),
            a * ((a + 1) - sign * (a - 1) * cos_w0 - root),
        )
        den = (
            (a + 1) + sign * (a - 1) * cos_w0 + root,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos_w0),
            (a + 1) + sign * (a - 1) * cos_w0 - root,
        )
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    return np.array([[b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]]])


def sos_response_db(sos: np.ndarray, freq_hz: float, sr: int) -> float:
    """The gain in dB of an SOS cascade at one frequency, evaluated exactly on the unit
    circle (what ``scipy.signal.sosfreqz`` computes, without its per-call overhead —
    the midpoint search evaluates it hundreds of times)."""
    z = np.exp(-1j * 2 * math.pi * freq_hz / sr)
    rows = np.atleast_2d(sos)
    num = rows[:, 0] + rows[:, 1] * z + rows[:, 2] * z * z
    den = rows[:, 3] + rows[:, 4] * z + rows[:, 5] * z * z
    return float(20 * np.log10(np.abs(np.prod(num / den))))


@lru_cache(maxsize=256)
def shelf_midpoint_hz(kind: str, gain_db: float, corner_hz: float, q: float, sr: int) -> tuple[float, bool]:
    """The cookbook midpoint that gives a shelf its full gain from ``corner_hz`` outwards.

    Returns ``(midpoint, reached)``: the midpoint closest to the corner (on the
    shelf's transition side: above it for a low shelf, below for a high shelf) at
    which the section's response at the corner is the full gain within
    :data:`SHELF_CORNER_TOLERANCE_DB`. It is found on the same :func:`biquad` the
    filter runs — a log-grid scan for the first midpoint that reaches the tolerance
    (with Q > 0.707 the response overshoots and comes back, so the *first* one),
    then bisection inside that step. The search stays within
    :data:`SHELF_SEARCH_SPAN` of the corner and under 0.45·sr; when the tolerance is
    not reached there (a wide low shelf on a low sample rate), the bound is returned
    with ``reached`` False, the closest the filter can get. Cached: every
    ``apply_profile`` call asks the same question.
    """
    if kind not in ("low_shelf", "high_shelf"):
        raise ValueError(f"not a shelf: {kind!r}")
    sign = 1.0 if gain_db >= 0 else -1.0
    wanted = abs(gain_db) - SHELF_CORNER_TOLERANCE_DB

    def shortfall(log_f0: float) -> float:
        """> 0 once the response at the corner is within the tolerance of the gain."""
        return sign * sos_response_db(biquad(kind, gain_db, math.exp(log_f0), q, sr), corner_hz, sr) - wanted

    start = math.log(corner_hz)
    if kind == "low_shelf":
        end = math.log(max(corner_hz, min(corner_hz * SHELF_SEARCH_SPAN, MAX_FREQ_FRACTION * sr)))
    else:
        end = math.log(corner_hz / SHELF_SEARCH_SPAN)
    previous = start
    at_corner = shortfall(start) >= 0
    if at_corner or end == start:  # a gain within 2× the tolerance, or no room
        return corner_hz, at_corner
    for log_f0 in np.linspace(start, end, SHELF_SEARCH_STEPS + 1)[1:]:
        reached = float(log_f0)
        if shortfall(reached) >= 0:
            # Bisect, keeping the reached end: a root-finder's answer may sit a hair on
            # the short side, and with overshoot the grid point may be far past it.
            for _ in range(SHELF_BISECTIONS):
                middle = (previous + reached) / 2
                if shortfall(middle) >= 0:
                    reached = middle
                else:
                    previous = middle
            return math.exp(reached), True
        previous = reached
    return math.exp(end), False


def band_sos(name: str, band: EqBand, sr: int) -> tuple[np.ndarray, list[str]]:
    """One profile band as a ``(1, 6)`` SOS row, and notes on what could not be honoured.

    The profile's ``freq_hz`` is moved under 0.45·sr when needed; a shelf's corner is
    turned into the cookbook midpoint by :func:`shelf_midpoint_hz`.
    """
    notes: list[str] = []
    top = MAX_FREQ_FRACTION * sr
    freq = band.freq_hz
    if freq >= top:
        freq = top
        notes.append(f"{name} {band.filter} moved from {band.freq_hz:g} Hz to {freq:g} Hz (0.45 × {sr} Hz)")
    if band.filter == "peaking":
        return biquad(band.filter, band.gain_db, freq, band.q, sr), notes
    midpoint, reached = shelf_midpoint_hz(band.filter, band.gain_db, freq, band.q, sr)
    row = biquad(band.filter, band.gain_db, midpoint, band.q, sr)
    if not reached:
        at_corner = sos_response_db(row, freq, sr)
        notes.append(
            f"{name} {band.filter}: {at_corner:+.2f} dB at {freq:g} Hz instead of {band.gain_db:+g} dB"
            f" (midpoint limited to {midpoint:.0f} Hz at {sr} Hz)"
        )
    return row, notes


def eq_sos(bands: dict[str, EqBand], sr: int) -> tuple[np.ndarray, list[str]]:
    """The profile's EQ as one SOS cascade (0 dB bands left out) and notes on clamping."""
    rows: list[np.ndarray] = []
    notes: list[str] = []
    for name, band in bands.items():
        if band.gain_db == 0:
            continue
        row, band_notes = band_sos(name, band, sr)
        rows.append(row)
        notes.extend(band_notes)
    return (np.vstack(rows) if rows else np.zeros((0, 6))), notes


def apply_eq(frames: np.ndarray, sr: int, bands: dict[str, EqBand]) -> tuple[np.ndarray, list[str]]:
    from scipy.signal import sosfilt

    sos, notes = eq_sos(bands, sr)
    if not len(sos) or not frames.shape[0]:
        return frames.copy(), notes
    return sosfilt(sos, frames, axis=0), notes


def apply_width(frames: np.ndarray, factor: float) -> np.ndarray:
    if frames.shape[1] != 2 or factor == 1.0:
        return frames.copy()
    mid = (frames[:, 0] + frames[:, 1]) / 2
    side = (frames[:, 0] - frames[:, 1]) / 2 * factor
    return np.column_stack([mid + side, mid - side])


def _forward_max(values: np.ndarray, span: int) -> np.ndarray:
    """``out[i] = max(values[i : i + span + 1])`` (zeros past the end)."""
    from scipy.ndimage import maximum_filter1d

    if span <= 0:
        return values.copy()
    padded = np.concatenate([values, np.zeros(span)])
    size = span + 1
    return np.asarray(maximum_filter1d(padded, size=size, origin=-(size // 2), mode="constant", cval=0.0)[: len(values)])


def _release(attenuation_db: np.ndarray, release_samples: float) -> np.ndarray:
    """``out[i] = max_{j ≤ i} a[j]·exp(−(i−j)/release)`` — a peak-hold with exponential
    decay — computed without a Python loop as a running maximum in the log domain."""
    rate = 1.0 / max(release_samples, 1e-9)
    ramp = rate * np.arange(len(attenuation_db), dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs = np.log(attenuation_db)
    return np.exp(np.maximum.accumulate(logs + ramp) - ramp)


def _backward_mean(values: np.ndarray, span: int) -> np.ndarray:
    """``out[i] = mean(values[i − span : i + 1])``, the first value repeated before the
    start: the held attenuation at sample 0 already covers the first ``span`` samples'
    peaks, so padding with it (not with zeros) keeps them under the ceiling."""
    if span <= 0 or not len(values):
        return values.copy()
    sums = np.cumsum(np.concatenate([np.zeros(1), np.full(span, values[0]), values]))
    averaged: np.ndarray = (sums[span + 1 :] - sums[: -span - 1]) / (span + 1)
    return averaged


def limit(
    frames: np.ndarray,
    sr: int,
    *,
    ceiling_dbtp: float,
    lookahead_ms: float,
    release_ms: float,
    gain_db: float = 0.0,
    envelope: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """``frames`` × ``gain_db``, true-peak limited; returns (output, largest reduction in dB).

    ``envelope`` is :func:`oversampled_peaks` of ``frames``; pass it when calling
    repeatedly with different gains (the envelope scales with the gain, so it is
    computed once).
    """
    peaks = oversampled_peaks(frames) if envelope is None else envelope
    threshold_db = ceiling_dbtp - LIMITER_MARGIN_DB
    level_db = 20 * np.log10(np.maximum(peaks, _ENVELOPE_FLOOR)) + gain_db
    needed = np.maximum(0.0, level_db - threshold_db)
    if not needed.any():
        return frames * 10 ** (gain_db / 20), 0.0
    span = max(1, round(lookahead_ms * sr / 1000))
    held = _forward_max(needed, span)
    released = _release(held, release_ms * sr / 1000)
    smoothed = _backward_mean(released, span)
    gains = 10 ** ((gain_db - smoothed) / 20)
    return frames * gains[:, np.newaxis], float(smoothed.max())


def apply_profile(audio: Any, sr: int, profile: Profile) -> tuple[np.ndarray, MasteringReport]:
    """Master ``audio`` (``(frames,)`` or ``(frames, 2)``) with ``profile``.

    Returns the result in the input's layout (1-D stays 1-D) and a report. Cheap to
    time in isolation: no file IO, no tempo analysis.
    """
    if not sr > 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    one_dimensional = np.asarray(audio).ndim == 1
    frames = as_frames(audio)
    count, channels = frames.shape
    notes: list[str] = []
    loudness_in = integrated_loudness_lufs(frames, sr)
    peak_in = true_peak_dbtp(frames)
    if count and count < LOUDNESS_BLOCK_S * sr:
        notes.append(f"shorter than {LOUDNESS_BLOCK_S:g} s: loudness measured as if looped")

    def report(
        out_loudness: float,
        out_peak: float,
        gain: float,
        reduction: float,
        rounds: int,
        silent: bool,
        missed: bool = False,
    ) -> MasteringReport:
        return MasteringReport(
            profile_type=profile.type,
            profile_version=str(profile.version),
            sample_rate_hz=int(sr),
            channels=int(channels),
            duration_s=count / sr,
            loudness_in_lufs=loudness_in,
            true_peak_in_dbtp=peak_in,
            loudness_out_lufs=out_loudness,
            true_peak_out_dbtp=out_peak,
            gain_db=gain,
            limiter_max_reduction_db=reduction,
            iterations=rounds,
            silent=silent,
            parameters=profile.parameters(),
            notes=tuple(notes),
            target_missed=missed,
        )

    if loudness_in <= LOUDNESS_FLOOR_LUFS:
        notes.append(f"silent (nothing above {LOUDNESS_FLOOR_LUFS:g} LUFS): left unchanged")
        out = frames.copy()
        return (out[:, 0] if one_dimensional else out), report(loudness_in, peak_in, 0.0, 0.0, 0, True)

    shaped, eq_notes = apply_eq(frames, sr, profile.bands)
    notes.extend(eq_notes)
    if channels == 1 and profile.width_factor != 1.0:
        notes.append("mono: stereo width left alone")
    shaped = apply_width(shaped, profile.width_factor)
    shaped_loudness = integrated_loudness_lufs(shaped, sr)
    if shaped_loudness <= LOUDNESS_FLOOR_LUFS:  # the EQ cut everything that was there
        notes.append("nothing audible left after EQ: left unchanged")
        out = frames.copy()
        return (out[:, 0] if one_dimensional else out), report(loudness_in, peak_in, 0.0, 0.0, 0, True)

    envelope = oversampled_peaks(shaped)
    target = profile.target_lufs
    gain = first_gain = target - shaped_loudness
    history: list[tuple[float, float]] = []
    best: tuple[float, np.ndarray, float, float, float] | None = None  # |error|, out, gain, reduction, loudness
    rounds = 0
    for rounds in range(1, MAX_LOUDNESS_ITERATIONS + 1):  # noqa: B007 - read after the loop
        out, reduction = limit(
            shaped,
            sr,
            ceiling_dbtp=profile.true_peak_ceiling_dbtp,
            lookahead_ms=profile.lookahead_ms,
            release_ms=profile.release_ms,
            gain_db=gain,
            envelope=envelope,
        )
        loudness = integrated_loudness_lufs(out, sr)
        error = target - loudness
        if best is None or abs(error) < best[0]:
            best = (abs(error), out, gain, reduction, loudness)
        if abs(error) <= LOUDNESS_TOLERANCE_LU:
            break
        history.append((gain, loudness))
        slope = 1.0
        if len(history) >= 2:
            (g0, l0), (g1, l1) = history[-2], history[-1]
            if g1 != g0:
                slope = min(1.0, max(0.05, (l1 - l0) / (g1 - g0)))
        # Never more than 24 dB per step, nor more than MAX_LIMITING_DB of pre-gain
        # beyond the unlimited estimate: a hopeless target stops at a sane gain.
        gain = min(first_gain + MAX_LIMITING_DB, gain + max(-24.0, min(24.0, error / slope)))
    assert best is not None
    error_abs, out, gain, reduction, loudness_out = best
    missed = error_abs > LOUDNESS_TOLERANCE_LU
    if missed:
        notes.append(f"loudness target {target:g} LUFS not reached under the ceiling (off by {error_abs:.2f} LU)")

    peak_out = true_peak_dbtp(out)
    limit_db = profile.true_peak_ceiling_dbtp - FINAL_MARGIN_DB
    if peak_out > limit_db:
        trim = limit_db - peak_out
        out = out * 10 ** (trim / 20)
        gain += trim
        peak_out = true_peak_dbtp(out)
        loudness_out = integrated_loudness_lufs(out, sr)
    return (out[:, 0] if one_dimensional else out), report(
        loudness_out, peak_out, gain, reduction, rounds, False, missed
    )
