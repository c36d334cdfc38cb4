"""``$SIDFLOW_EXECUTOR`` picks the executor of every job in the code location."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import dagster as dg
import pytest

from sidflow_pipeline.definitions import DEFAULT_CELERY_BROKER, executor_from_env


def _job_executors(executor: str | None) -> set[str]:
    """Executor names of every job, from a fresh interpreter (the code location reads the
    variable at import, so this process's own environment must not decide the answer)."""
    env = {k: v for k, v in os.environ.items() if k != "SIDFLOW_EXECUTOR"}
    if executor is not None:
        env["SIDFLOW_EXECUTOR"] = executor
    code = (
        "from sidflow_pipeline.definitions import defs\n"
        "print(' '.join(sorted({j.executor_def.name for j in defs.get_repository_def().get_all_jobs()})))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


def test_default_is_dagsters_multiprocess_or_in_process_executor() -> None:
    assert executor_from_env({}) is None
    assert executor_from_env({"SIDFLOW_EXECUTOR": "multiprocess"}) is None
    assert _job_executors(None) == {"multi_or_in_process_executor"}
    assert _job_executors("in_process") == {"in_process"}


def test_in_process() -> None:
    assert executor_from_env({"SIDFLOW_EXECUTOR": "in_process"}) is dg.in_process_executor


def test_celery_takes_broker_and_backend_from_the_environment() -> None:
    pytest.importorskip("dagster_celery")
    executor = executor_from_env({"SIDFLOW_EXECUTOR": "Celery", "SIDFLOW_CELERY_BROKER": "redis://queue:6380/2"})
    assert executor is not None and executor.name == "celery"
    config = executor.config_schema.resolve_config({}).value["config"]
    assert config["broker"] == config["backend"] == "redis://queue:6380/2"
    config = executor_from_env(
        {"SIDFLOW_EXECUTOR": "celery", "SIDFLOW_CELERY_BACKEND": "redis://results:6379/1"}
    ).config_schema.resolve_config({}).value["config"]  # type: ignore[union-attr]
    assert config["broker"] == DEFAULT_CELERY_BROKER and config["backend"] == "redis://results:6379/1"


def test_k8s_needs_dagster_k8s() -> None:
    if importlib.util.find_spec("dagster_k8s") is None:
        with pytest.raises(ImportError):
            executor_from_env({"SIDFLOW_EXECUTOR": "k8s"})
    else:
        assert executor_from_env({"SIDFLOW_EXECUTOR": "k8s"}).name == "k8s"  # type: ignore[union-attr]


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="SIDFLOW_EXECUTOR='dask'"):
        executor_from_env({"SIDFLOW_EXECUTOR": "dask"})
