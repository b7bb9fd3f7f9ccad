"""The production instance (deploy/postgres/dagster.yaml) on a real PostgreSQL database runs the catalogue."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import REPO, make_uscc
from tests.helpers import check_evaluations, dimension, materialize_all, open_store, rules, write_csv
from tests.postgres.pgutil import rows, scalar

pytestmark = pytest.mark.postgres
HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]


@pytest.fixture
def pg_instance(pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    url = sa.engine.make_url(pg_database)
    for name, value in {"DAGSTER_PG_HOST": url.host, "DAGSTER_PG_PORT": str(url.port or 5432),
                        "DAGSTER_PG_DB": url.database, "DAGSTER_PG_USER": url.username,
                        "DAGSTER_PG_PASSWORD": url.password or ""}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(tmp_path)  # compute logs go under the working directory
    return dg.DagsterInstance.from_config(str(home))


def _assert_production_storage(instance: dg.DagsterInstance) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from pipelines.instance_storage_postgres import PostgresEventLog

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLog)  # dagster-postgres's, keeping its connection
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert instance.event_log_storage.postgres_url.startswith("postgresql+psycopg2://")
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    queue = instance.run_coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 4
    assert {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits} == {"govdata/unit": 1,
                                                                                       "govdata/kind": 2}


def test_mini_catalogue_runs_in_the_postgres_instance_and_store(pg_instance: dg.DagsterInstance, pg_database: str,
                                                               tmp_path: Path, mini_catalogue_dir: Path) -> None:
    today = date.today().isoformat()
    good = [[make_uscc(i), f"企业{i}", "450103", "10", "存续", today] for i in range(8)]
    bad = [[make_uscc(50), "", "450103", "10", "存续", today]]  # missing required name: held back
    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", HEADER, good + bad)
    with pg_instance:
        _assert_production_storage(pg_instance)
        connects: list[object] = []
        sa.event.listen(pg_instance.event_log_storage._engine, "connect", lambda conn, _: connects.append(conn))
        result = materialize_all(mini_catalogue_dir, tmp_path / "intake", tmp_path / "data", pg_database,
                                 instance=pg_instance)
        assert result.success
        run = pg_instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        shared = dg.AssetKey(["shared", "amr", "enterprise"])
        event = pg_instance.get_latest_materialization_event(shared)
        assert event is not None and event.run_id == result.run_id
        assert event.asset_materialization.metadata["rows_converged"].value == 8
        # the connections are kept: a second run stores its events through those the first one opened
        opened = len(connects)
        again = materialize_all(mini_catalogue_dir, tmp_path / "intake", tmp_path / "data", pg_database,
                                instance=pg_instance)
        stored = scalar(pg_database, "select count(*) from event_logs where run_id = :r", r=again.run_id)
        assert again.success and stored > 20 and len(connects) == opened
    # the same facts, read straight from PostgreSQL: the run, its materializations, the converged rows
    assert scalar(pg_database, "select status from runs where run_id = :r", r=result.run_id) == "SUCCESS"
    materialized = rows(pg_database, "select asset_key from event_logs where run_id = :r and "
                                     "dagster_event_type = 'ASSET_MATERIALIZATION' order by asset_key",
                        r=result.run_id)
    # validated and shared assets are published on every run (0 rows when nothing is new), so that
    # what depends on them (items reading an authority's shared table) is not skipped; each unit's step writes
    # its correction list
    assert materialized == [('["corrections", "amr"]',), ('["corrections", "nn_water"]',),
                            ('["intake", "amr", "enterprise_intake"]',), ('["shared", "amr", "enterprise"]',),
                            ('["shared", "nn_water", "water_account"]',),
                            ('["validated", "amr", "enterprise_validated"]',),
                            ('["validated", "nn_water", "water_account_validated"]',)]
    assert scalar(pg_database, "select count(*) from shared_province.enterprise") == 8
    shared = check_evaluations(result)["shared_enterprise"]
    assert shared.passed and dimension(shared, "integrity")["passed"] and dimension(shared, "availability")["passed"]
    assert rules(shared, "integrity")["sql:unique_key"]["result"] == "✅ pass"  # answered inside PostgreSQL
    store = open_store(mini_catalogue_dir, tmp_path / "data", pg_database)
    [entry] = store.ledger.submissions("enterprise")
    assert (entry["received"], entry["converged"], entry["held_back"]) == (9, 8, 1)
    store.dispose()


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_present", asset="planned_first")])
def planned_first() -> dg.MaterializeResult:
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])


@dg.asset(deps=[planned_first])
def planned_second() -> None:
    return None


PLANNED = (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)


def _planned_key(event: dg.DagsterEvent) -> str:
    check_key = getattr(event.event_specific_data, "asset_check_key", None)
    return check_key.asset_key.to_user_string() if check_key else event.asset_key.to_user_string()  # type: ignore[union-attr]


def _planned_run(instance: dg.DagsterInstance) -> list[str]:
    """A run's planned events as the instance reads them back, and its check's planned execution row."""
    job = dg.Definitions(assets=[planned_first, planned_second]).resolve_implicit_global_asset_job_def()
    run = job.execute_in_process(instance=instance)
    planned = sorted(f"{e.dagster_event_type.value} {_planned_key(e.get_dagster_event())}"
                     for e in instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event_type in PLANNED)
    record = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("planned_first"), "rows_present"), limit=1)[0]
    assert record.run_id == run.run_id
    return planned


def test_planned_events_are_one_transaction_and_fall_back_event_by_event(
        pg_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Batched (``batch_planned_events``), a run's planned events commit once, and read back as those of a run
    stored event by event; a batch failing part way keeps nothing of itself and Dagster stores it event by event."""
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    from pipelines.instance_storage import EVENT_BATCH_SIZE_ENV, batch_planned_events
    from pipelines.instance_storage_postgres import PostgresEventLog

    expected = ["ASSET_CHECK_EVALUATION_PLANNED planned_first", "ASSET_MATERIALIZATION_PLANNED planned_first",
                "ASSET_MATERIALIZATION_PLANNED planned_second"]
    with pg_instance:
        monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
        assert _planned_run(pg_instance) == expected
        batch_planned_events()
        commits: list[object] = []
        per_batch: list[int] = []
        sa.event.listen(pg_instance.event_log_storage._engine, "commit", commits.append)
        stock_batch = PostgresEventLog.store_event_batch

        def store_event_batch(storage: PostgresEventLog, events: Any) -> None:
            commits.clear()
            stock_batch(storage, events)
            per_batch.append(len(commits))

        monkeypatch.setattr(PostgresEventLog, "store_event_batch", store_event_batch)
        assert _planned_run(pg_instance) == expected
        assert per_batch == [1]  # the plan, stored at the run's start; statements outside a batch autocommit
        stock = SqlEventLogStorage._store_asset_check_evaluation_planned
        failed: list[bool] = []

        def fails_once(storage: object, event: object, event_id: object) -> None:
            if not failed:
                failed.append(True)
                raise RuntimeError("the index was locked")
            stock(storage, event, event_id)  # type: ignore[arg-type]

        monkeypatch.setattr(SqlEventLogStorage, "_store_asset_check_evaluation_planned", fails_once)
        assert _planned_run(pg_instance) == expected  # each once: nothing of the failed batch was kept
        assert failed and "Exception while storing event batch: the index was locked" in capsys.readouterr().err
