"""Stations: a search query (which songs may play) plus a score term (which come first).

Each station is the ``sidflow search`` query language where it can say the rule, so
``sidflow search QUERY`` lists exactly the songs a station may play; the few rules the
language cannot say (a song's own play count, "released by a group, not the composer",
"the composers who sound closest") are small Python checks named below. The station
then ranks those songs with the usual score — "for me" when no seed is given, a mood
or ``--like`` otherwise — plus its own term.

==================  ====================================================  ====================================
station             query (+ check)                                        score term
==================  ====================================================  ====================================
``chip:6581``       ``chip:6581`` (a 6581+8580 tune answers both)          none
``chip:8580``       ``chip:8580``                                          none
``chip:multi``      ``sids:>1`` (2SID/3SID tunes, header v3/v4)            none
``era:A..B``        ``year:A..B`` (the year of the header's released)      none
``games``           :data:`GAMES_QUERY`                                    none
``demos``           :data:`DEMOS_QUERY` + released by a group              none
``hidden-gems``     ``unrated p:>=4`` + no like/dislike, ≤ 1 play          ``0.2·(p − 4)``
``composer:NAME``   their tunes + the 3 composers whose tunes sound        ``0.2`` own tunes, ``0.2·cos``
                    closest (``--like-composer``'s centroid cosine)        for the others
==================  ====================================================  ====================================

**Games vs demos.** HVSC files uncredited game music under ``/GAMES/`` and uncredited
demo music under ``/DEMOS/``; credited music of both kinds is under ``/MUSICIANS/``.
There the header's ``released`` names who published the tune: a game publisher (``1987
Thalamus``) or a scene group (``1989 Padua``). So a song is a **game** tune when its path
is under ``GAMES/``, or ``released`` names one of :data:`GAME_PUBLISHERS`, or its STIL
entry speaks of "game" other than as a cover (``[from the PC game …]`` titles are
covers, left out). A song is a **demo** tune when its path is under ``DEMOS/``, or it is
under ``MUSICIANS/``, not a game tune, and ``released`` names someone other than the
composer (a group: ``1990 Art Design`` by Noise of Victory is a demo tune; ``1987 Lou
Gray`` by Lou Gray is the composer's own release and neither). The publisher list is a
hint, not a census: a game by a publisher missing from it lands in neither station or
in ``demos``; the rule errs towards leaving a song out.

**Hidden gems**: songs the rating model rates well (``p`` ≥ 4) that the listener has not
rated, liked or disliked, and has heard at most once (plays ≤ 1, a skip counting as a
play; live counts from the feedback log) — the design's "well-rated by the model, rarely
played": a song the listener already said yes or no to is no longer hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidflow_pipeline.recommend.filters import QueryError

__all__ = [
    "COMPOSER_WEIGHT",
    "DEMOS_QUERY",
    "GAMES_QUERY",
    "GAME_PUBLISHERS",
    "HIDDEN_MAX_HEARD",
    "HIDDEN_WEIGHT",
    "SIMILAR_COMPOSERS",
    "Station",
    "StationPlan",
    "parse_station",
    "released_by_group",
    "resolve_station",
    "station_catalog",
]

GAME_PUBLISHERS = (
    "Accolade", "Activision", "Alligata", "Anco", "Audiogenic", "Beyond", "Bug-Byte", "Codemasters", "Code Masters",
    "Domark", "Electronic Arts", "Elite", "Epyx", "Firebird", "Gremlin", "Hewson", "Imagine", "Kingsoft", "Magic Bytes",
    "Martech", "Mastertronic", "Melbourne House", "MicroProse", "Mindscape", "Ocean", "Palace", "Psygnosis", "Psytronik",
    "Rainbow Arts", "System 3", "Thalamus", "U.S. Gold", "US Gold", "Ultimate", "Virgin", "Zeppelin", "Box Office",
    "Players", "Rack-It", "Quicksilva", "Ubi Soft", "Infogrames", "Hi-Tec", "Atlantis", "Cosmi", "Datasoft",
)  # fmt: skip
_PUBLISHERS = "|".join(f'"{p}"' for p in GAME_PUBLISHERS)
GAMES_QUERY = f'(path:GAMES/ OR released:{_PUBLISHERS} OR (stil:game -stil:"[from"))'
DEMOS_QUERY = f"(path:DEMOS/ OR (path:MUSICIANS/ NOT {GAMES_QUERY}))"
HIDDEN_MAX_HEARD = 1
HIDDEN_WEIGHT = 0.2
COMPOSER_WEIGHT = 0.2
SIMILAR_COMPOSERS = 3


@dataclass(frozen=True)
class Station:
    name: str
    query: str
    summary: str
    term: str  # the score term in words ("none" for a pure filter)


@dataclass(frozen=True)
class StationPlan:
    """A station resolved against the catalog: the songs it admits and its term per song."""

    station: Station
    keys: frozenset[str]
    terms: Mapping[str, float] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    max_heard: int | None = None  # hidden gems: no like/dislike and at most this many plays (a skip is a play)
    p_weight: float = 0.0  # hidden gems: the term is p_weight·(p − 4), p the song's own (unrounded) rating

    def term(self, key: str, p: float) -> float:
        """The station's score term for a song (``p``: its preference rating)."""
        return self.terms.get(key, 0.0) + (self.p_weight * (p - 4.0) if self.p_weight else 0.0)


def _era(text: str) -> Station:
    match = re.fullmatch(r"(\d{4})\.\.(\d{4})", text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise QueryError(f"station era:{text}: expected era:YEAR..YEAR, e.g. era:1982..1987")
    low, high = match.groups()
    return Station(f"era:{low}..{high}", f"year:{low}..{high}", f"songs released {low}–{high}", "none")


def parse_station(name: str) -> Station:
    """The station ``name`` means; one line naming the known stations otherwise."""
    text = name.strip()
    kind, sep, arg = text.partition(":")
    kind = kind.lower()
    if kind == "chip" and sep:
        chip = arg.lower()
        if chip in ("6581", "8580"):
            return Station(f"chip:{chip}", f"chip:{chip}", f"tunes written for the MOS {chip}", "none")
        if chip == "multi":
            return Station("chip:multi", "sids:>1", "multi-SID tunes (2SID, 3SID)", "none")
        raise QueryError(f"station {name!r}: expected chip:6581, chip:8580 or chip:multi")
    if kind == "era" and sep:
        return _era(arg.strip())
    if kind == "composer" and sep and arg.strip():
        who = arg.strip()
        return Station(f"composer:{who}", f'composer:"{who}"', f"{who}'s tunes and the {SIMILAR_COMPOSERS} composers who sound closest",
                       f"{COMPOSER_WEIGHT:g} for their tunes, {COMPOSER_WEIGHT:g}·cos for the closest composers'")  # fmt: skip
    if text == "games":
        return Station("games", GAMES_QUERY, "game soundtracks (GAMES/, a game publisher, or STIL says game)", "none")
    if text == "demos":
        return Station(
            "demos", DEMOS_QUERY, "demo music (DEMOS/, or released by a group that is not the composer)", "none"
        )
    if text == "hidden-gems":
        return Station("hidden-gems", "unrated p:>=4", "well rated by the model, not rated, liked or disliked by you, heard at most once",
                       f"{HIDDEN_WEIGHT:g}·(p − 4)")  # fmt: skip
    raise QueryError(
        f"unknown station {name!r} (known: chip:6581, chip:8580, chip:multi, era:A..B, games, demos, hidden-gems, composer:NAME)"
    )


def station_catalog() -> list[Station]:
    """What ``sidflow stations`` lists: every kind, with an example for the ones that take an argument."""
    return [parse_station(n) for n in ("chip:6581", "chip:8580", "chip:multi", "era:1982..1987", "games", "demos", "hidden-gems")] + [
        Station("composer:NAME", 'composer:"NAME"', f"NAME's tunes and the {SIMILAR_COMPOSERS} composers who sound closest",
                f"{COMPOSER_WEIGHT:g} for their tunes, {COMPOSER_WEIGHT:g}·cos for the closest composers'")
    ]  # fmt: skip


_LEADING_YEAR = re.compile(r"^\s*[0-9?]{2,4}(?:\s*[-/]\s*[0-9?]{2,4})?\s*")


def released_by_group(released: str | None, composer: str | None) -> bool:
    """``released`` names a publisher other than the composer (``1990 Art Design`` by Noise of Victory)."""
    who = _LEADING_YEAR.sub("", released or "").strip()
    if not who or who in ("<?>", "?"):
        return False
    mine = (composer or "").casefold()
    # The composer's own release: the names contain each other ("Jeroen Koops", or a
    # handle in parentheses, "Glenn Gallefoss (SounDemoN)" releasing as "SounDemoN").
    return not (who.casefold() in mine or (mine and mine in who.casefold()))


Search = Callable[[str], list[dict[str, Any]]]


def resolve_station(station: Station, *, search: Search, engine: Any = None) -> StationPlan:
    """Run the station's query and apply its checks and terms.

    ``search`` runs a ``sidflow search`` query and returns its rows (``sid_path``,
    ``song_index``, ``composer``, ``released``, …): the CLI and the asset pass
    :func:`sidflow_pipeline.search.catalog.search_songs` over their catalog, which lives
    a layer above this package.
    """
    if station.name.startswith("composer:"):
        return _composer_plan(station, search, engine)
    rows = search(station.query)
    if station.name == "demos":
        rows = [
            r
            for r in rows
            if r["sid_path"].upper().startswith("DEMOS/") or released_by_group(r["released"], r["composer"])
        ]
    keys = frozenset(f"{r['sid_path']}#{r['song_index']}" for r in rows)
    if station.name == "hidden-gems":
        notes = {k: "hidden gem: model p ≥ 4, no verdict yet, heard ≤ 1" for k in keys}
        return StationPlan(station, keys, {}, notes, max_heard=HIDDEN_MAX_HEARD, p_weight=HIDDEN_WEIGHT)
    return StationPlan(station, keys)


def _composer_plan(station: Station, search: Search, engine: Any) -> StationPlan:
    name = station.name.partition(":")[2]
    if engine is None:
        raise QueryError("a composer station needs the song database")
    matched, similar = engine.similar_composers(name, limit=SIMILAR_COMPOSERS)
    closeness = {matched: 1.0, **{m.composer: max(m.similarity, 0.0) for m in similar}}
    rows = search("")
    keys, terms, notes = set(), {}, {}
    for r in rows:
        who = r["composer"] or ""
        if who in closeness:
            key = f"{r['sid_path']}#{r['song_index']}"
            keys.add(key)
            terms[key] = COMPOSER_WEIGHT * closeness[who]
            notes[key] = f"by {who}" if who == matched else f"{who} sounds like {matched} (cos {closeness[who]:.2f})"
    query = "composer:" + "|".join(f'"{c}"' for c in closeness)
    return StationPlan(
        Station(f"composer:{matched}", query, station.summary.replace(name, matched), station.term),
        frozenset(keys),
        terms,
        notes,
    )
