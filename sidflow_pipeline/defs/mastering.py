"""`mastering_profiles`: the versioned profiles and what the listener's ratings say about them.

A thin layer over ``sidflow_pipeline.mastering``: the asset seeds missing profiles,
analyses ``mastering-feedback/ratings.jsonl`` into ``patterns.json`` and reports the
current version of every type; its check loads every profile *file* — each version
present in the folder or listed in ``versions.json``, not just the current ones,
since a rollback makes an old version current again — and runs the same validation
suite as ``sidflow master update`` on each. A sensor notices new mastering ratings
and re-runs the analysis, so suggestions are ready when the listener looks.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.mastering.analyze import analyze_ratings, write_patterns
from sidflow_pipeline.mastering.errors import MasteringError
from sidflow_pipeline.mastering.profiles import (
    current_version,
    ensure_profiles,
    iter_profile_files,
    load_profile_file,
    profile_path,
    profile_types,
    read_versions,
)
from sidflow_pipeline.mastering.ratings import RATINGS_FILE, read_ratings
from sidflow_pipeline.mastering.update import validate_profile


def _dirs(sidflow: SidflowConfigResource) -> tuple[Path, Path]:  # (profiles, feedback) paths
    config = sidflow.load()
    return config.data_path / "profiles", config.data_path / "mastering-feedback"


def _ratings_digest(feedback_dir: Path) -> str:
    path = feedback_dir / RATINGS_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "none"


@dg.observable_source_asset(
    group_name="mastering",
    description="The listener's mastering ratings (mastering-feedback/ratings.jsonl): observed, never produced.",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def mastering_ratings(sidflow: SidflowConfigResource) -> dg.DataVersion:
    _profiles, feedback = _dirs(sidflow)
    return dg.DataVersion(_ratings_digest(feedback)[:16])


@dg.asset(
    deps=[mastering_ratings],
    group_name="mastering",
    kinds={"python", "json"},
    description="Versioned mastering profiles (data/profiles/) and the rating patterns + suggestions (patterns.json).",
)
def mastering_profiles(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    profiles, feedback = _dirs(sidflow)
    seeded = ensure_profiles(profiles)
    if seeded:
        context.log.info(f"seeded {len(seeded)} default profile files into {profiles}")
    entries, skipped = read_ratings(feedback)
    if skipped:
        context.log.warning(f"{skipped} unreadable lines in {feedback / RATINGS_FILE} were skipped")
    patterns = analyze_ratings(entries, profiles, skipped_lines=skipped)
    path = write_patterns(feedback, patterns)
    versions = {kind: str(current_version(profiles, kind)) for kind in profile_types(profiles)}
    suggestions = sum(len(summary["suggestions"]) for summary in patterns["types"].values())
    return dg.MaterializeResult(
        metadata={
            "profiles": dg.MetadataValue.path(str(profiles)),
            "current_versions": dg.MetadataValue.json(versions),
            "ratings": len(entries),
            "skipped_rating_lines": skipped,
            "suggestions": suggestions,
            "patterns": dg.MetadataValue.path(str(path)),
        },
        data_version=dg.DataVersion(hashlib.sha256(json.dumps([versions, patterns], sort_keys=True).encode()).hexdigest()[:16]),
    )


def _profile_files(profiles: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """Every profile file to check, by name: those present plus those versions.json lists
    (a listed file that is missing must fail the check, not be skipped); and the
    failures found on the way (an unreadable versions.json)."""
    files = {path.name: path for path in iter_profile_files(profiles)}
    try:
        types = read_versions(profiles)["types"]
    except MasteringError as exc:
        return files, {"versions.json": [str(exc)]}
    for kind, entry in sorted(types.items()):
        listed = [h.get("file") for h in entry["history"] if isinstance(h, dict)]
        listed.append(profile_path(profiles, kind, entry["current"]).name)
        for name in listed:
            if isinstance(name, str) and name:
                base = Path(name).name  # history names files in this folder, never elsewhere
                files.setdefault(base, profiles / base)
    return files, {}


@dg.asset_check(
    asset=mastering_profiles,
    description="Every profile file (every version, not only the current ones) loads and passes the validation suite "
    "(EQ gains, LUFS, ceiling, determinism).",
)
def profiles_load_and_validate(sidflow: SidflowConfigResource) -> dg.AssetCheckResult:
    profiles, _feedback = _dirs(sidflow)
    files, failures = _profile_files(profiles)
    checked = 0
    for name, path in files.items():
        try:
            profile = load_profile_file(path)
        except MasteringError as exc:
            failures[name] = [str(exc)]
            continue
        checked += 1
        failed = [f"{c.name}: {c.detail}" for c in validate_profile(profile) if not c.passed]
        if failed:
            failures[name] = failed
    if failures:
        summary = f"{len(failures)} profile file(s) failed: {', '.join(sorted(failures))}"
    else:
        summary = f"all {checked} profile files valid" if checked else f"no profile files in {profiles}"
    return dg.AssetCheckResult(
        passed=not failures and checked > 0,
        metadata={"profiles_checked": checked, "failures": dg.MetadataValue.json(failures)},
        description=summary,
    )


mastering_job = dg.define_asset_job(
    "mastering_analyze",
    selection=dg.AssetSelection.assets(mastering_profiles),
    description="Analyse mastering ratings into patterns and suggestions; check every profile.",
)


@dg.sensor(
    job=mastering_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New lines in mastering-feedback/ratings.jsonl → re-run the analysis.",
)
def mastering_ratings_sensor(context: dg.SensorEvaluationContext, sidflow: SidflowConfigResource) -> dg.SensorResult:
    _profiles, feedback = _dirs(sidflow)
    digest = _ratings_digest(feedback)
    if digest == "none":
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no mastering ratings yet ({feedback / RATINGS_FILE})"))
    if context.cursor == digest:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new mastering ratings since the last analysis"))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"mastering-{digest[:20]}")], cursor=digest)


defs = dg.Definitions(
    assets=[mastering_ratings, mastering_profiles],
    asset_checks=[profiles_load_and_validate],
    jobs=[mastering_job],
    sensors=[mastering_ratings_sensor],
)
