"""What the platform recorded, as plain records the indicators are computed from.

The indicators are pure functions over these dataclasses, so tests build a ledger and a check history
by hand; ``read_records`` is the thin reader from the store (SQLite or PostgreSQL, SQLAlchemy Core)
and the repeated-collection log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipelines.evaluation.periods import utc
from pipelines.sharing import carried_log

ACCEPTED = ("received", "validated", "converged")


@dataclass(frozen=True)
class Submission:
    """A ledger row: one submission (accepted or refused) of an item by a unit."""

    submission_id: str
    item: str
    unit: str
    status: str  # received, validated, converged or rejected
    received_at: datetime
    received: int = 0
    held_back: int = 0
    reason: str | None = None
    converged_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED


@dataclass(frozen=True)
class QuarantinedRow:
    submission_id: str
    item: str
    unit: str
    held_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None


@dataclass(frozen=True)
class CheckResult:
    item: str
    unit: str
    dimension: str
    passed: bool
    pass_rate: float
    checked_at: datetime


@dataclass(frozen=True)
class SharingApplication:
    id: int
    applicant: str
    item: str
    status: str
    applied_at: datetime
    decided_at: datetime | None = None


@dataclass(frozen=True)
class SharingRead:
    """One request to the sharing service (or one file extract) for an item, from its audit chain."""

    item: str
    reader: str
    at: datetime
    allowed: bool
    rows: int = 0


@dataclass(frozen=True)
class RepeatedFlag:
    """A submission that carried values the platform obtains through sharing (art. 13)."""

    submission_id: str
    item: str
    unit: str
    field: str
    flagged_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One (Dagster run, unit) execution; ``contractor`` None means the unit ran it itself."""

    run_id: str
    unit: str
    contractor: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str  # succeeded, failed or refused
    reason: str | None = None


@dataclass(frozen=True)
class Records:
    submissions: Sequence[Submission] = ()
    held: Sequence[QuarantinedRow] = ()
    checks: Sequence[CheckResult] = ()
    applications: Sequence[SharingApplication] = ()
    flags: Sequence[RepeatedFlag] = ()
    runs: Sequence[RunRecord] = field(default_factory=tuple)
    reads: Sequence[SharingRead] = ()


def merged(records: Sequence[Records]) -> Records:
    """The records of several platforms' stores as one (the province supervises every city's, art. 19)."""
    return Records(*(tuple(r for one in records for r in getattr(one, f.name)) for f in fields(Records)))


def read_records(store: Any, data_dir: Path | None = None) -> Records:
    """Everything the evaluation reads of one platform's store (``data_dir`` is not read: the records are all in
    the store); another platform's through its link, ``PlatformLink.records``."""
    store.ensure_tables([])
    with store.engine.connect() as conn:
        ledger = store.tables.ledger
        submissions = [_submission(r._mapping) for r in conn.execute(select(
            ledger.c.submission_id, ledger.c.item, ledger.c.unit, ledger.c.status, ledger.c.received_at,
            ledger.c.received, ledger.c.held_back, ledger.c.reason, ledger.c.converged_at))]
        q = store.tables.quarantine
        held = [QuarantinedRow(r.submission_id, r.item, r.unit, utc(r.held_at), _utc(r.released_at), r.released_by)
                for r in conn.execute(select(q.c.submission_id, q.c.item, q.c.unit, q.c.held_at, q.c.released_at,
                                             q.c.released_by))]
        c = store.tables.check_results
        checks = [CheckResult(r.item, r.unit, r.dimension, bool(r.passed), float(r.pass_rate), utc(r.checked_at))
                  for r in conn.execute(select(c.c.item, c.c.unit, c.c.dimension, c.c.passed, c.c.pass_rate,
                                               c.c.checked_at))]
        a = store.tables.sharing_applications
        applications = [SharingApplication(r.id, r.applicant, r.item, r.status, utc(r.applied_at), _utc(r.decided_at))
                        for r in conn.execute(select(a.c.id, a.c.applicant, a.c.item, a.c.status, a.c.applied_at,
                                                     a.c.decided_at))]
    return Records(submissions, held, checks, applications, repeated_flags(carried_log(store)),
                   read_runs(store), read_sharing_reads(store))


def _submission(row: Any) -> Submission:
    return Submission(row["submission_id"], row["item"], row["unit"], row["status"], utc(row["received_at"]),
                      row["received"] or 0, row["held_back"] or 0, row["reason"], _utc(row["converged_at"]))


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def repeated_flags(log: list[dict[str, Any]]) -> list[RepeatedFlag]:
    return [RepeatedFlag(str(e["submission_id"]), str(e["item"]), str(e["unit"]), str(e["field"]),
                         utc(datetime.fromisoformat(str(e["flagged_at"])))) for e in log]


def read_sharing_reads(store: Any) -> list[SharingRead]:
    """The reads the sharing service answered or refused (``pipelines.serving``), from its audit chain; none
    when the service never ran on this store."""
    from pipelines.serving.service import READ_EVENTS
    from pipelines.serving.tables import service_tables

    audit = service_tables(store).audit
    if not store.shared.has_table(audit):
        return []
    query = select(audit.c.item, audit.c.unit, audit.c.at, audit.c.allowed, audit.c.rows).where(
        audit.c.event.in_(READ_EVENTS), audit.c.item.is_not(None), audit.c.unit.is_not(None))
    with store.engine.connect() as conn:
        return [SharingRead(r.item, r.unit, utc(r.at), bool(r.allowed), int(r.rows)) for r in conn.execute(query)]


def read_runs(store: Any) -> list[RunRecord]:
    """The run records the platform keeps in ``platform_runs`` (read_records has ensured the table)."""
    return [RunRecord(r["run_id"], r["unit"], r["contractor"], utc(r["started_at"]), _utc(r["finished_at"]),
                      r["status"], r["reason"]) for r in store.records.run_records()]
