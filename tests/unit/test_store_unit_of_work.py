"""The store's repositories share one unit of work: a state change and its quarantine rows commit together or
not at all; outside a unit of work each repository call is its own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.store import HeldRow, Store
from pipelines.store.stage import VALID, StageMissing
from tests.conftest import MINI

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Boom(Exception):
    pass


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_database")))
    store = Store(url, load_catalogue(MINI))
    store.ensure_tables()
    store.ledger.claim(submission_id="s1", item="enterprise", unit="amr", source="enterprise.csv", digest="0" * 64,
                       status="received", received=2, received_at=NOW)
    yield store
    store.dispose()


def validate_in_one_unit_of_work(store: Store, fail: bool) -> None:
    item = store.catalogue.item("enterprise")
    with store.unit_of_work() as uow:
        assert uow.ledger.advance("s1", "received", "validated", valid=1, held_back=1)
        uow.write_stage("s1", VALID, pd.DataFrame({"credit_code": ["A"]}))
        uow.quarantine.hold(item, "amr", "s1", [HeldRow(2, {"credit_code": "B"}, ["required:name"], {})], NOW)
        assert uow.ledger.submissions("enterprise")[0]["status"] == "validated"  # it sees its own writes
        if fail:
            raise Boom


def test_a_failing_unit_of_work_leaves_nothing_of_its_state_change(store: Store) -> None:
    with pytest.raises(Boom):
        validate_in_one_unit_of_work(store, fail=True)
    assert [e["status"] for e in store.ledger.submissions()] == ["received"]
    assert store.quarantine.held_rows() == []
    with pytest.raises(StageMissing):
        store.stage.rows("s1", VALID)


def test_a_finished_unit_of_work_commits_every_repository_s_part(store: Store) -> None:
    validate_in_one_unit_of_work(store, fail=False)
    [entry] = store.ledger.submissions()
    assert (entry["status"], entry["valid"], entry["held_back"]) == ("validated", 1, 1)
    assert [(h["row_no"], h["record_key"]) for h in store.quarantine.held_rows()] == [(2, '{"credit_code": "B"}')]
    assert store.stage.rows("s1", VALID) == 1


def test_the_claim_is_taken_once(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.ledger.advance("s1", "received", "validated")
        assert not uow.ledger.advance("s1", "received", "validated")  # no longer received
    assert not store.ledger.claim(submission_id="s1", item="enterprise", unit="amr", source="x", digest="1" * 64,
                                  status="received", received=0, received_at=NOW)


def test_outside_a_unit_of_work_each_call_commits_on_its_own(store: Store) -> None:
    assert store.ledger.fail("s1", "ValueError: a bad value")
    assert [(e["status"], e["reason"]) for e in store.ledger.submissions()] == [("failed", "ValueError: a bad value")]
    assert not store.ledger.fail("s1", "again")  # failed is terminal


def test_a_convergence_releases_only_other_submissions_open_rows_with_its_keys(store: Store) -> None:
    from pipelines.quality.corrections import has_open_rows, release_corrected

    item = store.catalogue.item("enterprise")
    first = [HeldRow(n, {"credit_code": code}, ["required:name"], {}) for n, code in enumerate("ABCD", 1)]
    store.quarantine.hold(item, "amr", "s1", first, NOW)
    store.quarantine.hold(item, "amr", "s2", [HeldRow(1, {"credit_code": "E"}, ["required:name"], {})], NOW)
    assert store.quarantine.open_keys("enterprise", "s1") == {'{"credit_code": "E"}'}
    assert store.quarantine.open_keys("enterprise", "s2") == {f'{{"credit_code": "{c}"}}' for c in "ABCD"}
    # s2 converges B, D, its own E (never released by itself) and F (held by nobody): B and D are released
    converged = pd.DataFrame({"credit_code": ["F", "D", "E", "B"], "name": ["f", "d", "e", "b"]})
    assert release_corrected(store.quarantine, item, "s2", converged, NOW) == 2
    released = {(h["submission_id"], h["row_no"]): h["released_by"] for h in store.quarantine.held_rows()}
    assert released == {("s1", 1): None, ("s1", 2): "s2", ("s1", 3): None, ("s1", 4): "s2", ("s2", 1): None}
    # s1 converges s2's E; its own A and C stay open, and then no other submission's row is open for it
    assert release_corrected(store.quarantine, item, "s1", pd.DataFrame({"credit_code": ["E"]}), NOW) == 1
    assert release_corrected(store.quarantine, item, "s1", pd.DataFrame({"credit_code": ["A", "C"]}), NOW) == 0
    assert not has_open_rows(store, "enterprise", "s1")
    assert has_open_rows(store, "enterprise", "s2") and has_open_rows(store, "enterprise")


def test_held_keys_are_released_from_every_stage_chunk_of_the_converged_rows(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.process import read_stage_keys
    from pipelines.quality.corrections import release_corrected

    monkeypatch.setenv("GOVDATA_STAGE_CHUNK_ROWS", "2")  # seven valid rows in four chunks
    store = Store(f"sqlite:///{tmp_path / 'chunks.db'}", load_catalogue(MINI))
    store.ensure_tables()
    item = store.catalogue.item("enterprise")
    store.quarantine.hold(item, "amr", "s0", [HeldRow(n, {"credit_code": code}, ["required:name"], {})
                                              for n, code in enumerate("BEGX", 1)], NOW)
    store.stage.write("s1", VALID, pd.DataFrame({"credit_code": list("ABCDEFG"), "name": list("abcdefg")}))
    assert store.stage.chunk_sizes("s1", VALID) == [2, 2, 2, 1]
    assert release_corrected(store.quarantine, item, "s1", read_stage_keys(store.stage, "s1", item), NOW) == 3
    released = {json.loads(h["record_key"])["credit_code"]: h["released_by"] for h in store.quarantine.held_rows()}
    assert released == {"B": "s1", "E": "s1", "G": "s1", "X": None}  # chunks 1, 3 and 4; X converged nowhere
    store.dispose()


def test_migrate_drops_the_stage_data_only_of_submissions_converged_before(store: Store) -> None:
    """A store from before convergence dropped the stage keeps a converged submission's stage data: ``migrate``
    drops it (listed first by a dry run, which changes nothing) and leaves a submission still on its way alone."""
    frame = pd.DataFrame({"credit_code": ["A", "B"]})
    store.ledger.claim(submission_id="s2", item="enterprise", unit="amr", source="again.csv", digest="2" * 64,
                       status="received", received=2, received_at=NOW)
    for sid in ("s1", "s2"):
        store.stage.write(sid, "intake", frame)
        store.stage.write(sid, VALID, frame)
    assert store.ledger.advance("s1", "received", "validated")
    assert store.ledger.advance("s1", "validated", "converged")  # converged as the code before did: stage kept
    planned = [c.message for c in store.migrate(dry_run=True).changes if c.kind == "converged_stage"]
    assert planned == ["enterprise: converged stage: the stage data of 1 converged submission(s) dropped -- applied"]
    assert store.stage.rows("s1", VALID) == 2  # a dry run drops nothing
    assert [c.kind for c in store.migrate().changes] == ["converged_stage"]
    for kind in ("intake", VALID):
        with pytest.raises(StageMissing):
            store.stage.rows("s1", kind)
        assert store.stage.rows("s2", kind) == 2
    assert [c.kind for c in store.migrate().changes] == []  # nothing left to drop
