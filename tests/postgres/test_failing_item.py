"""One item whose rows the store rejects fails alone: the other items of its unit converge, the run reports
which item failed and why, and its submission ends failed instead of blocking the item for good."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.store.stage import StageMissing
from tests.conftest import make_uscc
from tests.helpers import check_evaluations, edit_yaml, materialize_all, open_store, write_csv
from tests.integration.test_pipeline_mini import HEADER, TODAY

pytestmark = pytest.mark.postgres


def _with_a_second_enterprise_item(catalogue: Path) -> None:
    def add(document: dict) -> None:
        twin = copy.deepcopy(document["items"][0])
        twin["code"], twin["name"] = "enterprise_branch", "企业分支机构登记信息"
        twin.pop("maps_to", None)
        document["items"].append(twin)

    edit_yaml(catalogue / "items", "amr.yaml", add)


def test_a_store_rejection_fails_one_item_and_its_unit_goes_on(tmp_path: Path, mini_catalogue_dir: Path,
                                                                pg_database: str) -> None:
    _with_a_second_enterprise_item(mini_catalogue_dir)
    intake, data = tmp_path / "intake", tmp_path / "data"
    rows = [[make_uscc(i), f"企业{i}", "450103", "10", "存续", TODAY] for i in range(5)]
    write_csv(intake / "amr" / "enterprise.csv", HEADER, rows)
    write_csv(intake / "amr" / "enterprise_branch.csv", HEADER, rows)
    store = open_store(mini_catalogue_dir, data, pg_database)
    store.ensure_tables()
    branch = store.tables.shared(store.catalogue.item("enterprise_branch"))
    with store.engine.begin() as conn:  # a rule only the database knows: every valid row breaks it
        conn.execute(sa.text(f'ALTER TABLE "{branch.schema}"."{branch.name}" '
                             "ADD CONSTRAINT capital_over_a_million CHECK (capital > 1000000)"))
    store.dispose()

    result = materialize_all(mini_catalogue_dir, intake, data, pg_database, raise_on_error=False)

    assert not result.success  # the unit's step fails at its end, after its other items converged
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.message
    assert "1 item(s) of amr failed: enterprise_branch (shared)" in message and "capital_over_a_million" in message
    checks = check_evaluations(result)
    assert checks["shared_enterprise"].passed
    assert not checks["shared_enterprise_branch"].passed
    store = open_store(mini_catalogue_dir, data, pg_database)
    try:
        assert store.shared.count_rows(store.catalogue.item("enterprise")) == 5
        assert store.shared.count_rows(store.catalogue.item("enterprise_branch")) == 0
        [entry] = store.ledger.submissions("enterprise_branch")
        assert entry["status"] == "failed" and "capital_over_a_million" in entry["reason"]
        [converged] = store.ledger.submissions("enterprise")
        assert (converged["status"], converged["converged"]) == ("converged", 5)
        # the converged submission's stage data went with its convergence; the failed one's stays, rolled back with
        # the merge that failed, for a person to look at
        assert store.stage.rows(entry["submission_id"], "valid") == 5
        with pytest.raises(StageMissing):
            store.stage.rows(converged["submission_id"], "valid")
    finally:
        store.dispose()
