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

from sidflow_pipeline.defs import catalog, classify, feedback, hvsc, mastering, resources, training

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
    description="Materialize every asset: sync, catalog, and everything downstream.",
)

defs = dg.Definitions.merge(
    resources.defs,
    hvsc.defs,
    catalog.defs,
    classify.defs,
    feedback.defs,
    training.defs,
    mastering.defs,
    dg.Definitions(jobs=[sidflow_full], executor=executor_from_env()),
)
