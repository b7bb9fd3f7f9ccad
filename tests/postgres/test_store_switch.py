"""One variable switches the shared store to PostgreSQL: the same graph, the same counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import materialize_all, open_store, write_csv
from tests.integration.test_pipeline_mini import HEADER, enterprise_rows

pytestmark = pytest.mark.postgres


def test_mini_pipeline_converges_into_postgres(tmp_path: Path, mini_catalogue_dir: Path, pg_database: str) -> None:
    intake, data = tmp_path / "intake", tmp_path / "data"
    write_csv(intake / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    assert materialize_all(mini_catalogue_dir, intake, data, store_url=pg_database).success
    store = open_store(mini_catalogue_dir, data, pg_database)
    assert store.dialect == "postgresql"
    item = store.catalogue.item("enterprise")
    assert store.tables.shared(item).schema == "shared_province"
    [entry] = store.ledger.submissions()
    assert (entry["received"], entry["converged"], entry["held_back"]) == (20, 14, 6)
    assert store.shared.count_rows(item) == 14
    before = store.shared.read_table(item)
    shutil.copy(intake / "amr" / "_archive" / "enterprise.csv", intake / "amr" / "enterprise.csv")
    materialize_all(mini_catalogue_dir, intake, data, store_url=pg_database)
    assert store.shared.read_table(item).equals(before)
    assert len(store.ledger.submissions()) == 1
    assert not (data / "shared_store.db").exists()
    store.dispose()
