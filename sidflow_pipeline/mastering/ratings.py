"""The mastering ratings log: ``<dataPath>/mastering-feedback/ratings.jsonl``.

Canonical, append-only data, like the listening feedback log: the CLI and the radio
may append at the same time, so every append takes an exclusive ``flock`` and
writes one whole line with one ``write`` call; a line left without its newline by
a killed writer is closed before ours is added. Readers never trust a line: broken
ones are skipped and counted.

One line per rating (keys sorted):

``timestamp``           UTC, ISO 8601 with milliseconds and ``Z``
``file``                the rated track (absolute path)
``mastered_file``       the ``master apply`` output that was listened to, or null
``rating``              1–5
``comment``             free text or null (``analyze`` reads it)
``detected_type``       the recording type whose profile was applied
``confidence``          the detector's confidence (0–1; 1 when the type was forced)
``profile_version``     e.g. ``"1.0"``
``fingerprint``         the source's fingerprint, every field with its unit
``parameters_applied``  every profile number by dotted path (``eq.bass.gain_db`` …)
``hints``               the SID hints given to the detector
``uuid``                identifies the line (duplicates after merging logs)
"""

from __future__ import annotations

import json
import uuid as uuid_module
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import append_json_line
from sidflow_pipeline.mastering.errors import RatingsError

__all__ = ["RATINGS_FILE", "RATING_KEYS", "append_rating", "read_ratings", "timestamp"]

RATINGS_FILE = "ratings.jsonl"
RATING_KEYS = (
    "comment",
    "confidence",
    "detected_type",
    "file",
    "fingerprint",
    "hints",
    "mastered_file",
    "parameters_applied",
    "profile_version",
    "rating",
    "timestamp",
    "uuid",
)


def timestamp(when: datetime | None = None) -> str:
    stamp = when or datetime.now(UTC)
    stamp = stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _check(entry: dict[str, Any]) -> None:
    missing = [key for key in RATING_KEYS if key not in entry]
    if missing:
        raise RatingsError(f"rating entry lacks '{missing[0]}'")
    rating = entry["rating"]
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise RatingsError(f"rating must be a whole number 1..5, got {json.dumps(rating)}")


def append_rating(feedback_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one complete entry (see the module docstring) under an exclusive lock;
    returns it as written (with its ``uuid``)."""
    entry = {"uuid": str(uuid_module.uuid4()), **entry}
    _check(entry)
    append_json_line(Path(feedback_dir) / RATINGS_FILE, entry)
    return entry


def read_ratings(feedback_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """Every valid entry in file order, and how many lines were skipped as broken."""
    path = Path(feedback_dir) / RATINGS_FILE
    if not path.is_file():
        return [], 0
    entries: list[dict[str, Any]] = []
    skipped = 0
    seen: set[str] = set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict):
                    raise RatingsError("not an object")
                _check(entry)
            except (json.JSONDecodeError, RatingsError):
                skipped += 1
                continue
            if entry["uuid"] in seen:
                continue
            seen.add(entry["uuid"])
            entries.append(entry)
    return entries, skipped
