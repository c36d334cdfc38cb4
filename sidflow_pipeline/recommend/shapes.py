"""Playlist shapes: the design's energy profiling, complexity progression, BPM matching
and spectral (timbral) coherence, as an order over songs the recommender already chose.

A shape never invents a song: it reorders the chosen list, or (the two chains) picks
from the scored candidate pool — the ``k`` best songs for the query, filters, station
and ``--where`` already applied — in an order. One shape per list.

===================  ==========================================================================
``--shape ramp-up``   energy ``e`` (the Energy/Drive rating, 1–5) rises: the chosen songs sorted
                      by ``e``. Tolerance **0**: every step is ≥ the previous (ties keep score order).
``--shape ramp-down`` the same, falling.
``--shape arc``       rises to the most energetic song, then falls (sorted; even places up, odd
                      places down). Tolerance 0 on both sides of the peak.
``--path simple-to-complex``  complexity ``c`` rises, as ramp-up does for energy. Tolerance 0.
``--flow bpm``        a chain: from the best-scoring song, each next song is the best-scoring
                      unused candidate within **±10 BPM** of the current one; when no candidate
                      is within ±10, the closest tempo (said in the song's note). Songs without
                      a measured tempo (bpm 0) are left out of a BPM flow. Greedy.
``--coherent timbre`` a chain: each next song maximises ``score − 0.2·d``, ``d`` the distance of
                      the four spectral features (centroid, rolloff, flatness, contrast; z-scores
                      over the collection, divided by 2). No fixed tolerance: ``−0.2·d`` is the
                      song's ``shape`` term, shown by ``--explain``.
===================  ==========================================================================

Why ``e`` and not the ``energy`` feature: the feature is the excerpt's mean squared
amplitude, i.e. loudness, which mastering and the chip model change; the rating is
the listener's (or the model's) "energy/drive", what a rising playlist means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sidflow_pipeline.recommend.filters import QueryError

__all__ = [
    "BPM_TOLERANCE",
    "SHAPES",
    "TIMBRE_WEIGHT",
    "ChainStep",
    "Shape",
    "arc_order",
    "bpm_chain",
    "parse_shape",
    "ramp_order",
    "timbre_chain",
]

BPM_TOLERANCE = 10.0
TIMBRE_WEIGHT = 0.2


@dataclass(frozen=True)
class Shape:
    name: str  # ramp-up, ramp-down, arc, simple-to-complex, bpm, timbre
    option: str  # how it is asked for: "--shape ramp-up"
    dimension: str  # e, c, bpm, timbre
    tolerance: str
    summary: str

    @property
    def chain(self) -> bool:
        """A chain picks from the pool; the others reorder the chosen list."""
        return self.name in ("bpm", "timbre")


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("ramp-up", "--shape ramp-up", "e", "0 (each song's energy ≥ the previous)", "energy rises song by song"),
        Shape("ramp-down", "--shape ramp-down", "e", "0 (each song's energy ≤ the previous)", "energy falls song by song"),
        Shape("arc", "--shape arc", "e", "0 (rises to the peak, then falls)", "energy rises to a peak, then falls"),
        Shape("simple-to-complex", "--path simple-to-complex", "c", "0 (each song's complexity ≥ the previous)",
              "complexity rises song by song"),
        Shape("bpm", "--flow bpm", "bpm", f"±{BPM_TOLERANCE:g} BPM between neighbours where the pool allows, else the closest",
              "each next song within ±10 BPM"),
        Shape("timbre", "--coherent timbre", "timbre", f"none: each next song trades score for spectral distance (−{TIMBRE_WEIGHT:g}·d)",
              "each next song a spectral neighbour"),
    )
}  # fmt: skip


def parse_shape(
    shape: str | None = None, path: str | None = None, flow: str | None = None, coherent: str | None = None
) -> Shape | None:
    """The one shape the options ask for (None: keep the score order)."""
    asked = [
        (f"--shape {shape}", shape),
        (f"--path {path}", path),
        (f"--flow {flow}", flow),
        (f"--coherent {coherent}", coherent),
    ]
    given = [(text, value) for text, value in asked if value]
    if len(given) > 1:
        raise QueryError(f"one playlist shape at a time, not {' and '.join(t for t, _ in given)}")
    if not given:
        return None
    value = given[0][1]
    assert value is not None
    if value not in SHAPES or SHAPES[value].option != given[0][0]:
        raise QueryError(f"unknown shape {given[0][0]!r} (known: {', '.join(s.option for s in SHAPES.values())})")
    return SHAPES[value]


def ramp_order(values: Sequence[float], descending: bool = False) -> list[int]:
    """Positions sorted by value (stable: ties keep their order, i.e. the score order)."""
    return sorted(range(len(values)), key=lambda i: -values[i] if descending else values[i])


def arc_order(values: Sequence[float]) -> list[int]:
    """Rise then fall: the sorted positions at even places going up, odd places coming down."""
    ascending = ramp_order(values)
    return ascending[0::2] + ascending[1::2][::-1]


@dataclass(frozen=True)
class ChainStep:
    index: int  # into the candidate list
    delta: float | None  # bpm difference or timbre distance to the previous song (None: first)
    within: bool  # the step kept the shape's tolerance (always True for timbre)
    term: float  # the shape's score term (timbre: −0.2·d; bpm: 0)


def bpm_chain(
    bpm: Sequence[float], score: Sequence[float], limit: int, tolerance: float = BPM_TOLERANCE
) -> list[ChainStep]:
    """The BPM flow over candidates (given in score order, best first); see the module doc."""
    pending = [i for i in range(len(bpm)) if bpm[i] > 0]
    if not pending:
        return []
    first = max(pending, key=lambda i: (score[i], -i))
    steps = [ChainStep(first, None, True, 0.0)]
    pending.remove(first)
    while pending and len(steps) < limit:
        current = bpm[steps[-1].index]
        close = [i for i in pending if abs(bpm[i] - current) <= tolerance]
        # the best score within the tolerance; else the closest tempo (then the best score)
        pick = (
            max(close, key=lambda i: (score[i], -i))
            if close
            else min(pending, key=lambda i: (abs(bpm[i] - current), -score[i], i))
        )
        delta = float(bpm[pick] - current)
        steps.append(ChainStep(pick, delta, abs(delta) <= tolerance, 0.0))
        pending.remove(pick)
    return steps


def timbre_chain(
    timbre: Sequence[Sequence[float]], score: Sequence[float], limit: int, weight: float = TIMBRE_WEIGHT
) -> list[ChainStep]:
    """The timbre chain over candidates (score order, best first); see the module doc."""
    if not timbre:
        return []
    first = max(range(len(timbre)), key=lambda i: (score[i], -i))
    steps = [ChainStep(first, None, True, 0.0)]
    pending = [i for i in range(len(timbre)) if i != first]
    while pending and len(steps) < limit:
        current = timbre[steps[-1].index]
        distance = {i: math.dist(timbre[i], current) / 2.0 for i in pending}
        pick = max(pending, key=lambda i: (round(score[i] - weight * distance[i], 12), -i))
        steps.append(ChainStep(pick, distance[pick], True, -weight * distance[pick]))
        pending.remove(pick)
    return steps
