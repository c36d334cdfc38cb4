"""Design records of the demo tunes: what each song was *made* to be.

The demo collection is also ground truth for the classifier: every song carries the
parameters it was built from and coarse classes (tempo, loudness, brightness,
density) derived from them by fixed rules, so tests can check measured audio
features, and later predicted ratings, against the intent. The classes are derived
(not typed in by hand) so a tune's label can never disagree with its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CLOCK_HZ",
    "DARK_UP_TO_CUTOFF",
    "FILTER_MODES",
    "FRAME_RATE",
    "MAX_NOTE",
    "MIN_NOTE",
    "WAVEFORMS",
    "Clock",
    "DemoSong",
    "FilterMode",
    "SidModel",
    "SongSpec",
    "StilText",
    "TuneSpec",
    "VoiceSpec",
    "Waveform",
    "brightness_class",
    "density_class",
    "loudness_class",
    "tempo_class",
]

Waveform = Literal["triangle", "saw", "pulse", "noise"]
FilterMode = Literal["off", "lp", "bp", "hp"]
Clock = Literal["PAL", "NTSC"]
SidModel = Literal["6581", "8580"]

# Control-register bit of each waveform ($D404).
WAVEFORMS: dict[str, int] = {"triangle": 0x10, "saw": 0x20, "pulse": 0x40, "noise": 0x80}
# Mode bits of $D418.
FILTER_MODES: dict[str, int] = {"off": 0x00, "lp": 0x10, "bp": 0x20, "hp": 0x40}
CLOCK_HZ: dict[str, int] = {"PAL": 985_248, "NTSC": 1_022_727}
# The play routine runs once per video frame: cycles per frame are 312×63 (PAL) and
# 263×65 (NTSC), so the rates are 50.12 Hz and 59.83 Hz.
FRAME_RATE: dict[str, float] = {"PAL": 985_248 / (312 * 63), "NTSC": 1_022_727 / (263 * 65)}
# The player's frequency table spans C1..B6 (MIDI 24..95); arpeggio offsets must stay inside.
MIN_NOTE = 24
MAX_NOTE = 95

# Class thresholds. Fast/slow are in note steps per second; loud/quiet in master volume.
SLOW_BELOW_STEPS_PER_S = 3.0
FAST_FROM_STEPS_PER_S = 6.5
QUIET_UP_TO_VOLUME = 5
LOUD_FROM_VOLUME = 12
# The 6581's filter never closes below ~200 Hz while the 8580's cutoff is nearly linear
# (30 Hz..12 kHz), so "dark" needs a lower register value on the 8580.
DARK_UP_TO_CUTOFF: dict[str, int] = {"6581": 500, "8580": 200}
SPARSE_BELOW_DENSITY = 0.45
DENSE_FROM_DENSITY = 0.8


@dataclass(frozen=True)
class VoiceSpec:
    """One voice: waveform, envelope and a looping step sequence (MIDI note or None = rest)."""

    waveform: Waveform
    notes: tuple[int | None, ...]
    attack: int = 0
    decay: int = 9
    sustain: int = 12
    release: int = 4
    pulse_width: int = 0x800
    arpeggio: int = 0  # semitones above the note on every other frame; 0 = off

    def __post_init__(self) -> None:
        if self.waveform not in WAVEFORMS:
            raise ValueError(f"unknown waveform {self.waveform!r}")
        if not self.notes or self.notes[0] is None:
            # The player restarts a sequence at its first step; a leading rest would make
            # an all-rest sequence possible and a song that starts with silence.
            raise ValueError("a voice sequence must start with a note")
        if len(self.notes) > 254:
            raise ValueError(f"sequence of {len(self.notes)} steps exceeds the player's 254")
        for note in self.notes:
            if note is not None and not MIN_NOTE <= note <= MAX_NOTE - self.arpeggio:
                raise ValueError(f"note {note} (+arpeggio {self.arpeggio}) outside MIDI {MIN_NOTE}..{MAX_NOTE}")
        for name in ("attack", "decay", "sustain", "release"):
            if not 0 <= getattr(self, name) <= 15:
                raise ValueError(f"{name} must be 0..15")
        if not 0 <= self.pulse_width <= 0xFFF:
            raise ValueError("pulse width is 12 bits")
        if not 0 <= self.arpeggio <= 24:
            raise ValueError("arpeggio offset must be 0..24 semitones")

    @property
    def density(self) -> float:
        """Fraction of steps that start a note."""
        return sum(n is not None for n in self.notes) / len(self.notes)


@dataclass(frozen=True)
class SongSpec:
    """One song (subtune): 1–3 voices plus the song-wide tempo, volume and filter."""

    title: str
    voices: tuple[VoiceSpec, ...]
    tempo_frames: int
    volume: int = 15
    filter_mode: FilterMode = "off"
    filter_cutoff: int = 2047  # 11 bits
    filter_resonance: int = 0
    filter_voices: tuple[int, ...] = ()  # 0-based voices routed through the filter
    gate_frames: int = 2  # frames before the next step at which notes are released (0 = legato)
    length_ms: int = 60_000

    def __post_init__(self) -> None:
        if not 1 <= len(self.voices) <= 3:
            raise ValueError("a song has 1–3 voices")
        if not 1 <= self.tempo_frames <= 255:
            raise ValueError("tempo_frames must be 1..255")
        if not 0 <= self.gate_frames < self.tempo_frames:
            raise ValueError("gate_frames must be below tempo_frames")
        if not 0 <= self.volume <= 15:
            raise ValueError("volume must be 0..15")
        if self.filter_mode not in FILTER_MODES:
            raise ValueError(f"unknown filter mode {self.filter_mode!r}")
        if not 0 <= self.filter_cutoff <= 2047:
            raise ValueError("filter cutoff is 11 bits")
        if not 0 <= self.filter_resonance <= 15:
            raise ValueError("resonance must be 0..15")
        if any(not 0 <= v < len(self.voices) for v in self.filter_voices):
            raise ValueError("filter_voices names a voice the song does not have")
        if not 1_000 <= self.length_ms <= 3_600_000:
            raise ValueError("length_ms must be 1 s .. 1 h")

    @property
    def waveforms(self) -> tuple[str, ...]:
        return tuple(v.waveform for v in self.voices)

    @property
    def note_density(self) -> float:
        """Mean over voices of the fraction of steps that start a note."""
        return sum(v.density for v in self.voices) / len(self.voices)

    @property
    def filtered_all(self) -> bool:
        return self.filter_mode != "off" and set(self.filter_voices) == set(range(len(self.voices)))


def tempo_class(steps_per_second: float) -> str:
    if steps_per_second < SLOW_BELOW_STEPS_PER_S:
        return "slow"
    return "fast" if steps_per_second >= FAST_FROM_STEPS_PER_S else "medium"


def loudness_class(volume: int) -> str:
    if volume <= QUIET_UP_TO_VOLUME:
        return "quiet"
    return "loud" if volume >= LOUD_FROM_VOLUME else "medium"


def density_class(density: float) -> str:
    if density < SPARSE_BELOW_DENSITY:
        return "sparse"
    return "dense" if density >= DENSE_FROM_DENSITY else "medium"


def brightness_class(song: SongSpec, sid_model: str = "6581") -> str:
    """Dark: every voice low-passed at a low cutoff (for this chip). Bright: nothing
    low/band-passed and at least half the voices use a harmonically rich waveform.
    Medium: the rest."""
    if song.filter_mode == "lp" and song.filtered_all and song.filter_cutoff <= DARK_UP_TO_CUTOFF[sid_model]:
        return "dark"
    rich = sum(w != "triangle" for w in song.waveforms)
    unfiltered = song.filter_mode in ("off", "hp") or not song.filter_voices
    if unfiltered and rich * 2 >= len(song.voices):
        return "bright"
    return "medium"


@dataclass(frozen=True)
class StilText:
    """STIL fields for a file (``subtune == 0``) or one subtune block (1-based)."""

    subtune: int = 0
    title: str = ""
    artist: str = ""
    name: str = ""
    author: str = ""
    comment: str = ""


@dataclass(frozen=True)
class TuneSpec:
    """One SID file: header texts, clock and chip, its songs and optional STIL text."""

    name: str
    author: str
    released: str
    songs: tuple[SongSpec, ...]
    clock: Clock = "PAL"
    sid_model: SidModel = "6581"
    start_song: int = 1
    stil: tuple[StilText, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 1 <= len(self.songs) <= 16:
            raise ValueError("a demo tune has 1–16 songs")
        if not 1 <= self.start_song <= len(self.songs):
            raise ValueError("start_song must name one of the songs")
        if self.clock not in CLOCK_HZ:
            raise ValueError(f"unknown clock {self.clock!r}")
        if self.sid_model not in ("6581", "8580"):
            raise ValueError(f"unknown SID model {self.sid_model!r}")


@dataclass(frozen=True)
class DemoSong:
    """A song joined to where it lives: the row tests join to catalog rows by (path, song)."""

    path: str  # relative to C64Music/, "/" separators
    song_index: int  # 1-based, as in the catalog and sidplayfp -o<n>
    tune: TuneSpec
    song: SongSpec

    @property
    def frame_rate(self) -> float:
        return FRAME_RATE[self.tune.clock]

    @property
    def steps_per_second(self) -> float:
        return self.frame_rate / self.song.tempo_frames

    @property
    def tempo_class(self) -> str:
        return tempo_class(self.steps_per_second)

    @property
    def loudness_class(self) -> str:
        return loudness_class(self.song.volume)

    @property
    def brightness_class(self) -> str:
        return brightness_class(self.song, self.tune.sid_model)

    @property
    def density_class(self) -> str:
        return density_class(self.song.note_density)

    def attributes(self) -> dict[str, Any]:
        """Flat design attributes (JSON-friendly), the columns a classifier test joins on."""
        song = self.song
        return {
            "path": self.path,
            "song_index": self.song_index,
            "title": song.title,
            "clock": self.tune.clock,
            "sid_model": self.tune.sid_model,
            "voices": len(song.voices),
            "waveforms": list(song.waveforms),
            "lead_waveform": song.waveforms[0],
            "tempo_frames": song.tempo_frames,
            "steps_per_second": round(self.steps_per_second, 3),
            "volume": song.volume,
            "filter_mode": song.filter_mode,
            "filter_cutoff": song.filter_cutoff,
            "filter_resonance": song.filter_resonance,
            "filter_voices": list(song.filter_voices),
            "note_density": round(song.note_density, 3),
            "length_ms": song.length_ms,
            "tempo_class": self.tempo_class,
            "loudness_class": self.loudness_class,
            "brightness_class": self.brightness_class,
            "density_class": self.density_class,
        }
