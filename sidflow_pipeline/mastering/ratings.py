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
``mastered``            whether the audio listened to was mastered (false: the source itself)
``rating``              1–5
``comment``             free text or null (``analyze`` reads it)
``detected_type``       the recording type whose profile was applied (unmastered: the
                        type detected, whose profile was *not* applied)
``confidence``          the detector's confidence (0–1; 1 when the type was forced)
``profile_version``     e.g. ``"1.0"``; null when nothing was applied
``fingerprint``         the source's fingerprint, every field with its unit
``parameters_applied``  every profile number by dotted path (``eq.bass.gain_db`` …); null
                        when nothing was applied
``hints``               the SID hints given to the detector
``uuid``                identifies the line (duplicates after merging logs)

``mastered`` arrived after the first lines were written. Older lines lack it, and
their unmastered ratings carry the *current* profile's version and parameters as if
they had been applied; :func:`is_mastered` reads such a line as mastered only when it
names a ``mastered_file`` (the only way those writers recorded a mastered listen), so
old logs keep loading and stop claiming a profile they never heard.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import append_json_line
from sidflow_pipeline.layout import MASTERING_RATINGS
from sidflow_pipeline.mastering.errors import RatingsError

__all__ = ["RATING_KEYS", "append_rating", "is_mastered", "read_ratings", "timestamp"]

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


def is_mastered(entry: dict[str, Any]) -> bool:
    """Was the rated audio mastered with the entry's profile version?

    Only such ratings may steer that profile. Lines written before ``mastered``
    existed are mastered exactly when they name a ``mastered_file``.
    """
    if "mastered" in entry:
        return entry["mastered"] is True
    return entry.get("mastered_file") is not None and entry.get("profile_version") is not None


def _check(entry: dict[str, Any]) -> None:
    missing = [key for key in RATING_KEYS if key not in entry]
    if missing:
        raise RatingsError(f"rating entry lacks '{missing[0]}'")
    rating = entry["rating"]
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise RatingsError(f"rating must be a whole number 1..5, got {json.dumps(rating)}")
    mastered = entry.get("mastered")
    if mastered is not None and not isinstance(mastered, bool):
        raise RatingsError(f"'mastered' must be true or false, got {json.dumps(mastered)}")
    if mastered and entry["profile_version"] is None:
        raise RatingsError("a mastered rating needs the 'profile_version' that was applied")


def append_rating(feedback_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one complete entry (see the module docstring) under an exclusive lock;
    returns it as written (with its ``uuid``). Without ``mastered``, the entry is
    mastered when it names a ``mastered_file`` (as :func:`is_mastered` reads old lines)."""
    entry = {"uuid": str(uuid_module.uuid4()), **entry}
    if "mastered" not in entry:
        entry["mastered"] = is_mastered(entry)
    _check(entry)
    append_json_line(Path(feedback_dir) / MASTERING_RATINGS, entry)
    return entry


def read_ratings(feedback_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """Every valid entry in file order, and how many lines were skipped as broken."""
    path = Path(feedback_dir) / MASTERING_RATINGS
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
