"""Classification: `wav_cache` → `audio_features` → `classified`, partitioned by HVSC section.

Each asset calls one step of ``sidflow_pipeline.classify.steps`` for its partitions
(the step writes that partition's file atomically) and reports the outcome's counts
and timings. Re-running a partition replaces exactly that partition's outputs.
"""

import os
import socket

import dagster as dg

from sidflow_pipeline.classify.steps import (
    analyse_sections,
    classify_sections,
    manual_ratings_version,
    render_sections,
)
from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.sections import PARTITION_KEYS

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


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    with domain_failure():
        outcome = render_sections(config, context.partition_keys, context.log.info)
    for problem in outcome.problems:
        context.log.warning(problem)
    rendered = len(outcome.rendered)
    return dg.MaterializeResult(
        metadata={
            "songs": len(outcome.records),
            "rendered": rendered,
            "reused": len(outcome.records) - rendered,
            "statuses": dg.MetadataValue.json(outcome.statuses),
            "render_seconds": round(outcome.seconds, 3),
            "songs_per_second": round(rendered / outcome.seconds, 2) if rendered and outcome.seconds else 0.0,
            "engine": config.render.engine,
            "backend": config.render.backend,
            "traces": sum(1 for r in outcome.records if r.trace is not None),
            "index_sha256": outcome.digest,
            "worker": _worker(),
        },
        data_version=dg.DataVersion(outcome.digest),
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
    with domain_failure():
        outcome = analyse_sections(config, context.partition_keys, context.log.info)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.layout.features_dir)),
            "songs": len(outcome.rows),
            "with_features": outcome.with_features,
            "extracted": outcome.extracted,
            "reused": outcome.reused,
            "feature_seconds": round(outcome.seconds, 3),
            "songs_per_second": round(outcome.extracted / outcome.seconds, 2) if outcome.extracted and outcome.seconds else 0.0,
            "sha256": outcome.digest,
            "worker": _worker(),
        },
        data_version=dg.DataVersion(outcome.digest),
    )


@dg.observable_source_asset(
    group_name="classify",
    description="The listener's *.sid.tags.json files (under tagsPath or beside the SIDs): observed, never produced.",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def manual_ratings(sidflow: SidflowConfigResource) -> dg.DataVersion:
    return dg.DataVersion(manual_ratings_version(sidflow.load()))


@dg.asset(
    partitions_def=hvsc_sections,
    backfill_policy=SECTIONS_POLICY,
    deps=[audio_features, manual_ratings, "rating_model"],
    group_name="classify",
    kinds={"python", "jsonl"},
    description="Ratings e/m/c/p per song (classified/<partition>.jsonl): manual wins, the model or baseline predicts the rest.",
)
def classified(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.training.model import load_predictor

    config = sidflow.load()
    with domain_failure():
        predictor = load_predictor(config.layout.model_dir, FEATURE_SET_VERSION)
        outcome = classify_sections(config, context.partition_keys, predictor, context.log.warning)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.classified_path)),
            "songs": len(outcome.rows),
            "unclassified": outcome.skipped,
            "songs_with_manual_ratings": outcome.manual_songs,
            "manual_dimensions": outcome.manual_dimensions,
            "predictor": outcome.predictor,
            "auto_tags_files": outcome.auto_tags_files,
            "bad_feature_lines": outcome.bad_feature_lines,
            "predict_seconds": round(outcome.seconds, 4),
            "sha256": outcome.digest,
            "worker": _worker(),
        },
        data_version=dg.DataVersion(outcome.digest),
    )


defs = dg.Definitions(assets=[wav_cache, audio_features, manual_ratings, classified])
