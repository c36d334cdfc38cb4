"""The configured stations' playlists as files: ``<station>.m3u`` + ``<station>.json``.

What the ``station_playlists`` asset writes after each database build, so a listener's
other players (and the web UI) have every station ready without running the CLI.
Each list is what ``sidflow recommend --station NAME --limit L`` gives with no seed,
with two differences that make the files a function of the data alone (two builds of
the same data write identical files): the 7-day dislike block is not applied (it
depends on the clock; the feedback's counts and taste still are), and the discovery
history is not read (it changes with every radio session). The JSON carries each
song's score parts (``explain``), the station's query and the tuning used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidflow_pipeline.config import SidflowConfig

__all__ = ["StationFile", "station_slug", "write_station_playlists"]


@dataclass(frozen=True)
class StationFile:
    station: str
    slug: str
    songs: int
    seconds: float
    m3u: str
    json: str
    parts: list[dict[str, Any]]  # key, score and parts of each song, in playlist order
    error: str | None = None


def station_slug(name: str) -> str:
    """A file name for a station: ``chip:6581`` → ``chip-6581``, ``era:1982..1989`` → ``era-1982-1989``."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "station"


def write_station_playlists(config: SidflowConfig, search: Callable[[str], list[dict[str, Any]]]) -> list[StationFile]:
    """Write every station of ``config.recommend.stations``; a station that cannot be
    resolved (an unknown composer, say) is reported, not fatal to the others. ``search``
    runs a ``sidflow search`` query (:func:`~sidflow_pipeline.recommend.stations.resolve_station`)."""
    import time

    from sidflow_pipeline.atomic import atomic_write_text
    from sidflow_pipeline.hvsc.moves import read_moves
    from sidflow_pipeline.radio.queue import export_text, make_queue
    from sidflow_pipeline.recommend.engine import RecommendRequest
    from sidflow_pipeline.recommend.filters import QueryError
    from sidflow_pipeline.recommend.live import live_feedback
    from sidflow_pipeline.recommend.playlist import Tuning, make_playlist
    from sidflow_pipeline.recommend.snapshot import SnapshotRecommender
    from sidflow_pipeline.recommend.stations import parse_station, resolve_station

    layout = config.layout
    settings = config.recommend
    engine = SnapshotRecommender(layout.lance_db, layout.recommend_snapshot, layout.catalog)
    live = replace(live_feedback(layout.feedback_dir, moves=read_moves(config.hvsc_path)), blocked=frozenset())
    tuning = Tuning(k=settings.k, recency_boost=settings.recency_boost, exploration_rate=settings.exploration_rate,
                    discovery_sessions=settings.discovery_sessions)  # fmt: skip
    request = RecommendRequest(
        limit=settings.playlist_length, exploration=settings.exploration_factor, diversity=0.0, live=live
    )
    folder = layout.station_playlists_dir
    folder.mkdir(parents=True, exist_ok=True)
    out: list[StationFile] = []
    for name in dict.fromkeys(settings.stations):
        started = time.perf_counter()
        slug = station_slug(name)
        m3u, js = folder / f"{slug}.m3u", folder / f"{slug}.json"
        try:
            station = parse_station(name)
            plan = resolve_station(station, search=search, engine=engine)
        except QueryError as exc:
            out.append(StationFile(name, slug, 0, time.perf_counter() - started, str(m3u), str(js), [], str(exc)))
            continue
        picks = make_playlist(engine, request, tuning=tuning, station=plan, catalog_path=config.layout.catalog)
        queue = make_queue([p.rec for p in picks], {}, config.layout.hvsc_root, config.render.default_song_seconds)
        # the snapshot carries each song's real length (Songlengths.md5, via the catalog)
        queue = [
            replace(q, length_s=max(1, round(p.rec.length_ms / 1000)) if p.rec.length_ms else q.length_s)
            for q, p in zip(queue, picks, strict=True)
        ]
        query = {"station": plan.station.name, "query": plan.station.query, "limit": settings.playlist_length}
        atomic_write_text(m3u, export_text(queue, "m3u", query))
        document = {
            "station": plan.station.name,
            "about": plan.station.summary,
            "query": plan.station.query,
            "score_term": plan.station.term,
            "tuning": {
                "k": tuning.k,
                "recency_boost": tuning.recency_boost,
                "exploration_rate": tuning.exploration_rate,
                "exploration_factor": settings.exploration_factor,
                "limit": settings.playlist_length,
            },
            "songs": [{**p.to_json(), "file": q.file} for p, q in zip(picks, queue, strict=True)],
        }
        atomic_write_text(js, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        parts = [
            {"key": p.key, "score": round(p.rec.score, 4), **{k: round(v, 4) for k, v in p.parts.items()}}
            for p in picks
        ]
        out.append(
            StationFile(plan.station.name, slug, len(picks), time.perf_counter() - started, str(m3u), str(js), parts)
        )
    written = {f"{f.slug}.{ext}" for f in out if f.error is None for ext in ("m3u", "json")}
    for old in sorted(folder.iterdir()):
        if old.suffix in (".m3u", ".json") and old.name not in written:
            old.unlink()  # a station no longer configured
    return out
