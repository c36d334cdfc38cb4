"""The playlist options `recommend` and `play` share (``--station``, ``--shape``,
``--explain``, the tuning) and the score-parts tables; `sidflow stations` and `sidflow
explain` are in ``cli/stations.py``.

The domain work is in ``recommend/playlist.py`` (the layer), ``recommend/stations.py``,
``recommend/shapes.py`` and ``recommend/history.py``; this module only turns options
into calls and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, fail
from sidflow_pipeline.cli.output import Column, print_table

__all__ = ["Playlist", "explain_one", "explain_table", "playlist_options", "resolve"]

_OPTION_NAMES = ("station", "shape", "path", "flow", "coherent", "explain", "k", "recency_boost", "exploration_rate")


def playlist_options(func: Any) -> Any:
    """The station / shape / tuning / explain options of `recommend` and `play`."""
    station_help = (
        "A station: chip:6581|8580|multi, era:A..B, games, demos, hidden-gems, composer:NAME (sidflow stations)."
    )
    options = [
        click.option("--station", metavar="NAME", help=station_help),
        click.option("--shape", type=click.Choice(["ramp-up", "ramp-down", "arc"]),
                     help="Order by energy: rising, falling, or up then down."),
        click.option("--path", "path", type=click.Choice(["simple-to-complex"]), help="Order by complexity, simple first."),
        click.option("--flow", type=click.Choice(["bpm"]),
                     help="Each next song within ±10 BPM where the pool allows (else the closest, said)."),
        click.option("--coherent", type=click.Choice(["timbre"]), help="Each next song a spectral neighbour of the previous."),
        click.option("--explain", is_flag=True,
                     help="Show each song's score parts (similarity, feedback, affinity, exploration, recency, station, shape)."),
        click.option("--k", "k", type=click.IntRange(1, 100_000), default=None,
                     help="Candidates rescored for stations, shapes and exploration [config recommend.k: 100]."),
        click.option("--recency-boost", type=FiniteFloatRange(0.0, 10.0), default=None,
                     help="Weight of the release year (newer first) [config: 0.0]."),
        click.option("--exploration-rate", type=FiniteFloatRange(0.0, 1.0), default=None,
                     help="Share of the list given to lower-ranked songs not surfaced lately [config: 0.1; 0 with --like]."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


@dataclass
class Playlist:
    """The playlist options of one command, taken out of its option dict."""

    station: str | None
    shape: Any
    explain: bool
    tuning: Any
    layered: bool
    picks: list[Any] | None = None
    station_name: str | None = None

    @classmethod
    def take(cls, ctx: Context, options: dict[str, Any]) -> Playlist:
        """Pop this module's options from ``options`` (the rest go to ``build_request``) and
        fill the config's defaults: ``exploration_factor`` for ``--exploration``."""
        from sidflow_pipeline.recommend.filters import QueryError
        from sidflow_pipeline.recommend.playlist import Tuning
        from sidflow_pipeline.recommend.shapes import parse_shape

        mine = {name: options.pop(name, None) for name in _OPTION_NAMES}
        cfg = ctx.config.recommend
        like = bool(options.get("like"))
        if options.get("exploration") is None and not like:
            options["exploration"] = cfg.exploration_factor
        rate = mine["exploration_rate"]
        if rate is None:
            rate = 0.0 if like else cfg.exploration_rate
        tuning = Tuning(
            k=mine["k"] or cfg.k,
            recency_boost=cfg.recency_boost if mine["recency_boost"] is None else mine["recency_boost"],
            exploration_rate=rate,
            discovery_sessions=cfg.discovery_sessions,
        )
        try:
            shape = parse_shape(mine["shape"], mine["path"], mine["flow"], mine["coherent"])
        except QueryError as exc:
            fail(str(exc))
        layered = bool(mine["station"] or shape or tuning.recency_boost or tuning.exploration_rate)
        return cls(mine["station"], shape, bool(mine["explain"]), tuning, layered)

    def query(self) -> dict[str, Any]:
        """What the options were, for the JSON ``query`` and the exports."""
        out: dict[str, Any] = {
            "k": self.tuning.k,
            "recency_boost": self.tuning.recency_boost,
            "exploration_rate": self.tuning.exploration_rate,
        }
        if self.station:
            out["station"] = self.station_name or self.station
        if self.shape is not None:
            out["shape"] = self.shape.option
        return out

    def run(self, ctx: Context, engine: Any, request: Any) -> list[Any]:
        """The recommendations (the engine's own list when nothing here applies); the
        picks with their score parts are kept in ``self.picks``."""
        from sidflow_pipeline.recommend.history import read_history
        from sidflow_pipeline.recommend.playlist import make_playlist, picks_from_results

        cfg = ctx.config
        request = replace(
            request, k=self.tuning.k
        )  # the design's k: the nearest-neighbour pool, also without the layer
        if not self.layered:
            results: list[Any] = engine.recommend(request)
            self.picks = picks_from_results(request, results)
            return results
        plan = None
        if self.station:
            plan = resolve(ctx, self.station, engine)
            self.station_name = plan.station.name
        history = read_history(cfg.layout.discovery_history)
        self.picks = make_playlist(engine, request, tuning=self.tuning, station=plan, shape=self.shape, history=history,
                                   catalog_path=cfg.layout.catalog)  # fmt: skip
        return [p.rec for p in self.picks]

    def record(self, ctx: Context, session: str, keys: list[str]) -> None:
        """Append the radio session's songs to the discovery history."""
        from sidflow_pipeline.recommend.history import record_session

        asked = self.query()
        words = ["play"]
        if "station" in asked:
            words.append(f"--station {asked['station']}")
        if "shape" in asked:
            words.append(asked["shape"])
        source = " ".join(words)
        explored = [p.key for p in self.picks or () if p.explored]
        record_session(ctx.config.layout.discovery_history, session, source, keys, explored)


def resolve(ctx: Context, name: str, engine: Any) -> Any:
    """The station ``name`` against this project's catalog (its query run by ``sidflow search``'s code)."""
    from sidflow_pipeline.recommend.stations import parse_station, resolve_station
    from sidflow_pipeline.search.catalog import CatalogUnavailable, search_songs

    cfg = ctx.config
    try:
        return resolve_station(
            parse_station(name),
            search=lambda query: search_songs(cfg.layout.catalog, cfg.classified_path, query).rows,
            engine=engine,
        )
    except CatalogUnavailable as exc:
        fail(f"--station: {exc}")


_PART_HEADERS = {
    "similarity": "sim", "song_feedback": "feedb", "user_affinity": "affin", "exploration": "explo",
    "recency": "recen", "station": "statn", "shape": "shape",
}  # fmt: skip


# Which part columns a narrow terminal gives up first: the engine's usual addends before
# what this layer adds (station, shape, recency), the reason a user asked for --explain.
_PART_DROP = {
    "similarity": 2,
    "station": 3,
    "shape": 4,
    "recency": 5,
    "user_affinity": 6,
    "song_feedback": 7,
    "exploration": 8,
}


def explain_table(picks: list[Any], title: str) -> None:
    """Score parts per song, sized to the terminal; a part that is 0 for every song is
    left out (the footer says so). ``why``: the station, shape or exploration note."""
    from sidflow_pipeline.recommend.playlist import PARTS

    shown = [n for n in PARTS if any(abs(p.parts[n]) > 5e-5 for p in picks)] or ["similarity"]
    columns = [
        Column("#", "right", 2), Column("score", "right", 6),
        *(Column(_PART_HEADERS[n], "right", 6, drop=_PART_DROP[n]) for n in shown),
        Column("title", min_width=10, max_width=32), Column("composer", min_width=10, max_width=20, drop=20),
        Column("why", min_width=14, drop=12),
    ]  # fmt: skip
    rows = [
        [str(p.rec.rank), f"{p.rec.score:.3f}", *(f"{p.parts[n]:+.3f}" for n in shown), p.rec.title or "?", p.rec.composer or "?",
         "; ".join(p.notes)]
        for p in picks
    ]  # fmt: skip
    hidden = [_PART_HEADERS[n] for n in PARTS if n not in shown]
    footer = "score = " + " + ".join(_PART_HEADERS[n] for n in shown) + (f" ({', '.join(hidden)}: 0)" if hidden else "")
    print_table(title, columns, rows, footer=footer)


def explain_one(pick: Any, title: str) -> None:
    """One song: a part a line, with what it is made of."""
    from sidflow_pipeline.recommend.playlist import PARTS

    what = {
        "similarity": f"0.6 × similarity {pick.rec.similarity:.3f}",
        "song_feedback": f"0.3 × song feedback {pick.rec.song_feedback:+.3f} ({pick.rec.likes} likes, {pick.rec.dislikes} dislikes, "
        f"{pick.rec.skips} skips, {pick.rec.plays} plays)",
        "user_affinity": f"0.1 × (1 − exploration) × affinity {pick.rec.user_affinity:+.3f} (model p {pick.rec.p:.2f}, your taste)",
        "exploration": "0.25 × exploration × seeded noise",
        "recency": f"recency boost × position of {pick.year or 'unknown year'} in the collection's years",
        "station": "; ".join(n for n in pick.notes) or "no station term",
        "shape": "timbre chains only",
    }
    rows = [[n, f"{pick.parts[n]:+.4f}", what[n]] for n in PARTS]
    rows.append(["score", f"{pick.rec.score:.4f}", "the sum of the parts"])
    print_table(title, [Column("part", min_width=8), Column("value", "right", 7), Column("what", min_width=20)], rows)
