"""The demo collection's 6502 music player and the PSID files built around it.

One small routine serves every demo tune; only the data tables appended after it
differ. ``init`` (A = 0-based song) copies the song's parameters into player state
and programs the SID's filter, volume, envelopes and pulse widths; ``play``, called
once per frame, counts the song's tempo down and steps each voice through its note
sequence (gate off, new frequency, gate on), releases notes ``gate_frames`` before
the next step so every note is a fresh attack (which makes onsets measurable), and
alternates arpeggio voices between two notes every frame.

Sequence bytes: 0..71 = note index into the frequency table (MIDI 24..95), ``$FE``
= rest, ``$FF`` = loop back to the first step. The frequency table is computed here
for the tune's clock, so an NTSC tune plays at the same pitch as a PAL one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sidflow_pipeline.demo.asm6502 import Program, assemble
from sidflow_pipeline.demo.spec import CLOCK_HZ, FILTER_MODES, MAX_NOTE, MIN_NOTE, WAVEFORMS, SongSpec, TuneSpec
from sidflow_pipeline.sid.header import build_psid

__all__ = [
    "INIT_ADDRESS",
    "LOAD_ADDRESS",
    "LOOP",
    "PLAYER_SOURCE",
    "PLAY_ADDRESS",
    "REST",
    "assemble_player",
    "build_sid",
    "frequency_table",
    "note_frequency",
    "player_source",
]

LOAD_ADDRESS = 0x1000
INIT_ADDRESS = 0x1000
PLAY_ADDRESS = 0x1003
REST = 0xFE
LOOP = 0xFF

PLAYER_SOURCE = """
; SIDFlow demo player. $1000: init (A = song, 0-based), $1003: play (once per frame).
SID     = $D400
ptr     = $FB                   ; zero-page pointer to the sequence being read
REST    = $FE
LOOP    = $FF

        jmp init
        jmp play

; ---------------------------------------------------------------- init
init:   tax                     ; X = song number
        lda song_tempo,x
        sta tempo
        lda song_gate,x
        sta gate
        lda song_voices,x
        sta voices
        lda song_cut_lo,x
        sta SID+$15
        lda song_cut_hi,x
        sta SID+$16
        lda song_res_route,x
        sta SID+$17
        lda song_mode_vol,x
        sta SID+$18
        lda song_slot,x         ; voice tables hold 3 slots per song
        tax
        ldy #0                  ; Y = voice 0..2
init_copy:
        lda v_wave,x
        sta wave,y
        lda v_ad,x
        sta ad,y
        lda v_sr,x
        sta sr,y
        lda v_pw_lo,x
        sta pw_lo,y
        lda v_pw_hi,x
        sta pw_hi,y
        lda v_seq_lo,x
        sta seq_lo,y
        lda v_seq_hi,x
        sta seq_hi,y
        lda v_arp,x
        sta arp,y
        lda #0
        sta pos,y
        sta note,y
        inx
        iny
        cpy #3
        bne init_copy
        ldx #0                  ; X = voice, Y = its SID register offset
init_sid:
        ldy sid_offset,x
        lda #0
        sta SID+4,y             ; waveform off, gate off
        sta SID+0,y
        sta SID+1,y
        lda ad,x
        sta SID+5,y
        lda sr,x
        sta SID+6,y
        lda pw_lo,x
        sta SID+2,y
        lda pw_hi,x
        sta SID+3,y
        inx
        cpx #3
        bne init_sid
        lda #1                  ; the first play call starts step 0
        sta counter
        lda #0
        sta frame
        rts

; ---------------------------------------------------------------- play
play:   dec counter
        bne between_steps
        lda tempo
        sta counter
        ldx #0
play_step:
        jsr step_voice
        inx
        cpx voices
        bne play_step
        jmp effects
between_steps:
        lda counter
        cmp gate                ; release notes gate_frames before the next step
        bne effects
        ldx #0
play_release:
        ldy sid_offset,x
        lda wave,x
        sta SID+4,y
        inx
        cpx voices
        bne play_release
effects:
        inc frame
        ldx #0
fx_voice:
        lda arp,x
        beq fx_next
        lda frame               ; odd frames: note + arp, even frames: note
        and #1
        beq fx_note
        lda arp,x
fx_note:
        clc
        adc note,x
        tay
        lda freq_lo,y
        sta tmp
        lda freq_hi,y
        ldy sid_offset,x
        sta SID+1,y
        lda tmp
        sta SID+0,y
fx_next:
        inx
        cpx voices
        bne fx_voice
        rts

; step voice X: read its next sequence byte and start the note (or rest)
step_voice:
        lda seq_lo,x
        sta ptr
        lda seq_hi,x
        sta ptr+1
        ldy pos,x
        lda (ptr),y
        cmp #LOOP
        bne step_read
        ldy #0
        lda (ptr),y
step_read:
        iny
        pha
        tya
        sta pos,x
        pla
        cmp #REST
        beq step_done
        sta note,x
        tay
        lda freq_lo,y
        sta tmp
        lda freq_hi,y
        ldy sid_offset,x
        sta SID+1,y
        lda tmp
        sta SID+0,y
        lda wave,x
        sta SID+4,y             ; gate off (matters when gate_frames = 0: legato)
        ora #1
        sta SID+4,y             ; gate on: attack starts
step_done:
        rts

sid_offset:
        .byte 0, 7, 14

; ---------------------------------------------------------------- state
tempo:   .byte 0
gate:    .byte 0
voices:  .byte 0
counter: .byte 0
frame:   .byte 0
tmp:     .byte 0
wave:    .fill 3
ad:      .fill 3
sr:      .fill 3
pw_lo:   .fill 3
pw_hi:   .fill 3
seq_lo:  .fill 3
seq_hi:  .fill 3
arp:     .fill 3
pos:     .fill 3
note:    .fill 3
"""


def note_frequency(midi_note: int) -> float:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return float(440.0 * 2.0 ** ((midi_note - 69) / 12))


def frequency_table(clock: str) -> list[int]:
    """SID frequency register values for MIDI 24..95 on this clock (Fn = f·2²⁴/clock)."""
    hz = CLOCK_HZ[clock]
    return [round(note_frequency(n) * 16_777_216 / hz) for n in range(MIN_NOTE, MAX_NOTE + 1)]


def _bytes_line(values: Sequence[int | str]) -> str:
    return "        .byte " + ", ".join(str(v) for v in values)


def _table(label: str, values: Sequence[int | str]) -> str:
    # Long tables are split so no line grows unreadable; the label marks the first.
    lines = [f"{label}:"]
    for start in range(0, len(values), 16):
        lines.append(_bytes_line(values[start : start + 16]))
    return "\n".join(lines)


def _sequence_bytes(notes: Sequence[int | None]) -> list[int]:
    return [REST if n is None else n - MIN_NOTE for n in notes] + [LOOP]


def player_source(songs: Sequence[SongSpec], clock: str) -> str:
    """Full assembly source: the routine plus this tune's song, voice and note tables."""
    if not songs:
        raise ValueError("a tune needs at least one song")
    freqs = frequency_table(clock)
    song_rows: dict[str, list[int | str]] = {
        k: []
        for k in (
            "song_tempo",
            "song_gate",
            "song_voices",
            "song_cut_lo",
            "song_cut_hi",
            "song_res_route",
            "song_mode_vol",
            "song_slot",
        )
    }
    voice_rows: dict[str, list[int | str]] = {
        k: []
        for k in (
            "v_wave",
            "v_ad",
            "v_sr",
            "v_pw_lo",
            "v_pw_hi",
            "v_seq_lo",
            "v_seq_hi",
            "v_arp",
        )
    }
    sequences: list[str] = []
    for s, song in enumerate(songs):
        routing = sum(1 << v for v in set(song.filter_voices)) if song.filter_mode != "off" else 0
        song_rows["song_tempo"].append(song.tempo_frames)
        song_rows["song_gate"].append(song.gate_frames)
        song_rows["song_voices"].append(len(song.voices))
        song_rows["song_cut_lo"].append(song.filter_cutoff & 0x07)
        song_rows["song_cut_hi"].append(song.filter_cutoff >> 3)
        song_rows["song_res_route"].append(song.filter_resonance << 4 | routing)
        song_rows["song_mode_vol"].append(FILTER_MODES[song.filter_mode] | song.volume)
        song_rows["song_slot"].append(3 * s)
        for v in range(3):
            if v < len(song.voices):
                voice = song.voices[v]
                label = f"seq_{s}_{v}"
                sequences.append(_table(label, _sequence_bytes(voice.notes)))
                row = (
                    WAVEFORMS[voice.waveform],
                    voice.attack << 4 | voice.decay,
                    voice.sustain << 4 | voice.release,
                    voice.pulse_width & 0xFF,
                    voice.pulse_width >> 8,
                    f"<{label}",
                    f">{label}",
                    voice.arpeggio,
                )
            else:  # unused slot: silent, never stepped (play loops over `voices` only)
                row = (0, 0, 0, 0, 0, "<silence", ">silence", 0)
            cells: list[int | str] = list(row)
            for key, value in zip(voice_rows, cells, strict=True):
                voice_rows[key].append(value)
    parts = [PLAYER_SOURCE, "; ---------------------------------------------------------------- song data"]
    parts += [_table(k, v) for k, v in song_rows.items()]
    parts += [_table(k, v) for k, v in voice_rows.items()]
    parts.append(f"; frequency table, {clock} clock, MIDI {MIN_NOTE}..{MAX_NOTE}")
    parts.append(_table("freq_lo", [f & 0xFF for f in freqs]))
    parts.append(_table("freq_hi", [f >> 8 for f in freqs]))
    parts.append(_table("silence", [REST, LOOP]))
    parts += sequences
    return "\n".join(parts) + "\n"


def assemble_player(songs: Sequence[SongSpec], clock: str) -> Program:
    """The player and its data, assembled at :data:`LOAD_ADDRESS`."""
    return assemble(player_source(songs, clock), LOAD_ADDRESS)


def build_sid(tune: TuneSpec) -> bytes:
    """The complete PSID file for a tune (deterministic: same spec, same bytes)."""
    program = assemble_player(tune.songs, tune.clock)
    return build_psid(
        program.code,
        load_address=LOAD_ADDRESS,
        init_address=INIT_ADDRESS,
        play_address=PLAY_ADDRESS,
        songs=len(tune.songs),
        start_song=tune.start_song,
        name=tune.name,
        author=tune.author,
        released=tune.released,
        clock=tune.clock,
        sid_model=tune.sid_model,
    )
