"""The event log class of the repository's dagster.yaml writes what Dagster's own SQLite class reads."""

import time
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance_storage import RUN_ENGINES, SqliteEventLog

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

    def has_table(storage: Any, name: str) -> bool:
        asked.append(f"table {name}")
        return stock_has_table(storage, name)

    def has_column(storage: Any, conn: Any, name: str) -> bool:
        asked.append(f"column {name}")
        return stock_has_column(storage, conn, name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", has_table)
    monkeypatch.setattr(SqlEventLogStorage, "_has_asset_key_col_on_connection", has_column)
    job = dg.Definitions(assets=[first, second]).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test(overrides=_storage(tmp_path), temp_dir=str(tmp_path)) as instance:
        assert job.execute_in_process(instance=instance).success
        first_run = list(asked)
        assert job.execute_in_process(instance=instance).success
        second_run = asked[len(first_run):]
        instance.event_log_storage.wipe()
        assert job.execute_in_process(instance=instance).success
        after_wipe = asked[len(first_run) + len(second_run):]
    assert first_run and second_run == []  # every question of the first run is answered from then on
    assert set(first_run) <= set(after_wipe)  # the wiped instance is asked about again (its tables made anew)
