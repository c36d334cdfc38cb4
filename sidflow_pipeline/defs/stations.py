"""`station_playlists`: M3U + JSON for every configured station, after each database build.

**One asset with one file per station, not a partitioned asset.** A station list is
milliseconds of numpy over the snapshot the database build just wrote, so per-station
runs would cost more in run overhead than in work; the list of stations lives in
``.sidflow.json`` (``recommend.stations``), and partitions keyed by it would need
dynamic partitions kept in step with the config by hand; and the playlists should be
one consistent set, made from one database version, which one materialization gives.
The metadata carries each station's songs with their score parts
(``recommend/playlist.py``), so the UI shows why a song is on a station.
"""

import dagster as dg

from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.radio.stations import write_station_playlists
from sidflow_pipeline.search.catalog import search_songs


@dg.asset(
    deps=["sidflow_lance", "sid_catalog"],
    group_name="feedback",
    kinds={"python", "m3u", "json"},
    description="data/playlists/stations/<station>.m3u + .json for each station of recommend.stations (score parts inside).",
)
def station_playlists(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    with domain_failure():  # no database yet: one line saying how to build it
        files = write_station_playlists(
            config, lambda query: search_songs(config.layout.catalog, config.classified_path, query).rows
        )
    for f in files:
        if f.error:
            context.log.warning(f"station {f.station}: {f.error} (no playlist written)")
    summary = {
        f.station: {"songs": f.songs, "m3u": f.m3u, "json": f.json, "seconds": round(f.seconds, 3)}
        | ({"error": f.error} if f.error else {})
        for f in files
    }
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(config.layout.station_playlists_dir)),
            "stations": dg.MetadataValue.json(summary),
            "score_parts": dg.MetadataValue.json({f.station: f.parts for f in files if f.error is None}),
            "songs": sum(f.songs for f in files),
        }
    )


defs = dg.Definitions(assets=[station_playlists])
