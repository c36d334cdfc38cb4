"""Training samples: what the listener said, turned into regression targets.

* A **manual rating** (``sidflow rate``, a tags file) is a sample of weight 1.0 with a
  target for every dimension the listener set.
* **Feedback** says nothing about energy, mood or complexity — only whether the
  listener wants the song — so it becomes a target for ``p`` alone: like → 5 (weight
  0.7), dislike → 1 (0.5), skip → 2 (0.3), as the design documents weight them; a play
  to the end is neutral (weight 0) and adds nothing. A song's events are folded into
  one sample: the target is the weighted mean of its events' targets and the weight is
  their sum, capped at 1.0 so no amount of clicking outweighs an explicit rating.
* A song whose ``p`` the listener set by hand takes no ``p`` from feedback.

Samples are written to ``data/training/training-samples.jsonl`` (in git, sorted, one
per song) without features: features are derived data, joined at training time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_text
from sidflow_pipeline.feedback.log import FeedbackEvent
from sidflow_pipeline.ratings.tags import Rating, rating_for_song

__all__ = [
    "FEEDBACK_TARGETS",
    "MANUAL_WEIGHT",
    "Sample",
    "build_samples",
    "read_samples",
    "write_samples",
]

DIMENSIONS = ("e", "m", "c", "p")
MANUAL_WEIGHT = 1.0
# action → (target for p, weight)
FEEDBACK_TARGETS: dict[str, tuple[float, float]] = {"like": (5.0, 0.7), "dislike": (1.0, 0.5), "skip": (2.0, 0.3)}


@dataclass(frozen=True)
class Sample:
    sid_path: str
    song_index: int
    targets: dict[str, float]
    weights: dict[str, float]
    source: str
    events: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.sid_path, self.song_index)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sid_path": self.sid_path,
            "song_index": self.song_index,
            "source": self.source,
            "targets": self.targets,
            "weights": self.weights,
        }
        if self.events:
            out["events"] = self.events
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        return cls(
            sid_path=str(data["sid_path"]),
            song_index=int(data["song_index"]),
            targets={k: float(v) for k, v in data["targets"].items()},
            weights={k: float(v) for k, v in data["weights"].items()},
            source=str(data["source"]),
            events={k: int(v) for k, v in data.get("events", {}).items()},
        )


def _feedback_p(events: Iterable[FeedbackEvent]) -> tuple[float, float, dict[str, int]] | None:
    counts: dict[str, int] = defaultdict(int)
    total_weight = weighted = 0.0
    for event in events:
        counts[event.action] += 1
        if event.action in FEEDBACK_TARGETS:
            target, weight = FEEDBACK_TARGETS[event.action]
            total_weight += weight
            weighted += weight * target
    if total_weight == 0:
        return None
    return weighted / total_weight, min(1.0, total_weight), dict(sorted(counts.items()))


def build_samples(
    songs: Iterable[tuple[str, int]],
    tags: Mapping[str, Mapping[int | None, Rating]],
    events: Iterable[FeedbackEvent],
    moves: Mapping[str, str] | None = None,
) -> list[Sample]:
    """One sample per known song the listener said something about, in key order.

    ``songs`` are the songs with features (nothing else can be trained on); feedback
    on renamed paths follows ``moves`` (``path-moves.jsonl``).
    """
    moves = moves or {}
    known = set(songs)
    by_song: dict[tuple[str, int], list[FeedbackEvent]] = defaultdict(list)
    for event in events:
        path = moves.get("/" + event.sid_path, "/" + event.sid_path).lstrip("/")
        by_song[(path, event.song_index)].append(event)
    samples: list[Sample] = []
    for key in sorted(known):
        rating = rating_for_song(tags[key[0]], key[1]) if key[0] in tags else None
        manual = rating.values() if rating is not None else {}
        targets: dict[str, float] = {d: float(v) for d, v in manual.items()}
        weights: dict[str, float] = {d: MANUAL_WEIGHT for d in manual}
        folded = _feedback_p(by_song.get(key, ())) if "p" not in manual else None
        counts: dict[str, int] = {}
        if folded is not None:
            targets["p"], weights["p"], counts = round(folded[0], 4), round(folded[1], 4), folded[2]
        if not targets:
            continue
        source = "manual" if manual and folded is None else "feedback" if not manual else "manual+feedback"
        samples.append(Sample(key[0], key[1], dict(sorted(targets.items())), dict(sorted(weights.items())), source, counts))
    return samples


def write_samples(path: Path, samples: Iterable[Sample]) -> str:
    import hashlib
    import json

    text = "".join(json.dumps(s.to_json(), sort_keys=True, separators=(",", ":")) + "\n" for s in samples)
    atomic_write_text(path, text)
    return hashlib.sha256(text.encode()).hexdigest()


def read_samples(path: Path) -> list[Sample]:
    import json

    if not path.is_file():
        return []
    return [Sample.from_json(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
