"""platform_violations on PostgreSQL: in the platform schema, opened once, escalated once, never duplicated,
also when two evaluations open the same violation at the same time."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import pytest

from pipelines.evaluation.config import Deadlines
from pipelines.evaluation.records import read_records
from pipelines.evaluation.violations import OVERDUE, detect, load_violations, save_violations, settle, sync_violations
from tests.postgres.pgutil import rows, store_on
from tests.unit.evaluation_fixtures import moment

pytestmark = pytest.mark.postgres
REFUSED = "item 'permits' is not in the catalogue: no collection outside the catalogue (art. 12)"
DEADLINES = Deadlines(out_of_catalogue=15, expired_temporary=10, repeated_collection=30, overdue_correction=5)


def test_violations_are_opened_once_and_escalated_on_postgres(pg_database: str, tmp_path: Path) -> None:
    store = store_on(pg_database)
    try:
        store.ensure_tables([])
        store.ledger.record(submission_id="permits/permits.csv/aaa", item="permits", unit="amr",
                                source="permits.csv", digest="a" * 64, status="rejected", reason=REFUSED,
                                received=12, held_back=12, received_at=moment(2))
        records = read_records(store, tmp_path)
        assert sync_violations(store, records, DEADLINES, 7, moment(3))[1]["opened"] == 1
        [violation] = settle(detect(records, 7, moment(4)), [], DEADLINES, moment(4))
        with patch("pipelines.evaluation.violations.load_violations", return_value=[]):  # a concurrent one
            assert save_violations(store, [violation], moment(4))["opened"] == 0
        assert sync_violations(store, records, DEADLINES, 7, moment(20))[1]["escalated"] == 1
        [stored] = load_violations(store)
        assert stored.status == OVERDUE
    finally:
        store.dispose()
    assert rows(pg_database, "select kind, unit, item, status, extract(day from deadline - opened_at) "
                             "from platform.platform_violations") == [
        ("out_of_catalogue", "amr", "permits", "overdue", 15)]
