"""The HVSC move log (``path-moves.jsonl`` beside the tree): old → current path of
every renamed tune. Its own small module, with no archive or HTTP imports, because the
CLI reads it on every recommendation (feedback given before a rename still counts) and
``sidflow_pipeline.hvsc.sync`` costs ~150 ms to import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from sidflow_pipeline.layout import PATH_MOVES

__all__ = ["compose_moves", "read_moves"]


def compose_moves(moves: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Old → newest path, following chains (a → b in one update, b → c in the next)."""
    mapping: dict[str, str] = {}
    for old, new in moves:
        if old.lower().startswith("/update/"):
            continue
        for key, value in mapping.items():
            if value == old:
                mapping[key] = new
        mapping[old] = new
    return mapping


def read_moves(hvsc_path: Path) -> dict[str, str]:
    """Every tune ever moved by an update script: old → current HVSC path."""
    path = hvsc_path / PATH_MOVES
    pairs: list[tuple[str, str]] = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                pairs.append((str(record["from"]), str(record["to"])))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return compose_moves(pairs)
