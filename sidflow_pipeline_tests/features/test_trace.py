"""SID-trace features on designed register traces, and on a demo tune rendered in process.

The synthetic traces are built frame by frame like a 50 Hz player writes them and then
sampled every 113 samples at 22,050 Hz (the engine's snapshot step, ~5.1 ms), so every
expected value below follows from what the "player" was made to write.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sidflow_pipeline.demo.compose import phrase
from sidflow_pipeline.demo.player_routine import build_sid, frequency_table
from sidflow_pipeline.demo.spec import FRAME_RATE, SongSpec, TuneSpec, VoiceSpec
from sidflow_pipeline.features.trace import (
    SKETCH_BUCKETS,
    SKETCH_FAMILIES,
    TRACE_FEATURE_NAMES,
    missing_trace_features,
    sketch_family,
    sketch_from_file,
    trace_features,
    trace_features_from_file,
    trace_sketch,
    trace_tokens,
)
from sidflow_pipeline.sid.engine import Trace

SR = 22050
STEP = 113
PAL = 985_248
NTSC = 1_022_727
PAL_FRAME = PAL / (312 * 63)
FRAME_SAMPLES = SR / PAL_FRAME


def freq_reg(midi: float, clock: int = PAL) -> int:
    return round(440.0 * 2 ** ((midi - 69) / 12) * 16_777_216 / clock)


def trace_of(frames: np.ndarray, *, clock: int = 1, timer: int = 0xFFFF, per_snapshot: bool = False) -> Trace:
    """Snapshots every STEP samples of a per-frame register program ``[frames, 25]``.

    With ``per_snapshot`` the rows are already snapshots (for writes faster than frames).
    """
    frame_samples = SR / (PAL_FRAME if clock == 1 else NTSC / (263 * 65))
    if per_snapshot:
        regs = frames
    else:
        count = int(len(frames) * frame_samples / STEP)
        index = np.minimum((np.arange(count) * STEP / frame_samples).astype(int), len(frames) - 1)
        regs = frames[index]
    n = len(regs)
    return Trace(
        regs=regs.reshape(n, 1, 25).astype(np.uint8),
        frame=(np.arange(n) * STEP).astype(np.uint32),
        cia1_timer_a=np.full(n, timer, dtype=np.uint16),
        sid_bases=np.array([0xD400], dtype=np.uint16),
        sid_models=np.array([1], dtype=np.uint8),
        clock=clock,
        sample_rate=SR,
        step_frames=STEP,
        start_frame=0,
    )


class Program:
    """A register program, one row per 50 Hz frame; helpers write like a player would."""

    def __init__(self, frames: int) -> None:
        self.regs = np.zeros((frames, 25), dtype=np.int64)
        self.regs[:, 0x18] = 0x0F  # volume 15

    def set(self, reg: int, value: int | np.ndarray, frames: slice = slice(None)) -> Program:
        self.regs[frames, reg] = value
        return self

    def notes(
        self,
        voice: int,
        midi: list[float],
        every: int,
        gate_frames: int,
        wave: int = 0x20,
        ad: int = 0x09,
        sr: int = 0xA4,
    ) -> Program:
        """A note every ``every`` frames, gated for ``gate_frames`` of them (frame 0 is silent)."""
        base = 7 * voice
        self.regs[:, base + 5] = ad
        self.regs[:, base + 6] = sr
        self.regs[:, base + 4] = wave
        for n, start in enumerate(range(1, len(self.regs), every)):
            f = freq_reg(midi[n % len(midi)])
            end = min(start + every, len(self.regs))
            self.regs[start:end, base] = f & 0xFF
            self.regs[start:end, base + 1] = f >> 8
            self.regs[start : min(start + gate_frames, end), base + 4] = wave | 1
        return self

    def trace(self, **kwargs: object) -> Trace:
        return trace_of(self.regs, **kwargs)  # type: ignore[arg-type]


def test_names_are_unique_and_every_feature_is_reported() -> None:
    assert len(set(TRACE_FEATURE_NAMES)) == len(TRACE_FEATURE_NAMES)
    features = trace_features(Program(500).notes(0, [60], 10, 8).trace())
    assert list(features) == list(TRACE_FEATURE_NAMES)
    assert all(v is None or isinstance(v, float) for v in features.values())
    assert missing_trace_features() == dict.fromkeys(TRACE_FEATURE_NAMES)


def test_waveform_shares_gate_rate_and_voices() -> None:
    # Voice 1 saw, a note every 10 frames held 8; voice 2 pulse, every 20 held 10; voice 3 silent.
    program = Program(1000).notes(0, [60, 64, 67], 10, 8, wave=0x20).notes(1, [48], 20, 10, wave=0x40)
    f = trace_features(program.trace())
    seconds = 1000 / PAL_FRAME
    assert f["sidV1GateRate"] == pytest.approx(100 / seconds, rel=0.02)
    assert f["sidV2GateRate"] == pytest.approx(50 / seconds, rel=0.02)
    assert f["sidGateRate"] == pytest.approx(150 / seconds, rel=0.02)
    assert f["sidVoicesUsed"] == 2.0 and f["sidV3GatedShare"] == 0.0
    assert f["sidV1GatedShare"] == pytest.approx(0.8, abs=0.01) and f["sidV2GatedShare"] == pytest.approx(0.5, abs=0.01)
    # Gated time: saw 0.8, pulse 0.5 of the excerpt → shares 0.8/1.3 and 0.5/1.3.
    assert f["sidSawShare"] == pytest.approx(0.8 / 1.3, abs=0.01)
    assert f["sidPulseShare"] == pytest.approx(0.5 / 1.3, abs=0.01)
    assert f["sidTriangleShare"] == f["sidNoiseShare"] == f["sidCombinedShare"] == 0.0
    assert f["sidV1SawShare"] == 1.0 and f["sidV2PulseShare"] == 1.0


def test_combined_waveform_ring_sync_and_test_bit() -> None:
    program = Program(500).notes(0, [60], 10, 10, wave=0x30 | 0x04 | 0x02)  # saw+triangle, ring, sync
    program.set(7 + 4, 0x08, slice(0, 250))  # voice 2: test bit, no gate, for half the excerpt
    f = trace_features(program.trace())
    assert f["sidV1CombinedShare"] == 1.0 and f["sidCombinedShare"] == 1.0
    assert f["sidRingModShare"] == 1.0 and f["sidSyncShare"] == 1.0
    assert f["sidV2TestBitShare"] == pytest.approx(0.5, abs=0.01)
    assert f["sidTestBitShare"] == pytest.approx(0.5 / 3, abs=0.01)


def test_adsr_at_note_onsets_and_hard_restart() -> None:
    plain = trace_features(Program(600).notes(0, [60], 12, 10, ad=0x29, sr=0xA4).trace())
    assert (plain["sidAttackMean"], plain["sidDecayMean"], plain["sidSustainMean"], plain["sidReleaseMean"]) == (2.0, 9.0, 10.0, 4.0)
    assert plain["sidAttackStd"] == 0.0 and plain["sidHardRestartShare"] == 0.0
    # The same notes with a hard restart: envelope $0000 in the two frames before each gate-on.
    program = Program(600).notes(0, [60], 12, 10, ad=0x29, sr=0xA4)
    for start in range(1 + 12, 600, 12):
        program.set(5, 0, slice(start - 2, start)).set(6, 0, slice(start - 2, start))
    hard = trace_features(program.trace())
    assert hard["sidHardRestartShare"] == pytest.approx(1.0, abs=0.03)


def test_arpeggio_rate_is_the_rate_the_pitch_cycles() -> None:
    # One long note (gate on from frame 1 to the end) alternating C4 / G4 every frame.
    program = Program(500).notes(0, [60], 500, 499)
    low, high = freq_reg(60), freq_reg(67)
    cycle = np.where(np.arange(500) % 2 == 0, low, high)
    program.set(0, cycle & 0xFF).set(1, cycle >> 8)
    f = trace_features(program.trace())
    assert f["sidV1ArpeggioRate"] == pytest.approx(PAL_FRAME, rel=0.02)
    assert f["sidV1VibratoRate"] == 0.0
    assert f["sidChordShare"] == 0.0  # two pitch classes are an interval, not a chord
    # A three-note arpeggio (C E G) is a chord in every 60 ms window.
    triad = np.array([freq_reg(60), freq_reg(64), freq_reg(67)])[np.arange(500) % 3]
    f = trace_features(Program(500).notes(0, [60], 500, 499).set(0, triad & 0xFF).set(1, triad >> 8).trace())
    assert f["sidChordShare"] == pytest.approx(1.0, abs=0.02)
    assert f["sidArpeggioRate"] == pytest.approx(PAL_FRAME, rel=0.02)


def test_vibrato_rate_and_depth() -> None:
    program = Program(500).notes(0, [69], 500, 499)
    wobble = np.array([freq_reg(69 + d) for d in (0.0, 0.2, 0.0, -0.2)])[np.arange(500) % 4]
    program.set(0, wobble & 0xFF).set(1, wobble >> 8)
    f = trace_features(program.trace())
    assert f["sidVibratoRate"] == pytest.approx(PAL_FRAME, rel=0.02)
    assert f["sidVibratoDepth"] == pytest.approx(0.2, abs=0.01)
    assert f["sidArpeggioRate"] == 0.0


def test_pulse_width_modulation_depth_and_rate() -> None:
    program = Program(500).notes(0, [60], 500, 499, wave=0x40)
    sweep = 0x200 + (np.arange(500) * 6) % 0xC00  # a saw-shaped sweep over 0x200..0xDFF
    program.set(2, sweep & 0xFF).set(3, sweep >> 8)
    f = trace_features(program.trace())
    assert f["sidPwmDepth"] == pytest.approx(0.9 * 0xC00 / 4095, abs=0.02)
    assert f["sidPwmRate"] == pytest.approx(PAL_FRAME, rel=0.02)
    steady = trace_features(Program(500).notes(0, [60], 500, 499, wave=0x40).set(2, 0).set(3, 8).trace())
    assert steady["sidPwmDepth"] == 0.0 and steady["sidPwmRate"] == 0.0
    no_pulse = trace_features(Program(500).notes(0, [60], 10, 8, wave=0x20).trace())
    assert no_pulse["sidPwmDepth"] is None and no_pulse["sidPwmRate"] is None  # nothing to measure


def test_filter_usage() -> None:
    program = Program(500).notes(0, [60], 10, 8)
    cutoff = np.arange(500) * 4  # rises 4 register steps per frame
    program.set(0x15, cutoff & 7).set(0x16, cutoff >> 3).set(0x17, 0x91)  # resonance 9, voice 1 routed
    program.set(0x18, 0x1F, slice(0, 250)).set(0x18, 0x2F, slice(250, 500))  # LP, then BP
    f = trace_features(program.trace())
    assert f["sidFilterShare"] == pytest.approx(1.0, abs=0.01)
    assert f["sidFilterResonance"] == 9.0
    assert f["sidFilterLowPass"] == pytest.approx(0.5, abs=0.01) and f["sidFilterBandPass"] == pytest.approx(0.5, abs=0.01)
    assert f["sidFilterHighPass"] == 0.0
    assert f["sidFilterSweepRate"] == pytest.approx(4 * PAL_FRAME / 2047, rel=0.02)
    assert f["sidFilterCutoffMean"] == pytest.approx(998 / 2047, abs=0.01)
    assert f["sidV1FilteredShare"] == 1.0 and f["sidV2FilteredShare"] == 0.0
    off = trace_features(Program(500).notes(0, [60], 10, 8).trace())
    assert off["sidFilterShare"] == 0.0 and off["sidFilterCutoffMean"] is None


def test_volume_writes_multispeed_and_cia_timer() -> None:
    one_x = Program(500).notes(0, [60], 10, 8)
    wobble = np.array([freq_reg(60), freq_reg(60.1)])[np.arange(500) % 2]
    one_x.set(0, wobble & 0xFF).set(1, wobble >> 8)  # something changes every frame
    f = trace_features(one_x.trace())
    assert f["sidChangesPerFrame"] == pytest.approx(1.0, abs=0.05)
    assert f["sidVolumeChangeRate"] == 0.0 and f["sidVolumeMean"] == 15.0
    assert f["sidCiaCallsPerFrame"] == 1.0  # timer never programmed: raster-driven
    # A digi: the volume register rewritten at every snapshot, and a 4x CIA timer.
    base = one_x.trace()
    regs = base.regs.copy()
    regs[:, 0, 0x18] = np.arange(len(regs)) % 16
    latch = round(PAL / (4 * PAL_FRAME)) - 1
    digi = trace_features(trace_of(regs[:, 0, :], per_snapshot=True, timer=latch))
    assert digi["sidVolumeChangeRate"] == pytest.approx(SR / STEP, rel=0.01)
    assert digi["sidChangesPerFrame"] == pytest.approx(SR / STEP / PAL_FRAME, rel=0.01)
    assert digi["sidCiaCallsPerFrame"] == pytest.approx(4.0, rel=0.001)


def test_wavetable_switches_large_intervals_and_cutoff_spread() -> None:
    # Drum-start instrument: every note begins with one frame of noise, then pulse.
    program = Program(600).notes(0, [48, 67], 10, 8, wave=0x40)
    for start in range(1, 600, 10):
        program.set(4, 0x81, slice(start, start + 1))
    cutoff = np.where(np.arange(600) < 300, 400, 1200)
    program.set(0x15, cutoff & 7).set(0x16, cutoff >> 3).set(0x17, 0x01).set(0x18, 0x1F)
    f = trace_features(program.trace())
    gated_seconds = 600 / PAL_FRAME * 0.8
    assert f["sidWaveSwitchRate"] == pytest.approx(60 / gated_seconds, rel=0.05)  # one switch per note
    assert f["sidV1NoiseShare"] == pytest.approx(1 / 8, abs=0.02) and f["sidV1PulseShare"] == pytest.approx(7 / 8, abs=0.02)
    assert f["sidIntervalLargeShare"] == 1.0 and f["sidIntervalMean"] == 19.0  # C3 ↔ G4
    assert f["sidFilterCutoffStd"] == pytest.approx(400 / 2047, abs=0.01)  # two halves, ±400 around 800
    assert f["sidFilterSweepRate"] == pytest.approx(800 / 2047 / (600 / PAL_FRAME), rel=0.05)


def test_pitch_key_intervals_and_ntsc_clock() -> None:
    # C major scale up and down, one note every 10 frames.
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    f = trace_features(Program(1400).notes(0, scale, 10, 8).trace())
    assert f["sidTonalCentre"] == 0.0 and f["sidKeyMajor"] == 1.0 and f["sidKeyStrength"] > 0.6
    assert f["sidIntervalStepShare"] == 1.0 and f["sidIntervalRepeatShare"] == 0.0
    assert f["sidIntervalMean"] == pytest.approx(1.7, abs=0.1)
    assert f["sidNoteMean"] == pytest.approx(np.mean(scale), abs=0.3)
    assert f["sidNoteRange"] == pytest.approx(12.0, abs=0.01)
    assert 0.7 < f["sidPitchClassEntropy"] < 0.8  # 7 of 12 classes: log2(7)/log2(12) = 0.78
    # A minor triad arpeggio with leaps; and A4 written for an NTSC clock is still MIDI 69.
    minor = trace_features(Program(900).notes(0, [57, 60, 64, 69, 64, 60], 10, 8).trace())
    assert minor["sidTonalCentre"] == 9.0 and minor["sidKeyMajor"] == 0.0
    assert minor["sidIntervalLeapShare"] == pytest.approx(1.0) and minor["sidIntervalStepShare"] == 0.0
    ntsc = Program(600)
    ntsc.notes(0, [69], 10, 8)
    reg = freq_reg(69, NTSC)
    ntsc.set(0, reg & 0xFF).set(1, reg >> 8)
    assert trace_features(ntsc.trace(clock=2))["sidNoteMean"] == pytest.approx(69.0, abs=0.01)


def test_rhythmic_regularity() -> None:
    steady = trace_features(Program(1000).notes(0, [60], 10, 6).trace())
    assert steady["sidOnsetRegularity"] == 1.0 and steady["sidIoiCv"] < 0.05
    program = Program(1000)
    program.set(4, 0x20).set(5, 0x09).set(6, 0xA4).set(0, 0x10).set(1, 0x10)
    rng = np.random.default_rng(7)
    at = 1
    while at < 990:
        length = int(rng.integers(3, 17))
        program.set(4, 0x21, slice(at, at + max(1, length - 2)))
        at += length  # irregular note lengths, 3..16 frames
    ragged = trace_features(program.trace())
    assert ragged["sidIoiCv"] > 0.3
    assert ragged["sidOnsetRegularity"] < steady["sidOnsetRegularity"]


def test_silence_gives_missing_means_and_zero_rates() -> None:
    f = trace_features(Program(300).trace())
    assert f["sidGateRate"] == 0.0 and f["sidVoicesUsed"] == 0.0 and f["sidArpeggioRate"] == 0.0
    for name in ("sidAttackMean", "sidNoteMean", "sidTonalCentre", "sidIntervalMean", "sidOnsetRegularity", "sidHardRestartShare"):
        assert f[name] is None, name
    empty = trace_of(np.zeros((1, 25), dtype=np.int64), per_snapshot=True)
    assert trace_features(empty) == missing_trace_features()


def test_deterministic_and_file_round_trip(tmp_path: Path) -> None:
    trace = Program(400).notes(0, [60, 67], 8, 6).notes(1, [36], 16, 12, wave=0x40).trace()
    trace.save(tmp_path / "t.npz")
    assert trace_features_from_file(tmp_path / "t.npz") == trace_features(trace) == trace_features(trace)
    assert sketch_from_file(tmp_path / "t.npz") == trace_sketch(trace)


def test_fingerprint_tokens_name_what_the_player_wrote() -> None:
    # A hard restart ($0000 for two frames), then notes with AD $09 SR $A4 on saw, and a
    # pulse-width sweep of +5 per frame on a second, pulse voice.
    program = Program(600).notes(0, [60, 64, 67], 12, 10, wave=0x20, ad=0x09, sr=0xA4)
    for start in range(1 + 12, 600, 12):
        program.set(5, 0, slice(start - 2, start)).set(6, 0, slice(start - 2, start))
    program.notes(1, [48], 600, 599, wave=0x40)
    sweep = 0x200 + np.arange(600) * 5
    program.set(9, sweep & 0xFF).set(10, sweep >> 8)
    tokens = trace_tokens(program.trace())
    assert tokens["instrument"][(0x20, 0x09, 0xA4)] >= 40
    assert tokens["pulseStep"][5] >= 500 and set(tokens["pulseStep"]) == {5}
    assert any(0 in envelopes for envelopes, _ in tokens["hardRestart"])
    # Equal-tempered notes from a table computed like the demo player's: within a cent.
    assert set(tokens["tuning"]) <= {-1, 0, 1}
    assert tokens["arpeggioInterval"] == {}
    sketch = trace_sketch(program.trace())
    assert sketch["buckets"] == SKETCH_BUCKETS and len(sketch["index"]) == len(sketch["share"])
    for family in SKETCH_FAMILIES:
        shares = sketch_family(sketch, family)
        assert not shares or math.isclose(sum(shares.values()), 1.0, abs_tol=1e-5), family
    assert trace_sketch(program.trace()) == sketch  # hashing is stable


# ---------------------------------------------------------------- a demo tune, rendered

ARP_TEMPO = 25  # frames per step: a note every half second
ARP_GATE_OFF = 1  # frames before the next step the note is released


def _arpeggio_tune() -> TuneSpec:
    lead = VoiceSpec("saw", phrase("C4 E4 G4 C5 G4 E4 D4 B3"), attack=0, decay=9, sustain=10, release=2)
    arp = VoiceSpec("pulse", phrase("C3 F3 G3 C3"), arpeggio=7, attack=0, decay=8, sustain=12, release=2, pulse_width=0x400)
    drums = VoiceSpec("noise", phrase("C2 . C6 ."), attack=0, decay=6, sustain=0, release=2)
    song = SongSpec("Arpeggio", (lead, arp, drums), tempo_frames=ARP_TEMPO, gate_frames=ARP_GATE_OFF, length_ms=20_000)
    return TuneSpec("Arpeggio Test", "Demo Composer", "2026 SIDFlow Demo", (song,))


@pytest.fixture(scope="module")
def demo_features(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float | None]:
    from sidflow_pipeline.sid.engine import EngineUnavailable, render_excerpt_in_process
    from sidflow_pipeline.sid.excerpt import RenderSettings

    folder = tmp_path_factory.mktemp("arp")
    sid = folder / "arp.sid"
    sid.write_bytes(build_sid(_arpeggio_tune()))
    try:
        result = render_excerpt_in_process(sid, 1, folder / "arp.wav", RenderSettings(duration_s=12.0), out_trace=folder / "arp.npz")
    except EngineUnavailable as exc:  # pragma: no cover - the engine is built by setup.sh
        pytest.skip(str(exc))
    assert result.status == "ok", result.message
    return trace_features_from_file(folder / "arp.npz")


def test_demo_tune_arpeggio_rate_is_the_frame_rate(demo_features: dict[str, float | None]) -> None:
    # The player alternates the arpeggio voice between note and note+7 every frame, so
    # within a note the pitch jumps once per frame: 50.12 per second (PAL). The first
    # frame of each note (the onset, 1 of the 24 gated frames) is not counted.
    expected = FRAME_RATE["PAL"] * (ARP_TEMPO - ARP_GATE_OFF - 1) / (ARP_TEMPO - ARP_GATE_OFF)
    assert demo_features["sidV2ArpeggioRate"] == pytest.approx(expected, rel=0.05)
    assert demo_features["sidV1ArpeggioRate"] == 0.0 and demo_features["sidV1VibratoRate"] == 0.0


def test_demo_tune_waveforms_gate_rates_and_envelopes(demo_features: dict[str, float | None]) -> None:
    f = demo_features
    assert (f["sidV1SawShare"], f["sidV2PulseShare"], f["sidV3NoiseShare"]) == (1.0, 1.0, 1.0)
    steps_per_s = FRAME_RATE["PAL"] / ARP_TEMPO
    assert f["sidV1GateRate"] == pytest.approx(steps_per_s, rel=0.06)  # every step a note
    assert f["sidV3GateRate"] == pytest.approx(steps_per_s / 2, rel=0.1)  # every other step a rest
    assert f["sidVoicesUsed"] == 3.0
    assert (f["sidV1AttackMean"], f["sidV1DecayMean"], f["sidV1SustainMean"], f["sidV1ReleaseMean"]) == (0.0, 9.0, 10.0, 2.0)
    assert f["sidV2PwmDepth"] == 0.0  # a fixed pulse width
    assert f["sidOnsetRegularity"] == 1.0
    assert f["sidNoteRange"] is not None and f["sidV2NoteMean"] is not None
    assert math.isclose(f["sidFilterShare"] or 0.0, 0.0)
    assert frequency_table("PAL")  # the tune's pitches come from this table


@pytest.mark.hvsc_sample
def test_real_tunes_give_finite_features_and_a_fingerprint(hvsc_sample: Path, tmp_path: Path) -> None:
    """Real players (RSID, multispeed, digis, 2SID) must not break the readers."""
    from sidflow_pipeline.sid.engine import render_excerpt_in_process
    from sidflow_pipeline.sid.excerpt import RenderSettings

    files = sorted(hvsc_sample.rglob("*.sid"))[::6]
    traced = 0
    for n, sid in enumerate(files):
        result = render_excerpt_in_process(sid, 1, tmp_path / f"{n}.wav", RenderSettings(duration_s=6.0), out_trace=tmp_path / f"{n}.npz")
        if result.wav_path is None or not (tmp_path / f"{n}.npz").is_file():
            continue
        traced += 1
        features = trace_features_from_file(tmp_path / f"{n}.npz")
        assert all(v is None or math.isfinite(v) for v in features.values()), sid
        assert 0.0 <= (features["sidGatedShare"] or 0.0) <= 1.0 and features["sidVolumeChangeRate"] is not None
        sketch = sketch_from_file(tmp_path / f"{n}.npz")
        assert len(sketch["index"]) == len(sketch["share"]) and all(0.0 < v <= 1.0 for v in sketch["share"])
    assert traced >= len(files) // 2
