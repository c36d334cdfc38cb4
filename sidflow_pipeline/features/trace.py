"""Features of a song's SID register trace: how the music is *played*, not how it sounds.

Composers of C64 music wrote their own player routines and instruments, so the way
the SID registers move — which waveforms, how notes are started (hard restart, test
bit, envelope), how fast pitch cycles (arpeggio) or wobbles (vibrato), how pulse width
and filter cutoff are swept, how often the player runs per frame — identifies a style
far better than the mixed audio does. These features read the trace the in-process
engine writes beside each WAV (:class:`sidflow_pipeline.sid.engine.Trace`: register
snapshots every ~5 ms, i.e. about four per 50 Hz player call).

**How time is counted.** Snapshot ``i`` (``i ≥ 1``) stands for the interval since
snapshot ``i − 1`` and is weighted by its length, so "share of time" features do not
depend on the engine's occasional two-slice calls. A voice is *gated* while its gate
bit (control bit 0) is set: that is the time its player holds a note. *Tonal* gated
time excludes noise and the test bit (no pitch to read). A *note* (onset) is a gate
0 → 1 transition between snapshots; a gate that is switched off and on again within
one ~5 ms slice (some legato players) is not seen — such players show fewer notes and
more ``arpeggioRate``. Pitch is ``f = reg · clock / 2²⁴`` Hz (PAL 985,248 Hz, NTSC
1,022,727 Hz; unknown clocks are read as PAL), as MIDI semitones ``69 + 12·log2(f/440)``.

**Missing values.** A feature with nothing to measure (ADSR means of a song without
notes, pulse-width depth of a song that never uses pulse) is ``None``, not 0 — 0 would
claim a value. Rates and shares with nothing in their denominator are 0.0 (none of it
happened). A song without a trace (``render.backend = sidplayfp``) has every feature
``None`` (:func:`missing_trace_features`). Values are rounded to 6 significant digits
like the audio features, so rows are byte-deterministic.

Overall features (``sid*``; over every voice of every SID; filter and volume of the
first SID):

==========================  ==========================================================================
``sidVoicesUsed``           voices with at least one note in the excerpt (count, 0–3 per SID)
``sidGatedShare``           mean over the 3·SIDs voices of their gated share of time (0–1)
``sidTriangleShare``        share of gated voice-time with triangle alone (0–1)
``sidSawShare``             … sawtooth alone (0–1)
``sidPulseShare``           … pulse alone (0–1)
``sidNoiseShare``           … noise alone (0–1)
``sidCombinedShare``        … two or more waveform bits at once (combined waveforms) (0–1)
``sidTestBitShare``         share of *all* voice-time with the test bit set (hard restart, digis) (0–1)
``sidRingModShare``         share of gated voice-time with the ring-modulation bit (0–1)
``sidSyncShare``            share of gated voice-time with the sync bit (0–1)
``sidGateRate``             notes (gate-on events) per second of excerpt, all voices (1/s)
``sidHardRestartShare``     share of notes preceded, within ~40 ms (8 snapshots), by the test bit or an
                            envelope other than the note's own: a hard-restart routine (0–1)
``sidWaveSwitchRate``       waveform changes within a note (wavetable instruments, drum starts) per
                            second of gated voice-time (1/s)
``sidAttackMean``           attack nibble at note onsets, mean (register value 0–15)
``sidAttackStd``            … standard deviation (0–15)
``sidDecayMean``            decay nibble at onsets, mean (0–15)
``sidDecayStd``             … standard deviation (0–15)
``sidSustainMean``          sustain nibble at onsets, mean (0–15)
``sidSustainStd``           … standard deviation (0–15)
``sidReleaseMean``          release nibble at onsets, mean (0–15)
``sidReleaseStd``           … standard deviation (0–15)
``sidPwmDepth``             pulse width 95th − 5th percentile over gated pulse time / 4095 (0–1)
``sidPwmRate``              pulse-width register changes per second of gated pulse time (1/s)
``sidVibratoRate``          fine pitch changes (< 0.75 semitone, within a note) per tonal second (1/s)
``sidVibratoDepth``         median size of those fine changes (semitones)
``sidArpeggioRate``         pitch jumps ≥ 0.75 semitone within a note per tonal second (1/s)
``sidNoteMean``             pitch of each note, mean (MIDI note number; read at the note's first
                            pitched snapshot, so a noise/test-bit attack frame does not hide it)
``sidNoteRange``            note pitch, 95th − 5th percentile (semitones)
``sidPitchClassEntropy``    entropy of the time-weighted pitch-class histogram / log2 12 (0–1)
``sidTonalCentre``          tonic of the best-fitting Krumhansl–Kessler key (pitch class, C = 0)
``sidKeyMajor``             1.0 if that key is major, 0.0 if minor
``sidKeyStrength``          correlation of the histogram with that key's profile (−1–1)
``sidChordShare``           share of 60 ms windows with tonal sound in which ≥ 3 distinct pitch classes
                            sound, over all voices (so an arpeggiated chord counts) (0–1)
``sidIntervalMean``         mean absolute interval between consecutive notes of a voice (semitones)
``sidIntervalRepeatShare``  share of those intervals that repeat the pitch (0–1)
``sidIntervalStepShare``    … of 1–2 semitones (0–1)
``sidIntervalLeapShare``    … of 3–7 semitones (0–1)
``sidIntervalLargeShare``   … of more than 7 semitones (0–1)
``sidOnsetRegularity``      share of inter-onset intervals within 8 ms of a multiple of the most common one (0–1)
``sidIoiCv``                coefficient of variation of inter-onset intervals (all voices merged) (ratio)
``sidFilterShare``          share of time the filter is on: a voice routed and a mode bit set (0–1)
``sidFilterCutoffMean``     11-bit cutoff while on, mean / 2047 (0–1)
``sidFilterCutoffStd``      … standard deviation / 2047 (0–1)
``sidFilterSweepRate``      mean absolute cutoff change while on, full ranges per second (1/s)
``sidFilterResonance``      resonance nibble while on, mean (0–15)
``sidFilterLowPass``        share of filter-on time with the low-pass bit (0–1)
``sidFilterBandPass``       … band-pass bit (0–1)
``sidFilterHighPass``       … high-pass bit (0–1)
``sidVolumeMean``           master volume nibble, time-weighted mean (0–15)
``sidVolumeChangeRate``     volume-register changes per second (digi samples show ~100–200) (1/s)
``sidChangesPerFrame``      snapshots in which any register changed, per video frame (multispeed; saturates ≈ 4)
``sidCiaCallsPerFrame``     CIA 1 timer A rate (clock / (latch + 1)) per video frame (ratio; 1.2 = KERNAL default)
==========================  ==========================================================================

Per voice (``sidV1*``, ``sidV2*``, ``sidV3*``: the three voices of the first SID),
same definitions restricted to the voice: ``GatedShare``, ``TriangleShare``,
``SawShare``, ``PulseShare``, ``NoiseShare``, ``CombinedShare``, ``TestBitShare``,
``RingModShare``, ``SyncShare``, ``GateRate``, ``AttackMean``, ``DecayMean``,
``SustainMean``, ``ReleaseMean``, ``PwmDepth``, ``PwmRate``, ``VibratoRate``,
``ArpeggioRate``, ``NoteMean``, ``NoteRange`` and ``FilteredShare`` (share of the
voice's gated time routed through an active filter, 0–1).

**The player fingerprint** (:func:`trace_sketch`, the ``traceSketch`` of a feature
row) is not a list of numbers with units but 13 histograms of exact register events —
instrument definitions, waveform programs, hard restarts, which registers a player call
updates together, pulse and filter steps, arpeggio intervals, the tuning of the
frequency table (:data:`SKETCH_FAMILIES` says what each counts) — each hashed into
:data:`SKETCH_BUCKETS` buckets of shares summing to 1. Summary features say *what*
is played; the fingerprint says *whose routine* plays it, which is what tells C64
composers apart (``bench/similarity.py``).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sidflow_pipeline.sid.engine import Trace

__all__ = [
    "OVERALL_FEATURES",
    "SKETCH_BUCKETS",
    "SKETCH_FAMILIES",
    "TRACE_FEATURE_NAMES",
    "TRACE_GROUPS",
    "VOICE_FEATURES",
    "missing_trace_features",
    "sketch_family",
    "sketch_from_file",
    "trace_features",
    "trace_features_from_file",
    "trace_sketch",
    "trace_tokens",
]

CLOCK_HZ = {1: 985_248.0, 2: 1_022_727.0}
# Video frame rates: the unit a player routine is called in (312×63 and 263×65 cycles per frame).
FRAME_HZ = {1: 985_248.0 / (312 * 63), 2: 1_022_727.0 / (263 * 65)}
# A change of less than this many semitones within a note is vibrato or a slide; more is a
# new pitch (arpeggio step or legato note). 0.75 sits between a wide vibrato (±½ semitone)
# and the smallest arpeggio step (1 semitone).
FINE_PITCH_SEMITONES = 0.75
# Inter-onset intervals within this of a multiple of the base interval count as on the
# grid: a little over one snapshot slice (5.07 ms) so snapshot jitter does not matter.
RHYTHM_TOLERANCE_S = 0.008
SIGNIFICANT_DIGITS = 6
# About two 50 Hz frames of snapshots: where a hard-restart routine does its work.
HARD_RESTART_SNAPSHOTS = 8
# 60 ms: three frames, one cycle of the usual three-note arpeggio chord.
CHORD_WINDOW_SNAPSHOTS = 12

OVERALL_FEATURES: tuple[str, ...] = (
    "sidVoicesUsed",
    "sidGatedShare",
    "sidTriangleShare",
    "sidSawShare",
    "sidPulseShare",
    "sidNoiseShare",
    "sidCombinedShare",
    "sidTestBitShare",
    "sidRingModShare",
    "sidSyncShare",
    "sidGateRate",
    "sidHardRestartShare",
    "sidWaveSwitchRate",
    "sidAttackMean",
    "sidAttackStd",
    "sidDecayMean",
    "sidDecayStd",
    "sidSustainMean",
    "sidSustainStd",
    "sidReleaseMean",
    "sidReleaseStd",
    "sidPwmDepth",
    "sidPwmRate",
    "sidVibratoRate",
    "sidVibratoDepth",
    "sidArpeggioRate",
    "sidNoteMean",
    "sidNoteRange",
    "sidPitchClassEntropy",
    "sidTonalCentre",
    "sidKeyMajor",
    "sidKeyStrength",
    "sidChordShare",
    "sidIntervalMean",
    "sidIntervalRepeatShare",
    "sidIntervalStepShare",
    "sidIntervalLeapShare",
    "sidIntervalLargeShare",
    "sidOnsetRegularity",
    "sidIoiCv",
    "sidFilterShare",
    "sidFilterCutoffMean",
    "sidFilterCutoffStd",
    "sidFilterSweepRate",
    "sidFilterResonance",
    "sidFilterLowPass",
    "sidFilterBandPass",
    "sidFilterHighPass",
    "sidVolumeMean",
    "sidVolumeChangeRate",
    "sidChangesPerFrame",
    "sidCiaCallsPerFrame",
)
VOICE_FEATURES: tuple[str, ...] = (
    "GatedShare",
    "TriangleShare",
    "SawShare",
    "PulseShare",
    "NoiseShare",
    "CombinedShare",
    "TestBitShare",
    "RingModShare",
    "SyncShare",
    "GateRate",
    "AttackMean",
    "DecayMean",
    "SustainMean",
    "ReleaseMean",
    "PwmDepth",
    "PwmRate",
    "VibratoRate",
    "ArpeggioRate",
    "NoteMean",
    "NoteRange",
    "FilteredShare",
)
TRACE_FEATURE_NAMES: tuple[str, ...] = (
    *OVERALL_FEATURES,
    *(f"sidV{v}{name}" for v in (1, 2, 3) for name in VOICE_FEATURES),
)

# Krumhansl–Kessler key profiles (C major / C minor), the usual choice for key finding.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

Value = float | None


def missing_trace_features() -> dict[str, Value]:
    """Every trace feature ``None``: the row of a song rendered without a trace."""
    return dict.fromkeys(TRACE_FEATURE_NAMES)


def trace_features_from_file(path: Path) -> dict[str, Value]:
    """Features of a saved trace (``<key>.npz`` in the WAV cache)."""
    from sidflow_pipeline.sid.engine import Trace

    return trace_features(Trace.load(path))


def _clean(value: Value) -> Value:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    # Round away float noise first (a constant cutoff's std is 5e-17, not a value).
    return float(f"{round(number, 9):.{SIGNIFICANT_DIGITS}g}") + 0.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def _mean(values: np.ndarray, weights: np.ndarray | None = None) -> Value:
    if values.size == 0:
        return None
    if weights is None:
        return float(values.mean())
    total = float(weights.sum())
    return float((values * weights).sum() / total) if total > 0 else None


def _spread(values: np.ndarray) -> Value:
    return float(np.percentile(values, 95) - np.percentile(values, 5)) if values.size else None


class _Voice:
    """One voice's registers over the trace, and the masks every feature builds on."""

    def __init__(self, regs: np.ndarray, clock_hz: float) -> None:
        # regs: [n, 7] registers of this voice.
        self.control = regs[:, 4].astype(np.int64)
        self.gate = (self.control & 0x01) != 0
        self.sync = (self.control & 0x02) != 0
        self.ring = (self.control & 0x04) != 0
        self.test = (self.control & 0x08) != 0
        waves = (self.control >> 4) & 0x0F
        self.waves = waves
        self.single = {name: waves == bit for name, bit in (("triangle", 1), ("saw", 2), ("pulse", 4), ("noise", 8))}
        self.combined = np.isin(waves, [b for b in range(16) if bin(b).count("1") >= 2])
        freq = regs[:, 0].astype(np.float64) + 256.0 * regs[:, 1].astype(np.float64)
        with np.errstate(divide="ignore"):
            hz = freq * clock_hz / 16_777_216.0
            self.pitch = np.where(freq > 0, 69.0 + 12.0 * np.log2(np.maximum(hz, 1e-9) / 440.0), np.nan)
        self.pulse_width = (regs[:, 3].astype(np.int64) & 0x0F) << 8 | regs[:, 2].astype(np.int64)
        self.attack = regs[:, 5].astype(np.int64) >> 4
        self.decay = regs[:, 5].astype(np.int64) & 0x0F
        self.sustain = regs[:, 6].astype(np.int64) >> 4
        self.release = regs[:, 6].astype(np.int64) & 0x0F
        onset = np.zeros_like(self.gate)
        onset[1:] = self.gate[1:] & ~self.gate[:-1]
        self.onset = onset
        # Hard restart (the work-around for the SID's envelope bug): in the frames before the
        # gate goes on, the player sets the test bit or writes a different envelope than the
        # note's own (typically $0000 or $0F00) to drain the envelope counter.
        envelope = regs[:, 5].astype(np.int64) << 8 | regs[:, 6].astype(np.int64)
        before = np.zeros_like(self.gate)
        for lag in range(1, min(HARD_RESTART_SNAPSHOTS, len(envelope) - 1) + 1):
            before[lag:] |= self.test[:-lag] | (envelope[:-lag] != envelope[lag:])
        self.hard_onset = onset & before
        same_note = self.gate[1:] & self.gate[:-1] & ~onset[1:]
        self.wave_switches = int(np.count_nonzero(same_note & (waves[1:] != waves[:-1])))
        self.tonal = self.gate & ~self.test & ~self.single["noise"] & (waves != 0) & ~np.isnan(self.pitch)
        self.note_pitch_at = _note_pitch_snapshots(self.gate, self.tonal, onset)
        self.pulsed = self.gate & ((waves & 0x04) != 0) & ~self.test


def _note_pitch_snapshots(gate: np.ndarray, tonal: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """For each note, the first snapshot of it with a pitch to read (tonal), if any.

    Not the onset itself: many players start a note with a frame of noise or the test
    bit (a drum attack, a hard restart) and only then play the pitched waveform; reading
    the onset would lose those notes' pitches altogether.
    """
    starts = np.nonzero(onset)[0]
    ends = np.nonzero(~gate[1:] & gate[:-1])[0] + 1
    tonal_at = np.nonzero(tonal)[0]
    if not starts.size or not tonal_at.size:
        return np.zeros(0, dtype=np.int64)
    first = tonal_at[np.minimum(np.searchsorted(tonal_at, starts), tonal_at.size - 1)]
    note_end = np.append(ends, len(gate))[np.searchsorted(ends, starts, side="right")]
    valid = (first >= starts) & (first < note_end)
    return first[valid]


def _pitch_moves(voice: _Voice) -> tuple[np.ndarray, np.ndarray]:
    """(fine changes, jumps) in semitones: pitch steps between snapshots within one note."""
    both = voice.tonal[1:] & voice.tonal[:-1] & ~voice.onset[1:]
    delta = np.abs(np.diff(voice.pitch))[both]
    fine = delta[(delta > 0) & (delta < FINE_PITCH_SEMITONES)]
    jumps = delta[delta >= FINE_PITCH_SEMITONES]
    return fine, jumps


def trace_features(trace: Trace) -> dict[str, Value]:
    """All :data:`TRACE_FEATURE_NAMES` of one trace (definitions in the module docstring)."""
    regs = np.asarray(trace.regs)
    n = regs.shape[0]
    if n < 2 or regs.ndim != 3 or regs.shape[2] < 25:
        return missing_trace_features()
    seconds = np.asarray(trace.frame, dtype=np.float64) / float(trace.sample_rate)
    weight = np.zeros(n)
    weight[1:] = np.maximum(np.diff(seconds), 0.0)
    total_s = float(weight.sum())
    if total_s <= 0:
        return missing_trace_features()
    clock_hz = CLOCK_HZ.get(int(trace.clock), CLOCK_HZ[1])
    frame_hz = FRAME_HZ.get(int(trace.clock), FRAME_HZ[1])
    sids = regs.shape[1]
    voices = [_Voice(regs[:, s, 7 * v : 7 * v + 7], clock_hz) for s in range(sids) for v in range(3)]
    first = regs[:, 0, :]

    # --- filter (first SID)
    cutoff = (first[:, 0x16].astype(np.int64) << 3) | (first[:, 0x15].astype(np.int64) & 0x07)
    routing = first[:, 0x17].astype(np.int64) & 0x07
    mode = first[:, 0x18].astype(np.int64) & 0x70
    filter_on = (routing != 0) & (mode != 0)
    w_on = weight * filter_on
    on_s = float(w_on.sum())
    out: dict[str, Value] = {}
    out["sidFilterShare"] = on_s / total_s
    if on_s > 0:
        out["sidFilterCutoffMean"] = _mean(cutoff / 2047.0, w_on)
        mean = out["sidFilterCutoffMean"] or 0.0
        out["sidFilterCutoffStd"] = math.sqrt(max(0.0, float((w_on * (cutoff / 2047.0 - mean) ** 2).sum() / on_s)))
        both = filter_on[1:] & filter_on[:-1]
        moved = float(np.abs(np.diff(cutoff))[both].sum()) / 2047.0
        out["sidFilterSweepRate"] = _ratio(moved, float(weight[1:][both].sum()))
        out["sidFilterResonance"] = _mean((first[:, 0x17].astype(np.int64) >> 4).astype(np.float64), w_on)
        out["sidFilterLowPass"] = float((w_on * ((mode & 0x10) != 0)).sum()) / on_s
        out["sidFilterBandPass"] = float((w_on * ((mode & 0x20) != 0)).sum()) / on_s
        out["sidFilterHighPass"] = float((w_on * ((mode & 0x40) != 0)).sum()) / on_s
    else:
        for name in ("sidFilterCutoffMean", "sidFilterCutoffStd", "sidFilterSweepRate", "sidFilterResonance"):
            out[name] = None
        out["sidFilterLowPass"] = out["sidFilterBandPass"] = out["sidFilterHighPass"] = 0.0
    volume = (first[:, 0x18].astype(np.int64) & 0x0F).astype(np.float64)
    out["sidVolumeMean"] = _mean(volume, weight)
    out["sidVolumeChangeRate"] = float(np.count_nonzero(np.diff(volume) != 0)) / total_s
    changed = np.any(regs[1:] != regs[:-1], axis=(1, 2))
    out["sidChangesPerFrame"] = float(np.count_nonzero(changed)) / total_s / frame_hz
    # 0 and $FFFF (the reset value) mean nobody programmed the timer: a raster-driven player.
    latch = np.asarray(trace.cia1_timer_a, dtype=np.float64)
    latch = latch[(latch > 0) & (latch < 0xFFFF)]
    out["sidCiaCallsPerFrame"] = clock_hz / (float(np.median(latch)) + 1.0) / frame_hz if latch.size else 1.0

    # --- per voice, and pooled over voices
    pooled: dict[str, list[np.ndarray]] = {k: [] for k in ("fine", "jumps", "onset_pitch", "intervals", "adsr", "pw")}
    gated_s = tonal_s = pulse_s = pwm_changes = 0.0
    shares = dict.fromkeys(("triangle", "saw", "pulse", "noise", "combined", "ring", "sync"), 0.0)
    test_s = 0.0
    notes = 0
    hard_notes = 0
    switches = 0
    used = 0
    onset_times: list[np.ndarray] = []
    pitch_classes = np.zeros(12)
    per_voice: list[dict[str, Value]] = []
    for index, voice in enumerate(voices):
        w_gate = weight * voice.gate
        g_s = float(w_gate.sum())
        fine, jumps = _pitch_moves(voice)
        t_s = float((weight * voice.tonal).sum())
        p_s = float((weight * voice.pulsed).sum())
        pw_moves = float(np.count_nonzero((np.diff(voice.pulse_width) != 0) & voice.pulsed[1:] & voice.pulsed[:-1]))
        onsets = np.nonzero(voice.onset)[0]
        onset_pitch = voice.pitch[voice.note_pitch_at]
        adsr = np.stack([voice.attack[onsets], voice.decay[onsets], voice.sustain[onsets], voice.release[onsets]], axis=1)
        if onsets.size:
            used += 1
        notes += int(onsets.size)
        hard_notes += int(np.count_nonzero(voice.hard_onset))
        switches += voice.wave_switches
        onset_times.append(seconds[onsets])
        gated_s += g_s
        tonal_s += t_s
        pulse_s += p_s
        pwm_changes += pw_moves
        test_s += float((weight * voice.test).sum())
        for name in ("triangle", "saw", "pulse", "noise"):
            shares[name] += float((w_gate * voice.single[name]).sum())
        shares["combined"] += float((w_gate * voice.combined).sum())
        shares["ring"] += float((w_gate * voice.ring).sum())
        shares["sync"] += float((w_gate * voice.sync).sum())
        pooled["fine"].append(fine)
        pooled["jumps"].append(jumps)
        pooled["onset_pitch"].append(onset_pitch)
        pooled["intervals"].append(np.abs(np.round(np.diff(onset_pitch))))
        pooled["adsr"].append(adsr)
        pooled["pw"].append(voice.pulse_width[voice.pulsed & (weight > 0)])
        tonal_w = weight * voice.tonal
        classes = np.mod(np.round(voice.pitch[voice.tonal]), 12).astype(np.int64)
        pitch_classes += np.bincount(classes, weights=tonal_w[voice.tonal], minlength=12)[:12]
        if index < 3:
            routed = filter_on & ((routing >> index) & 1 != 0)
            per_voice.append(
                {
                    "GatedShare": g_s / total_s,
                    "TriangleShare": _ratio(float((w_gate * voice.single["triangle"]).sum()), g_s),
                    "SawShare": _ratio(float((w_gate * voice.single["saw"]).sum()), g_s),
                    "PulseShare": _ratio(float((w_gate * voice.single["pulse"]).sum()), g_s),
                    "NoiseShare": _ratio(float((w_gate * voice.single["noise"]).sum()), g_s),
                    "CombinedShare": _ratio(float((w_gate * voice.combined).sum()), g_s),
                    "TestBitShare": float((weight * voice.test).sum()) / total_s,
                    "RingModShare": _ratio(float((w_gate * voice.ring).sum()), g_s),
                    "SyncShare": _ratio(float((w_gate * voice.sync).sum()), g_s),
                    "GateRate": onsets.size / total_s,
                    "AttackMean": _mean(adsr[:, 0].astype(np.float64)),
                    "DecayMean": _mean(adsr[:, 1].astype(np.float64)),
                    "SustainMean": _mean(adsr[:, 2].astype(np.float64)),
                    "ReleaseMean": _mean(adsr[:, 3].astype(np.float64)),
                    "PwmDepth": _pw_depth(pooled["pw"][-1]),
                    "PwmRate": _ratio(pw_moves, p_s) if p_s > 0 else None,
                    "VibratoRate": _ratio(fine.size, t_s),
                    "ArpeggioRate": _ratio(jumps.size, t_s),
                    "NoteMean": _mean(onset_pitch),
                    "NoteRange": _spread(onset_pitch),
                    "FilteredShare": _ratio(float((w_gate * routed).sum()), g_s),
                }
            )
    voice_count = len(voices)
    out["sidVoicesUsed"] = float(used)
    out["sidGatedShare"] = gated_s / total_s / voice_count
    for name, key in (
        ("triangle", "sidTriangleShare"),
        ("saw", "sidSawShare"),
        ("pulse", "sidPulseShare"),
        ("noise", "sidNoiseShare"),
        ("combined", "sidCombinedShare"),
        ("ring", "sidRingModShare"),
        ("sync", "sidSyncShare"),
    ):
        out[key] = _ratio(shares[name], gated_s)
    out["sidTestBitShare"] = test_s / total_s / voice_count
    out["sidGateRate"] = notes / total_s
    out["sidHardRestartShare"] = hard_notes / notes if notes else None
    out["sidWaveSwitchRate"] = _ratio(switches, gated_s)
    adsr_all = np.concatenate(pooled["adsr"]).astype(np.float64)
    for column, label in enumerate(("Attack", "Decay", "Sustain", "Release")):
        values = adsr_all[:, column] if adsr_all.size else np.zeros(0)
        out[f"sid{label}Mean"] = _mean(values)
        out[f"sid{label}Std"] = float(values.std()) if values.size else None
    out["sidPwmDepth"] = _pw_depth(np.concatenate(pooled["pw"]))
    out["sidPwmRate"] = _ratio(pwm_changes, pulse_s) if pulse_s > 0 else None
    fine_all = np.concatenate(pooled["fine"])
    out["sidVibratoRate"] = _ratio(fine_all.size, tonal_s)
    out["sidVibratoDepth"] = float(np.median(fine_all)) if fine_all.size else None
    out["sidArpeggioRate"] = _ratio(np.concatenate(pooled["jumps"]).size, tonal_s)
    onset_pitch_all = np.concatenate(pooled["onset_pitch"])
    out["sidNoteMean"] = _mean(onset_pitch_all)
    out["sidNoteRange"] = _spread(onset_pitch_all)
    out.update(_tonality(pitch_classes))
    out["sidChordShare"] = _chord_share(voices)
    out.update(_intervals(np.concatenate(pooled["intervals"])))
    out.update(_rhythm(np.concatenate(onset_times)))
    for v in range(3):
        voice_values = per_voice[v] if v < len(per_voice) else {}
        for name in VOICE_FEATURES:
            out[f"sidV{v + 1}{name}"] = voice_values.get(name)
    return {name: _clean(out.get(name)) for name in TRACE_FEATURE_NAMES}


def _pw_depth(widths: np.ndarray) -> Value:
    spread = _spread(widths.astype(np.float64))
    return None if spread is None else spread / 4095.0


def _tonality(histogram: np.ndarray) -> dict[str, Value]:
    """Key by Krumhansl–Kessler correlation; entropy of the pitch-class distribution."""
    total = float(histogram.sum())
    if total <= 0:
        return {"sidPitchClassEntropy": None, "sidTonalCentre": None, "sidKeyMajor": None, "sidKeyStrength": None}
    p = histogram / total
    nonzero = p[p > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum() / math.log2(12))
    best = (-2.0, 0, 1.0)
    if np.ptp(p) > 0:
        for tonic in range(12):
            for major, profile in ((1.0, _MAJOR), (0.0, _MINOR)):
                r = float(np.corrcoef(p, np.roll(profile, tonic))[0, 1])
                # Strictly greater: ties keep the first (lowest tonic, major) — deterministic.
                if r > best[0]:
                    best = (r, tonic, major)
    else:
        best = (0.0, 0, 1.0)
    return {
        "sidPitchClassEntropy": entropy,
        "sidTonalCentre": float(best[1]),
        "sidKeyMajor": best[2],
        "sidKeyStrength": best[0],
    }


def _chord_share(voices: list[_Voice]) -> float:
    """Share of 60 ms windows with any tonal voice in which ≥ 3 distinct pitch classes sound.

    Windows (not single snapshots) so that the arpeggiated chords C64 music is full of —
    one voice cycling through a triad every three frames — count as chords.
    """
    n = voices[0].gate.shape[0]
    present = np.zeros((n, 12), dtype=bool)
    for voice in voices:
        rows = np.nonzero(voice.tonal)[0]
        classes = np.mod(np.round(voice.pitch[rows]), 12).astype(np.int64)
        present[rows, classes] = True
    windows = n // CHORD_WINDOW_SNAPSHOTS
    if windows == 0:
        return 0.0
    blocks = present[: windows * CHORD_WINDOW_SNAPSHOTS].reshape(windows, CHORD_WINDOW_SNAPSHOTS, 12).any(axis=1)
    counts = blocks.sum(axis=1)
    return _ratio(float(np.count_nonzero(counts >= 3)), float(np.count_nonzero(counts >= 1)))


def _intervals(intervals: np.ndarray) -> dict[str, Value]:
    if intervals.size == 0:
        return {
            "sidIntervalMean": None,
            "sidIntervalRepeatShare": None,
            "sidIntervalStepShare": None,
            "sidIntervalLeapShare": None,
            "sidIntervalLargeShare": None,
        }
    return {
        "sidIntervalMean": float(intervals.mean()),
        "sidIntervalRepeatShare": float(np.mean(intervals == 0)),
        "sidIntervalStepShare": float(np.mean((intervals >= 1) & (intervals <= 2))),
        "sidIntervalLeapShare": float(np.mean((intervals >= 3) & (intervals <= 7))),
        "sidIntervalLargeShare": float(np.mean(intervals > 7)),
    }


def _rhythm(onset_times: np.ndarray) -> dict[str, Value]:
    """Regularity of the merged onsets of all voices (simultaneous onsets count once).

    The base interval is the most common inter-onset interval at 5 ms resolution (the
    player's step, or a subdivision); regularity is the share of intervals that are
    whole multiples of it. A tune on a strict grid scores 1, a rubato or swung one less.
    """
    times = np.unique(np.round(onset_times, 3))
    if times.size < 3:
        return {"sidOnsetRegularity": None, "sidIoiCv": None}
    ioi = np.diff(times)
    ioi = ioi[ioi > RHYTHM_TOLERANCE_S]  # near-simultaneous onsets on different voices
    if ioi.size < 2:
        return {"sidOnsetRegularity": None, "sidIoiCv": None}
    bins = np.round(ioi / 0.005).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    base = float(values[np.argmax(counts)]) * 0.005  # ties: the shortest (np.unique sorts)
    multiple = np.maximum(np.round(ioi / base), 1.0)
    on_grid = np.abs(ioi - multiple * base) <= RHYTHM_TOLERANCE_S * np.maximum(1.0, multiple / 4)
    return {"sidOnsetRegularity": float(np.mean(on_grid)), "sidIoiCv": float(ioi.std() / ioi.mean())}


TRACE_GROUPS: dict[str, tuple[str, ...]] = {
    "waveform": (
        "sidTriangleShare",
        "sidSawShare",
        "sidPulseShare",
        "sidNoiseShare",
        "sidCombinedShare",
        "sidTestBitShare",
        "sidRingModShare",
        "sidSyncShare",
    ),
    "envelope": (
        "sidHardRestartShare",
        "sidAttackMean",
        "sidAttackStd",
        "sidDecayMean",
        "sidDecayStd",
        "sidSustainMean",
        "sidSustainStd",
        "sidReleaseMean",
        "sidReleaseStd",
    ),
    "modulation": ("sidWaveSwitchRate", "sidPwmDepth", "sidPwmRate", "sidVibratoRate", "sidVibratoDepth", "sidArpeggioRate"),
    "pitch": (
        "sidNoteMean",
        "sidNoteRange",
        "sidPitchClassEntropy",
        "sidKeyMajor",
        "sidKeyStrength",
        "sidChordShare",
        "sidIntervalMean",
        "sidIntervalRepeatShare",
        "sidIntervalStepShare",
        "sidIntervalLeapShare",
        "sidIntervalLargeShare",
    ),
    "rhythm": ("sidGateRate", "sidOnsetRegularity", "sidIoiCv", "sidGatedShare", "sidVoicesUsed"),
    "filter": (
        "sidFilterShare",
        "sidFilterCutoffMean",
        "sidFilterCutoffStd",
        "sidFilterSweepRate",
        "sidFilterResonance",
        "sidFilterLowPass",
        "sidFilterBandPass",
        "sidFilterHighPass",
    ),
    "player": ("sidVolumeMean", "sidVolumeChangeRate", "sidChangesPerFrame", "sidCiaCallsPerFrame"),
}


# ---------------------------------------------------------------- the player fingerprint
#
# The summary features above describe the music's surface; they cannot say that two
# tunes start every note with the same three-frame waveform program, drain the envelope
# with the same hard restart, or take their pitches from the same frequency table — and
# that is what a composer's (or their player's) hand looks like in the registers. The
# *sketch* counts such exact events ("tokens") per family and hashes each family into
# SKETCH_BUCKETS buckets: a fixed-size, order-free histogram of how the player writes.
# Two tunes share buckets when they share instruments, programs and tables.

SKETCH_BUCKETS = 128
_FRAMES_AFTER_ONSET = 6  # how far into a note its program is followed (frames)
_CHANGES_AFTER_ONSET = 6  # at most this many register updates of the note's start

SKETCH_FAMILIES: dict[str, str] = {
    "instrument": "control byte (without gate), attack/decay and sustain/release at each note onset",
    "wavetable": "control bytes at the onset and 1, 2, 3 frames later (waveform programs, drum starts)",
    "hardRestart": "envelope values and waveform/test bits written in the 40 ms before an onset",
    "noteGap": "frames the gate was off before an onset (articulation; hard-restart length)",
    "noteProgram": "(frames since onset, registers changed, waveform) for the first updates of a note",
    "gateLength": "frames a note's gate stays on",
    "updateSet": "which of a voice's 7 registers one player call changes together",
    "updateSign": "those registers with the direction of each change (slides, sweeps)",
    "updateBigram": "two consecutive update sets of a voice (the routine's order of work)",
    "pulseStep": "signed pulse-width change per update while a pulse note plays (±512 cap)",
    "arpeggioInterval": "semitone size (1–24) of pitch jumps within a note (arpeggio chords)",
    "filterStep": "signed cutoff change per update (±256 cap) and each filter mode/resonance setting",
    "tuning": "cents off equal temperament (A4 = 440 Hz) of each tonal onset: the frequency table",
}


def _sets(rows: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(int(j) for j in np.nonzero(row)[0]) for row in rows]


def trace_tokens(trace: Trace) -> dict[str, Counter[Hashable]]:
    """Exact register events per :data:`SKETCH_FAMILIES` family (tokens are hashable tuples/ints)."""
    families: dict[str, Counter[Hashable]] = {name: Counter() for name in SKETCH_FAMILIES}
    regs = np.asarray(trace.regs).astype(np.int64)
    if regs.ndim != 3 or regs.shape[0] < 2:
        return families
    clock_hz = CLOCK_HZ.get(int(trace.clock), CLOCK_HZ[1])
    frame_hz = FRAME_HZ.get(int(trace.clock), FRAME_HZ[1])
    frames = np.asarray(trace.frame, dtype=np.float64) / float(trace.sample_rate) * frame_hz
    n = regs.shape[0]
    for sid in range(regs.shape[1]):
        chip = regs[:, sid, :]
        delta = np.diff(chip, axis=0)
        for v in range(3):
            block = chip[:, 7 * v : 7 * v + 7]
            change = delta[:, 7 * v : 7 * v + 7]
            control = block[:, 4]
            gate = (control & 1) != 0
            envelope = block[:, 5] << 8 | block[:, 6]
            freq = block[:, 0] | block[:, 1] << 8
            width = (block[:, 3] & 0x0F) << 8 | block[:, 2]
            onsets = np.nonzero(gate[1:] & ~gate[:-1])[0] + 1
            offsets = np.nonzero(~gate[1:] & gate[:-1])[0] + 1
            updates = np.nonzero((change != 0).any(axis=1))[0] + 1  # snapshot index after the change
            sets = _sets(change[updates - 1] != 0)
            for k, i in enumerate(updates):
                signs = tuple((j, int(np.sign(change[i - 1, j]))) for j in sets[k])
                families["updateSet"][sets[k]] += 1
                families["updateSign"][signs] += 1
                if k:
                    families["updateBigram"][(sets[k - 1], sets[k])] += 1
            for i in onsets:
                families["instrument"][(int(control[i]) & 0xFE, int(block[i, 5]), int(block[i, 6]))] += 1
                later = [np.searchsorted(frames, frames[i] + f) for f in range(4)]
                families["wavetable"][tuple(int(control[min(j, n - 1)]) & 0xFE for j in later)] += 1
                before = slice(max(0, i - HARD_RESTART_SNAPSHOTS), i)
                families["hardRestart"][
                    (tuple(sorted(set(envelope[before].tolist())))[:2], tuple(sorted(set((control[before] & 0xF8).tolist())))[:2])
                ] += 1
                gap_start = offsets[offsets <= i]
                gap = frames[i] - frames[gap_start[-1]] if gap_start.size else frames[i] - frames[0]
                families["noteGap"][min(int(gap), 10)] += 1
                closing = offsets[offsets > i]
                if closing.size:
                    families["gateLength"][min(int(round(frames[closing[0]] - frames[i])), 100)] += 1
                first = np.searchsorted(updates, i)
                for j in updates[first : first + _CHANGES_AFTER_ONSET]:
                    since = int(frames[j] - frames[i])
                    if since >= _FRAMES_AFTER_ONSET:
                        break
                    changed = tuple(int(x) for x in np.nonzero(change[j - 1])[0])
                    families["noteProgram"][(since, changed, int(control[j]) & 0xF0)] += 1
            tonal = gate & ((control & 0x88) == 0) & ((control & 0xF0) != 0) & (freq > 0)
            for j in _note_pitch_snapshots(gate, tonal, _onsets_mask(onsets, n)):
                pitch = 69.0 + 12.0 * math.log2(freq[j] * clock_hz / 16_777_216.0 / 440.0)
                families["tuning"][int(round(100.0 * (pitch - round(pitch))))] += 1
            held = gate[1:] & gate[:-1]
            pulse = held & ((control[1:] & 0x40) != 0)
            steps = np.diff(width)[pulse]
            for step in steps[steps != 0]:
                families["pulseStep"][int(np.sign(step)) * min(abs(int(step)), 512)] += 1
            both = held & (freq[1:] > 0) & (freq[:-1] > 0) & ~_onsets_mask(onsets, n)[1:]
            with np.errstate(divide="ignore"):
                semis = 12.0 * np.log2(np.maximum(freq, 1).astype(np.float64))
            jumps = np.round(np.abs(np.diff(semis)[both]))
            for jump in jumps[(jumps >= 1) & (jumps <= 24)]:
                families["arpeggioInterval"][int(jump)] += 1
        if sid == 0:
            cutoff = (chip[:, 0x16] << 3) | (chip[:, 0x15] & 0x07)
            steps = np.diff(cutoff)
            for step in steps[steps != 0]:
                families["filterStep"][int(np.sign(step)) * min(abs(int(step)), 256)] += 1
            setting = (chip[:, 0x18] & 0x70) << 4 | (chip[:, 0x17] >> 4)
            firsts = np.nonzero(np.r_[True, np.diff(setting) != 0])[0]
            for i in firsts:
                families["filterStep"][("mode", int(setting[i]))] += 1
    return families


def _onsets_mask(onsets: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of length ``n`` that is True at the onset snapshots."""
    mask = np.zeros(n, dtype=bool)
    mask[onsets] = True
    return mask


def _bucket(family: str, token: Hashable, buckets: int) -> int:
    # blake2b of the token's repr (tuples of ints): the same bucket on every platform and run.
    digest = hashlib.blake2b(f"{family}|{token!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


Sketch = dict[str, Any]


def trace_sketch(trace: Trace, buckets: int = SKETCH_BUCKETS) -> Sketch:
    """The sparse hashed histograms of every family, flat: ``{"buckets": B, "index": […],
    "share": […]}`` where ``index = family number · B + bucket`` (families in
    :data:`SKETCH_FAMILIES` order) and each family's shares sum to 1.

    Flat lists, not one list per family, because a reader of 100,000 rows turns them
    into arrays with one call each. A family with no events has no entries. Shares are
    rounded to 6 digits so the JSONL rows are byte-deterministic.
    """
    index: list[int] = []
    share: list[float] = []
    for number, (family, counts) in enumerate(trace_tokens(trace).items()):
        total = sum(counts.values())
        histogram: dict[int, float] = {}
        for token, count in counts.items():
            bucket = _bucket(family, token, buckets)
            histogram[bucket] = histogram.get(bucket, 0.0) + count / total
        for bucket in sorted(histogram):
            index.append(number * buckets + bucket)
            share.append(float(f"{histogram[bucket]:.6g}"))
    return {"buckets": buckets, "index": index, "share": share}


def sketch_family(sketch: Sketch, family: str) -> dict[int, float]:
    """One family's ``{bucket: share}`` out of a flat sketch (for tests and inspection)."""
    number = list(SKETCH_FAMILIES).index(family)
    buckets = int(sketch["buckets"])
    return {i % buckets: v for i, v in zip(sketch["index"], sketch["share"], strict=True) if i // buckets == number}


def sketch_from_file(path: Path) -> Sketch:
    from sidflow_pipeline.sid.engine import Trace

    return trace_sketch(Trace.load(path))
