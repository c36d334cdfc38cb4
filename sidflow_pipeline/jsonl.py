"""Canonical JSONL rows: what features, classified sections and training all read and write.

One spelling of a row (sorted keys, no spaces, UTF-8) is what makes two runs give
byte-identical files; a reader that skips and counts broken lines lets a hand-edited
or torn file cost a warning, not a run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_text

__all__ = ["dumps_row", "read_jsonl_rows", "write_jsonl_rows"]


def dumps_row(row: Mapping[str, Any]) -> str:
    """One canonical JSONL line: sorted keys, no spaces, stable float repr."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_jsonl_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> str:
    """Write rows atomically; return the sha256 of the file (asset metadata)."""
    text = "".join(dumps_row(row) + "\n" for row in rows)
    atomic_write_text(path, text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_jsonl_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Rows of a JSONL file, skipping (and counting) broken lines."""
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.is_file():
        return rows, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(value, dict):
            rows.append(value)
        else:
            bad += 1
    return rows, bad
