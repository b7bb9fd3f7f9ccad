"""platform_runs on PostgreSQL: created by the same metadata in the platform schema, one row per run and unit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.postgres.pgutil import NOW, rows, store_on

pytestmark = pytest.mark.postgres


def test_runs_table_lives_in_the_platform_schema_and_keeps_one_row_per_run_and_unit(pg_database: str) -> None:
    store = store_on(pg_database)
    try:
        store.records.start_run("run-1", "amr", "gx_datatech", NOW)
        store.records.start_run("run-1", "amr", "gx_datatech", NOW)  # a retried step replaces its earlier attempt
        store.records.finish_run("run-1", "amr", NOW + timedelta(minutes=2), "succeeded")
        store.records.record_run("run-1", "nn_water", "gx_datatech", NOW, NOW, "refused", "not entrusted", NOW.date())
        store.records.start_run("run-2", "amr", None, NOW)  # never finished
    finally:
        store.dispose()
    assert rows(pg_database, """
        select run_id, unit, contractor, extract(epoch from finished_at - started_at), status, reason, run_date
        from platform.platform_runs order by run_id, unit""") == [
        ("run-1", "amr", "gx_datatech", 120, "succeeded", None, None),
        ("run-1", "nn_water", "gx_datatech", 0, "refused", "not entrusted", NOW.date()),
        ("run-2", "amr", None, None, "failed", "did not finish", None),
    ]
