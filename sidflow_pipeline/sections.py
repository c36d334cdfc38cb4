"""HVSC sections as static partitions.

A whole collection is then a backfill, Dagster's multiprocess executor runs sections
side by side, and re-running one section replaces exactly that section's files. The
keys follow HVSC's own folders so a user reads them as places in the collection.
"""

from __future__ import annotations

import string

__all__ = ["OTHER", "PARTITION_KEYS", "partition_file_stem", "partition_of"]

OTHER = "OTHER"
_RANGES = ("0-9", "A-F", "G-L", "M-R", "S-Z")
PARTITION_KEYS: tuple[str, ...] = (
    *(f"MUSICIANS/{c}" for c in ("0-9", *string.ascii_uppercase)),
    *(f"GAMES/{r}" for r in _RANGES),
    *(f"DEMOS/{r}" for r in (*_RANGES, "UNKNOWN")),
    OTHER,
)
_KNOWN = {key.upper(): key for key in PARTITION_KEYS}


def partition_of(sid_path: str) -> str:
    """The partition of an HVSC path such as ``MUSICIANS/H/Hubbard_Rob/Delta.sid``."""
    parts = sid_path.lstrip("/").split("/")
    if len(parts) >= 3:
        return _KNOWN.get(f"{parts[0]}/{parts[1]}".upper(), OTHER)
    return OTHER


def partition_file_stem(key: str) -> str:
    """``GAMES/A-F`` → ``GAMES_A-F`` for flat ``classified/*.jsonl`` file names."""
    return key.replace("/", "_")
