"""The platform's records beside the data: quality check results, runs and their operators (art. 7, 8), and
the repeated-collection flags (art. 13)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from pipelines.store.tables import Tables
from pipelines.store.unit import Session


class PlatformRecords:
    def __init__(self, tables: Tables, session: Session):
        self._tables = tables
        self._session = session

    # --- quality history ---------------------------------------------------------------------------
    def record_checks(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._session.begin() as conn:
                conn.execute(insert(self._tables.check_results), rows)

    def latest_checks(self) -> list[dict[str, Any]]:
        """The newest result of every check."""
        c = self._tables.check_results
        newest = select(func.max(c.c.id)).group_by(c.c.check_name).scalar_subquery()
        query = select(c).where(c.c.id.in_(newest)).order_by(c.c.item, c.c.check_name)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # --- runs and their operators (art. 7, 8) --------------------------------------------------------
    def start_run(self, run_id: str, unit: str, contractor: str | None, started_at: datetime,
                  run_date: date | None = None) -> None:
        """Recorded as failed until finish_run says otherwise: a run whose process dies stays a failure.

        A step retried within the same run replaces the earlier attempt: one row per run and unit."""
        self.record_run(run_id, unit, contractor, started_at, None, "failed", "did not finish", run_date)

    def finish_run(self, run_id: str, unit: str, finished_at: datetime, status: str, reason: str | None = None) -> None:
        runs = self._tables.runs
        with self._session.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id, runs.c.unit == unit).values(
                finished_at=finished_at, status=status, reason=reason))

    def record_run(self, run_id: str, unit: str, contractor: str | None, started_at: datetime,
                   finished_at: datetime | None, status: str, reason: str | None = None,
                   run_date: date | None = None) -> None:
        runs = self._tables.runs
        with self._session.begin() as conn:
            conn.execute(delete(runs).where(runs.c.run_id == run_id, runs.c.unit == unit))
            conn.execute(insert(runs).values(run_id=run_id, unit=unit, contractor=contractor, started_at=started_at,
                                             run_date=run_date, finished_at=finished_at, status=status,
                                             reason=reason))

    def run_records(self, run_id: str | None = None) -> list[dict[str, Any]]:
        runs = self._tables.runs
        query = select(runs).order_by(runs.c.started_at, runs.c.unit)
        if run_id is not None:
            query = query.where(runs.c.run_id == run_id)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # --- repeated collection (art. 13) ---------------------------------------------------------------
    def flag_carried(self, rows: list[dict[str, Any]]) -> None:
        """Flag submissions that carried looked-up values (``sharing.carried_rows``)."""
        if rows:
            with self._session.begin() as conn:
                conn.execute(insert(self._tables.repeated_collection), rows)

    def carried_flags(self, submission_id: str) -> list[dict[str, Any]]:
        """The submission's repeated-collection flags, in the order they were written."""
        t = self._tables.repeated_collection
        query = select(t).where(t.c.submission_id == submission_id).order_by(t.c.id)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
