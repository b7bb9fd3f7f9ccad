"""A violation's life: opened, then rectified by the data or overdue and escalated; detection never duplicates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

from sqlalchemy import func, select

from pipelines.catalogue import load_catalogue
from pipelines.evaluation.config import Deadlines
from pipelines.evaluation.records import QuarantinedRow, Records, RepeatedFlag, Submission, read_records
from pipelines.evaluation.violations import (
    OPEN,
    OVERDUE,
    RECTIFIED,
    detect,
    load_violations,
    save_violations,
    settle,
    sync_violations,
    violations_table,
)
from pipelines.store import Store
from tests.conftest import MINI
from tests.unit.evaluation_fixtures import moment

REFUSED = ("item 'permits' is not in the catalogue: no collection outside the catalogue (art. 12)")
EXPIRED = ("temporary collection of item 'survey' expired on 2026-10-31 (approved by 省政府办公厅 for: 普查): "
           "no collection outside the catalogue (art. 12)")
DEADLINES = Deadlines(out_of_catalogue=15, expired_temporary=10, repeated_collection=30, overdue_correction=5)


def refused(day: int) -> Submission:
    return Submission("permits/permits.csv/aaa", "permits", "amr", "rejected", moment(day), 12, 12, REFUSED)


def test_out_of_catalogue_opened_then_rectified_by_a_later_accepted_submission() -> None:
    opened = settle(detect(Records([refused(2)]), 7, moment(3)), [], DEADLINES, moment(3))
    [v] = opened
    assert (v.kind, v.unit, v.item, v.status, v.opened_at, v.deadline) == (
        "out_of_catalogue", "amr", "permits", OPEN, moment(2), moment(17))
    assert v.detail == f"12 row(s) refused: {REFUSED}"
    fixed = Submission("permits/p2/bbb", "permits", "amr", "converged", moment(9), 12, 0, None, moment(9))
    [after] = settle(detect(Records([refused(2), fixed]), 7, moment(10)), opened, DEADLINES, moment(10))
    assert (after.status, after.closed_at, after.closed_by, after.deadline) == (
        RECTIFIED, moment(9), "permits/p2/bbb", moment(17))


def test_opened_then_overdue_and_escalated_once() -> None:
    data = Records([refused(2)])
    opened = settle(detect(data, 7, moment(3)), [], DEADLINES, moment(3))
    at_deadline = settle(detect(data, 7, moment(17)), opened, DEADLINES, moment(17))
    assert [v.status for v in at_deadline] == [OPEN]  # exactly at the deadline: still in time
    [late] = settle(detect(data, 7, moment(20)), at_deadline, DEADLINES, moment(20))
    assert (late.status, late.escalated_at, late.days_overdue(moment(20))) == (OVERDUE, moment(20), 3)
    [later] = settle(detect(data, 7, moment(25)), [late], DEADLINES, moment(25))
    assert (later.status, later.escalated_at) == (OVERDUE, moment(20))
    # a longer deadline in the configuration does not move a violation already opened
    [kept] = settle(detect(data, 7, moment(25)), [later], Deadlines(out_of_catalogue=60), moment(25))
    assert kept.deadline == moment(17)


def test_every_kind_is_detected_from_the_records() -> None:
    data = Records(
        submissions=[
            Submission("survey/s.csv/ccc", "survey", "nn", "rejected", moment(3), 4, 4, EXPIRED),
            Submission("water/w.csv/ddd", "water", "nn", "rejected", moment(3), 4, 4, "unsupported file type '.doc'"),
            Submission("water/x.csv/ggg", "water", "nn", "rejected", moment(3), 4, 4,
                       "uncatalogued column(s) remark: no collection outside the catalogue (art. 12)"),
            Submission("water/w1/eee", "water", "nn", "converged", moment(4), 10, 0, None, moment(4)),
            Submission("water/w2/fff", "water", "nn", "converged", moment(6), 10, 0, None, moment(6)),
        ],
        held=[QuarantinedRow("water/w1/eee", "water", "nn", moment(4)),
              QuarantinedRow("water/w1/eee", "water", "nn", moment(4), moment(5), "water/w2/fff")],
        flags=[RepeatedFlag("water/w1/eee", "water", "nn", "holder_name", moment(4, 1))],
    )
    found = {f.kind: f for f in detect(data, 3, moment(10))}
    assert sorted(found) == ["expired_temporary", "out_of_catalogue", "overdue_correction", "repeated_collection"]
    # the uncatalogued column was refused on the 3rd; the accepted submission on the 4th rectified it
    assert (found["out_of_catalogue"].subject, found["out_of_catalogue"].rectified_by) == (
        "water/x.csv/ggg", "water/w1/eee")
    assert (found["expired_temporary"].subject, found["expired_temporary"].rectified_at) == ("survey/s.csv/ccc", None)
    repeated = found["repeated_collection"]
    assert (repeated.opened_at, repeated.rectified_at, repeated.rectified_by) == (moment(4), moment(6), "water/w2/fff")
    assert repeated.detail == "carried holder_name, obtained through sharing"
    overdue = found["overdue_correction"]
    assert (overdue.subject, overdue.opened_at, overdue.rectified_at) == ("water/w1/eee", moment(7), None)
    assert overdue.detail == "2 row(s) held back, 1 still not corrected after 3 day(s)"


def test_repeated_collection_is_rectified_only_by_a_checked_submission_that_carried_nothing() -> None:
    carried = Submission("water/w1/eee", "water", "nn", "converged", moment(4), 10, 0, None, moment(4))
    flags = [RepeatedFlag("water/w1/eee", "water", "nn", "holder_name", moment(4, 1))]

    def repeated(*later: Submission) -> tuple[object, object]:
        [finding] = [f for f in detect(Records([carried, *later], flags=flags), 7, moment(10))
                     if f.kind == "repeated_collection"]
        return finding.rectified_at, finding.rectified_by

    # received but not yet validated: whether it carried looked-up values is not known yet
    pending = Submission("water/w2/fff", "water", "nn", "received", moment(6), 10)
    assert repeated(pending) == (None, None)
    assert repeated(replace(pending, status="validated")) == (moment(6), "water/w2/fff")
    assert repeated(replace(pending, status="converged", converged_at=moment(6))) == (moment(6), "water/w2/fff")
    # nor does a refused file, which was never validated
    assert repeated(replace(pending, status="rejected", reason="unsupported file type '.doc'")) == (None, None)


def test_detection_on_the_store_is_idempotent(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    store.ensure_tables([])
    store.ledger.record(submission_id="permits/permits.csv/aaa", item="permits", unit="amr",
                            source="permits.csv", digest="a" * 64, status="rejected", reason=REFUSED, received=12,
                            held_back=12, received_at=moment(2))
    records = read_records(store, tmp_path)
    first, counts = sync_violations(store, records, DEADLINES, 7, moment(3))
    assert counts == {"opened": 1, "rectified": 0, "escalated": 0}
    again, counts = sync_violations(store, records, DEADLINES, 7, moment(20))
    assert counts == {"opened": 0, "rectified": 0, "escalated": 1}
    table = violations_table(store)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1
    [stored] = load_violations(store)
    assert (stored.status, stored.opened_at, stored.deadline, stored.escalated_at) == (
        OVERDUE, moment(2), moment(17), moment(20))
    assert [v.status for v in first] == [OPEN] and again == [stored]
    store.dispose()


def test_a_violation_opened_meanwhile_by_a_concurrent_evaluation_is_not_inserted_twice(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    store.ensure_tables([])
    [finding] = detect(Records(submissions=[refused(2)]), 7, moment(3))
    [violation] = settle([finding], [], DEADLINES, moment(3))
    assert save_violations(store, [violation], moment(3))["opened"] == 1
    # the other evaluation read the table before this one wrote, and saves the same new violation
    later = settle([finding], [], DEADLINES, moment(4))
    with patch("pipelines.evaluation.violations.load_violations", return_value=[]):
        assert save_violations(store, later, moment(4))["opened"] == 0
    [stored] = load_violations(store)
    assert (stored.opened_at, stored.deadline) == (moment(2), moment(17))  # the first one stands
    store.dispose()


def test_an_overdue_correction_is_followed_to_its_rectification_after_the_rule_is_relaxed(tmp_path: Path) -> None:
    held = [QuarantinedRow("water/w1/eee", "water", "nn", moment(1)),
            QuarantinedRow("water/w1/eee", "water", "nn", moment(1))]
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    [opened], _ = sync_violations(store, Records(held=held), DEADLINES, 7, moment(10))
    assert (opened.kind, opened.status) == ("overdue_correction", OPEN)
    # the configuration now allows 30 days, and the unit corrects both rows on the 12th
    corrected = [replace(r, released_at=moment(12), released_by="water/w2/fff") for r in held]
    [after], counts = sync_violations(store, Records(held=corrected), DEADLINES, 30, moment(13))
    assert (after.status, after.closed_at, after.closed_by, after.opened_at) == (
        RECTIFIED, moment(12), "water/w2/fff", moment(8))
    assert counts["rectified"] == 1
    store.dispose()
