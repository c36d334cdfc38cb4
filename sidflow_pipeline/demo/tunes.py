"""The demo tunes: the hand-designed default set and the seeded song generator.

The default set (release 1 of the demo collection) spans every design axis on
purpose — slow→fast, quiet→loud, dark→bright, sparse→dense, 1–3 voices, each
waveform, 6581/8580, PAL/NTSC, 1–4 subtunes — and contains "study" files whose
subtunes differ in exactly one parameter, so a test can attribute a change in a
measured feature to one design change. The generator draws the same parameters at
random (from a fixed seed): the updates of the demo mirror add such tunes, and the
tests build larger, varied collections from it
(``sidflow_pipeline_tests/demo/generated.py``).

Composers, groups and titles are invented; none of these tunes exist in HVSC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sidflow_pipeline.demo.compose import Rng, bass_line, chord_voice, drum_pattern, melody, note_number
from sidflow_pipeline.demo.spec import (
    DARK_UP_TO_CUTOFF,
    FRAME_RATE,
    Clock,
    FilterMode,
    SidModel,
    SongSpec,
    StilText,
    TuneSpec,
    VoiceSpec,
    Waveform,
    brightness_class,
    density_class,
    loudness_class,
    tempo_class,
)

__all__ = [
    "PITCH_REFERENCE_NOTES",
    "PITCH_REFERENCE_PATH",
    "PITCH_REFERENCE_TEMPO",
    "base_tunes",
    "design_song",
    "random_tune",
]

PITCH_REFERENCE_PATH = "MUSICIANS/D/Demo_Composer/Pitch_Reference.sid"
# One note per second (50 PAL frames): A4, E5, A3, C5, G4, D5, F#4, B4.
PITCH_REFERENCE_NOTES: tuple[int, ...] = tuple(note_number(n) for n in ["A4", "E5", "A3", "C5", "G4", "D5", "F#4", "B4"])
PITCH_REFERENCE_TEMPO = 50


def _envelope(role: str, waveform: str) -> dict[str, int]:
    if waveform == "noise":  # percussive hit: fast decay to silence
        return {"attack": 0, "decay": 6, "sustain": 0, "release": 3}
    return {
        "lead": {"attack": 0, "decay": 9, "sustain": 11, "release": 4},
        "bass": {"attack": 0, "decay": 8, "sustain": 12, "release": 3},
        "chord": {"attack": 1, "decay": 9, "sustain": 9, "release": 5},
    }[role]


def design_song(
    title: str,
    *,
    seed: int,
    tempo_frames: int,
    waveforms: Sequence[Waveform] = ("pulse",),
    volume: int = 12,
    filter_mode: FilterMode = "off",
    filter_cutoff: int = 2047,
    filter_resonance: int = 0,
    filter_voices: Sequence[int] | None = None,
    density: float = 0.75,
    key: str = "C4",
    scale: str = "major",
    steps: int = 32,
    arpeggio: int = 0,
    gate_frames: int | None = None,
    length_s: int = 60,
) -> SongSpec:
    """A song from musical parameters: voice 1 plays a melody, voice 2 a bass line,
    voice 3 chord tones (a noise voice plays drums instead). ``seed`` fixes the notes;
    two calls that differ in one parameter differ in that parameter only."""
    rng = Rng(seed)
    root = note_number(key)
    voices: list[VoiceSpec] = []
    for index, waveform in enumerate(waveforms):
        role = ("lead", "bass", "chord")[index]
        stream = rng.fork(index)
        if waveform == "noise":
            notes = drum_pattern(stream, steps=steps, density=density)
        elif role == "lead":
            notes = melody(stream, root=root, scale=scale, steps=steps, density=density, low=root - 5, high=root + 14)
        elif role == "bass":
            notes = bass_line(stream, root=root - 24, scale=scale, steps=steps, density=density)
        else:
            notes = chord_voice(stream, root=root - 12, scale=scale, steps=steps, density=density)
        voices.append(
            VoiceSpec(
                waveform=waveform,
                notes=notes,
                pulse_width=0x800 if role == "lead" else 0x500,
                arpeggio=arpeggio if role == "chord" and waveform != "noise" else 0,
                **_envelope(role, waveform),
            )
        )
    routed = tuple(range(len(voices))) if filter_voices is None else tuple(filter_voices)
    return SongSpec(
        title=title,
        voices=tuple(voices),
        tempo_frames=tempo_frames,
        volume=volume,
        filter_mode=filter_mode,
        filter_cutoff=filter_cutoff,
        filter_resonance=filter_resonance,
        filter_voices=routed if filter_mode != "off" else (),
        gate_frames=max(1, tempo_frames // 4) if gate_frames is None else gate_frames,
        length_ms=length_s * 1000,
    )


# ------------------------------------------------------------------ the default set

_DC = "Demo Composer"


def _pitch_reference() -> TuneSpec:
    voice = VoiceSpec("pulse", PITCH_REFERENCE_NOTES, attack=0, decay=0, sustain=15, release=2)
    song = SongSpec(
        "Pitch reference", (voice,), tempo_frames=PITCH_REFERENCE_TEMPO, volume=15, gate_frames=4, length_ms=20_000
    )
    return TuneSpec(
        "Pitch Reference",
        _DC,
        "2024 SIDFlow Demo",
        (song,),
        stil=(StilText(comment="One known note per second (A4 E5 A3 C5 G4 D5 F#4 B4), for pitch tests."),),
    )


def base_tunes() -> dict[str, TuneSpec]:
    """Release 1 of the demo collection: relative path → tune."""
    d = design_song
    t: dict[str, TuneSpec] = {}
    dc = "MUSICIANS/D/Demo_Composer/"
    # --- study files: subtunes that differ in exactly one parameter
    base: dict[str, Any] = {
        "seed": 101,
        "waveforms": ("pulse", "saw"),
        "volume": 13,
        "density": 0.75,
        "key": "D4",
        "length_s": 40,
    }
    t[dc + "Tempo_Study.sid"] = TuneSpec(
        "Tempo Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("Slow", tempo_frames=24, **base),
            d("Medium", tempo_frames=11, **base),
            d("Fast", tempo_frames=5, **base),
        ),
        stil=(
            StilText(comment="Three subtunes: the same notes at 24, 11 and 5 frames per step."),
            StilText(subtune=1, title="Slow"),
            StilText(subtune=3, title="Fast"),
        ),
    )
    base = {"seed": 202, "waveforms": ("pulse", "triangle", "saw"), "tempo_frames": 9, "density": 0.8, "key": "G4"}
    t[dc + "Volume_Study.sid"] = TuneSpec(
        "Volume Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("Loud", volume=15, length_s=35, **base),
            d("Medium", volume=9, length_s=35, **base),
            d("Quiet", volume=3, length_s=35, **base),
        ),
        sid_model="8580",
    )
    base = {"seed": 303, "waveforms": ("saw", "pulse"), "tempo_frames": 10, "volume": 14, "density": 0.8, "key": "A4"}
    t[dc + "Filter_Study.sid"] = TuneSpec(
        "Filter Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("Open", length_s=30, **base),
            d("Low-pass 1400", filter_mode="lp", filter_cutoff=1400, length_s=30, **base),
            d("Low-pass 160", filter_mode="lp", filter_cutoff=160, filter_resonance=4, length_s=30, **base),
            d("High-pass 900", filter_mode="hp", filter_cutoff=900, filter_voices=(1,), length_s=30, **base),
        ),
        stil=(StilText(comment="Same notes four times: open, low-pass 1400, low-pass 160, high-pass 900 on voice 2."),),
    )
    base = {"seed": 404, "tempo_frames": 12, "volume": 12, "density": 0.7, "key": "E4", "scale": "minor"}
    t[dc + "Voices_Study.sid"] = TuneSpec(
        "Voices Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("One voice", waveforms=("pulse",), length_s=25, **base),
            d("Two voices", waveforms=("pulse", "triangle"), length_s=25, **base),
            d("Three voices", waveforms=("pulse", "triangle", "saw"), length_s=25, **base),
        ),
    )
    base = {"seed": 505, "waveforms": ("pulse", "saw"), "tempo_frames": 8, "volume": 13, "key": "F4"}
    t[dc + "Density_Study.sid"] = TuneSpec(
        "Density Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("Sparse", density=0.25, length_s=30, **base),
            d("Medium", density=0.6, length_s=30, **base),
            d("Dense", density=1.0, length_s=30, **base),
        ),
        clock="NTSC",
    )
    base = {"seed": 606, "tempo_frames": 10, "volume": 13, "density": 0.75, "key": "C4", "length_s": 25}
    t[dc + "Waveform_Study.sid"] = TuneSpec(
        "Waveform Study",
        _DC,
        "2024 SIDFlow Demo",
        (
            d("Triangle", waveforms=("triangle",), **base),
            d("Sawtooth", waveforms=("saw",), **base),
            d("Pulse", waveforms=("pulse",), **base),
            d("Noise", waveforms=("noise",), **base),
        ),
        sid_model="8580",
        stil=tuple(StilText(subtune=i + 1, title=n) for i, n in enumerate(("Triangle", "Sawtooth", "Pulse", "Noise"))),
    )
    t[PITCH_REFERENCE_PATH] = _pitch_reference()

    # --- composers
    t["MUSICIANS/S/Sawtooth_Sally/Rusty_Gears.sid"] = TuneSpec(
        "Rusty Gears",
        "Sally Sawtooth",
        "1987 Cogwheel Tapes",
        (
            d(
                "Rusty Gears",
                seed=11,
                tempo_frames=5,
                waveforms=("saw", "saw", "noise"),
                volume=15,
                density=0.9,
                key="E4",
                scale="minor",
                length_s=75,
            ),
        ),
        stil=(
            StilText(
                title="Rusty Gears (factory theme)",
                artist="Sally Sawtooth",
                comment="Written for a tape magazine that never shipped.",
            ),
        ),
    )
    t["MUSICIANS/S/Sawtooth_Sally/Night_Shift.sid"] = TuneSpec(
        "Night Shift",
        "Sally Sawtooth",
        "1988 Cogwheel Tapes",
        (
            d(
                "Night Shift",
                seed=12,
                tempo_frames=26,
                waveforms=("saw", "saw"),
                volume=10,
                filter_mode="lp",
                filter_cutoff=120,
                filter_resonance=8,
                density=0.5,
                key="A3",
                scale="minor",
                length_s=110,
            ),
            d(
                "Night Shift (dawn)",
                seed=13,
                tempo_frames=14,
                waveforms=("saw", "pulse"),
                volume=11,
                filter_mode="lp",
                filter_cutoff=900,
                density=0.6,
                key="C4",
                scale="dorian",
                length_s=80,
            ),
        ),
        sid_model="8580",
    )
    t["MUSICIANS/T/Trianglo/Lullaby_for_a_Lathe.sid"] = TuneSpec(
        "Lullaby for a Lathe",
        "Trianglo",
        "1986 Trianglo",
        (
            d(
                "Lullaby",
                seed=21,
                tempo_frames=30,
                waveforms=("triangle",),
                volume=4,
                density=0.5,
                key="F4",
                length_s=90,
            ),
        ),
        stil=(StilText(comment="A one-voice lullaby; the quietest tune in the demo collection."),),
    )
    t["MUSICIANS/T/Trianglo/Soft_Circuits.sid"] = TuneSpec(
        "Soft Circuits",
        "Trianglo",
        "1987 Trianglo",
        (
            d(
                "Soft Circuits",
                seed=22,
                tempo_frames=16,
                waveforms=("triangle", "triangle"),
                volume=7,
                density=0.6,
                key="G4",
                scale="pentatonic",
                length_s=60,
            ),
            d(
                "Soft Circuits (reprise)",
                seed=23,
                tempo_frames=12,
                waveforms=("triangle", "triangle", "triangle"),
                volume=8,
                density=0.7,
                key="D4",
                scale="pentatonic",
                length_s=45,
            ),
        ),
        stil=(StilText(subtune=2, title="Soft Circuits (reprise)", comment="Same theme, three voices."),),
    )
    t["MUSICIANS/B/Bitwhistle_Bea/Pulse_Parade.sid"] = TuneSpec(
        "Pulse Parade",
        "Bea Bitwhistle",
        "1989 Whistlestop",
        (
            d(
                "Pulse Parade",
                seed=31,
                tempo_frames=6,
                waveforms=("pulse", "pulse", "pulse"),
                volume=14,
                density=0.85,
                key="C4",
                arpeggio=7,
                length_s=70,
            ),
            d(
                "Parade Rest",
                seed=32,
                tempo_frames=20,
                waveforms=("pulse", "pulse"),
                volume=10,
                density=0.5,
                key="A3",
                scale="minor",
                length_s=50,
            ),
        ),
        clock="NTSC",
        sid_model="8580",
        stil=(StilText(subtune=1, title="Pulse Parade", artist="Bea Bitwhistle"),),
    )
    t["MUSICIANS/B/Bitwhistle_Bea/Whistle_Stop.sid"] = TuneSpec(
        "Whistle Stop",
        "Bea Bitwhistle",
        "1990 Whistlestop",
        (
            d(
                "Whistle Stop",
                seed=33,
                tempo_frames=9,
                waveforms=("pulse", "triangle"),
                volume=4,
                density=0.7,
                key="B3",
                scale="dorian",
                length_s=55,
            ),
        ),
    )
    t["MUSICIANS/K/Kettledrum_Karl/Noise_Floor.sid"] = TuneSpec(
        "Noise Floor",
        "Karl Kettledrum",
        "1988 Drumtape",
        (
            d(
                "Noise Floor",
                seed=41,
                tempo_frames=7,
                waveforms=("noise", "saw"),
                volume=13,
                density=0.8,
                key="E3",
                scale="blues",
                length_s=60,
            ),
            d(
                "Noise Floor (breakdown)",
                seed=42,
                tempo_frames=7,
                waveforms=("noise",),
                volume=11,
                density=0.4,
                length_s=30,
            ),
        ),
    )
    t["MUSICIANS/K/Kettledrum_Karl/Thunder_Tin.sid"] = TuneSpec(
        "Thunder Tin",
        "Karl Kettledrum",
        "1989 Drumtape",
        (
            d(
                "Thunder Tin",
                seed=43,
                tempo_frames=5,
                waveforms=("saw", "pulse", "noise"),
                volume=15,
                density=1.0,
                key="G3",
                scale="minor",
                length_s=100,
            ),
        ),
        clock="NTSC",
        stil=(StilText(title="Thunder Tin", artist="Karl Kettledrum", comment="Loudest and densest of the set."),),
    )
    t["MUSICIANS/Q/Quartz_Quentin/Crystal_Lattice.sid"] = TuneSpec(
        "Crystal Lattice",
        "Quentin Quartz",
        "1991 Lattice Works",
        (
            d(
                "Crystal Lattice",
                seed=51,
                tempo_frames=13,
                waveforms=("pulse", "saw", "triangle"),
                volume=11,
                filter_mode="bp",
                filter_cutoff=1100,
                filter_resonance=12,
                filter_voices=(0, 1),
                density=0.7,
                key="D4",
                length_s=85,
            ),
            d(
                "Lattice Dust",
                seed=52,
                tempo_frames=22,
                waveforms=("triangle", "saw"),
                volume=6,
                filter_mode="lp",
                filter_cutoff=140,
                filter_resonance=10,
                density=0.4,
                key="F3",
                scale="minor",
                length_s=65,
            ),
        ),
        sid_model="8580",
    )
    t["MUSICIANS/Q/Quartz_Quentin/Clockwork.sid"] = TuneSpec(
        "Clockwork",
        "Quentin Quartz",
        "1992 Lattice Works",
        (
            d(
                "Clockwork",
                seed=53,
                tempo_frames=8,
                waveforms=("pulse", "saw"),
                volume=12,
                filter_mode="hp",
                filter_cutoff=700,
                filter_resonance=6,
                filter_voices=(1,),
                density=0.9,
                key="C5",
                length_s=50,
            ),
        ),
        sid_model="8580",
    )
    t["MUSICIANS/V/Vibrato_Vic/Arpeggio_Avenue.sid"] = TuneSpec(
        "Arpeggio Avenue",
        "Vic Vibrato",
        "1990 Wobble",
        (
            d(
                "Arpeggio Avenue",
                seed=61,
                tempo_frames=10,
                waveforms=("saw", "triangle", "pulse"),
                volume=13,
                density=0.8,
                key="A3",
                scale="minor",
                arpeggio=12,
                length_s=90,
            ),
            d(
                "Side Street",
                seed=62,
                tempo_frames=15,
                waveforms=("pulse", "triangle", "pulse"),
                volume=10,
                density=0.6,
                key="E4",
                arpeggio=4,
                length_s=60,
            ),
            d(
                "Dead End",
                seed=63,
                tempo_frames=28,
                waveforms=("triangle", "triangle", "triangle"),
                volume=5,
                filter_mode="lp",
                filter_cutoff=300,
                density=0.35,
                key="C4",
                scale="minor",
                length_s=40,
            ),
        ),
    )
    t["MUSICIANS/V/Vibrato_Vic/Slow_Orbit.sid"] = TuneSpec(
        "Slow Orbit",
        "Vic Vibrato",
        "1991 Wobble",
        (
            d(
                "Slow Orbit",
                seed=64,
                tempo_frames=32,
                waveforms=("triangle", "saw"),
                volume=9,
                filter_mode="lp",
                filter_cutoff=450,
                filter_resonance=6,
                density=0.3,
                key="D3",
                scale="minor",
                length_s=120,
            ),
        ),
    )
    # --- games
    t["GAMES/A-F/Cavern_Courier.sid"] = TuneSpec(
        "Cavern Courier",
        "Demo Composer",
        "1987 Fictional Arcade",
        (
            d(
                "Title",
                seed=71,
                tempo_frames=9,
                waveforms=("pulse", "saw", "noise"),
                volume=14,
                density=0.85,
                key="G4",
                length_s=60,
            ),
            d(
                "In game",
                seed=72,
                tempo_frames=7,
                waveforms=("saw", "pulse"),
                volume=12,
                density=0.75,
                key="D4",
                scale="dorian",
                length_s=90,
            ),
            d(
                "Game over",
                seed=73,
                tempo_frames=25,
                waveforms=("triangle",),
                volume=8,
                density=0.5,
                key="A3",
                scale="minor",
                length_s=20,
            ),
        ),
        stil=(
            StilText(subtune=1, title="Title screen", author="Demo Composer"),
            StilText(subtune=2, title="In-game music"),
            StilText(subtune=3, title="Game over"),
        ),
    )
    t["GAMES/A-F/Frogline_Express.sid"] = TuneSpec(
        "Frogline Express",
        "Sally Sawtooth",
        "1988 Fictional Arcade",
        (
            d(
                "Frogline Express",
                seed=74,
                tempo_frames=6,
                waveforms=("pulse", "triangle"),
                volume=13,
                density=0.9,
                key="C4",
                length_s=45,
            ),
        ),
    )
    t["GAMES/G-L/Gravity_Grocer.sid"] = TuneSpec(
        "Gravity Grocer",
        "Bea Bitwhistle",
        "1989 Shelfware",
        (
            d(
                "Gravity Grocer",
                seed=81,
                tempo_frames=8,
                waveforms=("saw", "pulse", "triangle"),
                volume=12,
                filter_mode="lp",
                filter_cutoff=1300,
                filter_voices=(1,),
                density=0.75,
                key="F4",
                length_s=70,
            ),
            d(
                "Checkout",
                seed=82,
                tempo_frames=18,
                waveforms=("pulse",),
                volume=9,
                density=0.55,
                key="C5",
                length_s=25,
            ),
        ),
        clock="NTSC",
    )
    t["GAMES/G-L/Lunar_Laundry.sid"] = TuneSpec(
        "Lunar Laundry",
        "Trianglo",
        "1990 Shelfware",
        (
            d(
                "Spin Cycle",
                seed=91,
                tempo_frames=5,
                waveforms=("triangle", "saw", "noise"),
                volume=13,
                density=0.9,
                key="E4",
                scale="minor",
                length_s=60,
            ),
            d(
                "Rinse",
                seed=92,
                tempo_frames=14,
                waveforms=("triangle", "triangle"),
                volume=7,
                density=0.6,
                key="A4",
                length_s=40,
            ),
            d(
                "Tumble Dry",
                seed=93,
                tempo_frames=10,
                waveforms=("pulse", "saw"),
                volume=11,
                filter_mode="lp",
                filter_cutoff=250,
                density=0.7,
                key="G3",
                length_s=50,
            ),
            d("Fold", seed=94, tempo_frames=27, waveforms=("triangle",), volume=3, density=0.3, key="C4", length_s=20),
        ),
        start_song=2,
    )
    # --- demos
    t["DEMOS/A-F/Blinky_Intro.sid"] = TuneSpec(
        "Blinky Intro",
        "Vic Vibrato",
        "1991 Blinky Crew",
        (
            d(
                "Blinky Intro",
                seed=111,
                tempo_frames=6,
                waveforms=("pulse", "saw", "pulse"),
                volume=14,
                density=0.8,
                key="B3",
                scale="minor",
                arpeggio=3,
                length_s=40,
            ),
        ),
        sid_model="8580",
        stil=(
            StilText(
                name="Blinky Crew intro (party version)",
                title="Blinky Blues (cover)",
                artist="The Imaginary Quartet",
                comment="A cover of a song that does not exist, arranged for the intro of a demo that does not either.",
            ),
        ),
    )
    t["DEMOS/A-F/Copper_Bars.sid"] = TuneSpec(
        "Copper Bars",
        "Quentin Quartz",
        "1990 Blinky Crew",
        (
            d(
                "Copper Bars",
                seed=112,
                tempo_frames=12,
                waveforms=("saw", "triangle"),
                volume=10,
                filter_mode="bp",
                filter_cutoff=800,
                filter_resonance=14,
                density=0.65,
                key="D4",
                length_s=55,
            ),
        ),
    )
    unknown: list[tuple[str, str, dict[str, Any]]] = [
        (
            "Untitled_Demo_Tune",
            "Untitled Demo Tune",
            {"seed": 121, "tempo_frames": 9, "waveforms": ("pulse", "triangle"), "volume": 11},
        ),
        (
            "Party_Loader",
            "Party Loader",
            {"seed": 122, "tempo_frames": 6, "waveforms": ("saw", "pulse", "noise"), "volume": 5},
        ),
        (
            "Mystery_Scroller",
            "Mystery Scroller",
            {
                "seed": 123,
                "tempo_frames": 15,
                "waveforms": ("triangle", "pulse"),
                "volume": 12,
                "filter_mode": "lp",
                "filter_cutoff": 200,
            },
        ),
        (
            "Disk_Menu_3",
            "Disk Menu 3",
            {
                "seed": 124,
                "tempo_frames": 20,
                "waveforms": ("pulse",),
                "volume": 3,
                "filter_mode": "lp",
                "filter_cutoff": 350,
                "filter_resonance": 9,
            },
        ),
    ]
    for file, name, args in unknown:
        t[f"DEMOS/UNKNOWN/{file}.sid"] = TuneSpec(
            name,
            "<?>",
            "19?? <?>",
            (d(name, density=0.7, key="E4", length_s=30 + int(args["seed"]) % 7 * 5, **args),),
        )
    return t


# ------------------------------------------------------------------ the generator

_SYLLABLES = ("bo", "ka", "zin", "tel", "mo", "ra", "vex", "lu", "dor", "pi", "quon", "sa", "fen", "gri", "ul", "wib")
_GIVEN = (
    "Ada",
    "Bram",
    "Cleo",
    "Dov",
    "Edda",
    "Finn",
    "Gus",
    "Hedy",
    "Ivo",
    "Juno",
    "Kai",
    "Lev",
    "Mira",
    "Nils",
    "Orla",
    "Pim",
)
_ADJECTIVES = (
    "Silver",
    "Broken",
    "Tiny",
    "Electric",
    "Sleepy",
    "Frozen",
    "Neon",
    "Paper",
    "Hollow",
    "Rapid",
    "Velvet",
    "Crooked",
)
_NOUNS = (
    "Engine",
    "Lagoon",
    "Robot",
    "Meadow",
    "Signal",
    "Tower",
    "Comet",
    "Harbour",
    "Circuit",
    "Garden",
    "Rocket",
    "Spiral",
)


def fictional_composer(rng: Rng) -> tuple[str, str]:
    """(folder name ``Surname_Given``, display name ``Given Surname``) — invented."""
    surname = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    given = rng.choice(_GIVEN)
    return f"{surname}_{given}", f"{given} {surname}"


def fictional_title(rng: Rng) -> str:
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"


def games_range(file_name: str) -> str:
    """HVSC's GAMES/ letter folder for a file name."""
    first = file_name[:1].upper()
    for folder in ("A-F", "G-L", "M-R"):
        if first <= folder[-1]:
            return folder
    return "S-Z"


def _tempo_frames(rng: Rng, wanted: str, clock: str) -> int:
    options = [f for f in range(3, 41) if tempo_class(FRAME_RATE[clock] / f) == wanted]
    return rng.choice(options)


def random_song(rng: Rng, title: str, clock: str = "PAL", sid_model: str = "6581") -> SongSpec:
    """A song whose design classes are drawn first (uniformly) and parameters within
    them, so every class is equally represented in a generated collection."""
    tempo = rng.choice(("slow", "medium", "fast"))
    loudness = rng.choice(("quiet", "medium", "loud"))
    brightness = rng.choice(("dark", "medium", "bright"))
    density = rng.choice(("sparse", "medium", "dense"))
    nvoices = rng.randint(1, 3)
    rich: tuple[Waveform, ...] = ("saw", "pulse", "pulse", "noise")
    if brightness == "bright":
        waves = [rng.choice(rich) for _ in range(nvoices)]
        if waves[0] == "noise":
            waves[0] = "saw"
    else:
        waves = [rng.choice(("triangle", "saw", "pulse", "triangle")) for _ in range(nvoices)]
    filter_args: dict[str, Any] = {}
    if brightness == "dark":
        top = DARK_UP_TO_CUTOFF[sid_model]
        filter_args = {
            "filter_mode": "lp",
            "filter_cutoff": rng.randint(top // 5, top - 20),
            "filter_resonance": rng.randint(0, 12),
        }
    elif brightness == "medium":
        filter_args = {
            "filter_mode": rng.choice(("lp", "bp")),
            "filter_cutoff": rng.randint(700, 1500),
            "filter_resonance": rng.randint(0, 10),
        }
    elif nvoices > 1 and rng.random() < 0.3:
        # High-pass only the accompaniment: a high-passed lead loses most of its level,
        # which would blur the loudness design.
        filter_args = {
            "filter_mode": "hp",
            "filter_cutoff": rng.randint(300, 1200),
            "filter_resonance": rng.randint(0, 8),
            "filter_voices": tuple(range(1, nvoices)),
        }
    volume = {"quiet": rng.randint(2, 5), "medium": rng.randint(7, 11), "loud": rng.randint(12, 15)}[loudness]
    note_density = {
        "sparse": 0.2 + 0.2 * rng.random(),
        "medium": 0.5 + 0.25 * rng.random(),
        "dense": 0.85 + 0.15 * rng.random(),
    }[density]
    song = design_song(
        title,
        seed=rng.next_u64(),
        tempo_frames=_tempo_frames(rng, tempo, clock),
        waveforms=tuple(waves),
        volume=volume,
        density=round(note_density, 2),
        key=rng.choice(("C4", "D4", "E4", "F4", "G4", "A3", "B3")),
        scale=rng.choice(("major", "minor", "dorian", "pentatonic", "blues")),
        steps=rng.choice((16, 32, 48, 64)),
        arpeggio=rng.choice((0, 0, 0, 3, 4, 7, 12)),
        length_s=rng.randint(20, 120),
        **filter_args,
    )
    # The drawn classes hold by construction (density rounding stays inside the class
    # bands for sequences of 16+ steps); checked so a threshold change cannot silently
    # relabel generated songs.
    drawn = (loudness, brightness, density)
    derived = (loudness_class(song.volume), brightness_class(song, sid_model), density_class(song.note_density))
    if drawn != derived:
        raise RuntimeError(f"generated song {title!r} drawn as {drawn} but derives {derived}")
    return song


def random_tune(rng: Rng, name: str, author: str, released: str, songs: int) -> TuneSpec:
    """A file of ``songs`` random songs; clock and chip are drawn too (¼ NTSC, ½ 8580)."""
    clock: Clock = "NTSC" if rng.random() < 0.25 else "PAL"
    model: SidModel = "8580" if rng.random() < 0.5 else "6581"
    specs = tuple(
        random_song(rng.fork(i), name if songs == 1 else f"{name} #{i + 1}", clock, model) for i in range(songs)
    )
    return TuneSpec(name, author, released, specs, clock=clock, sid_model=model)


def with_extra_song(tune: TuneSpec, song: SongSpec) -> TuneSpec:
    """A "fixed rip": the same tune with one more subtune (as HVSC fixes often add)."""
    return replace(tune, songs=(*tune.songs, song))
