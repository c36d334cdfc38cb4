"""Whether the database matches its sources (the asset check and ``sidflow verify``).

The manifest's ``feedback`` checksum names the log state the *aggregates* were
computed from (``sidflow_lance`` copies it from ``feedback-aggregates.parquet``), not
the log on disk at build time. So new feedback keeps the database stale until both
``feedback_aggregates`` and ``sidflow_lance`` are rebuilt, and the fix we print says
which of the two is behind.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sidflow_pipeline.checksum import tree_checksum
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.errors import fix_command
from sidflow_pipeline.feedback.aggregate import read_aggregates_checksum
from sidflow_pipeline.feedback.log import log_checksum
from sidflow_pipeline.lance.build import TABLE_NAME, read_manifest

__all__ = [
    "LanceStatus",
    "classified_checksum",
    "lance_status",
]

Status = Literal["ok", "missing", "stale", "corrupt"]


def classified_checksum(config: SidflowConfig) -> str:
    """sha256 over every `classified/*.jsonl` section, as the manifest records it."""
    files = sorted(config.classified_path.glob("*.jsonl")) if config.classified_path.is_dir() else []
    return tree_checksum(files, config.classified_path)


@dataclass(frozen=True)
class LanceStatus:
    """One verdict on the database: ``state``, a one-line ``detail`` and the ``fix`` command."""

    state: Status
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _read_all_rows(db_path: Path) -> int:
    """Read every column of every row: opening a table only reads its manifest, so a
    truncated or garbled data file would go unnoticed until a query hit it."""
    import lancedb

    table = lancedb.connect(str(db_path)).open_table(TABLE_NAME)
    return int(table.to_arrow().num_rows)


def lance_status(config: SidflowConfig) -> LanceStatus:
    """Shared by the asset check and ``sidflow verify``: missing, stale, corrupt or ok."""
    rebuild = fix_command("sidflow_lance")
    layout = config.layout
    manifest = read_manifest(layout.lance_manifest)
    if manifest is None:
        return LanceStatus("missing", f"no {layout.lance_manifest.name}: materialize sidflow_lance", rebuild)
    recorded = manifest.get("source_checksums") or {}
    stale: list[str] = []
    fix_assets: list[str] = []
    if recorded.get("classified") != classified_checksum(config):
        stale.append("classified")
    log_now = log_checksum(layout.feedback_dir)
    if recorded.get("feedback") != log_now:
        stale.append("feedback")
        if read_aggregates_checksum(layout.feedback_aggregates) != log_now:
            fix_assets.append("feedback_aggregates")
    if stale:
        fix_assets.append("sidflow_lance")
        behind = " and ".join(fix_assets)
        return LanceStatus(
            "stale",
            f"stale: {', '.join(stale)} changed since the database was built; rematerialize {behind}",
            fix_command(*fix_assets),
        )
    try:
        count = _read_all_rows(layout.lance_db)
    except Exception as exc:  # any failure to read is "corrupt" to the user
        reason = str(exc).splitlines()[0][:120] if str(exc) else ""
        return LanceStatus(
            "corrupt",
            f"corrupt: database {layout.lance_db} cannot be read ({type(exc).__name__}: {reason}); "
            "delete it and rematerialize sidflow_lance",
            f"rm -rf {shlex.quote(str(layout.lance_db))} && {rebuild}",
        )
    if count != manifest.get("record_count"):
        return LanceStatus(
            "corrupt",
            f"corrupt: database has {count} rows, manifest says {manifest.get('record_count')}; rematerialize sidflow_lance",
            rebuild,
        )
    return LanceStatus("ok", f"{count} songs; sources match the manifest")

