"""`sid_catalog`: one row per song of the configured HVSC tree, as Parquet."""


import time

import dagster as dg

from sidflow_pipeline.catalog.catalog import update_catalog
from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.resources import SidflowConfigResource


@dg.asset(
    deps=["hvsc_mirror"],
    group_name="hvsc",
    kinds={"python", "parquet"},
    description="One row per song (file × subtune): header fields, md5, song length, STIL text.",
)
def sid_catalog(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    started = time.perf_counter()
    with domain_failure():
        result, digest = update_catalog(config.layout.hvsc_root, config.layout.catalog)
    for rel, reason in result.errors:
        context.log.warning(f"skipped unreadable SID {rel}: {reason}")
    stats = result.stats()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(config.layout.catalog)),
            "sha256": digest,
            "dagster/row_count": stats["songs"],
            "files": stats["files"],
            "songs": stats["songs"],
            "songs_by_section": dg.MetadataValue.json(stats["songs_by_section"]),
            "files_by_format": dg.MetadataValue.json(stats["files_by_format"]),
            "files_by_sid_model": dg.MetadataValue.json(stats["files_by_sid_model"]),
            "files_by_clock": dg.MetadataValue.json(stats["files_by_clock"]),
            "multi_sid_files": stats["multi_sid_files"],
            "songs_without_length": stats["songs_without_length"],
            "unreadable_files": dg.MetadataValue.json(dict(result.errors)),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


defs = dg.Definitions(assets=[sid_catalog])
