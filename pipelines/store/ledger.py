"""The ledger: one row per submission and its state changes (received -> validated -> converged, or rejected at
intake, or failed with its reason). Each state change is a conditional update, so it is also the claim: of two
runs at once, one moves the submission and the other learns (False) that it was moved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pipelines.store.tables import Tables
from pipelines.store.unit import Session

ACCEPTED = ("received", "validated", "converged")  # taken in; "rejected" and "failed" are the other ends
IN_PROGRESS = ("received", "validated")


class Ledger:
    def __init__(self, tables: Tables, session: Session):
        self._tables = tables
        self._session = session
        self.table = tables.ledger

    def record(self, **values: Any) -> None:
        with self._session.begin() as conn:
            conn.execute(insert(self.table).values(**values))

    def claim(self, **values: Any) -> bool:
        """Insert the submission's row unless one exists: the primary key is the claim, so of two runs taking the
        same file in, one records it and the other learns (False) that it was taken."""
        with self._session.begin() as conn:
            return self._insert_new(conn, values)

    def reject(self, **values: Any) -> bool:
        """Record a refused file (status ``rejected``) unless its refusal is recorded already (False)."""
        with self._session.begin() as conn:
            return self._insert_new(conn, {**values, "status": "rejected"})

    def _insert_new(self, conn: Connection, values: dict[str, Any]) -> bool:
        dialect_insert = postgresql_insert if self._tables.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(self.table).values(**values).on_conflict_do_nothing(
            index_elements=[self.table.c.submission_id])
        return bool(conn.execute(statement).rowcount)

    def advance(self, submission_id: str, current: str, status: str, **values: Any) -> bool:
        """Move the submission from ``current`` to ``status``; False when it is not ``current`` (any more).
        On PostgreSQL a second run's update waits on the row lock and then finds the status changed."""
        t = self.table
        statement = (update(t).where(t.c.submission_id == submission_id, t.c.status == current)
                     .values(status=status, **values))
        with self._session.begin() as conn:
            return bool(conn.execute(statement).rowcount)

    def fail(self, submission_id: str, reason: str) -> bool:
        """The terminal state of a submission whose validation or convergence raised: it keeps its reason and
        no longer holds up the item's later submissions."""
        t = self.table
        statement = (update(t).where(t.c.submission_id == submission_id, t.c.status.in_(IN_PROGRESS))
                     .values(status="failed", reason=reason))
        with self._session.begin() as conn:
            return bool(conn.execute(statement).rowcount)

    def update(self, submission_id: str, **values: Any) -> None:
        t = self.table
        with self._session.begin() as conn:
            conn.execute(update(t).where(t.c.submission_id == submission_id).values(**values))

    def unit_of(self, submission_id: str) -> str:
        t = self.table
        with self._session.read() as conn:
            return str(conn.execute(select(t.c.unit).where(t.c.submission_id == submission_id)).scalar_one())

    def known_digest(self, item: str, digest: str) -> str | None:
        """The accepted submission of the item with this digest: an identical file is its duplicate. Rejected and
        failed ones do not count: the same file may be acceptable now."""
        t = self.table
        query = select(t.c.submission_id).where(t.c.item == item, t.c.digest == digest, t.c.status.in_(ACCEPTED))
        with self._session.read() as conn:
            return conn.execute(query.limit(1)).scalar()

    def latest_digest(self, item: str) -> str | None:
        """The digest of the item's newest accepted submission: a database pull equal to it changes nothing, one
        equal to an older state (A -> B -> A) is new again."""
        t = self.table
        query = (select(t.c.digest).where(t.c.item == item, t.c.status.in_(ACCEPTED))
                 .order_by(t.c.received_at.desc(), t.c.submission_id.desc()).limit(1))
        with self._session.read() as conn:
            return conn.execute(query).scalar()

    def attempt_id(self, submission_id: str) -> str:
        """``submission_id`` or, when a rejected or failed submission already holds it, the next ``<id>~<n>`` no
        rejected or failed one holds: the same file submitted again after a refusal or failure is a new
        submission. An id an accepted submission holds is returned as it is: another run took the file in
        meanwhile, and the claim says so."""
        t = self.table
        query = select(t.c.submission_id, t.c.status).where(
            (t.c.submission_id == submission_id) | t.c.submission_id.startswith(f"{submission_id}~", autoescape=True))
        with self._session.read() as conn:
            status = dict(conn.execute(query).tuples().all())
        candidate, n = submission_id, 1
        while status.get(candidate) in ("rejected", "failed"):
            candidate, n = f"{submission_id}~{n}", n + 1
        return candidate

    def submissions(self, item: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        t = self.table
        query = select(t).order_by(t.c.received_at, t.c.submission_id)
        if item is not None:
            query = query.where(t.c.item == item)
        if status is not None:
            query = query.where(t.c.status == status)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
