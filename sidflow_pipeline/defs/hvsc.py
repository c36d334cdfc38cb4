"""`hvsc_mirror`: the local HVSC tree, synced to the newest release.

The asset is a thin shell over :func:`sidflow_pipeline.hvsc.sync.sync_collection`; the
manifest ``hvsc-version.json`` in ``dataPath`` (the copy kept in git) is written from
the materialization's metadata. A daily schedule asks the mirror for a newer release
(:func:`~sidflow_pipeline.hvsc.sync.newer_release`) and requests a run only when there is one.
"""



import dagster as dg

from sidflow_pipeline.defs._errors import domain_failure
from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS
from sidflow_pipeline.defs.resources import SidflowConfigResource
from sidflow_pipeline.hvsc.sync import newer_release, sync_collection
from sidflow_pipeline.hvsc.verify import check_tree_against_manifest


@dg.asset(
    group_name="hvsc",
    kinds={"python", "7z"},
    description="The local HVSC tree (hvscPath/C64Music), synced from hvscSource: base release + update scripts.",
)
def hvsc_mirror(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    with domain_failure():
        synced = sync_collection(
            config.hvsc_source,
            config.hvsc_path,
            config.layout.hvsc_manifest_copy,
            config.tags_path,
            checksums=config.hvsc_checksums,
            progress=False,
            log=context.log.info,
        )
    result, manifest, stats, tags_moved = synced.result, synced.manifest, synced.stats, synced.tags_moved
    return dg.MaterializeResult(
        metadata={
            "status": result.status,
            "version": result.version,
            "previous_version": result.previous_version if result.previous_version is not None else -1,
            "files": stats["files"],
            "sid_files": stats["sid_files"],
            "bytes": stats["bytes"],
            "archives": dg.MetadataValue.json(
                [
                    {"version": a.version, "kind": a.kind, "filename": a.filename, "checksum": a.checksum, "size": a.size}
                    for a in result.archives
                ]
            ),
            "bytes_downloaded": result.bytes_downloaded,
            "moves": len(result.moves),
            "ratings_migrated": tags_moved,
            "seconds": round(result.seconds, 3),
            "manifest": dg.MetadataValue.json(manifest),
            "path": dg.MetadataValue.path(str(config.hvsc_path)),
        },
        data_version=dg.DataVersion(f"hvsc-{result.version}"),
    )


@dg.asset_check(asset=hvsc_mirror, description="File count, DOCUMENTS/ and the release in HVSC.txt agree with hvsc-version.json.")
def hvsc_tree_matches_manifest(sidflow: SidflowConfigResource) -> dg.AssetCheckResult:
    passed, metadata, why = check_tree_against_manifest(sidflow.load().hvsc_path)
    if not metadata:  # no manifest: no synced tree to compare, a warning rather than an error
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"detail": why}, description=f"nothing to check: {why}"
        )
    return dg.AssetCheckResult(passed=passed, metadata={**metadata, "detail": why})


hvsc_sync_job = dg.define_asset_job(
    "hvsc_sync",
    selection=dg.AssetSelection.assets(hvsc_mirror).downstream(),
    description="Sync HVSC and rebuild everything that depends on it.",
    tags=ALL_SECTIONS_TAGS,  # every section: a scheduled run carries no partition of its own
)


@dg.schedule(
    cron_schedule="0 6 * * *",
    job=hvsc_sync_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily: ask the mirror for a newer HVSC release; run the sync only when there is one.",
)
def hvsc_release_schedule(context: dg.ScheduleEvaluationContext, sidflow: SidflowConfigResource) -> dg.RunRequest | dg.SkipReason:
    config = sidflow.load()
    release, why = newer_release(config.hvsc_source, config.hvsc_path, pinned=config.hvsc_checksums)
    if release is None:
        return dg.SkipReason(why)
    return dg.RunRequest(run_key=f"hvsc-{release}", tags={"hvsc/release": str(release)})


defs = dg.Definitions(
    assets=[hvsc_mirror],
    asset_checks=[hvsc_tree_matches_manifest],
    jobs=[hvsc_sync_job],
    schedules=[hvsc_release_schedule],
)
