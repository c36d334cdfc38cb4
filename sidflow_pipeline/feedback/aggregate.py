"""Per-song feedback aggregates (likes, dislikes, skips, plays, last_played).

``plays`` counts every time a song was started — a ``play`` event (heard to the end)
or a ``skip`` (started, then skipped) — so ``(likes − dislikes − 0.3·skips) / plays``
is defined whenever a song was heard. Paths renamed by HVSC updates are mapped to
their current name (``path-moves.jsonl``), so old feedback still counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from sidflow_pipeline.feedback.log import ReadReport

__all__ = ["AGGREGATE_SCHEMA", "aggregate_events"]

AGGREGATE_SCHEMA = {
    "sid_path": pl.String(),
    "song_index": pl.Int32(),
    "likes": pl.Int32(),
    "dislikes": pl.Int32(),
    "skips": pl.Int32(),
    "plays": pl.Int32(),
    "last_played": pl.String(),
}


def aggregate_events(report: ReadReport, moves: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One row per song with feedback, sorted by (sid_path, song_index)."""
    moves = moves or {}
    rows = [
        {
            "sid_path": moves.get("/" + e.sid_path, "/" + e.sid_path).lstrip("/"),
            "song_index": e.song_index,
            "action": e.action,
            "ts": e.ts,
        }
        for e in report.events
    ]
    if not rows:
        return pl.DataFrame(schema=AGGREGATE_SCHEMA)
    frame = pl.DataFrame(rows, schema={"sid_path": pl.String(), "song_index": pl.Int32(), "action": pl.String(), "ts": pl.String()})
    started = pl.col("action").is_in(["play", "skip"])
    out = frame.group_by(["sid_path", "song_index"]).agg(
        (pl.col("action") == "like").sum().cast(pl.Int32).alias("likes"),
        (pl.col("action") == "dislike").sum().cast(pl.Int32).alias("dislikes"),
        (pl.col("action") == "skip").sum().cast(pl.Int32).alias("skips"),
        started.sum().cast(pl.Int32).alias("plays"),
        pl.col("ts").filter(started).max().alias("last_played"),
    )
    return out.sort(["sid_path", "song_index"]).select(list(AGGREGATE_SCHEMA))


def write_aggregates(frame: pl.DataFrame, path: Path) -> None:
    from sidflow_pipeline.atomic import atomic_write_bytes
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer, statistics=False)
    atomic_write_bytes(path, buffer.getvalue())
