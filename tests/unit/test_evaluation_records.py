"""The repeated-collection log lives in the store: what validation flags, the evaluation reads, in order, in UTC."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

from pipelines.catalogue import load_catalogue
from pipelines.evaluation.records import RepeatedFlag, read_records
from pipelines.sharing import CarriedLookup, carried_log, record_carried
from pipelines.store import Store
from tests.conftest import REPO
from tests.unit.evaluation_fixtures import moment

GOVERNED = REPO / "tests" / "fixtures" / "governed"
FLAG = {"item": "licence", "unit": "health", "submission_id": "licence/a.csv/1", "field": "enterprise_name",
        "source": "enterprise.name", "rows": 3, "flagged_at": moment(4).isoformat()}


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(GOVERNED))
    store.ensure_tables([])
    return store


def test_flags_read_back_in_the_order_they_were_recorded(tmp_path: Path) -> None:
    store = _store(tmp_path)
    licence = store.catalogue.item("licence")
    try:
        record_carried(store, licence, "licence/a.csv/1", [CarriedLookup("enterprise_name", "enterprise.name", 3)],
                       moment(4))
        record_carried(store, licence, "licence/b.csv/2", [], moment(5))  # nothing carried: nothing flagged
        # flagged at 16:00 China time: read back as 08:00 UTC
        record_carried(store, licence, "licence/c.csv/3", [CarriedLookup("enterprise_name", "enterprise.name", 1)],
                       moment(6, 8).astimezone(timezone(timedelta(hours=8))))
        assert carried_log(store) == [FLAG, {**FLAG, "submission_id": "licence/c.csv/3", "rows": 1,
                                             "flagged_at": moment(6, 8).isoformat()}]
    finally:
        store.dispose()


def test_the_evaluation_reads_the_flags_from_the_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        record_carried(store, store.catalogue.item("licence"), "licence/a.csv/1",
                       [CarriedLookup("enterprise_name", "enterprise.name", 3)], moment(4))
        flags = read_records(store, tmp_path).flags
    finally:
        store.dispose()
    assert flags == [RepeatedFlag("licence/a.csv/1", "licence", "health", "enterprise_name", moment(4))]
