"""Which Dagster executor the pipeline's runs execute their steps on, read from the environment in the entry point.

- ``GOVDATA_EXECUTOR`` empty (the default): Dagster's default executor, steps in processes on this machine;
- ``GOVDATA_EXECUTOR=celery``: ``dagster_celery.celery_executor``: each step is a Celery task on RabbitMQ,
  executed by whichever worker takes it (``deploy/celery/README.md``). Broker, result backend and queue come
  from ``GOVDATA_CELERY_BROKER``, ``GOVDATA_CELERY_BACKEND`` and ``GOVDATA_CELERY_QUEUE``; workers must be
  started on the same broker and queue (``deploy/celery/celery.yaml``, ``-q``).

Dagster is imported inside the function only: importing this module does no work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENV_EXECUTOR = "GOVDATA_EXECUTOR"
ENV_BROKER = "GOVDATA_CELERY_BROKER"
ENV_BACKEND = "GOVDATA_CELERY_BACKEND"
ENV_QUEUE = "GOVDATA_CELERY_QUEUE"
CELERY = "celery"
DEFAULT_BROKER = "pyamqp://guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "rpc://"
DEFAULT_QUEUE = "dagster"  # dagster-celery's own default: a worker started without -q listens there
ENTRY_MODULE, ENTRY_ATTRIBUTE = "pipelines.definitions", "defs"


class ExecutorChoiceError(ValueError):
    """GOVDATA_EXECUTOR names no executor the platform knows."""


@dataclass(frozen=True)
class CelerySettings:
    broker: str = DEFAULT_BROKER
    backend: str = DEFAULT_BACKEND
    queue: str = DEFAULT_QUEUE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CelerySettings:
        env = os.environ if environ is None else environ
        return cls(env.get(ENV_BROKER) or DEFAULT_BROKER, env.get(ENV_BACKEND) or DEFAULT_BACKEND,
                   env.get(ENV_QUEUE) or DEFAULT_QUEUE)

    def executor_config(self) -> dict[str, Any]:
        """The ``celery_executor`` config; the same block (``execution: config:``) configures the workers."""
        return {"broker": self.broker, "backend": self.backend,
                "config_source": {"task_default_queue": self.queue}}


def executor_choice(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    choice = (env.get(ENV_EXECUTOR) or "").strip().lower()
    if choice in ("", "default"):
        return None
    if choice != CELERY:
        raise ExecutorChoiceError(f"{ENV_EXECUTOR}={choice!r}: expected empty (the default) or {CELERY!r}")
    return choice


def executor_from_env(environ: Mapping[str, str] | None = None) -> Any:
    """The executor definition for the pipeline job, or None for Dagster's default."""
    if executor_choice(environ) is None:
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured(CelerySettings.from_env(environ).executor_config(), name="govdata_celery")


def use_celery() -> str | None:
    """Make this process's runs go to the Celery workers; the reason it cannot, or None."""
    if not os.environ.get("DAGSTER_HOME"):
        return "--executor celery needs DAGSTER_HOME: the workers read the run from the instance"
    os.environ[ENV_EXECUTOR] = CELERY  # read by the entry point, which this process reloads for every run
    return None


def execute_through_instance(keys: Sequence[str], tags: dict[str, str], log_level: str,
                             job: str | None = None) -> Any:
    """``launch.execute``'s run launched through the instance instead of in process: on the job rebuilt from
    the entry point, so its steps run on the executor GOVDATA_EXECUTOR selects (with celery: on the workers,
    while this process only orchestrates). Returns a ``launch.RunOutcome``."""
    import dagster as dg

    # no public API reconstructs a job of a @dg.definitions module (dg.reconstructable takes a job function)
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from pipelines.definitions import ALL_JOB
    from pipelines.instance_storage import batch_planned_events
    from pipelines.launch import outcome_of, run_config

    batch_planned_events()
    repository = ReconstructableRepository.for_module(ENTRY_MODULE, ENTRY_ATTRIBUTE)
    selection = [dg.AssetKey.from_user_string(k) for k in keys] if keys else None
    with dg.DagsterInstance.get() as instance:
        result: Any = dg.execute_job(repository.get_reconstructable_job(job or ALL_JOB), instance, tags=tags,
                                     asset_selection=selection, run_config=run_config(log_level))
        return outcome_of(result)
