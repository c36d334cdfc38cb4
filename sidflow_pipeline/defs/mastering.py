"""`mastering_profiles`: the versioned profiles and what the listener's ratings say about them.

A thin layer over ``sidflow_pipeline.mastering``: the asset seeds missing profiles,
analyses ``mastering-feedback/ratings.jsonl`` into ``patterns.json`` and reports the
current version of every type; its check loads every profile *file* — each version
present in the folder or listed in ``versions.json``, not just the current ones,
since a rollback makes an old version current again — and runs the same validation
suite as ``sidflow master update`` on each. A sensor notices new mastering ratings
and re-runs the analysis, so suggestions are ready when the listener looks.
"""

import dagster as dg

from sidflow_pipeline.defs.resources import OBSERVE_EVERY_FIVE_MINUTES, SidflowConfigResource
from sidflow_pipeline.layout import MASTERING_RATINGS
from sidflow_pipeline.mastering.project import analyse_profiles, check_profile_files, ratings_digest


@dg.observable_source_asset(
    group_name="mastering",
    description="The listener's mastering ratings (mastering-feedback/ratings.jsonl): observed, never produced.",
    automation_condition=OBSERVE_EVERY_FIVE_MINUTES,
)
def mastering_ratings(sidflow: SidflowConfigResource) -> dg.DataVersion:
    return dg.DataVersion(ratings_digest(sidflow.load().layout.mastering_feedback_dir)[:16])


@dg.asset(
    deps=[mastering_ratings],
    group_name="mastering",
    kinds={"python", "json"},
    description="Versioned mastering profiles (data/profiles/) and the rating patterns + suggestions (patterns.json).",
)
def mastering_profiles(context: dg.AssetExecutionContext, sidflow: SidflowConfigResource) -> dg.MaterializeResult:
    layout = sidflow.load().layout
    analysis = analyse_profiles(layout.profiles_dir, layout.mastering_feedback_dir, context.log.info)
    if analysis.skipped_lines:
        context.log.warning(
            f"{analysis.skipped_lines} unreadable lines in {layout.mastering_ratings} were skipped"
        )
    return dg.MaterializeResult(
        metadata={
            "profiles": dg.MetadataValue.path(str(layout.profiles_dir)),
            "current_versions": dg.MetadataValue.json(analysis.versions),
            "ratings": analysis.ratings,
            "skipped_rating_lines": analysis.skipped_lines,
            "suggestions": analysis.suggestions,
            "patterns": dg.MetadataValue.path(str(analysis.patterns_path)),
        },
        data_version=dg.DataVersion(analysis.version),
    )


@dg.asset_check(
    asset=mastering_profiles,
    description="Every profile file (every version, not only the current ones) loads and passes the validation suite "
    "(EQ gains, LUFS, ceiling, determinism).",
)
def profiles_load_and_validate(sidflow: SidflowConfigResource) -> dg.AssetCheckResult:
    result = check_profile_files(sidflow.load().layout.profiles_dir)
    return dg.AssetCheckResult(
        passed=result.passed,
        # No profile file at all is nothing to check: a warning, not a pass or an error.
        severity=dg.AssetCheckSeverity.WARN if result.nothing_to_check else dg.AssetCheckSeverity.ERROR,
        metadata={"profiles_checked": result.checked, "failures": dg.MetadataValue.json(result.failures)},
        description=f"nothing to check: {result.summary}" if result.nothing_to_check else result.summary,
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
    feedback = sidflow.load().layout.mastering_feedback_dir
    digest = ratings_digest(feedback)
    if digest == "none":
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no mastering ratings yet ({feedback / MASTERING_RATINGS})"))
    if context.cursor == digest:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new mastering ratings since the last analysis"))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"mastering-{digest[:20]}")], cursor=digest)


defs = dg.Definitions(
    assets=[mastering_ratings, mastering_profiles],
    asset_checks=[profiles_load_and_validate],
    jobs=[mastering_job],
    sensors=[mastering_ratings_sensor],
)
