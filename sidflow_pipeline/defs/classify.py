"""Classification: `wav_cache` → `audio_features` → `classified`, partitioned by HVSC section.

Each asset reads its inputs, calls the domain code in ``sidflow_pipeline.classify``,
writes that partition's file atomically and reports counts and timings. Re-running a
partition replaces exactly that partition's outputs.
"""

import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from sidflow_pipeline.classify.analyse import analyse_records, header_facts, read_jsonl_rows, write_jsonl_rows
from sidflow_pipeline.classify.classified import classify_rows, write_auto_tags
from sidflow_pipeline.classify.partitions import PARTITION_KEYS, partition_file_stem, partition_of
from sidflow_pipeline.classify.progress import SongProgress
from sidflow_pipeline.classify.render import RenderRecord, jobs_from_rows, render_jobs
from sidflow_pipeline.config import SidflowConfig
from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.ratings.tags import Rating, effective_tags_files, load_all_tags, rating_for_song
from sidflow_pipeline.sid.player import find_sidplayfp
from sidflow_pipeline.training.model import load_predictor

hvsc_sections = dg.StaticPartitionsDefinition(list(PARTITION_KEYS))
# A backfill of many sections may run as one run (the README's run command does, with
# every section in one step and the song work spread over `threads` processes); a
# backfill from the UI can instead launch a run per section for the multiprocess or
# celery executors. Both go through the same code: assets loop over partition_keys.
SECTIONS_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
ALL_SECTIONS_TAGS = {
    "dagster/asset_partition_range_start": PARTITION_KEYS[0],
    "dagster/asset_partition_range_end": PARTITION_KEYS[-1],
}


def _label(context: dg.AssetExecutionContext) -> str:
    keys = context.partition_keys
    return keys[0] if len(keys) == 1 else f"{len(keys)} sections"


def _write_per_partition(keys: Any, items: Any, path_of: Any, to_row: Any, sid_path_of: Any) -> str:
    """Write each partition's rows to its own file; a digest over all (run metadata)."""
    digest = hashlib.sha256()
    for key in keys:
        rows = [to_row(item) for item in items if partition_of(sid_path_of(item)) == key]
        digest.update(write_jsonl_rows(path_of(key), rows).encode())
    return digest.hexdigest()


def _catalog_rows(config: SidflowConfig, partition: str) -> list[dict[str, Any]]:
    if not config.catalog_path.is_file():
        raise dg.Failure(description=f"{config.catalog_path} missing: materialize sid_catalog first")
    frame = pl.read_parquet(config.catalog_path).filter(pl.col("partition") == partition)
    return frame.sort(["sid_path", "song_index"]).to_dicts()


def _index_path(config: SidflowConfig, partition: str) -> Path:
    return config.wav_cache_path / "index" / f"{partition_file_stem(partition)}.jsonl"


def features_path(config: SidflowConfig, partition: str) -> Path:
    return config.data_path / "features" / f"{partition_file_stem(partition)}.jsonl"


def classified_path(config: SidflowConfig, partition: str) -> Path:
    return config.classified_path / f"{partition_file_stem(partition)}.jsonl"


@dg.asset(
    partitions_def=hvsc_sections,
    backfill_policy=SECTIONS_POLICY,
    deps=["sid_catalog"],
    group_name="classify",
    kinds={"python", "wav"},
    description="Rendered analysis excerpts (mono, 22,050 Hz), keyed by file md5 + song + render settings.",
)
def wav_cache(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    binary = None
    with domain_failure():
        if config.render.backend == "sidplayfp":
            binary = find_sidplayfp(config.sidplay_path)
    by_partition = {key: jobs_from_rows(_catalog_rows(config, key), config.hvsc_root) for key in context.partition_keys}
    jobs = [job for key in context.partition_keys for job in by_partition[key]]
    started = time.perf_counter()
    with SongProgress(len(jobs), f"render {_label(context)}", context.log.info) as progress:
        with domain_failure():
            records = render_jobs(
                jobs, config.render, config.wav_cache_path, workers=config.worker_count, binary=binary,
                progress=lambda _record: progress.advance(),
            )
    seconds = time.perf_counter() - started
    digest = _write_per_partition(
        context.partition_keys,
        records,
        lambda key: _index_path(config, key),
        lambda r: r.to_json(),
        lambda r: r.sid_path,
    )
    rendered = [r for r in records if not r.reused]
    statuses: dict[str, int] = {}
    for record in records:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    for record in rendered:
        if record.status in ("timeout", "error"):
            context.log.warning(f"{record.sid_path} #{record.song_index}: {record.status}: {record.message}")
    return dg.MaterializeResult(
        metadata={
            "songs": len(records),
            "rendered": len(rendered),
            "reused": len(records) - len(rendered),
            "statuses": dg.MetadataValue.json(dict(sorted(statuses.items()))),
            "render_seconds": round(seconds, 3),
            "songs_per_second": round(len(rendered) / seconds, 2) if rendered and seconds else 0.0,
            "engine": config.render.engine,
            "backend": config.render.backend,
            "traces": sum(1 for r in records if r.trace is not None),
            "index_sha256": digest,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        },
        data_version=dg.DataVersion(digest),
    )


@dg.asset(
    partitions_def=hvsc_sections,
    backfill_policy=SECTIONS_POLICY,
    deps=[wav_cache],
    group_name="classify",
    kinds={"python", "jsonl"},
    description="Essentia + librosa features per song (features/<partition>.jsonl), with header facts.",
)
def audio_features(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    records: list[RenderRecord] = []
    facts: dict[tuple[str, int], dict[str, float]] = {}
    previous: dict[tuple[str, int], dict[str, Any]] = {}
    for key in context.partition_keys:
        index_rows, _bad = read_jsonl_rows(_index_path(config, key))
        records.extend(RenderRecord(**row) for row in index_rows)
        facts.update({(r["sid_path"], r["song_index"]): header_facts(r) for r in _catalog_rows(config, key)})
        previous_rows, _ = read_jsonl_rows(features_path(config, key))
        previous.update({(r["sid_path"], r["song_index"]): r for r in previous_rows})
    started = time.perf_counter()
    counts = {"extracted": 0, "reused": 0}
    with SongProgress(len(records), f"features {_label(context)}", context.log.info) as progress:

        def tick(_row: dict[str, Any], reused: bool) -> None:
            counts["reused" if reused else "extracted"] += 1
            progress.advance()

        rows = analyse_records(records, config.wav_cache_path, facts, previous, workers=config.worker_count, progress=tick)
    seconds = time.perf_counter() - started
    digest = _write_per_partition(context.partition_keys, rows, lambda key: features_path(config, key), dict, lambda r: r["sid_path"])
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.data_path / "features")),
            "songs": len(rows),
            "with_features": sum(1 for r in rows if r["features"] is not None),
            "extracted": counts["extracted"],
            "reused": counts["reused"],
            "feature_seconds": round(seconds, 3),
            "songs_per_second": round(counts["extracted"] / seconds, 2) if counts["extracted"] and seconds else 0.0,
            "sha256": digest,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        },
        data_version=dg.DataVersion(digest),
    )


def load_manual_ratings(config: SidflowConfig) -> tuple[dict[str, dict[int | None, Rating]], list[str]]:
    """Every tags file under ``tagsPath`` and beside the SIDs (``tagsPath`` wins)."""
    return load_all_tags(config.tags_roots)


@dg.observable_source_asset(
    group_name="classify",
    description="The listener's *.sid.tags.json files (under tagsPath or beside the SIDs): observed, never produced.",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def manual_ratings(sidflow: SidflowConfigResource) -> dg.DataVersion:
    config = sidflow.load()
    digest = hashlib.sha256()
    for sid_path, path in effective_tags_files(config.tags_roots):
        digest.update(sid_path.encode() + b"\0" + path.read_bytes() + b"\0")
    return dg.DataVersion(digest.hexdigest()[:16])


@dg.asset(
    partitions_def=hvsc_sections,
    backfill_policy=SECTIONS_POLICY,
    deps=[audio_features, manual_ratings, "rating_model"],
    group_name="classify",
    kinds={"python", "jsonl"},
    description="Ratings e/m/c/p per song (classified/<partition>.jsonl): manual wins, the model or baseline predicts the rest.",
)
def classified(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    feature_rows: list[dict[str, Any]] = []
    bad = 0
    for key in context.partition_keys:
        part_rows, part_bad = read_jsonl_rows(features_path(config, key))
        feature_rows.extend(part_rows)
        bad += part_bad
    tags, problems = load_manual_ratings(config)
    for problem in problems:
        context.log.warning(f"ignored tags file: {problem}")
    manual = {}
    for row in feature_rows:
        ratings = tags.get(row["sid_path"])
        if ratings:
            rating = rating_for_song(ratings, int(row["song_index"]))
            if rating is not None:
                manual[(row["sid_path"], int(row["song_index"]))] = rating
    from sidflow_pipeline.features import FEATURE_SET_VERSION

    with domain_failure():
        predictor = load_predictor(config.data_path / "model", FEATURE_SET_VERSION)
    started = time.perf_counter()
    with domain_failure():
        rows, skipped = classify_rows(feature_rows, manual, predictor)
    digest = _write_per_partition(context.partition_keys, rows, lambda key: classified_path(config, key), dict, lambda r: r["sid_path"])
    auto_files = 0
    for key in context.partition_keys:
        auto_root = config.classified_path / "auto-tags" / partition_file_stem(key)
        auto_files += write_auto_tags(auto_root, [r for r in rows if partition_of(r["sid_path"]) == key], config.classification_depth)
    manual_dims = sum(1 for r in rows for s in r["sources"].values() if s == "manual")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.classified_path)),
            "songs": len(rows),
            "unclassified": skipped,
            "songs_with_manual_ratings": len(manual),
            "manual_dimensions": manual_dims,
            "predictor": predictor.name if predictor is not None else "baseline-1",
            "auto_tags_files": auto_files,
            "bad_feature_lines": bad,
            "predict_seconds": round(time.perf_counter() - started, 4),
            "sha256": digest,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        },
        data_version=dg.DataVersion(digest),
    )


defs = dg.Definitions(assets=[wav_cache, audio_features, manual_ratings, classified])
