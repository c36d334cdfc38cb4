"""One training run: gather samples, train, evaluate against the current model and the
baseline on the same held-out songs, publish only if not worse, log it.

The held-out split is by SID file (subtunes of one file are alike, so they must not
straddle the split) and by a hash of ``(seed, sid_path)``: a song stays on its side as
data grows, so today's candidate and yesterday's model are compared on songs neither
was trained on. "Worse" means a higher mean MAE over the dimensions both models were
evaluated on. Publishing is decided by :mod:`sidflow_pipeline.training.gate`: the
candidate must beat both the current model and the baseline song by song on at least
20 held-out songs (a paired test); otherwise it is not published unless ``force`` (the
old model stays and the log says why, and how many more ratings could change it).

Every training that ran records what it read (``training-inputs.jsonl``, its digest in
the log entry), so the retrain sensor can count what is new by content: see
:mod:`sidflow_pipeline.training.inputs`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import append_json_line
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.training.gate import GateResult, gate, song_errors
from sidflow_pipeline.training.inputs import count_kinds, input_ids, write_inputs
from sidflow_pipeline.training.model import (
    Metrics,
    ModelError,
    ModelSpec,
    RatingModel,
    baseline_matrix,
    create_model,
    evaluate,
    load_model,
    save_model,
    train_model,
)
from sidflow_pipeline.training.samples import Sample, build_samples, write_samples

__all__ = [
    "HOLDOUT_FRACTION",
    "TrainingData",
    "TrainingOutcome",
    "append_training_log",
    "is_held_out",
    "last_training",
    "load_training_data",
    "read_training_log",
    "run_training",
]

HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 2026


def is_held_out(sid_path: str, seed: int = SPLIT_SEED, fraction: float = HOLDOUT_FRACTION) -> bool:
    digest = hashlib.sha256(f"{seed}\0{sid_path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


@dataclass
class TrainingData:
    samples: list[Sample]
    features: dict[tuple[str, int], dict[str, float]]
    feature_set_version: str
    feedback_events: int
    manual_songs: int
    problems: list[str] = field(default_factory=list)
    # Ids of every rating entry and feedback event read (training.inputs): what the
    # retrain sensor compares with, whether or not the song had features.
    inputs: frozenset[str] = field(default_factory=frozenset)


def load_training_data(config: SidflowConfig) -> TrainingData:
    """Features (``features/*.jsonl``), manual ratings and the feedback log → samples."""
    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.feedback.log import read_config_events
    from sidflow_pipeline.jsonl import read_jsonl_rows
    from sidflow_pipeline.ratings.tags import load_all_tags

    features: dict[tuple[str, int], dict[str, float]] = {}
    problems: list[str] = []
    folder = config.layout.features_dir
    stale = 0
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        rows, bad = read_jsonl_rows(path)
        if bad:
            problems.append(f"{path}: {bad} unreadable lines skipped")
        for row in rows:
            if row.get("features") is None:
                continue
            if row.get("featureSetVersion") != FEATURE_SET_VERSION:
                stale += 1
                continue
            features[(row["sid_path"], int(row["song_index"]))] = row["features"]
    if stale:
        problems.append(f"{stale} songs have features of another feature set; rematerialize audio_features")
    tags, tag_problems = load_all_tags(config.layout.tags_roots)
    problems.extend(tag_problems)
    report = read_config_events(config)
    if report.bad_lines:
        problems.append(f"feedback log: {len(report.bad_lines)} bad lines skipped (sidflow feedback validate)")
    from sidflow_pipeline.hvsc.moves import read_moves

    moves = read_moves(config.hvsc_path) if config.hvsc_path.is_dir() else {}
    samples = build_samples(features, tags, report.events, moves)
    manual_songs = sum(1 for s in samples if s.source != "feedback")
    inputs = input_ids(tags, report.events)
    return TrainingData(samples, features, FEATURE_SET_VERSION, len(report.events), manual_songs, problems, inputs)


@dataclass
class TrainingOutcome:
    status: str  # published | rejected | no-samples | evaluated
    reason: str
    train_samples: int = 0
    test_samples: int = 0
    candidate: Metrics | None = None
    current: Metrics | None = None
    baseline: Metrics | None = None
    model: RatingModel | None = None
    log_entry: dict[str, Any] = field(default_factory=dict)
    gate: GateResult | None = None

    @property
    def published(self) -> bool:
        return self.status == "published"


def _current_model(config: SidflowConfig, feature_set_version: str) -> tuple[RatingModel | None, str | None]:
    try:
        return load_model(config.layout.model_dir, feature_set_version), None
    except ModelError as exc:
        return None, str(exc)


def run_training(
    config: SidflowConfig,
    *,
    spec: ModelSpec | None = None,
    force: bool = False,
    evaluate_only: bool = False,
    now: datetime | None = None,
    notes: str = "",
    data: TrainingData | None = None,
) -> TrainingOutcome:
    data = data or load_training_data(config)
    spec = spec or create_model()
    train = [s for s in data.samples if not is_held_out(s.sid_path)]
    test = [s for s in data.samples if is_held_out(s.sid_path)]
    current, current_problem = _current_model(config, data.feature_set_version)
    baseline = evaluate(baseline_matrix, test, data.features)
    current_metrics = evaluate(current.predict_matrix, test, data.features) if current is not None else None
    outcome = TrainingOutcome("evaluated", "", len(train), len(test), None, current_metrics, baseline)
    if evaluate_only:
        outcome.reason = "current model evaluated" if current else (current_problem or "no model yet: the baseline rates songs")
        return outcome
    write_samples(config.layout.training_samples, data.samples)
    if not data.samples:
        outcome.status, outcome.reason = "no-samples", "no training samples yet: rate songs (sidflow rate) or give feedback"
        return outcome
    model = train_model(spec, train, data.features, feature_set_version=data.feature_set_version)
    if not model.boosters:
        outcome.status = "no-samples"
        outcome.reason = f"too few samples to train any dimension ({len(train)} training songs)"
        return outcome
    candidate = evaluate(model.predict_matrix, test, data.features)
    outcome.candidate, outcome.model = candidate, model
    errors = song_errors(model.predict_matrix, test, data.features)
    references = {"baseline": song_errors(baseline_matrix, test, data.features)}
    if current is not None:
        references = {"current model": song_errors(current.predict_matrix, test, data.features), **references}
    verdict = gate(errors, references, HOLDOUT_FRACTION)
    outcome.gate = verdict
    if verdict.publish or force:
        outcome.status = "published"
        outcome.reason = "published: " + verdict.reason if verdict.publish else f"published (forced); the gate said: {verdict.reason}"
    else:
        outcome.status = "rejected"
        kept = current.metadata.get("trainedAt", "the current model") if current else "the baseline (no model yet)"
        outcome.reason = f"{verdict.reason}; kept {kept}"
    trained_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r2 = [m["r2"] for m in candidate.per_dim.values()]
    confidence = min(0.95, max(0.05, sum(r2) / len(r2))) if r2 else 0.3
    model.metadata.update(
        {
            "trainedAt": trained_at,
            "confidence": round(confidence, 3),
            "samples": {"train": len(train), "test": len(test), "feedbackEvents": data.feedback_events, "manualSongs": data.manual_songs},
            "metrics": {"heldOut": candidate.to_json(), "baseline": baseline.to_json()},
            "split": {"seed": SPLIT_SEED, "holdoutFraction": HOLDOUT_FRACTION, "by": "sid_path"},
        }
    )
    model.confidence = float(model.metadata["confidence"])
    if outcome.published:
        save_model(model, config.layout.model_dir)
    # The inputs file first, then the log entry naming its digest: a crash in between
    # leaves a mismatch, which the sensor treats as "compare counts", never as "all new".
    inputs_sha = write_inputs(config.layout.training_inputs, data.inputs)
    ratings_read, events_read = count_kinds(data.inputs)
    outcome.log_entry = {
        "modelVersion": model.metadata["modelVersion"],
        "trainedAt": trained_at,
        "featureSetVersion": data.feature_set_version,
        "samples": len(train) + len(test),
        "trainSamples": len(train),
        "testSamples": len(test),
        "feedbackEvents": data.feedback_events,
        "manualSongs": data.manual_songs,
        "inputs": {
            "count": len(data.inputs),
            "ratings": ratings_read,
            "feedbackEvents": events_read,
            "sha256": inputs_sha,
        },
        "metrics": candidate.to_json(),
        "meanMae": round(candidate.mean_mae or 0.0, 4),
        "baseline": baseline.to_json(),
        "current": current_metrics.to_json() if current_metrics else None,
        "gate": verdict.to_json(),
        "published": outcome.published,
        "reason": outcome.reason,
        "notes": notes,
    }
    append_training_log(config.layout.training_log, outcome.log_entry)
    return outcome


def append_training_log(path: Path, entry: Mapping[str, Any]) -> None:
    """Append-only, one whole line per write (the same discipline as the feedback log)."""
    append_json_line(path, dict(entry))


def read_training_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def last_training(config: SidflowConfig) -> dict[str, Any] | None:
    """The last training that ran (published or not)."""
    entries = read_training_log(config.layout.training_log)
    return entries[-1] if entries else None
