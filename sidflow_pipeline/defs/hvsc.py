"""`hvsc_mirror`: the local HVSC tree, synced to the newest release.

The asset is a thin shell over :func:`sidflow_pipeline.hvsc.sync.sync_hvsc`; the
manifest ``hvsc-version.json`` in ``dataPath`` (the copy kept in git) is written from
the materialization's metadata. A daily schedule asks the mirror for a newer release
and requests a run only when there is one.
"""


import re
from pathlib import Path
from typing import Any

import dagster as dg

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.hvsc.discovery import DiscoveryError, discover_releases
from sidflow_pipeline.hvsc.sync import (
    MANIFEST_NAME,
    SyncError,
    compose_moves,
    installed_version,
    migrate_mirrored_user_files,
    read_manifest,
    sync_hvsc,
    tree_stats,
)
from sidflow_pipeline.defs.resources import SidflowConfigResource

_RELEASE_RE = re.compile(r"Release\s*#\s*(\d+)", re.IGNORECASE)


@dg.asset(
    group_name="hvsc",
    kinds={"python", "7z"},
    description="The local HVSC tree (hvscPath/C64Music), synced from hvscSource: base release + update scripts.",
)
def hvsc_mirror(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    config = sidflow.load()
    try:
        result = sync_hvsc(
            config.hvsc_source,
            config.hvsc_path,
            checksums=config.hvsc_checksums,
            progress=False,
            log=context.log.info,
        )
    except SyncError as exc:
        raise dg.Failure(description=str(exc)) from exc
    tags_moved = 0
    if result.moves and config.tags_path is not None:  # tags beside the SIDs moved with the tree already
        tags_moved = migrate_mirrored_user_files(config.tags_path, compose_moves(result.moves))
    stats = tree_stats(config.hvsc_path / "C64Music")
    manifest = dict(result.manifest)
    if result.status != "current":
        manifest["files"] = stats["files"]
        manifest["sidFiles"] = stats["sid_files"]
        atomic_write_json(config.hvsc_path / MANIFEST_NAME, manifest)
    atomic_write_json(config.data_path / MANIFEST_NAME, manifest)
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


def check_tree_against_manifest(hvsc_path: Path) -> tuple[bool, dict[str, Any], str]:
    """(passed, metadata, why) — shared by the asset check and ``sidflow verify``."""
    manifest = read_manifest(hvsc_path)
    root = hvsc_path / "C64Music"
    if manifest is None:
        return False, {}, f"no {MANIFEST_NAME} in {hvsc_path}: materialize hvsc_mirror"
    version = installed_version(hvsc_path)
    stats = tree_stats(root) if root.is_dir() else {"files": 0, "sid_files": 0, "bytes": 0}
    problems = []
    if not (root / "DOCUMENTS").is_dir():
        problems.append("DOCUMENTS/ is missing")
    if "files" in manifest and stats["files"] != manifest["files"]:
        problems.append(f"{stats['files']} files on disk, manifest says {manifest['files']}")
    hvsc_txt = root / "DOCUMENTS" / "HVSC.txt"
    text_version = None
    if hvsc_txt.is_file():
        match = _RELEASE_RE.search(hvsc_txt.read_bytes().decode("latin-1"))
        text_version = int(match.group(1)) if match else None
        if text_version != version:
            problems.append(f"HVSC.txt names release {text_version}, manifest {version}")
    metadata = {"version": version, "files": stats["files"], "manifest_files": manifest.get("files", -1), "hvsc_txt_release": text_version or -1}
    return not problems, metadata, "; ".join(problems) or "tree matches manifest"


@dg.asset_check(asset=hvsc_mirror, description="File count, DOCUMENTS/ and the release in HVSC.txt agree with hvsc-version.json.")
def hvsc_tree_matches_manifest(sidflow: SidflowConfigResource) -> dg.AssetCheckResult:
    passed, metadata, why = check_tree_against_manifest(sidflow.load().hvsc_path)
    return dg.AssetCheckResult(passed=passed, metadata={**metadata, "detail": why})


hvsc_sync_job = dg.define_asset_job(
    "hvsc_sync",
    selection=dg.AssetSelection.assets(hvsc_mirror).downstream(),
    description="Sync HVSC and rebuild everything that depends on it.",
)


@dg.schedule(
    cron_schedule="0 6 * * *",
    job=hvsc_sync_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily: ask the mirror for a newer HVSC release; run the sync only when there is one.",
)
def hvsc_release_schedule(context: dg.ScheduleEvaluationContext, sidflow: SidflowConfigResource) -> dg.RunRequest | dg.SkipReason:
    config = sidflow.load()
    installed = installed_version(config.hvsc_path)
    try:
        listing = discover_releases(config.hvsc_source, pinned=config.hvsc_checksums)
        latest = listing.latest_version
    except DiscoveryError as exc:
        return dg.SkipReason(f"mirror not reachable: {exc}")
    if installed is not None and latest <= installed:
        return dg.SkipReason(f"HVSC release {installed} is current (mirror has {latest})")
    return dg.RunRequest(run_key=f"hvsc-{latest}", tags={"hvsc/release": str(latest)})


defs = dg.Definitions(
    assets=[hvsc_mirror],
    asset_checks=[hvsc_tree_matches_manifest],
    jobs=[hvsc_sync_job],
    schedules=[hvsc_release_schedule],
)
