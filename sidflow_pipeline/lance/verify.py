"""Where the feedback/database files live, and whether the database matches its sources."""

from __future__ import annotations

from pathlib import Path

from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.feedback.log import iter_log_files
from sidflow_pipeline.lance.build import MANIFEST_NAME, read_manifest, source_checksum

__all__ = ["aggregates_path", "check_lance_manifest", "current_sources", "feedback_root", "lance_path"]


def feedback_root(config: SidflowConfig) -> Path:
    return config.data_path / "feedback"


def aggregates_path(config: SidflowConfig) -> Path:
    return config.data_path / "feedback-aggregates.parquet"


def lance_path(config: SidflowConfig) -> Path:
    return config.data_path / "sidflow.lance"


def current_sources(config: SidflowConfig) -> dict[str, str]:
    """Checksums of the canonical inputs of the database, as the manifest records them."""
    classified_files = sorted(config.classified_path.glob("*.jsonl")) if config.classified_path.is_dir() else []
    return {
        "classified": source_checksum(classified_files, config.classified_path),
        "feedback": source_checksum(list(iter_log_files(feedback_root(config))), feedback_root(config)),
    }


def check_lance_manifest(config: SidflowConfig) -> tuple[bool, str]:
    """(ok, detail) — shared by the asset check and ``sidflow verify``."""
    manifest = read_manifest(config.data_path / MANIFEST_NAME)
    if manifest is None:
        return False, f"no {MANIFEST_NAME}: materialize sidflow_lance"
    current = current_sources(config)
    stale = [name for name, value in current.items() if manifest.get("source_checksums", {}).get(name) != value]
    if stale:
        return False, f"stale: {', '.join(stale)} changed since the database was built; rematerialize sidflow_lance"
    try:
        import lancedb

        count = lancedb.connect(str(lance_path(config))).open_table("songs").count_rows()
    except Exception as exc:  # any failure to open is "corrupt" to the user
        return False, f"database {lance_path(config)} cannot be opened ({type(exc).__name__}); delete it and rematerialize sidflow_lance"
    if count != manifest.get("record_count"):
        return False, f"database has {count} rows, manifest says {manifest.get('record_count')}; rematerialize sidflow_lance"
    return True, f"{count} songs; sources match the manifest"
