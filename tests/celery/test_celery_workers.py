"""The demo through Dagster's Celery executor on two workers that share nothing with the launcher but the
PostgreSQL instance and store, the broker and the intake window: the same counts as the in-process run.

Needs RabbitMQ (GOVDATA_TEST_CELERY_BROKER, default pyamqp://guest@127.0.0.1:5672//) and PostgreSQL
(GOVDATA_TEST_PG_URL); skipped, saying why, when either is missing, failed instead with GOVDATA_REQUIRE_CELERY=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from tests.celery.cluster import (
    BROKER,
    Cluster,
    generate_demo,
    ledger_counts,
    manifest_counts,
    run_in_process,
    throwaway_database,
)
from tests.celery.cluster import broker_problem as _broker_problem
from tests.conftest import PG_ADMIN_URL, _pg_available

# slow: two workers and the demo through them, about 50 s before the first assertion (CI runs it, make test-slow)
pytestmark = [pytest.mark.celery, pytest.mark.postgres, pytest.mark.slow]
ROWS = 60  # per item: every fault kind of the generator still occurs
RUN_TIMEOUT = 600
BASELINE_TIMEOUT = 300


def _require_services() -> None:
    problems = [p for p in (_broker_problem(BROKER), _pg_problem()) if p]
    if not problems:
        return
    message = "; ".join(problems)
    if os.environ.get("GOVDATA_REQUIRE_CELERY") == "1":
        pytest.fail(message + "; GOVDATA_REQUIRE_CELERY=1, so this is a failure")
    pytest.skip(message)


def _pg_problem() -> str | None:
    problem = _pg_available()
    return f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})" if problem else None


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_services()
    root = tmp_path_factory.mktemp("celery")
    manifest = generate_demo(root, ROWS)
    baseline_intake = root / "baseline_intake"
    shutil.copytree(root / "intake", baseline_intake)  # a run archives what it takes in: the oracle gets a copy
    with throwaway_database(PG_ADMIN_URL, "govdata_celery_instance") as instance_url, \
            throwaway_database(PG_ADMIN_URL, "govdata_celery_store") as store_url:
        cluster = Cluster(root, instance_url, store_url, manifest)
        try:
            cluster.prepare_instance()
            workers = [cluster.start_worker("w1"), cluster.start_worker("w2")]
            for worker in workers:
                worker.wait_ready()
            launched, _ = cluster.launch(RUN_TIMEOUT)
        finally:
            cluster.stop()
        baseline, _ = run_in_process(root / "in_process", baseline_intake, manifest, BASELINE_TIMEOUT)
        yield {"root": root, "manifest": manifest, "cluster": cluster, "launched": launched, "baseline": baseline,
               "counts": ledger_counts(store_url), "steps": _steps_by_worker(cluster),
               "baseline_counts": ledger_counts(f"sqlite:///{root / 'in_process' / 'data' / 'shared_store.db'}")}


def _steps_by_worker(cluster: Cluster) -> dict[str, Any]:
    """From the PostgreSQL instance: each step of the run and the Celery workers that executed it."""
    home = cluster.root / "reader" / "dagster_home"
    cluster.env(cluster.root / "reader")  # the same dagster.yaml every process uses
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", cluster.instance_url)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs()  # the pending items' run, then what follows from them (open data, ...)
            started: set[tuple[str, str]] = set()
            executed: dict[tuple[str, str], list[str]] = {}
            for run in runs:
                started |= {(run.run_id, str(e.step_key))
                            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)}
                for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                    metadata = entry.dagster_event.engine_event_data.metadata if entry.dagster_event else {}
                    if "Celery worker" in metadata:
                        worker = str(metadata["Celery worker"].value).split("@")[0]
                        executed.setdefault((run.run_id, str(entry.step_key)), []).append(worker)
            return {"statuses": [r.status for r in runs], "started": started, "executed": executed}


def test_the_run_succeeds_on_the_workers(celery_run: dict[str, Any]) -> None:
    launched = celery_run["launched"]
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    assert celery_run["steps"]["statuses"] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert celery_run["baseline"].returncode == 0, celery_run["baseline"].stderr[-3000:]


def test_every_step_ran_once_on_a_worker_and_both_workers_took_steps(celery_run: dict[str, Any]) -> None:
    steps = celery_run["steps"]
    assert set(steps["executed"]) == steps["started"]
    assert all(len(workers) == 1 for workers in steps["executed"].values()), steps["executed"]
    assert {w for [w] in steps["executed"].values()} == {"w1", "w2"}


def test_counts_per_item_equal_the_in_process_run_and_the_manifest(celery_run: dict[str, Any]) -> None:
    expected = manifest_counts(celery_run["manifest"])
    assert celery_run["baseline_counts"] == expected
    assert celery_run["counts"] == expected


def test_workers_kept_no_stage_data_on_their_own_disks(celery_run: dict[str, Any]) -> None:
    """What intake leaves for validation and validation for convergence is in the store, not a worker's files;
    each worker wrote only its own local outputs (its Data Docs) under its own data directory."""
    cluster: Cluster = celery_run["cluster"]
    for worker in cluster.workers:
        data = worker.cwd / "data"
        assert (data / "data_docs" / "index.html").is_file()
        assert not (data / "stage").exists() and not (data / "governance").exists()
        assert worker.process.returncode is not None  # stopped
