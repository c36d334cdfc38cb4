"""Note sequences for the demo tunes: scales, melodies, bass lines, drum patterns.

The tunes should sound like (simple) music rather than random beeps, and differ
only along the axes each song is designed for, so melodies walk a scale, bass lines
follow a chord progression and rests fall on weak beats first. Randomness comes
from :class:`Rng` (splitmix64), not :mod:`random`, so the same seed gives the same
notes on every Python version — the collection's bytes must never drift.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

__all__ = [
    "SCALES",
    "Rng",
    "bass_line",
    "chord_voice",
    "drum_pattern",
    "melody",
    "note_number",
    "phrase",
    "place_notes",
]

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}
_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)$")
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MASK = (1 << 64) - 1
_T = TypeVar("_T")


class Rng:
    """splitmix64: tiny, fast, and identical on every platform and Python version."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """Uniform in [0, 1)."""
        return (self.next_u64() >> 11) / float(1 << 53)

    def randint(self, low: int, high: int) -> int:
        """Uniform integer in [low, high] (inclusive)."""
        if high < low:
            raise ValueError("empty range")
        return low + self.next_u64() % (high - low + 1)

    def choice(self, items: Sequence[_T]) -> _T:
        if not items:
            raise ValueError("choice from an empty sequence")
        return items[self.next_u64() % len(items)]

    def fork(self, salt: int) -> Rng:
        """An independent stream, so adding a draw in one place does not shift another."""
        return Rng(self.next_u64() ^ (salt * 0x9E3779B97F4A7C15))


def note_number(name: str) -> int:
    """``A4`` → 69, ``C#3`` → 49, ``Bb2`` → 46 (MIDI numbers)."""
    match = _NOTE_RE.match(name)
    if not match:
        raise ValueError(f"bad note name {name!r} (expected e.g. C4, F#3, Bb2)")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "b": -1, "": 0}[accidental]
    return 12 * (int(octave) + 1) + _PITCH_CLASS[letter.upper()] + shift


def phrase(text: str) -> tuple[int | None, ...]:
    """Hand-written steps: note names separated by spaces, ``.`` for a rest."""
    return tuple(None if tok == "." else note_number(tok) for tok in text.split())


def _weight(step: int) -> int:
    # Lower is stronger: bar start, half bar, beat, off-beat (8 steps per bar).
    if step % 8 == 0:
        return 0
    if step % 4 == 0:
        return 1
    return 2 if step % 2 == 0 else 3


def place_notes(rng: Rng, steps: int, density: float) -> list[bool]:
    """Which steps play a note: exactly ``round(density*steps)`` (at least one, step 0
    always), strong beats first so sparse songs keep a pulse."""
    count = max(1, min(steps, round(density * steps)))
    order = sorted(range(1, steps), key=lambda s: (_weight(s), rng.random()))
    chosen = {0, *order[: count - 1]}
    return [s in chosen for s in range(steps)]


def _scale_pitches(root: int, scale: str, low: int, high: int) -> list[int]:
    intervals = SCALES[scale]
    return [n for n in range(low, high + 1) if (n - root) % 12 in intervals]


def melody(
    rng: Rng, *, root: int, scale: str, steps: int, density: float, low: int, high: int, leap: int = 2
) -> tuple[int | None, ...]:
    """A random walk over the scale between ``low`` and ``high`` (MIDI), moving at most
    ``leap`` scale degrees per note, starting and ending near the root."""
    pitches = _scale_pitches(root, scale, low, high)
    if not pitches:
        raise ValueError("no scale notes in the requested range")
    start = min(range(len(pitches)), key=lambda i: abs(pitches[i] - (low + high) // 2))
    index = start
    out: list[int | None] = []
    for play in place_notes(rng, steps, density):
        if not play:
            out.append(None)
            continue
        out.append(pitches[index])
        index = min(len(pitches) - 1, max(0, index + rng.randint(-leap, leap)))
    return tuple(out)


def bass_line(
    rng: Rng, *, root: int, scale: str, steps: int, density: float, progression: Sequence[int] = (0, 5, 3, 4)
) -> tuple[int | None, ...]:
    """Chord roots (scale degrees in ``progression``), one chord per bar of 8 steps,
    with an octave jump on some notes for movement."""
    intervals = SCALES[scale]
    out: list[int | None] = []
    for step, play in enumerate(place_notes(rng, steps, density)):
        if not play:
            out.append(None)
            continue
        degree = progression[(step // 8) % len(progression)] % len(intervals)
        note = root + intervals[degree]
        if step % 4 == 2 and rng.random() < 0.5:
            note += 12
        out.append(note)
    return tuple(out)


def chord_voice(
    rng: Rng, *, root: int, scale: str, steps: int, density: float, progression: Sequence[int] = (0, 5, 3, 4)
) -> tuple[int | None, ...]:
    """Chord tones (root, third, fifth of each bar's chord) cycling up the chord."""
    intervals = SCALES[scale]
    out: list[int | None] = []
    for step, play in enumerate(place_notes(rng, steps, density)):
        if not play:
            out.append(None)
            continue
        degree = progression[(step // 8) % len(progression)]
        tone = (degree + 2 * (step % 3)) % len(intervals)
        octave = 12 * ((degree + 2 * (step % 3)) // len(intervals))
        out.append(root + intervals[tone] + octave)
    return tuple(out)


def drum_pattern(rng: Rng, *, steps: int, density: float, kick: int = 36, snare: int = 84) -> tuple[int | None, ...]:
    """Noise hits: low "kick" pitch on strong beats, high "snare" pitch elsewhere."""
    out: list[int | None] = []
    for step, play in enumerate(place_notes(rng, steps, density)):
        if not play:
            out.append(None)
        else:
            out.append(kick if step % 8 in (0, 3) else snare)
    return tuple(out)
