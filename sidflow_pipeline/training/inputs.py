"""What the listener has said, as a set of stable ids: the one unit "new feedback" counts.

Training and the retrain sensor must count the same thing, or "new since the last
training" drifts: a count of samples (a file-wide rating on a 10-song tune is 10) minus
a count of tags entries (1) never reaches zero, and a song without features would be
counted by one side only. So both sides use :func:`input_ids`, and compare *content*,
not counts: training records the ids it read in ``data/training/training-inputs.jsonl``
(sorted, one JSON string a line: git-friendly, append-mostly diffs) and that file's
SHA-256 in its log entry; the sensor counts the ids it sees now that are not in it.

One id per thing said:

* a feedback event → ``feedback <uuid>`` (any action; the log is uuid-deduplicated);
* a rating entry in a tags file → ``rating <sid_path>#<song or *> e=.. m=.. ..``: a
  file-wide rating is one thing said however many songs the tune has, a song's own
  entry is another. The values are part of the id, so changing a rating is new and
  re-saving the same values is not.

Whether the song has features yet does not matter: the sensor must stay cheap (it
never reads the feature files), and training records everything it read, so what it
could not use is not counted as new again and again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from sidflow_pipeline.atomic import atomic_write_text
from sidflow_pipeline.feedback.log import FeedbackEvent
from sidflow_pipeline.ratings.tags import Rating

__all__ = [
    "count_kinds",
    "dumps_inputs",
    "input_ids",
    "inputs_digest",
    "read_inputs",
    "write_inputs",
]

_RATING, _FEEDBACK = "rating ", "feedback "



def rating_id(sid_path: str, song: int | None, rating: Rating) -> str:
    values = " ".join(f"{d}={v}" for d, v in sorted(rating.values().items()))
    return f"{_RATING}{sid_path}#{'*' if song is None else song} {values}"


def input_ids(tags: Mapping[str, Mapping[int | None, Rating]], events: Iterable[FeedbackEvent]) -> frozenset[str]:
    """The ids of every rating entry in ``tags`` and every event in ``events``."""
    ids = {f"{_FEEDBACK}{event.uuid}" for event in events}
    for sid_path, ratings in tags.items():
        for song, rating in ratings.items():
            if rating.values():
                ids.add(rating_id(sid_path, song, rating))
    return frozenset(ids)


def count_kinds(ids: Iterable[str]) -> tuple[int, int]:
    """(rating entries, feedback events) among ``ids``."""
    ids = list(ids)
    return sum(1 for i in ids if i.startswith(_RATING)), sum(1 for i in ids if i.startswith(_FEEDBACK))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps_inputs(ids: Iterable[str]) -> str:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in sorted(ids))


def inputs_digest(ids: Iterable[str]) -> str:
    """SHA-256 of the canonical file text, so a stored file can be checked against a log entry."""
    return _sha(dumps_inputs(ids))


def write_inputs(path: Path, ids: Iterable[str]) -> str:
    """Write the ids atomically; returns the digest the log entry records."""
    text = dumps_inputs(ids)
    atomic_write_text(path, text)
    return _sha(text)


def read_inputs(path: Path) -> tuple[frozenset[str], str] | None:
    """``(ids, digest of the file as stored)``, or None when it is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        ids = frozenset(str(json.loads(line)) for line in text.splitlines() if line.strip())
    except (OSError, json.JSONDecodeError):
        return None
    return ids, _sha(text)
