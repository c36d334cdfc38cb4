"""``classified`` rows: ratings per song, manual where the listener spoke, predicted elsewhere.

Schema (one JSON object per line, keys sorted)::

    {"sid_path": "MUSICIANS/H/Hubbard_Rob/Delta.sid", "song_index": 1,
     "ratings": {"e": 3.42, "m": 4, "c": 2.9, "p": 3.0},
     "sources": {"e": "predicted", "m": "manual", "c": "predicted", "p": "predicted"},
     "confidence": 0.3, "predictor": "baseline-1", "featureSetVersion": "...",
     "features": {...}}

Manual ratings always win, dimension by dimension; they are integers, predictions are
rounded to two decimals. ``confidence`` is the predictor's; a song whose every
dimension is manual has confidence 1.0. Songs that could not be rendered and have no
manual rating are left out (the asset reports how many).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.classify.predict import DIMENSIONS, BaselinePredictor, Predictor, check_feature_sets
from sidflow_pipeline.jsonl import dumps_row
from sidflow_pipeline.layout import AUTO_TAGS_FILE
from sidflow_pipeline.ratings.tags import Rating

__all__ = ["auto_tags", "classify_rows", "write_auto_tags"]


def classify_rows(
    feature_rows: Sequence[Mapping[str, Any]],
    manual: Mapping[tuple[str, int], Rating],
    predictor: Predictor | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """``(classified rows, songs left out)`` in ``(sid_path, song_index)`` order.

    Raises :class:`FeatureSetMismatchError` before predicting anything when a trained
    model meets rows of another feature set (all or nothing: no half-classified file).
    """
    predictor = predictor or BaselinePredictor()
    check_feature_sets(feature_rows, predictor)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for row in sorted(feature_rows, key=lambda r: (r["sid_path"], r["song_index"])):
        key = (row["sid_path"], int(row["song_index"]))
        features = row.get("features")
        rating = manual.get(key)
        given = rating.values() if rating is not None else {}
        if features is None and not given:
            skipped += 1
            continue
        if features is not None:
            predicted, confidence = predictor.predict(features)
        else:
            predicted, confidence = {d: 3.0 for d in DIMENSIONS}, 0.0
        ratings: dict[str, float | int] = {}
        sources: dict[str, str] = {}
        for dim in DIMENSIONS:
            if dim in given:
                ratings[dim], sources[dim] = given[dim], "manual"
            else:
                ratings[dim], sources[dim] = predicted[dim], "predicted"
        all_manual = all(s == "manual" for s in sources.values())
        rows.append(
            {
                "sid_path": key[0],
                "song_index": key[1],
                "ratings": ratings,
                "sources": sources,
                "confidence": 1.0 if all_manual else round(confidence, 3),
                "predictor": predictor.name,
                "featureSetVersion": row.get("featureSetVersion"),
                "features": features,
            }
        )
    return rows, skipped


def auto_tags(rows: Iterable[Mapping[str, Any]], depth: int) -> dict[str, dict[str, Any]]:
    """Predicted ratings grouped by folder (the first ``depth`` folders of the path).

    Only predicted dimensions appear: manual ratings already live in the tags files.
    Keys inside a folder are ``<path below the folder>#<song>``.
    """
    folders: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        parts = row["sid_path"].split("/")
        folder = "/".join(parts[: min(depth, len(parts) - 1)])
        predicted = {d: v for d, v in row["ratings"].items() if row["sources"][d] == "predicted"}
        if not predicted:
            continue
        rel = "/".join(parts[min(depth, len(parts) - 1) :])
        folders[folder][f"{rel}#{row['song_index']}"] = {**predicted, "source": "auto"}
    return {f: dict(sorted(v.items())) for f, v in sorted(folders.items())}


def write_auto_tags(root: Path, rows: Iterable[Mapping[str, Any]], depth: int) -> int:
    """Write ``<root>/<folder>/auto-tags.json`` files; returns how many were written."""
    written = 0
    for folder, entries in auto_tags(rows, depth).items():
        target = root / folder / AUTO_TAGS_FILE if folder else root / AUTO_TAGS_FILE
        atomic_write_json(target, entries)
        written += 1
    return written


def dumps_classified(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(dumps_row(r) + "\n" for r in rows)
