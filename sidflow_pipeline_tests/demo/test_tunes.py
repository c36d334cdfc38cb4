"""Design records, note generation and the player's data tables.

These pin down what each song is *meant* to be (classes derived from parameters)
and that the bytes in the PSID are exactly those parameters — the audio tests then
check that the C64 actually plays them that way.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from sidflow_pipeline.demo.compose import (
    SCALES,
    Rng,
    bass_line,
    chord_voice,
    drum_pattern,
    melody,
    note_number,
    phrase,
    place_notes,
)
from sidflow_pipeline.demo.player_routine import (
    INIT_ADDRESS,
    LOAD_ADDRESS,
    LOOP,
    PLAY_ADDRESS,
    REST,
    assemble_player,
    build_sid,
    frequency_table,
    note_frequency,
    player_source,
)
from sidflow_pipeline.demo.spec import (
    FRAME_RATE,
    DemoSong,
    SongSpec,
    TuneSpec,
    VoiceSpec,
    brightness_class,
    density_class,
    loudness_class,
    tempo_class,
)
from sidflow_pipeline.demo.tunes import (
    PITCH_REFERENCE_NOTES,
    PITCH_REFERENCE_PATH,
    base_tunes,
    design_song,
    games_range,
)
from sidflow_pipeline.sid.header import parse_sid
from sidflow_pipeline_tests.demo.generated import random_song_specs, random_tunes

# ------------------------------------------------------------------ compose


def test_rng_is_splitmix64() -> None:
    # Reference outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
    rng = Rng(0)
    assert [rng.next_u64() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_rng_helpers_stay_in_range_and_repeat() -> None:
    a, b = Rng(42), Rng(42)
    draws = [a.randint(3, 5) for _ in range(200)]
    assert draws == [b.randint(3, 5) for _ in range(200)]
    assert set(draws) == {3, 4, 5}
    assert all(0 <= Rng(i).random() < 1 for i in range(50))
    assert Rng(1).choice("xyz") in "xyz"
    assert Rng(1).fork(1).next_u64() != Rng(1).fork(2).next_u64()
    with pytest.raises(ValueError):
        Rng(1).randint(5, 4)
    with pytest.raises(ValueError):
        Rng(1).choice([])


def test_note_names() -> None:
    assert note_number("A4") == 69
    assert note_number("C4") == 60
    assert note_number("C#3") == 49
    assert note_number("Bb2") == 46
    assert phrase("A4 . c5") == (69, None, 72)
    with pytest.raises(ValueError, match="bad note name"):
        note_number("H2")
    assert note_frequency(69) == 440.0
    assert note_frequency(81) == pytest.approx(880.0)


@pytest.mark.parametrize("density", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_place_notes_exact_count_step_zero_first(density: float) -> None:
    placed = place_notes(Rng(7), 32, density)
    assert placed[0]
    assert sum(placed) == max(1, round(density * 32))
    if density == 0.25:  # strong beats win: all bar starts are played
        assert all(placed[s] for s in (0, 8, 16, 24))


def test_generated_lines_follow_scale_and_range() -> None:
    root = note_number("D4")
    tune = melody(Rng(3), root=root, scale="minor", steps=64, density=0.8, low=root - 5, high=root + 14)
    played = [n for n in tune if n is not None]
    assert all(root - 5 <= n <= root + 14 for n in played)
    assert all((n - root) % 12 in SCALES["minor"] for n in played)
    assert len(set(played)) > 4  # a melody, not a drone
    bass = bass_line(Rng(3), root=root - 24, scale="major", steps=32, density=1.0)
    assert bass[0] == root - 24 and all(n is not None and n < root for n in bass)
    chords = chord_voice(Rng(3), root=root - 12, scale="major", steps=16, density=1.0)
    assert all((n - root) % 12 in SCALES["major"] for n in chords if n is not None)
    drums = drum_pattern(Rng(3), steps=16, density=0.5, kick=36, snare=84)
    assert drums[0] == 36 and set(drums) <= {36, 84, None}
    with pytest.raises(ValueError, match="no scale notes"):
        melody(Rng(1), root=60, scale="major", steps=8, density=1, low=61, high=61)


def test_design_song_changes_only_the_requested_parameter() -> None:
    slow = design_song("s", seed=5, tempo_frames=24, waveforms=("pulse", "saw", "noise"))
    fast = design_song("f", seed=5, tempo_frames=5, waveforms=("pulse", "saw", "noise"))
    assert [v.notes for v in slow.voices] == [v.notes for v in fast.voices]
    assert slow.tempo_frames == 24 and fast.tempo_frames == 5
    assert slow.gate_frames == 6 and fast.gate_frames == 1
    assert fast.voices[2].sustain == 0  # noise voice is percussive


# ------------------------------------------------------------------ spec validation


def _voice(**kw: object) -> VoiceSpec:
    args: dict[str, object] = {"waveform": "pulse", "notes": (60, None)}
    args.update(kw)
    return VoiceSpec(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"waveform": "sine"}, "unknown waveform"),
        ({"notes": ()}, "must start with a note"),
        ({"notes": (None, 60)}, "must start with a note"),
        ({"notes": (60,) * 255}, "exceeds"),
        ({"notes": (23,)}, "outside MIDI"),
        ({"notes": (90,), "arpeggio": 7}, "outside MIDI"),
        ({"attack": 16}, "attack"),
        ({"pulse_width": 0x1000}, "12 bits"),
        ({"arpeggio": 25}, "arpeggio"),
    ],
)
def test_voice_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _voice(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"voices": ()}, "1–3 voices"),
        ({"tempo_frames": 0}, "tempo_frames"),
        ({"gate_frames": 6}, "gate_frames"),
        ({"volume": 16}, "volume"),
        ({"filter_mode": "notch"}, "filter mode"),
        ({"filter_cutoff": 2048}, "11 bits"),
        ({"filter_resonance": 16}, "resonance"),
        ({"filter_voices": (1,)}, "does not have"),
        ({"length_ms": 10}, "length_ms"),
    ],
)
def test_song_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"title": "t", "voices": (_voice(),), "tempo_frames": 6}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SongSpec(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"songs": ()}, "1–16 songs"),
        ({"start_song": 2}, "start_song"),
        ({"clock": "SECAM"}, "unknown clock"),
        ({"sid_model": "6582"}, "unknown SID model"),
    ],
)
def test_tune_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"name": "n", "author": "a", "released": "r", "songs": (SongSpec("t", (_voice(),), 6),)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        TuneSpec(**args)  # type: ignore[arg-type]


def test_class_rules() -> None:
    assert [tempo_class(x) for x in (1.0, 2.99, 3.0, 6.49, 6.5, 12)] == [
        "slow",
        "slow",
        "medium",
        "medium",
        "fast",
        "fast",
    ]
    assert [loudness_class(v) for v in (0, 5, 6, 11, 12, 15)] == ["quiet", "quiet", "medium", "medium", "loud", "loud"]
    assert [density_class(d) for d in (0.2, 0.45, 0.79, 0.8)] == ["sparse", "medium", "medium", "dense"]
    saw = _voice(waveform="saw")
    tri = _voice(waveform="triangle")
    lp = {"filter_mode": "lp", "filter_voices": (0, 1)}
    assert brightness_class(SongSpec("t", (saw, saw), 6, filter_cutoff=300, **lp)) == "dark"  # type: ignore[arg-type]
    # 300 is dark on a 6581 but not on an 8580, whose filter really opens at 300.
    assert brightness_class(SongSpec("t", (saw, saw), 6, filter_cutoff=300, **lp), "8580") == "medium"  # type: ignore[arg-type]
    assert brightness_class(SongSpec("t", (saw, tri), 6)) == "bright"
    assert brightness_class(SongSpec("t", (saw, tri), 6, filter_mode="hp", filter_voices=(1,))) == "bright"
    assert brightness_class(SongSpec("t", (tri, tri), 6)) == "medium"
    assert (
        brightness_class(SongSpec("t", (saw, saw), 6, filter_mode="lp", filter_cutoff=300, filter_voices=(0,)))
        == "medium"
    )


def test_demo_song_attributes() -> None:
    song = design_song("x", seed=1, tempo_frames=10, waveforms=("saw", "noise"), volume=3, density=0.3)
    ntsc = DemoSong("MUSICIANS/X/Y/z.sid", 2, TuneSpec("n", "a", "r", (song, song), clock="NTSC"), song)
    attrs = ntsc.attributes()
    assert attrs["steps_per_second"] == pytest.approx(FRAME_RATE["NTSC"] / 10, abs=1e-3)
    assert attrs["tempo_class"] == "medium" and attrs["loudness_class"] == "quiet"
    assert attrs["brightness_class"] == "bright" and attrs["density_class"] == "sparse"
    assert attrs["waveforms"] == ["saw", "noise"] and attrs["voices"] == 2 and attrs["song_index"] == 2


# ------------------------------------------------------------------ player + PSID


def test_frequency_tables() -> None:
    pal, ntsc = frequency_table("PAL"), frequency_table("NTSC")
    assert len(pal) == len(ntsc) == 72
    # A4: Fn = 440 * 2^24 / clock.
    assert pal[69 - 24] == round(440 * 16777216 / 985248) == 7493
    assert ntsc[69 - 24] == round(440 * 16777216 / 1022727) == 7218
    assert all(a < b for a, b in itertools.pairwise(pal)) and max(pal) < 0x10000


def test_player_tables_hold_the_song_parameters() -> None:
    voice = VoiceSpec("saw", (60, None, 72), attack=1, decay=2, sustain=3, release=4, pulse_width=0x123, arpeggio=12)
    song = SongSpec(
        "t",
        (voice, _voice()),
        tempo_frames=9,
        volume=7,
        filter_mode="bp",
        filter_cutoff=0x4D3,
        filter_resonance=5,
        filter_voices=(1,),
        gate_frames=3,
    )
    program = assemble_player([song, SongSpec("u", (_voice(),), 4)], "NTSC")
    mem = program.code

    def at(label: str, n: int = 1) -> list[int]:
        start = program.address(label) - LOAD_ADDRESS
        return list(mem[start : start + n])

    assert mem[0] == 0x4C and mem[3] == 0x4C  # JMP init, JMP play
    assert mem[1] | mem[2] << 8 == program.address("init")
    assert mem[4] | mem[5] << 8 == program.address("play")
    assert at("song_tempo", 2) == [9, 4]
    assert at("song_gate", 2) == [3, 2]
    assert at("song_voices", 2) == [2, 1]
    assert at("song_cut_lo") == [0x4D3 & 7] and at("song_cut_hi") == [0x4D3 >> 3]
    assert at("song_res_route", 2) == [0x52, 0x00]
    assert at("song_mode_vol", 2) == [0x27, 0x0F]
    assert at("song_slot", 2) == [0, 3]
    assert at("v_wave", 6) == [0x20, 0x40, 0, 0x40, 0, 0]
    assert at("v_ad") == [0x12] and at("v_sr") == [0x34]
    assert at("v_pw_lo") == [0x23] and at("v_pw_hi") == [0x01] and at("v_arp") == [12]
    seq = program.address("seq_0_0")
    assert at("v_seq_lo") == [seq & 0xFF] and at("v_seq_hi") == [seq >> 8]
    assert at("seq_0_0", 4) == [60 - 24, REST, 72 - 24, LOOP]
    freq = frequency_table("NTSC")
    assert at("freq_lo", 72) == [f & 0xFF for f in freq]
    assert at("freq_hi", 72) == [f >> 8 for f in freq]
    # Unused voice slots point at the silent sequence.
    silence = program.address("silence")
    assert at("v_seq_lo", 6)[2] == silence & 0xFF and at("silence", 2) == [REST, LOOP]


def test_build_sid_header() -> None:
    tune = TuneSpec(
        "Name",
        "Author",
        "1990 Group",
        (SongSpec("a", (_voice(),), 6),) * 3,
        clock="NTSC",
        sid_model="8580",
        start_song=2,
    )
    sid = parse_sid(build_sid(tune))
    header = sid.header
    assert (header.magic, header.version) == ("PSID", 2)
    assert (header.load_address, header.init_address, header.play_address) == (LOAD_ADDRESS, INIT_ADDRESS, PLAY_ADDRESS)
    assert (header.songs, header.start_song, header.speed) == (3, 2, 0)
    assert (header.name, header.author, header.released) == ("Name", "Author", "1990 Group")
    assert (header.clock, header.sid_model) == ("NTSC", "8580")
    assert sid.c64_data == assemble_player(tune.songs, "NTSC").code
    assert build_sid(tune) == build_sid(tune)
    with pytest.raises(ValueError, match="at least one song"):
        player_source([], "PAL")


# ------------------------------------------------------------------ the default set + generator


def test_default_set_spans_every_design_axis() -> None:
    tunes = base_tunes()
    songs = [DemoSong(p, i + 1, t, s) for p, t in tunes.items() for i, s in enumerate(t.songs)]
    assert len(tunes) >= 24
    for attr, classes in (
        ("tempo_class", {"slow", "medium", "fast"}),
        ("loudness_class", {"quiet", "medium", "loud"}),
        ("brightness_class", {"dark", "medium", "bright"}),
        ("density_class", {"sparse", "medium", "dense"}),
    ):
        counts = Counter(getattr(s, attr) for s in songs)
        assert set(counts) == classes and min(counts.values()) >= 4, (attr, counts)
    assert {w for s in songs for w in s.song.waveforms} == {"triangle", "saw", "pulse", "noise"}
    assert {len(s.song.voices) for s in songs} == {1, 2, 3}
    assert {len(t.songs) for t in tunes.values()} == {1, 2, 3, 4}
    assert {t.sid_model for t in tunes.values()} == {"6581", "8580"}
    assert {t.clock for t in tunes.values()} == {"PAL", "NTSC"}
    assert {s.song.filter_mode for s in songs} == {"off", "lp", "bp", "hp"}
    assert any(v.arpeggio for s in songs for v in s.song.voices)
    lengths = [s.song.length_ms for s in songs]
    assert min(lengths) >= 20_000 and max(lengths) <= 120_000
    tops = {p.split("/")[0] + "/" + p.split("/")[1] for p in tunes if not p.startswith("MUSICIANS")}
    assert {"GAMES/A-F", "GAMES/G-L", "DEMOS/A-F", "DEMOS/UNKNOWN"} <= tops
    assert tunes[PITCH_REFERENCE_PATH].songs[0].voices[0].notes == PITCH_REFERENCE_NOTES


def test_generator_is_deterministic_varied_and_fast() -> None:
    started = time.perf_counter()
    tunes = random_tunes(200, seed=7)
    sids = {p: build_sid(t) for p, t in tunes.items()}
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"generating 200 songs took {elapsed:.2f} s"
    songs = random_song_specs(200, seed=7)
    assert len(songs) == 200 == sum(len(t.songs) for t in tunes.values())
    assert {(s.path, s.song_index) for s in songs} == {
        (p, i + 1) for p, t in tunes.items() for i in range(len(t.songs))
    }
    again = random_tunes(200, seed=7)
    assert {p: build_sid(t) for p, t in again.items()} == sids
    assert random_tunes(200, seed=8).keys() != tunes.keys()
    for attr in ("tempo_class", "loudness_class", "brightness_class", "density_class"):
        counts = Counter(getattr(s, attr) for s in songs)
        assert len(counts) == 3 and min(counts.values()) >= 40, (attr, counts)
    assert {s.tune.clock for s in songs} == {"PAL", "NTSC"}
    assert {len(t.songs) for t in tunes.values()} == {1, 2, 3, 4}
    assert all(parse_sid(b).header.songs == len(tunes[p].songs) for p, b in sids.items())
    assert {p.split("/")[0] for p in tunes} == {"MUSICIANS", "GAMES", "DEMOS"}


def test_games_range() -> None:
    assert [games_range(n) for n in ("Alpha", "Gamma", "Moon", "Zeta", "zebra", "1942")] == [
        "A-F",
        "G-L",
        "M-R",
        "S-Z",
        "S-Z",
        "A-F",
    ]
