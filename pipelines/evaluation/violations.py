"""Violations and their rectification (art. 8, 12, 13, 16), detected from what the platform recorded.

- ``out_of_catalogue``: a file refused because its item, or a column of it, is not in the catalogue;
- ``expired_temporary``: a file refused because its temporary collection had expired;
- ``repeated_collection``: a submission that carried values the platform obtains through sharing;
- ``overdue_correction``: rows of a submission held back and not released within ``correction_days``.

A violation the records can never show rectified (an expired temporary collection whose item will never
again accept a submission, a held row whose key is wrong for good) ends by the data management
institution's dismissal with a reason (``python -m pipelines dismiss-violation``), kept in
``platform_violation_dismissals``: the violation is closed ``dismissed``, by whom and why, and shown so in
the reports; a later detection does not re-open it.

Each is opened with a deadline (days per kind, from ``evaluation.yaml``), closed as ``rectified`` when the
data shows it corrected (a later accepted submission of the item by the unit; for repeated collection a
later validated or converged one that carried no looked-up values; every held row released for an overdue
correction), and ``overdue`` while still open past its deadline: the report escalates those. Detection is
deterministic and keyed by (kind, unit, subject), so running it again updates the same violations and never
duplicates them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pipelines.evaluation.config import (
    EXPIRED_TEMPORARY,
    OUT_OF_CATALOGUE,
    OVERDUE_CORRECTION,
    REPEATED_COLLECTION,
    Deadlines,
)
from pipelines.evaluation.periods import utc
from pipelines.evaluation.records import QuarantinedRow, Records, Submission

OPEN, OVERDUE, RECTIFIED, DISMISSED = "open", "overdue", "rectified", "dismissed"
CLOSED = (RECTIFIED, DISMISSED)
EXPIRED_MARK = "temporary collection of item"  # intake.expired_reason
OUT_OF_CATALOGUE_MARK = "no collection outside the catalogue"  # intake: unknown item or uncatalogued columns
# Looked-up values are stripped and flagged during validation (pipelines.process), so a submission still only
# "received" may yet be flagged: only a validated or converged one shows the repeated collection stopped.
LOOKUPS_CHECKED = ("validated", "converged")


@dataclass(frozen=True)
class Finding:
    """What the records show about one violation: when it happened and, if so, when it was corrected."""

    kind: str
    unit: str
    item: str
    subject: str  # the submission it concerns
    detail: str
    opened_at: datetime
    rectified_at: datetime | None = None
    rectified_by: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.unit, self.subject


@dataclass(frozen=True)
class Violation:
    kind: str
    unit: str
    item: str
    subject: str
    detail: str
    opened_at: datetime
    deadline: datetime
    status: str = OPEN
    closed_at: datetime | None = None
    closed_by: str | None = None
    escalated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.unit, self.subject

    def days_overdue(self, now: datetime) -> int:
        return max((utc(now) - utc(self.deadline)).days, 0)


def is_open(violation: Violation) -> bool:
    return violation.status in (OPEN, OVERDUE)


def open_at(violation: Violation, moment: datetime) -> bool:
    """Open at ``moment`` by its own times: opened before it and not closed (rectified or dismissed) by then."""
    at = utc(moment)
    return utc(violation.opened_at) < at and (violation.closed_at is None or utc(violation.closed_at) > at)


def overdue_at(violation: Violation, moment: datetime) -> bool:
    """Open at ``moment`` and past its deadline then (what ``status`` says of today)."""
    return open_at(violation, moment) and utc(violation.deadline) < utc(moment)


# --- detection -----------------------------------------------------------------------------------------
def detect(records: Records, correction_days: int, now: datetime,
           tracked_corrections: frozenset[str] = frozenset()) -> list[Finding]:
    """``tracked_corrections``: submissions with an overdue-correction violation still open, followed to
    their rectification even if a longer ``correction_days`` no longer makes them late."""
    accepted: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for s in records.submissions:
        if s.accepted:
            accepted[(s.unit, s.item)].append(s)
    found = [*_refusals(records.submissions, accepted), *_repeated(records, accepted),
             *_overdue_corrections(records.held, correction_days, now, tracked_corrections)]
    return sorted(found, key=lambda f: (f.opened_at, f.key))


def _later(accepted: dict[tuple[str, str], list[Submission]], unit: str, item: str, after: datetime,
           excluded: frozenset[str] = frozenset()) -> Submission | None:
    later = [s for s in accepted.get((unit, item), []) if s.received_at > after and s.submission_id not in excluded]
    return min(later, key=lambda s: s.received_at, default=None)


def _refusals(submissions: Iterable[Submission],
              accepted: dict[tuple[str, str], list[Submission]]) -> Iterable[Finding]:
    for s in submissions:
        kind = _refusal_kind(s.reason or "") if s.status == "rejected" else None
        if kind is None:
            continue  # refused for its format or columns: a data problem, not a collection outside the rules
        fix = _later(accepted, s.unit, s.item, s.received_at)
        yield Finding(kind, s.unit, s.item, s.submission_id, f"{s.received} row(s) refused: {s.reason}",
                      s.received_at, fix.received_at if fix else None, fix.submission_id if fix else None)


def _refusal_kind(reason: str) -> str | None:
    """Read from the reason the intake wrote (pipelines.intake), so a refusal keeps its kind after the
    catalogue has changed (the item catalogued, the temporary collection extended)."""
    if reason.startswith(EXPIRED_MARK):
        return EXPIRED_TEMPORARY
    if OUT_OF_CATALOGUE_MARK in reason:
        return OUT_OF_CATALOGUE
    return None


def _repeated(records: Records, accepted: dict[tuple[str, str], list[Submission]]) -> Iterable[Finding]:
    flagged: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for flag in records.flags:
        flagged[(flag.unit, flag.item, flag.submission_id)].append(flag)
    carrying = frozenset(sid for (_, _, sid) in flagged)
    received = {s.submission_id: s.received_at for s in records.submissions}
    checked = {key: [s for s in subs if s.status in LOOKUPS_CHECKED] for key, subs in accepted.items()}
    for (unit, item, sid), flags in sorted(flagged.items()):
        when = received.get(sid, min(f.flagged_at for f in flags))
        fields = ", ".join(sorted({f.field for f in flags}))
        fix = _later(checked, unit, item, when, excluded=carrying)
        yield Finding(REPEATED_COLLECTION, unit, item, sid, f"carried {fields}, obtained through sharing", when,
                      fix.received_at if fix else None, fix.submission_id if fix else None)


def _overdue_corrections(held: Sequence[QuarantinedRow], correction_days: int, now: datetime,
                         tracked: frozenset[str] = frozenset()) -> Iterable[Finding]:
    allowed = timedelta(days=correction_days)
    by_submission: dict[str, list[QuarantinedRow]] = defaultdict(list)
    for row in held:
        by_submission[row.submission_id].append(row)
    for sid, rows in sorted(by_submission.items()):
        held_at = min(r.held_at for r in rows)
        late = [r for r in rows if (utc(r.released_at) if r.released_at else utc(now)) - r.held_at > allowed]
        if not late and sid not in tracked:
            continue
        releases = sorted((utc(r.released_at), r.released_by or "") for r in rows if r.released_at is not None)
        open_rows = len(rows) - len(releases)
        done = releases[-1] if releases and not open_rows else None
        yield Finding(OVERDUE_CORRECTION, rows[0].unit, rows[0].item, sid,
                      f"{len(rows)} row(s) held back, {open_rows} still not corrected after {correction_days} day(s)",
                      held_at + allowed, done[0] if done else None, done[1] if done else None)


# --- lifecycle -----------------------------------------------------------------------------------------
def settle(findings: Sequence[Finding], existing: Sequence[Violation], deadlines: Deadlines,
           now: datetime) -> list[Violation]:
    """The violations after this detection: new findings opened, corrected ones closed, late ones overdue.
    A violation keeps the deadline it was opened with."""
    state = {v.key: v for v in existing}
    for f in findings:
        current = state.get(f.key) or Violation(f.kind, f.unit, f.item, f.subject, f.detail, f.opened_at,
                                                f.opened_at + timedelta(days=deadlines.days(f.kind)))
        if current.status == DISMISSED:
            pass  # the institution's decision stands
        elif f.rectified_at is not None:
            current = replace(current, detail=f.detail, status=RECTIFIED, closed_at=f.rectified_at,
                              closed_by=f.rectified_by)
        else:
            current = replace(current, detail=f.detail)
        state[f.key] = current
    return [_judged(v, now) for v in state.values()]


def _judged(violation: Violation, now: datetime) -> Violation:
    if violation.status in CLOSED or utc(now) <= utc(violation.deadline):
        return violation
    return replace(violation, status=OVERDUE, escalated_at=violation.escalated_at or utc(now))


# --- the platform_violations table ---------------------------------------------------------------------
def violations_table(store: Any) -> Table:
    return store.tables.violations  # created with the other platform tables (Store.ensure_tables)


_COLUMNS = ("kind", "unit", "item", "subject", "detail", "opened_at", "deadline", "status", "closed_at",
            "closed_by", "escalated_at")


def load_violations(store: Any) -> list[Violation]:
    table = violations_table(store)
    with store.engine.connect() as conn:
        rows = conn.execute(select(*(table.c[c] for c in _COLUMNS)).order_by(table.c.id)).all()
    return [_violation(r._mapping) for r in rows]


def _violation(row: Any) -> Violation:
    values = {c: row[c] for c in _COLUMNS}
    for moment in ("opened_at", "deadline", "closed_at", "escalated_at"):
        values[moment] = utc(row[moment]) if row[moment] is not None else None
    return Violation(**values)


def save_violations(store: Any, violations: Sequence[Violation], now: datetime) -> dict[str, int]:
    """Insert new violations, update changed ones; returns how many were opened, rectified, escalated."""
    table = violations_table(store)
    before = {v.key: v for v in load_violations(store)}
    counts = {"opened": 0, "rectified": 0, "escalated": 0}
    with store.engine.begin() as conn:
        for v in violations:
            values = {c: getattr(v, c) for c in _COLUMNS}
            old = before.get(v.key)
            if old is None:
                counts["opened"] += _insert_new(conn, table, store.dialect, {**values, "recorded_at": now})
            elif old != v:
                conn.execute(update(table).where(table.c.kind == v.kind, table.c.unit == v.unit,
                                                 table.c.subject == v.subject).values(**values))
            counts["rectified"] += v.status == RECTIFIED and (old is None or old.status != RECTIFIED)
            counts["escalated"] += v.status == OVERDUE and (old is None or old.status != OVERDUE)
    return counts


def _insert_new(conn: Any, table: Table, dialect: str, values: dict[str, Any]) -> int:
    """Insert unless a concurrent evaluation (the weekly and monthly schedules can meet on a Monday the
    1st) has just opened the same violation: the first one stands, with the deadline it was opened with."""
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing(
        index_elements=["kind", "unit", "subject"])
    return int(conn.execute(statement).rowcount or 0)


@dataclass(frozen=True)
class Dismissal:
    kind: str
    unit: str
    subject: str
    dismissed_at: datetime
    dismissed_by: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind, self.unit, self.subject


class DismissalError(ValueError):
    """A dismissal the platform refuses: no such violation, already closed, or no reason or officer."""


def dismissed(violations: Sequence[Violation], dismissals: Sequence[Dismissal]) -> list[Violation]:
    """Each dismissed violation closed ``dismissed`` at its dismissal, by whom and why."""
    decided = {d.key: d for d in dismissals}
    return [replace(v, status=DISMISSED, closed_at=d.dismissed_at,
                    closed_by=f"dismissed by {d.dismissed_by}: {d.reason}"[:300])
            if (d := decided.get(v.key)) is not None and v.status != DISMISSED else v for v in violations]


def dismissals_table(store: Any) -> Table:
    from pipelines.store.schema import platform_schema

    schema = platform_schema(store.dialect)
    table: Table = store.metadata.tables[f"{schema}.platform_violation_dismissals" if schema
                                         else "platform_violation_dismissals"]
    return table


def load_dismissals(store: Any) -> list[Dismissal]:
    table = dismissals_table(store)
    with store.engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id)).all()
    return [Dismissal(r.kind, r.unit, r.subject, utc(r.dismissed_at), r.dismissed_by, r.reason) for r in rows]


def dismiss(store: Any, kind: str, unit: str, subject: str, by: str, reason: str, now: datetime) -> Violation:
    """Record the institution's dismissal of an open violation and close it; DismissalError names what is wrong."""
    store.ensure_tables([])
    reason, by = " ".join(reason.split()), " ".join(by.split())
    if not reason or not by:
        raise DismissalError("a dismissal needs the officer (--by) and the reason (--reason)")
    found = {v.key: v for v in load_violations(store)}.get((kind, unit, subject))
    if found is None:
        raise DismissalError(f"no violation {kind} of unit {unit} for {subject!r} (see the violations report)")
    if not is_open(found):
        raise DismissalError(f"violation {kind} of unit {unit} for {subject!r} is already {found.status}")
    table = dismissals_table(store)
    with store.engine.begin() as conn:
        conn.execute(table.insert().values(kind=kind, unit=unit, subject=subject, dismissed_at=now,
                                           dismissed_by=by[:300], reason=reason))
    [closed] = dismissed([found], [Dismissal(kind, unit, subject, now, by, reason)])
    save_violations(store, [closed], now)
    return closed


def sync_violations(store: Any, records: Records, deadlines: Deadlines, correction_days: int,
                    now: datetime) -> tuple[list[Violation], dict[str, int]]:
    """Detect, settle against the stored violations and save: the violations as they now stand."""
    store.ensure_tables([])
    existing = dismissed(load_violations(store), load_dismissals(store))
    tracked = frozenset(v.subject for v in existing if v.kind == OVERDUE_CORRECTION and is_open(v))
    settled = settle(detect(records, correction_days, now, tracked), existing, deadlines, now)
    counts = save_violations(store, settled, now)
    return sorted(settled, key=lambda v: (v.opened_at, v.key)), counts
