"""Is DuckDB the better tool for the feedback aggregation?

``feedback_aggregates`` reads the JSONL log with :func:`read_events` (every line
validated like ``sidflow feedback validate``, duplicates dropped by uuid, the bytes
hashed for the checksum the database manifest records) and groups the events with
polars (:func:`aggregate_events`). This generates a log of N events (default 200,000
over a year of day files, 5,000 songs, 1 % of the lines repeated, as when two devices' logs are merged) and times, median of
``--repeat`` runs:

* ``read_events``: the Python parse + validation + checksum pass (kept in every variant);
* the group-by in polars (today) and the same group-by in DuckDB over the parsed events;
* DuckDB doing the whole job from the raw files (``read_json`` + uuid dedup + group-by):
  the most DuckDB could save, though it skips the per-line validation, the bad-line
  report and the checksum of the bytes read.

The DuckDB results are checked equal to the polars ones before anything is reported.

    .venv/bin/python -m bench.feedback_aggregate [--events 200000] [--repeat 3]

Prints a table and writes ``bench/out/feedback_aggregate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from sidflow_pipeline.feedback.aggregate import AGGREGATE_SCHEMA, aggregate_events
from sidflow_pipeline.feedback.log import ReadReport, day_file, read_events
from sidflow_pipeline.layout import FEEDBACK_DAY_FILE, FEEDBACK_DIR

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SEED = 17
ACTIONS = ("play", "play", "play", "skip", "skip", "like", "dislike")

_GROUP_SQL = """
    SELECT sid_path, CAST(song_index AS INTEGER) AS song_index,
           CAST(count(*) FILTER (WHERE action = 'like') AS INTEGER) AS likes,
           CAST(count(*) FILTER (WHERE action = 'dislike') AS INTEGER) AS dislikes,
           CAST(count(*) FILTER (WHERE action = 'skip') AS INTEGER) AS skips,
           CAST(count(*) FILTER (WHERE action IN ('play', 'skip')) AS INTEGER) AS plays,
           max(ts) FILTER (WHERE action IN ('play', 'skip')) AS last_played
    FROM {source}
    GROUP BY sid_path, song_index
    ORDER BY sid_path, song_index
"""


def write_log(root: Path, events: int, songs: int = 5000) -> None:
    """``events`` lines in the format ``append_event`` writes, spread over 365 day files."""
    rng = random.Random(SEED)
    start = datetime(2025, 1, 1, tzinfo=UTC)  # all in the past: a future timestamp is an invalid line
    paths = [f"MUSICIANS/C/Composer_{i % 400:03d}/Tune_{i:05d}.sid" for i in range(songs)]
    by_day: dict[Path, list[str]] = {}
    written: list[str] = []
    for n in range(events):
        when = start + timedelta(seconds=n * (365 * 86400 // events))
        if written and rng.random() < 0.01:  # the same event merged in from a second device
            line = rng.choice(written)
        else:
            line = json.dumps(
                {
                    "action": rng.choice(ACTIONS),
                    "sid_path": rng.choice(paths),
                    "song_index": 1 + rng.randrange(3),
                    "ts": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                    "uuid": f"{rng.getrandbits(128):032x}",
                }
            )
            written.append(line)
        by_day.setdefault(day_file(root, when), []).append(line)
    for path, lines in by_day.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def duckdb_group(report: ReadReport) -> pl.DataFrame:
    """The same aggregation as :func:`aggregate_events` (no moves), in DuckDB."""
    events = pa.table(
        {
            "sid_path": [e.sid_path for e in report.events],
            "song_index": pa.array([e.song_index for e in report.events], type=pa.int32()),
            "action": [e.action for e in report.events],
            "ts": [e.ts for e in report.events],
        }
    )
    with duckdb.connect() as con:
        con.register("events", events)
        return con.sql(_GROUP_SQL.format(source="events")).pl().cast(AGGREGATE_SCHEMA)


def duckdb_whole(root: Path) -> pl.DataFrame:
    """Raw files → aggregates in DuckDB: one row per uuid (repeats are identical lines), then the group-by."""
    pattern = str(root / "*" / "*" / "*" / FEEDBACK_DAY_FILE)
    source = f"""(
        SELECT any_value(action) AS action, any_value(sid_path) AS sid_path,
               any_value(song_index) AS song_index, any_value(ts) AS ts
        FROM read_json('{pattern}', format = 'newline_delimited',
                       columns = {{action: 'VARCHAR', sid_path: 'VARCHAR', song_index: 'INTEGER',
                                   ts: 'VARCHAR', uuid: 'VARCHAR'}})
        GROUP BY uuid
    )"""
    with duckdb.connect() as con:
        return con.sql(_GROUP_SQL.format(source=source)).pl().cast(AGGREGATE_SCHEMA)


def _median(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT / "feedback_aggregate.json")
    args = parser.parse_args(argv)
    console = Console()

    with tempfile.TemporaryDirectory(prefix="sidflow-bench-feedback-") as tmp:
        root = Path(tmp) / FEEDBACK_DIR
        write_log(root, args.events)
        size = sum(p.stat().st_size for p in root.rglob(FEEDBACK_DAY_FILE))
        read_s, report = _median(lambda: read_events(root), args.repeat)
        polars_s, expected = _median(lambda: aggregate_events(report), args.repeat)
        group_s, grouped = _median(lambda: duckdb_group(report), args.repeat)
        whole_s, whole = _median(lambda: duckdb_whole(root), args.repeat)
    if not grouped.equals(expected) or not whole.equals(expected):
        console.print("[red]DuckDB and polars aggregates differ[/]")
        return 2

    rows = [
        ("read_events (parse, validate, dedup, checksum)", read_s, "kept by every variant"),
        ("group-by: polars (today)", polars_s, ""),
        ("group-by: DuckDB over the parsed events", group_s, ""),
        ("today: read_events + polars", read_s + polars_s, ""),
        ("DuckDB from the raw files (no validation/checksum)", whole_s, "not equivalent"),
    ]
    table = Table(
        title=f"feedback aggregation: {len(report.events):,} events ({report.duplicates:,} duplicates), "
        f"{size / 2**20:.1f} MiB JSONL, {expected.height:,} songs; median of {args.repeat}"
    )
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("note")
    for name, seconds, note in rows:
        table.add_row(name, f"{seconds:.3f}", note)
    console.print(table)

    report_json = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_average": list(os.getloadavg())},
        "settings": {"events": args.events, "repeat": args.repeat},
        "log": {"events": len(report.events), "duplicates": report.duplicates, "bytes": size, "songs": expected.height},
        "seconds": {
            "read_events": round(read_s, 4),
            "polars_group_by": round(polars_s, 4),
            "duckdb_group_by": round(group_s, 4),
            "duckdb_whole": round(whole_s, 4),
        },
        "versions": {"duckdb": duckdb.__version__, "polars": pl.__version__},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report_json, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
