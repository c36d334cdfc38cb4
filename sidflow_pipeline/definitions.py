"""Root Dagster definitions: merges each domain's small ``Definitions``.

``dagster job execute -m sidflow_pipeline.definitions -j sidflow_full`` runs every
asset; ``dagster dev -m sidflow_pipeline.definitions`` serves the UI.

The executor is chosen by the deployment, not by the code: ``$SIDFLOW_EXECUTOR``
unset keeps Dagster's default (multiprocess, switchable to in-process by run config);
``celery`` sends every step to dagster-celery workers on ``$SIDFLOW_CELERY_BROKER``;
``k8s`` runs every step in its own Kubernetes Job. See docs/scaling.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from sidflow_pipeline.defs import catalog, classify, feedback, hvsc, mastering, resources, stations, training

EXECUTOR_ENV = "SIDFLOW_EXECUTOR"
CELERY_BROKER_ENV = "SIDFLOW_CELERY_BROKER"
CELERY_BACKEND_ENV = "SIDFLOW_CELERY_BACKEND"
DEFAULT_CELERY_BROKER = "redis://127.0.0.1:6379/0"


def executor_from_env(environ: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition | None:
    """The executor ``$SIDFLOW_EXECUTOR`` asks for; ``None`` = Dagster's default."""
    name = environ.get(EXECUTOR_ENV, "").strip().lower()
    if name in ("", "default", "multiprocess"):
        return None
    if name == "in_process":
        return dg.in_process_executor
    if name == "celery":
        from dagster_celery import celery_executor

        broker = environ.get(CELERY_BROKER_ENV) or DEFAULT_CELERY_BROKER
        backend = environ.get(CELERY_BACKEND_ENV) or broker
        return celery_executor.configured({"broker": broker, "backend": backend}, name="celery")
    if name == "k8s":
        from dagster_k8s import k8s_job_executor  # type: ignore[import-not-found]

        return k8s_job_executor
    raise ValueError(f"{EXECUTOR_ENV}={name!r}: expected multiprocess, in_process, celery or k8s")


sidflow_full = dg.define_asset_job(
    "sidflow_full",
    selection=dg.AssetSelection.all(),
    description="Materialize every asset: sync, catalog, and everything downstream, every section in one run.",
    # The job carries the all-sections partition range itself, so launching it (CLI,
    # UI, a schedule) needs no partition tags.
    tags=classify.ALL_SECTIONS_TAGS,
)

# Observable sources (ratings, feedback, mastering ratings) carry automation conditions
# that observe them every few minutes; this sensor evaluates those conditions. On by
# default, so the UI shows when the listener's data last changed without a job having
# to include them.
sidflow_automation = dg.AutomationConditionSensorDefinition(
    "sidflow_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Evaluates the assets' automation conditions (observes the listener's ratings and feedback).",
)

defs = dg.Definitions.merge(
    resources.defs,
    hvsc.defs,
    catalog.defs,
    classify.defs,
    feedback.defs,
    training.defs,
    stations.defs,
    mastering.defs,
    dg.Definitions(jobs=[sidflow_full], sensors=[sidflow_automation], executor=executor_from_env()),
)
