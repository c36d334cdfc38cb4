"""The playlist layer over the recommender: the design's tuning parameters, stations,
shapes and the score parts that ``--explain`` shows.

Flow: the engine scores the ``k`` best candidates for the request (its formula,
``α·similarity + β·song_feedback + γ·(1−x)·user_affinity + 0.25·x·noise``) → this layer
adds the **recency** term (``recency_boost × (year − first year) / (last year − first
year)`` over the collection's known release years; 0 for a song without a year) and
the **station** term → re-sorts → picks the list: the best ``limit − n`` songs (with the
request's diversity) and ``n = round(exploration_rate × limit)`` **exploration** slots
from the rest of the pool, songs not surfaced in the last N sessions first
(:mod:`sidflow_pipeline.recommend.history`), in seeded order → applies the **shape**
(:mod:`sidflow_pipeline.recommend.shapes`). The two chain shapes pick from the pool
themselves and take no exploration slots (the chain is the choice).

Every song comes back with its parts, which add up to its score (the tests require
it): ``similarity``, ``song_feedback``, ``user_affinity``, ``exploration`` (the noise
of ``exploration_factor``), ``recency``, ``station``, ``shape``.

Parameters (design, phase 8; ``recommend`` block of ``.sidflow.json``, options on
``recommend``/``play``): ``k`` = 100 candidates, ``recency_boost`` = 0.0,
``exploration_rate`` = 0.1 (0 with ``--like``: "more like this" stays like it),
``exploration_factor`` = the engine's ``exploration`` (0.2), ``discoverySessions`` = 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.recommend.engine import Recommendation, RecommendRequest, _diverse, _noise, score_terms
from sidflow_pipeline.recommend.facts import song_facts
from sidflow_pipeline.recommend.history import DISCOVERY_SESSIONS, DiscoveryHistory
from sidflow_pipeline.recommend.shapes import Shape, arc_order, bpm_chain, ramp_order, timbre_chain
from sidflow_pipeline.recommend.stations import StationPlan

__all__ = ["PARTS", "Pick", "Tuning", "make_playlist", "picks_from_results"]

PARTS = ("similarity", "song_feedback", "user_affinity", "exploration", "recency", "station", "shape")


@dataclass(frozen=True)
class Tuning:
    k: int = 100
    recency_boost: float = 0.0
    exploration_rate: float = 0.1
    discovery_sessions: int = DISCOVERY_SESSIONS


@dataclass(frozen=True)
class Pick:
    """One song of the list: the engine's recommendation (``score`` = the final score),
    its score parts and what the station, shape or exploration said about it."""

    rec: Recommendation
    parts: dict[str, float]
    notes: tuple[str, ...] = ()
    explored: bool = False
    year: int | None = None

    @property
    def key(self) -> str:
        return self.rec.key

    def to_json(self) -> dict[str, Any]:
        out = self.rec.to_json()
        out["year"] = self.year
        out["explain"] = {
            "parts": {name: round(self.parts[name], 4) for name in PARTS},
            "score": round(self.rec.score, 4),
            "explored": self.explored,
            "notes": list(self.notes),
        }
        return out


def _base_parts(request: RecommendRequest, results: Sequence[Recommendation]) -> list[dict[str, float]]:
    keys = [r.key for r in results]
    terms = score_terms(
        request, keys, np.array([r.similarity for r in results]), np.array([r.song_feedback for r in results]),
        np.array([r.user_affinity for r in results]),
    )  # fmt: skip
    return [{name: float(values[i]) for name, values in terms.items()} for i in range(len(results))]


def _hidden(r: Recommendation, max_plays: int) -> bool:
    """Not yet known to the listener: no like or dislike, heard at most ``max_plays`` times
    (``plays`` counts every hearing, a skip included)."""
    return r.likes == 0 and r.dislikes == 0 and r.plays <= max_plays


def make_playlist(
    engine: Any,
    request: RecommendRequest,
    *,
    tuning: Tuning = Tuning(),
    station: StationPlan | None = None,
    shape: Shape | None = None,
    history: DiscoveryHistory | None = None,
    catalog_path: Path | None = None,
) -> list[Pick]:
    """The list for ``request`` with the tuning, station and shape applied (module doc)."""
    only = request.only
    if station is not None:
        only = station.keys if only is None else only & station.keys
    pool_request = replace(request, only=only, limit=max(tuning.k, request.limit), diversity=0.0)
    results = engine.recommend(pool_request)
    if station is not None and station.max_heard is not None:
        results = [r for r in results if _hidden(r, station.max_heard)]
    if not results:
        return []
    facts = song_facts(engine, [r.key for r in results], catalog_path)
    span = facts.years
    picks: list[Pick] = []
    for r, parts in zip(results, _base_parts(request, results), strict=True):
        year = facts.year.get(r.key)
        recency = 0.0
        if tuning.recency_boost and year is not None and span is not None and span[1] > span[0]:
            recency = tuning.recency_boost * (year - span[0]) / (span[1] - span[0])
        parts = {**parts, "recency": recency, "station": station.term(r.key, r.p) if station else 0.0, "shape": 0.0}
        notes = (station.notes[r.key],) if station and r.key in station.notes else ()
        picks.append(Pick(replace(r, score=float(sum(parts.values()))), parts, notes, year=year))
    picks.sort(key=lambda p: (-round(p.rec.score, 12), p.key))
    limit = request.limit
    if shape is not None and shape.chain:
        chosen = _chain(picks, shape, limit, facts.timbre)
    else:
        chosen = _select(picks, request, tuning, history, limit)
        if shape is not None:
            values = [getattr(p.rec, shape.dimension) for p in chosen]
            order = (
                arc_order(values) if shape.name == "arc" else ramp_order(values, descending=shape.name == "ramp-down")
            )
            chosen = [_note(chosen[i], f"{shape.name}: {shape.dimension} {values[i]:.2f}") for i in order]
    return [replace(p, rec=replace(p.rec, rank=n)) for n, p in enumerate(chosen, start=1)]


def _note(pick: Pick, note: str) -> Pick:
    return replace(pick, notes=(*pick.notes, note))


def _select(
    picks: list[Pick], request: RecommendRequest, tuning: Tuning, history: DiscoveryHistory | None, limit: int
) -> list[Pick]:
    explore = round(tuning.exploration_rate * limit) if len(picks) > limit else 0
    vectors: list[tuple[float, ...]] = [(p.rec.e, p.rec.m, p.rec.c, p.rec.p) for p in picks]
    main = _diverse(list(range(len(picks))), vectors, request.diversity, limit - explore)
    taken = set(main)
    rest = [i for i in range(len(picks)) if i not in taken]
    recent = history.recent(tuning.discovery_sessions) if history else frozenset()
    noise = _noise(request.seed + 1, [picks[i].key for i in rest])

    def freshness(j: int) -> tuple[int, int, float]:
        i = rest[j]
        ago = history.sessions_ago(picks[i].key) if history else None
        # New to the last N sessions first; then the longest ago; then the seeded draw.
        return (0 if picks[i].key not in recent else 1, -(ago or 10**9), float(noise[j]))

    explored = [rest[j] for j in sorted(range(len(rest)), key=freshness)[:explore]]
    out = [picks[i] for i in main]
    for i in explored:
        ago = history.sessions_ago(picks[i].key) if history else None
        when = "not surfaced before" if ago is None else (
            f"not surfaced in the last {tuning.discovery_sessions} sessions" if ago > tuning.discovery_sessions
            else f"surfaced {ago} session{'s' if ago != 1 else ''} ago (too few new songs in the pool)"
        )  # fmt: skip
        out.append(replace(_note(picks[i], f"explored: score rank {i + 1} of {len(picks)}, {when}"), explored=True))
    return out


def _chain(picks: list[Pick], shape: Shape, limit: int, timbre: dict[str, tuple[float, ...]]) -> list[Pick]:
    scores = [p.rec.score for p in picks]
    if shape.name == "bpm":
        steps = bpm_chain([p.rec.bpm for p in picks], scores, limit)
    else:
        zero = (0.0, 0.0, 0.0, 0.0)
        steps = timbre_chain([timbre.get(p.key, zero) for p in picks], scores, limit)
    out = []
    for step in steps:
        pick = picks[step.index]
        if step.delta is None:
            note = f"{shape.name}: first song" + (f" ({pick.rec.bpm:.0f} BPM)" if shape.name == "bpm" else "")
        elif shape.name == "bpm":
            note = f"bpm {pick.rec.bpm:.0f} ({round(step.delta):+d}, " + (
                "within ±10)" if step.within else "closest: none within ±10 in the pool)"
            )
        else:
            note = f"timbre distance {step.delta:.2f} to the previous song"
        parts = {**pick.parts, "shape": step.term}
        pick = replace(pick, parts=parts, rec=replace(pick.rec, score=float(sum(parts.values()))))
        out.append(_note(pick, note))
    return out


def picks_from_results(request: RecommendRequest, results: Sequence[Recommendation]) -> list[Pick]:
    """The engine's own list with its score parts (no recency, station or shape terms)."""
    return [
        Pick(r, {**parts, "recency": 0.0, "station": 0.0, "shape": 0.0})
        for r, parts in zip(results, _base_parts(request, results), strict=True)
    ]
