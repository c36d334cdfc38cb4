"""Per-song feedback aggregates (likes, dislikes, skips, plays, last_played).

``plays`` counts every time a song was started — a ``play`` event (heard to the end)
or a ``skip`` (started, then skipped) — so ``(likes − dislikes − 0.3·skips) / plays``
is defined whenever a song was heard. Paths renamed by HVSC updates are mapped to
their current name (``path-moves.jsonl``), so old feedback still counts.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from sidflow_pipeline.feedback.log import ReadReport

if TYPE_CHECKING:
    from sidflow_pipeline.config import SidflowConfig

__all__ = [
    "AGGREGATE_SCHEMA",
    "SOURCE_METADATA_KEY",
    "Aggregates",
    "AggregatesUpdate",
    "aggregate_events",
    "read_aggregates",
    "read_aggregates_checksum",
    "update_aggregates",
    "write_aggregates",
]

# Parquet key-value metadata naming the log state the aggregates were computed from.
# It lives inside the one file written atomically, so counts and checksum can never
# disagree (a sidecar file could be left behind by a crash between two writes).
SOURCE_METADATA_KEY = b"sidflow.feedback_source"

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


def write_aggregates(frame: pl.DataFrame, path: Path, *, feedback_checksum: str, feedback_events: int) -> None:
    """Write the aggregates atomically, recording which log they were computed from.

    ``feedback_checksum`` must be the checksum of the very bytes the events were read
    from (:attr:`ReadReport.checksum`): ``sidflow_lance`` copies it into its manifest,
    and that is what makes a database built from old aggregates show as stale.
    """
    import pyarrow.parquet as pq

    from sidflow_pipeline.atomic import atomic_write_bytes

    table = frame.to_arrow()
    source = {"feedback_checksum": feedback_checksum, "feedback_events": feedback_events}
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), SOURCE_METADATA_KEY: json.dumps(source, sort_keys=True).encode()}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, write_statistics=False)
    atomic_write_bytes(path, buffer.getvalue())


@dataclass(frozen=True)
class Aggregates:
    """The saved aggregates and the log state they reflect.

    ``feedback_checksum`` is ``None`` when the file is missing, unreadable or was
    written before the checksum was recorded: the feedback they reflect is unknown,
    so anything built from them must count as stale.
    """

    rows: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    feedback_checksum: str | None = None
    feedback_events: int = 0


def _source(metadata: Mapping[bytes, bytes] | None) -> tuple[str | None, int]:
    """(feedback checksum, event count) recorded in the file's schema metadata."""
    try:
        source = json.loads((metadata or {}).get(SOURCE_METADATA_KEY, b"{}"))
    except json.JSONDecodeError:
        source = {}
    checksum = source.get("feedback_checksum") if isinstance(source, dict) else None
    events = source.get("feedback_events", 0) if isinstance(source, dict) else 0
    return (checksum if isinstance(checksum, str) else None), (events if isinstance(events, int) else 0)


def read_aggregates_checksum(path: Path) -> str | None:
    """The recorded feedback checksum alone, from the Parquet footer (no rows read):
    what ``sidflow verify`` needs to say which assets a stale database waits for."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return None
    try:
        return _source(pq.read_schema(path).metadata)[0]
    except (OSError, ValueError):  # pyarrow raises ArrowInvalid (a ValueError) on garbage
        return None


def read_aggregates(path: Path) -> Aggregates:
    """Rows keyed by (sid_path, song_index), plus the recorded source checksum."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return Aggregates()
    try:
        table = pq.read_table(path)
    except (OSError, ValueError):  # pyarrow raises ArrowInvalid (a ValueError) on garbage
        return Aggregates()
    checksum, events = _source(table.schema.metadata)
    rows = {(r["sid_path"], r["song_index"]): r for r in table.to_pylist()}
    return Aggregates(rows=rows, feedback_checksum=checksum, feedback_events=events)


@dataclass(frozen=True)
class AggregatesUpdate:
    """What :func:`update_aggregates` read and wrote."""

    report: ReadReport
    frame: pl.DataFrame
    path: Path


def update_aggregates(config: SidflowConfig) -> AggregatesUpdate:
    """Read the project's feedback log once, aggregate it per song (renamed tunes under
    their current path) and write ``feedback-aggregates.parquet`` with the checksum of
    exactly the bytes read: what `feedback_aggregates` materializes."""
    from sidflow_pipeline.feedback.log import read_config_events
    from sidflow_pipeline.hvsc.moves import read_moves

    report = read_config_events(config)
    frame = aggregate_events(report, read_moves(config.hvsc_path))
    path = config.layout.feedback_aggregates
    write_aggregates(frame, path, feedback_checksum=report.checksum, feedback_events=len(report.events))
    return AggregatesUpdate(report, frame, path)
