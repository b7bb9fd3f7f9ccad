"""Runs of the pipeline planned by ``pipelines.runplan``: each batch one run on the implicit asset job,
batches of a wave side by side in worker processes, then one run of what follows from every batch (the
connected city and provincial tables, the directory, open data).

Each worker process pays the fixed costs (importing Dagster and Great Expectations, loading the catalogue,
building the definitions) once and then runs its batches.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipelines.heap import tune_collector
from pipelines.runplan import Batch


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    failures: list[str] = field(default_factory=list)


_definitions: Any = None  # per worker process: built on its first batch
_catalogue: Any = None  # the launching process's, once loaded
_platform: str | None = None  # one platform's code location (run --platform), or every platform's


def built() -> Any:
    """The definitions, built on first use: a run with nothing new never pays for them."""
    global _definitions
    if _definitions is None:
        from pipelines.catalogue import load_catalogue
        from pipelines.definitions import build_definitions
        from resources.platform import PlatformResource, Settings

        settings = Settings.from_env()
        catalogue = _catalogue if _catalogue is not None else load_catalogue(settings.catalogue_dir)
        _definitions = build_definitions(catalogue, PlatformResource.from_settings(settings), settings.store_kind,
                                         _platform)
    return _definitions


def use_catalogue(catalogue: Any, platform: str | None = None) -> None:
    """The launching process has loaded it already: its in-process runs build from it (``platform``'s code
    location only, if given), when they run. Worker processes build every platform's: the same keys."""
    global _catalogue, _definitions, _platform
    _catalogue, _definitions, _platform = catalogue, None, platform


def instance() -> Any:
    """The instance this process's runs are kept in, its planned events stored as batches (one transaction each)."""
    import dagster as dg

    from pipelines.instance_storage import batch_planned_events

    batch_planned_events()
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    print("DAGSTER_HOME is not set: the run is kept in a temporary instance only", file=sys.stderr)
    return dg.DagsterInstance.ephemeral()


def execute(keys: Sequence[str], tags: dict[str, str], log_level: str, job: str | None = None) -> RunOutcome:
    """One run of the given assets (user strings, so that they cross process boundaries)."""
    import dagster as dg

    definitions = built()
    selection = [dg.AssetKey.from_user_string(k) for k in keys] if keys else None
    job_def = (definitions.resolve_job_def(job) if job
               else definitions.resolve_implicit_global_asset_job_def())
    with instance() as dagster_instance:
        result = job_def.execute_in_process(instance=dagster_instance, raise_on_error=False, tags=tags,
                                            asset_selection=selection, run_config=run_config(log_level))
    return outcome_of(result)


def run_config(log_level: str) -> dict[str, Any]:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def outcome_of(result: Any) -> RunOutcome:
    """A finished run, in process or through the instance: its id, success, and each step failure's message."""
    failures = [e.event_specific_data.error.message.strip() for e in result.all_events
                if e.is_step_failure and e.event_specific_data and e.event_specific_data.error]
    return RunOutcome(result.run_id, result.success, failures)


def batch_keys(batch: Batch) -> list[str]:
    """The batch's selection (the sensor's too) as user strings, which cross process boundaries."""
    from pipelines.automation import batch_selection

    return [key.to_user_string() for key in batch_selection(batch)]


def following_keys(definitions: Any, batches: Sequence[Batch]) -> list[str]:
    """What follows from the converged tables and spans batches: connected tables, directory, open data.
    The items that merely read a converged authority are not run again: they have nothing new."""
    import dagster as dg

    from assets.factory import asset_key
    from assets.quality import SUMMARY_KEY
    from assets.supervision import ALL_KEYS
    from pipelines.quality.checks import SHARED, STAGES

    graph = definitions.resolve_asset_graph()
    shared = [asset_key(SHARED, item) for batch in batches for item in batch.items]
    if not shared:
        return []
    downstream = dg.AssetSelection.assets(*shared).downstream().resolve(graph)
    skip = {SUMMARY_KEY, *ALL_KEYS}
    return sorted(k.to_user_string() for k in downstream
                  if k.path[0] not in (*STAGES, "corrections") and k not in skip)


def run_batches(batches: Sequence[Batch], workers: int, tags: dict[str, str], log_level: str,
                progress: Any = print) -> list[RunOutcome]:
    """Wave by wave; within a wave, batches side by side in ``workers`` processes (or here, for one)."""
    outcomes: list[RunOutcome] = []
    waves = sorted({b.wave for b in batches})
    pool = _pool(workers) if workers > 1 else None
    if pool is not None:
        # the instance's SQLite files made here first: workers creating them at once both stamp the schema
        # version, and every later open of the instance then fails ("more than one head")
        with instance():
            pass
    try:
        for wave in waves:
            todo = [b for b in batches if b.wave == wave]
            progress(f"wave {wave + 1}/{len(waves)}: {len(todo)} run(s) of "
                     f"{sum(len(b.items) for b in todo)} item(s) in {min(workers, len(todo))} process(es)")
            if pool is None:
                done = [execute(batch_keys(b), tags, log_level) for b in todo]
            else:
                done = list(pool.map(execute, [batch_keys(b) for b in todo], [tags] * len(todo),
                                     [log_level] * len(todo)))
            for batch, outcome in zip(todo, done, strict=True):
                progress(f"  run {outcome.run_id}: {len(batch.items)} item(s) of {', '.join(batch.units[:4])}"
                         f"{' …' if len(batch.units) > 4 else ''}: {'succeeded' if outcome.success else 'FAILED'}")
            outcomes += done
    finally:
        if pool is not None:
            pool.shutdown()
            _stop_fork_server()
    return outcomes


def worker_preload() -> list[str]:
    """What every worker imports before its first batch: Dagster, GX, the project's asset builders (about 8 s
    CPU), the instance's event log and openpyxl, which the correction lists write with (about 0.4 s each, which
    every worker paid on its first unit). Not imported here: they import Dagster, which a run with nothing new
    never needs."""
    from pipelines.definitions import BUILDER_MODULES

    return ["dagster", "expectations.suites", "expectations.runner", "expectations.docs", "pipelines.process",
            "pipelines.definitions", "pipelines.instance_storage", "openpyxl", *BUILDER_MODULES]


def _pool(workers: int) -> ProcessPoolExecutor:
    """Workers forked from a fork server: a fresh interpreter, started once, that has imported
    ``worker_preload()``, so each worker starts with those imports paid and with nothing of the launcher's open
    connections or threads (what spawn gives, at the cost of every worker importing them again)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(worker_preload())
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=tune_collector)


def _stop_fork_server() -> None:
    """Stop the fork server and wait for it, its workers reaped: their CPU is then counted as this process's
    children's (an orphaned server's goes to init, and a benchmark of the run would miss it)."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own, which its tests use
    if stop is not None:
        stop()
