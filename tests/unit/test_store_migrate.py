"""The store migration of held keys: rows held back before the value model keep their keys as submitted, and a
corrected resubmission (whose keys are canonical) releases them only once the migration rewrote them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines import process
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.quality.outcome import ValidationOutcome
from pipelines.store import HeldRow, Store, quarantine_key
from tests.conftest import MINI, make_uscc
from tests.helpers import write_csv

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class PassAll:
    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        return ValidationOutcome(item.code, len(frame), ())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_database")))
    store = Store(url, load_catalogue(MINI))
    store.ensure_tables()
    yield store
    store.dispose()


def hold_legacy_row(store: Store, submitted_key: str) -> None:
    """A row held as the platform held them before the value model: its key as the unit typed it."""
    item = store.catalogue.item("enterprise")
    store.ledger.record(submission_id="old", item="enterprise", unit="amr", source="enterprise.csv", digest="0" * 64,
                        status="converged", received=1, held_back=1, received_at=NOW)
    record = {"credit_code": submitted_key, "name": "", "region": "450103"}
    store.quarantine.hold(item, "amr", "old", [HeldRow(1, {"credit_code": submitted_key}, ["required:name"], record)],
                          NOW)


def resubmit_corrected(store: Store, window: Path, code: str) -> None:
    platform = process.Platform(store.catalogue, window, window.parent / "data", store, PassAll(), clock=lambda: NOW)
    write_csv(window / "amr" / "enterprise__fix.csv", HEADER, [[code, "企业", "450103", "1", "存续", "2026-11-01"]])
    item = store.catalogue.item("enterprise")
    process.take_in(platform, item)
    process.validate(platform, item)
    process.converge(platform, item)


def test_a_held_row_with_an_old_key_is_released_by_a_corrected_resubmission_after_migration(
        store: Store, tmp_path: Path) -> None:
    code = make_uscc(7)
    old = code.translate(FULL_WIDTH)  # full-width digits, as some units' input methods type them
    assert old != code
    hold_legacy_row(store, old)
    item = store.catalogue.item("enterprise")

    dry = store.migrate(dry_run=True)
    assert [(c.item, c.kind, c.detail) for c in dry.changes] == [
        ("enterprise", "held_keys", "1 held row key(s) rewritten to their canonical form")]
    [held] = store.quarantine.held_rows("enterprise")
    assert json.loads(held["record_key"]) == {"credit_code": old}  # a dry run changes nothing

    assert [c.kind for c in store.migrate().changes] == ["held_keys"]
    [held] = store.quarantine.held_rows("enterprise")
    assert held["record_key"] == quarantine_key(item, {"credit_code": code})
    assert store.migrate().changes == []  # once rewritten, nothing is left to rewrite

    resubmit_corrected(store, tmp_path / "intake", code)
    [fix] = [e for e in store.ledger.submissions("enterprise") if e["submission_id"] != "old"]
    assert fix["status"] == "converged"
    [held] = store.quarantine.held_rows("enterprise")
    assert (held["released_by"], held["released_at"] is not None) == (fix["submission_id"], True)


def test_without_the_migration_the_old_key_stays_held(store: Store, tmp_path: Path) -> None:
    """The control: the same resubmission does not release a key that was never made canonical."""
    code = make_uscc(7)
    hold_legacy_row(store, code.translate(FULL_WIDTH))
    resubmit_corrected(store, tmp_path / "intake", code)
    [held] = store.quarantine.held_rows("enterprise")
    assert held["released_by"] is None


def test_a_key_the_value_model_refuses_is_left_as_it_is(store: Store) -> None:
    hold_legacy_row(store, "not a credit code")
    assert store.migrate().changes == []
    [held] = store.quarantine.held_rows("enterprise")
    assert json.loads(held["record_key"]) == {"credit_code": "not a credit code"}
