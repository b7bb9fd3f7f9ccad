"""The event log class of the repository's dagster.yaml writes what Dagster's own SQLite class reads."""

import os
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance_storage import (
    EVENT_BATCH_SIZE,
    EVENT_BATCH_SIZE_ENV,
    RUN_ENGINES,
    SqliteEventLog,
    batch_planned_events,
)

REPO = Path(__file__).resolve().parents[2]


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_present", asset="first")])
def first() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3}, check_results=[dg.AssetCheckResult(passed=True)])


@dg.asset(deps=[first])
def second() -> None:
    return None


def _storage(tmp_path: Path) -> dict[str, Any]:
    """The repository's instance storage settings with their paths under tmp_path."""
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text(encoding="utf-8"))
    return {part: {**settings[part], "config": {"base_dir": str(tmp_path / settings[part]["config"]["base_dir"])}}
            for part in ("run_storage", "event_log_storage", "schedule_storage")}


def test_the_repository_instance_uses_it_and_dagster_reads_what_it_wrote(tmp_path: Path) -> None:
    defs = dg.Definitions(assets=[first, second])
    with dg.instance_for_test(overrides=_storage(tmp_path), temp_dir=str(tmp_path)) as instance:
        assert isinstance(instance.event_log_storage, SqliteEventLog)
        runs = [defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance) for _ in range(2)]
        assert all(r.success for r in runs)
        base_dir = instance.event_log_storage._base_dir
    stock = SqliteEventLogStorage(base_dir)
    for key in (dg.AssetKey("first"), dg.AssetKey("second")):
        records = stock.fetch_materializations(key, limit=10).records
        assert sorted(r.run_id for r in records) == sorted(r.run_id for r in runs)
    for run in runs:
        stored = [e.dagster_event_type for e in stock.get_logs_for_run(run.run_id) if e.is_dagster_event]
        assert stored.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 2
        assert stored.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 1
        assert stored[-1] == dg.DagsterEventType.RUN_SUCCESS


def test_it_keeps_the_engines_of_the_latest_runs_only(tmp_path: Path) -> None:
    storage = SqliteEventLog(str(tmp_path))
    for n in range(RUN_ENGINES + 3):
        with storage.run_connection(f"run-{n}"):
            pass
    with storage.index_connection():
        pass
    kept = list(storage._engines)
    assert kept == [f"run-{n}" for n in range(3, RUN_ENGINES + 3)] + ["index"]
    storage.wipe()
    assert list(storage._engines) == ["index"]


def test_a_watcher_sees_each_event_of_a_run_as_it_is_stored(tmp_path: Path) -> None:
    """The run's connection stays open, so its events land in the write-ahead log first: the webserver's watch
    on a live run still gets each one as it is stored, in order, with Dagster's reader."""
    storage = SqliteEventLog(str(tmp_path))
    received: list[str] = []
    storage.watch("live", None, lambda entry, _cursor: received.append(entry.user_message))
    try:
        for n in range(3):
            storage.store_event(EventLogEntry(error_info=None, level="INFO", user_message=f"event {n}",
                                              run_id="live", timestamp=time.time()))
            deadline = time.monotonic() + 20
            while len(received) <= n and time.monotonic() < deadline:
                time.sleep(0.05)
            assert received == [f"event {k}" for k in range(n + 1)]
        assert Path(f"{storage.path_for_shard('live')}-wal").exists()  # written through the open connection
    finally:
        storage.dispose()


def test_a_second_run_asks_no_schema_question_and_a_wipe_asks_again(tmp_path: Path,
                                                                     monkeypatch: Any) -> None:
    asked: list[str] = []
    stock_has_table = SqliteEventLogStorage.has_table
    stock_has_column = SqlEventLogStorage._has_asset_key_col_on_connection
    stock_has_index = SqlEventLogStorage.has_secondary_index

    def has_table(storage: Any, name: str) -> bool:
        asked.append(f"table {name}")
        return stock_has_table(storage, name)

    def has_column(storage: Any, conn: Any, name: str) -> bool:
        asked.append(f"column {name}")
        return stock_has_column(storage, conn, name)

    def has_index(storage: Any, name: str) -> bool:
        asked.append(f"index {name}")
        return stock_has_index(storage, name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", has_table)
    monkeypatch.setattr(SqlEventLogStorage, "_has_asset_key_col_on_connection", has_column)
    monkeypatch.setattr(SqlEventLogStorage, "has_secondary_index", has_index)
    job = dg.Definitions(assets=[first, second]).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test(overrides=_storage(tmp_path), temp_dir=str(tmp_path)) as instance:
        assert job.execute_in_process(instance=instance).success
        first_run = list(asked)
        assert job.execute_in_process(instance=instance).success
        second_run = asked[len(first_run):]
        instance.event_log_storage.wipe()
        assert job.execute_in_process(instance=instance).success
        after_wipe = asked[len(first_run) + len(second_run):]
    assert any(q.startswith("index ") for q in first_run)  # Dagster's asset-record look-ups ask it
    assert first_run and second_run == []  # every question of the first run is answered from then on
    # the wiped instance is asked about again (its tables made anew), but for the index's data migration, which a
    # new index is stamped with unasked
    assert set(first_run) - {"index asset_key_table"} <= set(after_wipe)


PLANNED = (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
# what a run of first and second plans: an event per asset and per check
RUN_PLAN = [("ASSET_CHECK_EVALUATION_PLANNED", "first:rows_present"), ("ASSET_MATERIALIZATION_PLANNED", "first"),
            ("ASSET_MATERIALIZATION_PLANNED", "second")]


def _planned(tmp_path: Path, name: str) -> tuple[str, list[tuple[str, str]]]:
    """A run of first and second: its id, and what Dagster's stock reader finds of its planned events (sorted:
    Dagster orders a batch by key)."""
    job = dg.Definitions(assets=[first, second]).resolve_implicit_global_asset_job_def()
    (tmp_path / name).mkdir()
    with dg.instance_for_test(overrides=_storage(tmp_path / name), temp_dir=str(tmp_path / name)) as instance:
        run = job.execute_in_process(instance=instance)
        base_dir = instance.event_log_storage._base_dir
    found = []
    for entry in SqliteEventLogStorage(base_dir).get_logs_for_run(run.run_id):
        if entry.is_dagster_event and entry.dagster_event_type in PLANNED:
            event = entry.get_dagster_event()
            check_key = getattr(event.event_specific_data, "asset_check_key", None)
            key = f"{check_key.asset_key.to_user_string()}:{check_key.name}" if check_key else \
                event.asset_key.to_user_string()  # type: ignore[union-attr]
            found.append((event.event_type_value, key))
    return run.run_id, sorted(found)


def _commits_per_batch(monkeypatch: Any) -> list[list[str]]:
    """For each batch the storage is handed, the database files its commits went to (but the commits that make a
    new run file's tables: the planned events are a run's first)."""
    from sqlalchemy.engine import Connection

    batches: list[list[str]] = []
    commits: list[str] = []
    making_tables: list[bool] = []
    stock_commit, stock_batch = Connection._commit_impl, SqliteEventLog.store_event_batch
    stock_initdb = SqliteEventLogStorage._initdb

    def commit(conn: Any) -> None:
        if not making_tables:
            commits.append(Path(conn.engine.url.database).stem)
        stock_commit(conn)

    def initdb(storage: Any, *args: Any, **kwargs: Any) -> None:
        making_tables.append(True)
        try:
            stock_initdb(storage, *args, **kwargs)
        finally:
            making_tables.clear()

    def store_event_batch(storage: Any, events: Any) -> None:
        commits.clear()
        stock_batch(storage, events)
        batches.append(sorted(commits))

    monkeypatch.setattr(Connection, "_commit_impl", commit)
    monkeypatch.setattr(SqliteEventLogStorage, "_initdb", initdb)
    monkeypatch.setattr(SqliteEventLog, "store_event_batch", store_event_batch)
    return batches


def test_batches_are_dagsters_choice_unless_the_deployment_set_a_size(monkeypatch: Any) -> None:
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
    batch_planned_events()
    assert os.environ[EVENT_BATCH_SIZE_ENV] == str(EVENT_BATCH_SIZE)
    for chosen in ("50", "0"):  # a size of its own, or batches off
        monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, chosen)
        batch_planned_events()
        assert os.environ[EVENT_BATCH_SIZE_ENV] == chosen
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "")  # Dagster's int("") would fail every event
    batch_planned_events()
    assert os.environ[EVENT_BATCH_SIZE_ENV] == str(EVENT_BATCH_SIZE)


def test_a_runs_planned_events_are_one_transaction_per_file_and_read_as_stored_one_by_one(
        tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
    _, one_by_one = _planned(tmp_path, "one_by_one")
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
    batches = _commits_per_batch(monkeypatch)
    run_id, batched = _planned(tmp_path, "batched")
    assert one_by_one == batched == RUN_PLAN
    assert batches == [sorted([run_id, "index"])]  # the plan, at the run's start: its file's and the index's


def test_a_batch_that_fails_keeps_nothing_and_dagster_stores_it_event_by_event(
        tmp_path: Path, monkeypatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The first planned check fails to store inside the batch: what the batch stored before it is rolled back,
    and Dagster's fallback then stores each event once (a batch committed in part would show them twice)."""
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
    stock = SqlEventLogStorage._store_asset_check_evaluation_planned
    failures: list[str] = []

    def fails_once(storage: Any, event: Any, event_id: Any) -> None:
        if not failures:
            failures.append("failed")
            raise RuntimeError("the index was locked")
        stock(storage, event, event_id)

    monkeypatch.setattr(SqlEventLogStorage, "_store_asset_check_evaluation_planned", fails_once)
    assert _planned(tmp_path, "failing")[1] == RUN_PLAN
    assert failures == ["failed"]
    assert "Exception while storing event batch: the index was locked" in capsys.readouterr().err
