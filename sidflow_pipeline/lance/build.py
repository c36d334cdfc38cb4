"""The LanceDB database ``sidflow.lance`` (table ``songs``): derived, rebuilt at will.

Built from ``classified/*.jsonl`` (ratings + features), the feedback aggregates, the
catalog (titles, composers) and the ``traceSketch`` of the ``audio_features`` rows. The binary table is not in git; its manifest
``sidflow.lance.manifest.json`` is, and records the sha256 of the sources so anyone
can tell whether their database matches the canonical data. Rows are written in key
order with the same values for the same inputs, so two rebuilds answer every query
identically.

``mood_vector`` repeats ``[e, m, c]`` so that a mood query (which says nothing about
preference) is searched in its own space instead of padding ``p`` with a guess.
``similarity_vector`` is for "more like this" (``--like``, searched by cosine). It
replaced ``audio_vector`` (12 audio summary statistics: nDCG@10 0.106 for "same
composer" on 40 unseen HVSC composers), because C64 composers are told apart by how
they *play* the SID — their own player routines, instruments and frequency tables —
which the register trace shows directly and the mixed audio only blurs. Built by
:mod:`sidflow_pipeline.lance.similarity` (steps and formulas there; every centre,
scale, weight and sketch mean is in the manifest under ``similarity_vector``):

* **Which features.** Three views, each for a reason: (1) the audio features that
  describe the music (not ``energy``/``rms``, which repeat loudness, nor ``duration``,
  the excerpt's length) as *one* group, since all come from one STFT of the same mix;
  (2) the overall SID-trace features in 7 groups (waveforms, envelope, modulation,
  pitch, rhythm, filter, player) — the per-voice ones stay out: which voice carries
  the bass is arrangement, and the overall ones already summarise it; (3) the player
  fingerprint (``traceSketch``): 13 families of exact register events hashed into 128
  buckets each — instruments, wavetables, hard restarts, note programs, update
  patterns, pulse and filter steps, arpeggio intervals, the tuning of the frequency
  table. The first two describe what is played, the third *whose routine plays it*.
* **Normalisation.** Numeric features: ``log1p`` of rates, robust z-score (median,
  IQR/1.349 over the collection being built) clipped to ±3, a missing value (no trace)
  at the median. Fingerprint: √share minus the collection mean, unit length per family.
* **Weighting, by one rule with no fitted constant:** every group and family weighs
  the same (numeric features ``1/sqrt(group size)``, so a group's expected norm is 1;
  each fingerprint family has norm 1). Then ZCA whitening of the numeric part with the
  covariance shrunk halfway to the identity, so features measuring one thing twice do
  not count twice. No label was used: the vector is fitted (unsupervised) on whatever
  collection is built and is re-measured on composers nobody tuned it on.
* **Stored width.** The full vector has 1,745 numbers; LanceDB's flat search costs
  ~0.65 ms per dimension at 100,000 songs, so the column holds its 64 principal
  components over the collection (``--like`` p95 ~60 ms instead of ~1 s).
* **Measured** with ``bench/similarity.py`` on 30 composers × 8 tunes (README table),
  nDCG@10 of "same composer": before 0.112, all audio 0.141, trace summary 0.284,
  fingerprint 0.453, all three 0.471 full / **0.467 ± 0.019 stored (64)**.
  Tried and not chosen: flat per-feature weights (0.330: 81 numeric columns drown
  the fingerprint), audio as four groups (0.457), no whitening (0.451), shrinkage
  0.2 (0.469), no ``log1p`` (0.463). Most of the gain is the fingerprint; the
  choices among the rest are within two standard errors and were made for the reasons
  above, not for their last digit.
* **Without traces** (``render.backend = sidplayfp``) the trace part is missing and
  the vector falls back to the audio view (0.137).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sidflow_pipeline.atomic import recover_interrupted_swap, swap_directory
from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.lance.similarity import fit_transform

__all__ = [
    "SCHEMA_VERSION",
    "TABLE_NAME",
    "BuildResult",
    "DatabaseBuildError",
    "build_database",
    "read_manifest",
    "songs_schema",
]

TABLE_NAME = "songs"
# 2.0: audio_vector (12 audio features) replaced by similarity_vector (audio + SID trace).
SCHEMA_VERSION = "2.0"


def songs_schema() -> pa.Schema:
    from sidflow_pipeline.lance.similarity import DEFAULT_SPEC

    return pa.schema(
        [
            ("key", pa.string()),
            ("sid_path", pa.string()),
            ("song_index", pa.int32()),
            ("vector", pa.list_(pa.float32(), 4)),
            ("mood_vector", pa.list_(pa.float32(), 3)),
            ("similarity_vector", pa.list_(pa.float32(), DEFAULT_SPEC.dimension)),
            ("e", pa.float32()),
            ("m", pa.float32()),
            ("c", pa.float32()),
            ("p", pa.float32()),
            ("bpm", pa.float32()),
            ("duration", pa.float32()),
            ("composer", pa.string()),
            ("title", pa.string()),
            ("features", pa.string()),
            ("rated", pa.bool_()),
            ("likes", pa.int32()),
            ("dislikes", pa.int32()),
            ("skips", pa.int32()),
            ("plays", pa.int32()),
            ("last_played", pa.string()),
        ]
    )


class DatabaseBuildError(SidflowError, RuntimeError):
    """A build that failed (a full disk, say) and left the previous database as it was;
    ``str()`` is one line naming the database and the reason."""


@dataclass(frozen=True)
class BuildResult:
    record_count: int
    manifest: dict[str, Any]
    seconds: float


def build_database(
    db_path: Path,
    classified: Sequence[Mapping[str, Any]],
    aggregates: Mapping[tuple[str, int], Mapping[str, Any]],
    names: Mapping[tuple[str, int], tuple[str, str]],
    *,
    sources: Mapping[str, str],
    feedback_events: int,
    now: datetime | None = None,
    sketches: Mapping[tuple[str, int], Mapping[str, Any] | None] | None = None,
) -> BuildResult:
    """Write the ``songs`` table (a fresh database swapped in) and return the manifest for it.

    ``names`` maps a song to (composer, title); ``sources`` are the checksums of the
    canonical inputs (classified, feedback) that the manifest records; ``sketches``
    maps a song to its ``traceSketch`` (from the ``audio_features`` rows; derived from
    the same renders as the classified features, so it needs no checksum of its own:
    a change there comes with a new feature set, which changes ``classified``).
    """
    import time

    import lancedb

    started = time.perf_counter()
    rows = sorted(classified, key=lambda r: (r["sid_path"], int(r["song_index"])))
    sketch_of = sketches or {}
    row_sketches = [sketch_of.get((row["sid_path"], int(row["song_index"]))) for row in rows]
    row_features = [row.get("features") for row in rows]
    similarity, similarity_vectors = fit_transform(row_features, sketches=row_sketches)
    columns: dict[str, list[Any]] = {field.name: [] for field in songs_schema()}
    for row in rows:
        key = (row["sid_path"], int(row["song_index"]))
        ratings = row["ratings"]
        features = row.get("features") or {}
        feedback = aggregates.get(key, {})
        composer, title = names.get(key, ("", ""))
        vector = [float(ratings[d]) for d in ("e", "m", "c", "p")]
        columns["key"].append(f"{key[0]}#{key[1]}")
        columns["sid_path"].append(key[0])
        columns["song_index"].append(key[1])
        columns["vector"].append(vector)
        columns["mood_vector"].append(vector[:3])
        for dim, value in zip(("e", "m", "c", "p"), vector, strict=True):
            columns[dim].append(value)
        columns["bpm"].append(float(features.get("bpm", 0.0)))
        columns["duration"].append(float(features.get("duration", 0.0)))
        columns["composer"].append(composer)
        columns["title"].append(title)
        columns["features"].append(json.dumps(features, sort_keys=True, separators=(",", ":")))
        columns["rated"].append(any(source == "manual" for source in (row.get("sources") or {}).values()))
        for name in ("likes", "dislikes", "skips", "plays"):
            columns[name].append(int(feedback.get(name, 0) or 0))
        columns["last_played"].append(feedback.get("last_played"))
    width = similarity_vectors.shape[1] if rows else songs_schema().field("similarity_vector").type.list_size
    flat = pa.array(similarity_vectors.reshape(-1).astype("float32"), type=pa.float32())
    columns["similarity_vector"] = pa.FixedSizeListArray.from_arrays(flat, width)
    table = pa.Table.from_pydict(columns, schema=songs_schema())
    recover_interrupted_swap(db_path)
    staging = db_path.with_name(f".{db_path.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        created = lancedb.connect(str(staging)).create_table(TABLE_NAME, data=table, mode="create")
        # Point lookups by key ("more like this" seeds, the radio's now-playing rows)
        # would otherwise scan every row: 18 ms → 4 ms at 100,000 songs.
        from lancedb.index import BTree

        created.create_index("key", config=BTree())
    except (KeyboardInterrupt, SystemExit):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException as exc:  # lance raises OSError, RuntimeError or a Rust panic
        shutil.rmtree(staging, ignore_errors=True)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise DatabaseBuildError(f"{db_path}: database build failed ({reason}); the previous database is unchanged") from exc
    # LanceDB's own mode="overwrite" writes a new version *into* the live table, so a
    # build that failed half-way (a full disk while indexing) left that version behind,
    # out of step with the manifest: build in a sibling folder and swap it in.
    swap_directory(staging, db_path)
    manifest = {
        "version": "1.0",
        "schema_version": SCHEMA_VERSION,
        "created_at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "record_count": table.num_rows,
        "source_checksums": dict(sorted(sources.items())),
        "stats": {
            "total_classifications": len(rows),
            "total_feedback_events": feedback_events,
            "unique_songs": len({r["sid_path"] for r in rows}),
            "songs_with_feedback": sum(1 for r in rows if (r["sid_path"], int(r["song_index"])) in aggregates),
        },
        "similarity_vector": similarity.to_json(),
    }
    return BuildResult(record_count=table.num_rows, manifest=manifest, seconds=time.perf_counter() - started)




def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
