"""The converged shared store and the platform ledger, over SQLAlchemy.

Embedded default: a SQLite file. Production: PostgreSQL, where loads go through COPY into a
temporary staging table and one INSERT .. ON CONFLICT merge in the same transaction, so an
interrupted load leaves the store as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, cast

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pipelines.catalogue.models import Catalogue, Item
from pipelines.store.migrate import Plan, apply_plan, plan_table
from pipelines.store.postgres import Written, quote_ident, quoted
from pipelines.store.schema import (
    build_metadata,
    ledger_write_columns,
    lineage_values,
    platform_schema,
    platform_tables,
    shared_schema,
)
from pipelines.store.stage import INTAKE, VALID, StageStore, TextStream
from pipelines.values import canonical_frame, python_value

DDL_LOCK = 0x676F7664  # "govd": the advisory lock key of the store's DDL on PostgreSQL
ACCEPTED = ("received", "validated", "converged")  # taken in; "rejected" and "failed" are the other ends
IN_PROGRESS = ("received", "validated")


def normalise_url(url: str) -> str:
    """Pin PostgreSQL to psycopg2: SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql:// URL."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class HeldRow:
    row_no: int
    key: dict[str, Any]
    reasons: Sequence[str]
    record: dict[str, Any]


def quarantine_key(item: Item, values: Mapping[str, Any]) -> str:
    """The text a held row is found by again (a corrected resubmission releases it): its primary-key values
    in catalogue order."""
    return json.dumps({k: values.get(k) for k in item.primary_key}, ensure_ascii=False, default=str)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the platform writes them in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SharedStore:
    def __init__(self, url: str, catalogue: Catalogue):
        self.url = normalise_url(url)
        self.catalogue = catalogue
        self._engine: Engine | None = None
        self._metadata: MetaData | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            _make_sqlite_folder(self.url)
            # hide_parameters: a failing statement's message would otherwise carry row values (personal
            # data) into logs, run records and the supervision reports
            self._engine = create_engine(self.url, future=True, hide_parameters=True)
            if self._engine.dialect.name == "sqlite":
                event.listen(self._engine, "connect", _sqlite_pragmas)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def metadata(self) -> MetaData:
        if self._metadata is None:
            self._metadata = build_metadata(self.catalogue, self.dialect)
        return self._metadata

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- tables --------------------------------------------------------------------------------
    def ensure_tables(self, items: Iterable[Item] | None = None) -> None:
        shared = list(items if items is not None else self.catalogue.items)  # read once: items may be a generator
        wanted = [self.ledger, self.quarantine, self.check_results, self.audit_log, self.sharing_applications,
                  self.runs, self.violations, self.stage_table, self.repeated_collection,
                  self._platform("platform_evaluations"), self._platform("platform_violation_dismissals"),
                  *(self.table(i) for i in shared)]
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Steps on several workers create and migrate at once: IF NOT EXISTS / checkfirst still race
                # (duplicate key in pg_namespace), so the DDL is serialized by a lock held to the commit.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({DDL_LOCK})")
                for schema in sorted({t.schema for t in wanted if t.schema}):
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.metadata.create_all(conn, tables=wanted, checkfirst=True)
            self._add_ledger_columns(conn)
            self._migrate(conn, shared)

    def _add_ledger_columns(self, conn: Connection) -> None:
        """A ledger made before its write counts were recorded takes them as new nullable columns (additive)."""
        ledger = self.ledger
        live = {c["name"] for c in inspect(conn).get_columns(ledger.name, schema=ledger.schema)}
        for column in ledger_write_columns():
            if column.name not in live:
                type_sql = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {quoted(ledger)} ADD COLUMN {quote_ident(column.name)} {type_sql}")

    def _migrate(self, conn: Connection, items: list[Item], dry_run: bool = False) -> Plan:
        """Bring existing shared tables in line with the catalogue (additive only; see migrate.py)."""
        tables = {item.code: self.table(item) for item in items}
        plan = Plan([c for item in items for c in plan_table(conn, item, tables[item.code]).changes])
        if not dry_run:
            apply_plan(conn, plan, tables)
        return plan

    def migrate(self, dry_run: bool = False) -> Plan:
        """Create missing tables and apply the catalogue's additive changes; MigrationRefused if destructive."""
        with self.engine.begin() as conn:
            plan = self._migrate(conn, list(self.catalogue.items), dry_run=True)
        if not dry_run:
            self.ensure_tables()  # applies the same plan, or refuses it whole
        return plan

    def table(self, item: Item) -> Table:
        schema = shared_schema(item, self.dialect)
        key = f"{schema}.{item.code}" if schema else item.code
        return self.metadata.tables[key]

    @property
    def ledger(self) -> Table:
        return self._platform("platform_ledger")

    @property
    def quarantine(self) -> Table:
        return self._platform("platform_quarantine")

    @property
    def check_results(self) -> Table:
        return self._platform("platform_check_results")

    @property
    def audit_log(self) -> Table:
        return self._platform("audit_log")

    @property
    def sharing_applications(self) -> Table:
        return self._platform("sharing_applications")

    @property
    def runs(self) -> Table:
        return self._platform("platform_runs")

    @property
    def violations(self) -> Table:
        return self._platform("platform_violations")

    @property
    def stage_table(self) -> Table:
        return self._platform("platform_stage")

    @property
    def repeated_collection(self) -> Table:
        return self._platform("platform_repeated_collection")

    @property
    def stage(self) -> StageStore:
        """Submissions' stage data (intake and validated rows), in this store so any worker reads it."""
        return StageStore(self.engine, self.stage_table)

    def _platform(self, name: str) -> Table:
        schema = platform_schema(self.dialect)
        return self.metadata.tables[f"{schema}.{name}" if schema else name]

    def table_exists(self, item: Item) -> bool:
        return self.has_table(self.table(item))

    def has_table(self, table: Table) -> bool:
        return inspect(self.engine).has_table(table.name, schema=table.schema)

    def column_names(self, item: Item) -> list[str]:
        table = self.table(item)
        return [c["name"] for c in inspect(self.engine).get_columns(table.name, schema=table.schema)]

    def count_rows(self, item: Item) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table(item))).scalar_one())

    def read_table(self, item: Item) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(select(self.table(item)), conn)

    # --- convergence ---------------------------------------------------------------------------
    def upsert(self, item: Item, rows: pd.DataFrame, unit: str, submission_id: str, now: datetime) -> int:
        """Insert or update by primary key, with its audit row, in one transaction; returns the rows written."""
        if rows.empty:
            return 0
        with self.engine.begin() as conn:
            written = self._merge_frame(conn, item, rows, lineage_values(unit, submission_id, now))
            self._audit_convergence(conn, item, unit, submission_id, now, written)
        return written.rows

    def upsert_stage(self, item: Item, text: TextStream, unit: str, submission_id: str, now: datetime) -> int:
        """Converge validated stage text (header + text rows, e.g. ``StageStore.open_text``); on PostgreSQL the
        text streams straight to COPY, never held whole in Python."""
        if self.dialect != "postgresql":
            return self.upsert(item, _stage_frame(item, text), unit, submission_id, now)
        with self.engine.begin() as conn:
            written = self._merge_text(conn, item, text, lineage_values(unit, submission_id, now))
            self._audit_convergence(conn, item, unit, submission_id, now, written)
        return written.rows

    def converge_submission(self, item: Item, text: TextStream, unit: str, submission_id: str, now: datetime,
                            release: Callable[[Connection], Any] | None = None) -> Written | None:
        """A validated submission into the shared table: its claim (validated -> converged), the merge, its audit
        row, its ledger counts and the quarantine rows it releases, in ONE transaction. None: another run
        converged it first (the claim is the ledger row's update, which waits for that run's commit)."""
        frame = None if self.dialect == "postgresql" else _stage_frame(item, text)  # parsed before the lock
        lineage = lineage_values(unit, submission_id, now)
        with self.engine.begin() as conn:
            if not self._advance(conn, submission_id, "validated", "converged", converged_at=now):
                return None
            written = (self._merge_text(conn, item, text, lineage) if frame is None
                       else self._merge_frame(conn, item, frame, lineage))
            self._audit_convergence(conn, item, unit, submission_id, now, written)
            conn.execute(update(self.ledger).where(self.ledger.c.submission_id == submission_id).values(
                converged=written.rows, inserted=written.inserted, updated=written.updated))
            if release is not None:
                release(conn)
        return written

    def _merge_text(self, conn: Connection, item: Item, text: TextStream, lineage: dict[str, Any]) -> Written:
        from pipelines.store.postgres import copy_merge

        columns = next(csv.reader([text.readline()]), [])
        # psycopg2 COPY only calls read(): a stage stream serves as well as a file
        return copy_merge(conn, self.table(item), item, cast("IO[str]", text), columns, lineage)

    def _merge_frame(self, conn: Connection, item: Item, rows: pd.DataFrame, lineage: dict[str, Any]) -> Written:
        if rows.empty:
            return Written(0, 0)
        if self.dialect == "postgresql":
            buffer = io.StringIO()
            canonical_frame(item, rows)[0].to_csv(buffer, header=True, index=False)  # what the casts take
            buffer.seek(0)
            return self._merge_text(conn, item, buffer, lineage)
        return self._sqlite_merge(conn, item, typed_records(item, rows), lineage)

    def _sqlite_merge(self, conn: Connection, item: Item, records: list[dict[str, Any]],
                      lineage: dict[str, Any]) -> Written:
        """The upsert by key; the rows it inserted are what the table grew by (SQLite has one writer at a time,
        and this transaction is it), the rest of what it wrote were updates."""
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        table = self.table(item)
        statement = sqlite_insert(table)
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in item.primary_key}
        statement = statement.on_conflict_do_update(index_elements=list(item.primary_key), set_=updates)
        count = select(func.count()).select_from(table)
        before = int(conn.execute(count).scalar_one())
        written = int(conn.execute(statement, [{**r, **lineage} for r in records]).rowcount)
        inserted = int(conn.execute(count).scalar_one()) - before
        return Written(inserted, written - inserted)

    def _audit_convergence(self, conn: Connection, item: Item, unit: str, submission_id: str, now: datetime,
                           written: Written) -> None:
        conn.execute(insert(self.audit_log).values(
            at=now, action="converge", actor="platform", unit=unit, item=item.code,
            detail=_convergence_detail(submission_id, written.rows)))

    def rows_by_submission(self, item: Item) -> dict[str, int]:
        """The shared table's rows per submission that last wrote them (one GROUP BY): what reconciliation
        holds the ledger to."""
        table = self.table(item)
        query = select(table.c._submission_id, func.count()).group_by(table.c._submission_id)
        with self.engine.connect() as conn:
            return {sid: int(n) for sid, n in conn.execute(query)}

    # --- ledger --------------------------------------------------------------------------------
    def record_submission(self, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(self.ledger).values(**values))

    def claim_submission(self, **values: Any) -> bool:
        """Insert the submission's ledger row unless one exists: the primary key is the claim, so of two runs
        taking the same file in, one records it and the other learns (False) that it was taken."""
        with self.engine.begin() as conn:
            return self._claim(conn, values)

    def take_submission(self, frame: pd.DataFrame, **values: Any) -> bool:
        """Claim a submission and write its intake stage data in one transaction; False: another run has it."""
        with self.engine.begin() as conn:
            if not self._claim(conn, values):
                return False
            self.stage.write(values["submission_id"], INTAKE, frame, conn=conn)
        return True

    def _claim(self, conn: Connection, values: dict[str, Any]) -> bool:
        dialect_insert = postgresql_insert if self.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(self.ledger).values(**values).on_conflict_do_nothing(
            index_elements=[self.ledger.c.submission_id])
        return bool(conn.execute(statement).rowcount)

    def record_validation(self, item: Item, submission_id: str, valid_rows: pd.DataFrame, held: Sequence[HeldRow],
                          carried: Sequence[dict[str, Any]], now: datetime, **counts: Any) -> bool:
        """A received submission validated: its claim (received -> validated, with ``counts``), its valid stage
        data, its quarantine rows and its repeated-collection flags, in ONE transaction, so a run killed
        anywhere leaves it received with none of them. False: another run validated it first."""
        with self.engine.begin() as conn:
            if not self._advance(conn, submission_id, "received", "validated", validated_at=now, **counts):
                return False
            unit = self._unit_of(conn, submission_id)
            self.stage.write(submission_id, VALID, valid_rows, conn=conn)
            self._hold_back(conn, item, unit, submission_id, held, now)
            if carried:
                conn.execute(insert(self.repeated_collection), list(carried))
        return True

    def fail_submission(self, submission_id: str, reason: str) -> bool:
        """The terminal state of a submission whose validation or convergence raised: it keeps its reason and
        no longer holds up the item's later submissions. Its own transaction (the failed one rolled back)."""
        ledger = self.ledger
        with self.engine.begin() as conn:
            return bool(conn.execute(update(ledger).where(
                ledger.c.submission_id == submission_id, ledger.c.status.in_(IN_PROGRESS)).values(
                status="failed", reason=reason)).rowcount)

    def _advance(self, conn: Connection, submission_id: str, current: str, status: str, **values: Any) -> bool:
        """Move the submission from ``current`` to ``status``; False when it is not ``current`` (any more).
        On PostgreSQL a second run's update waits on the row lock and then finds the status changed."""
        ledger = self.ledger
        statement = (update(ledger).where(ledger.c.submission_id == submission_id, ledger.c.status == current)
                     .values(status=status, **values))
        return bool(conn.execute(statement).rowcount)

    def _unit_of(self, conn: Connection, submission_id: str) -> str:
        ledger = self.ledger
        return str(conn.execute(select(ledger.c.unit).where(ledger.c.submission_id == submission_id)).scalar_one())

    def update_submission(self, submission_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.ledger).where(self.ledger.c.submission_id == submission_id).values(**values))

    def known_digest(self, item: str, digest: str) -> str | None:
        """The accepted submission of the item with this digest: an identical file is its duplicate. Rejected and
        failed ones do not count: the same file may be acceptable now."""
        ledger = self.ledger
        query = select(ledger.c.submission_id).where(ledger.c.item == item, ledger.c.digest == digest,
                                                     ledger.c.status.in_(ACCEPTED))
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).scalar()

    def latest_digest(self, item: str) -> str | None:
        """The digest of the item's newest accepted submission: a database pull equal to it changes nothing, one
        equal to an older state (A -> B -> A) is new again."""
        ledger = self.ledger
        query = (select(ledger.c.digest).where(ledger.c.item == item, ledger.c.status.in_(ACCEPTED))
                 .order_by(ledger.c.received_at.desc(), ledger.c.submission_id.desc()).limit(1))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def attempt_id(self, submission_id: str) -> str:
        """``submission_id`` or, when a rejected or failed submission already holds it, the next ``<id>~<n>`` no
        rejected or failed one holds: the same file submitted again after a refusal or failure is a new
        submission. An id an accepted submission holds is returned as it is: another run took the file in
        meanwhile, and the claim says so."""
        ledger = self.ledger
        query = select(ledger.c.submission_id, ledger.c.status).where(
            (ledger.c.submission_id == submission_id)
            | ledger.c.submission_id.startswith(f"{submission_id}~", autoescape=True))
        with self.engine.connect() as conn:
            status = dict(conn.execute(query).tuples().all())
        candidate, n = submission_id, 1
        while status.get(candidate) in ("rejected", "failed"):
            candidate, n = f"{submission_id}~{n}", n + 1
        return candidate

    def submissions(self, item: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        ledger = self.ledger
        query = select(ledger).order_by(ledger.c.received_at, ledger.c.submission_id)
        if item is not None:
            query = query.where(ledger.c.item == item)
        if status is not None:
            query = query.where(ledger.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def hold_back(self, item: Item, unit: str, submission_id: str, rows: Iterable[HeldRow], now: datetime) -> int:
        with self.engine.begin() as conn:
            return self._hold_back(conn, item, unit, submission_id, rows, now)

    def _hold_back(self, conn: Connection, item: Item, unit: str, submission_id: str, rows: Iterable[HeldRow],
                   now: datetime) -> int:
        values = [
            {"submission_id": submission_id, "item": item.code, "unit": unit, "row_no": r.row_no,
             "record_key": quarantine_key(item, r.key), "reasons": "; ".join(r.reasons),
             "record": json.dumps(r.record, ensure_ascii=False, default=str), "held_at": now}
            for r in rows
        ]
        if values:
            conn.execute(insert(self.quarantine), values)
        return len(values)

    def is_transient(self, exc: BaseException) -> bool:
        """A lost connection (the server restarted, the network dropped): retry the step, the submission is
        fine. Anything else the database raised is about the submission and ends it failed."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        raw = exc.orig if isinstance(exc, DBAPIError) else exc
        dbapi = self.engine.dialect.loaded_dbapi
        return (isinstance(raw, (dbapi.OperationalError, dbapi.InterfaceError))
                and self.engine.dialect.is_disconnect(raw, None, None))

    def held_rows(self, item: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
        q = self.quarantine
        query = select(q).order_by(q.c.id)
        if item is not None:
            query = query.where(q.c.item == item)
        if unit is not None:
            query = query.where(q.c.unit == unit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


    # --- quality history -----------------------------------------------------------------------
    def record_checks(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(self.check_results), rows)

    def latest_checks(self) -> list[dict[str, Any]]:
        """The newest result of every check."""
        c = self.check_results
        newest = select(func.max(c.c.id)).group_by(c.c.check_name).scalar_subquery()
        query = select(c).where(c.c.id.in_(newest)).order_by(c.c.item, c.c.check_name)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


    # --- runs and their operators (art. 7, 8) ----------------------------------------------------
    def start_run(self, run_id: str, unit: str, contractor: str | None, started_at: datetime,
                  run_date: date | None = None) -> None:
        """Recorded as failed until finish_run says otherwise: a run whose process dies stays a failure.

        A step retried within the same run replaces the earlier attempt: one row per run and unit."""
        self.record_run(run_id, unit, contractor, started_at, None, "failed", "did not finish", run_date)

    def finish_run(self, run_id: str, unit: str, finished_at: datetime, status: str, reason: str | None = None) -> None:
        runs = self.runs
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id, runs.c.unit == unit).values(
                finished_at=finished_at, status=status, reason=reason))

    def record_run(self, run_id: str, unit: str, contractor: str | None, started_at: datetime,
                   finished_at: datetime | None, status: str, reason: str | None = None,
                   run_date: date | None = None) -> None:
        runs = self.runs
        with self.engine.begin() as conn:
            conn.execute(delete(runs).where(runs.c.run_id == run_id, runs.c.unit == unit))
            conn.execute(insert(runs).values(run_id=run_id, unit=unit, contractor=contractor, started_at=started_at,
                                             run_date=run_date, finished_at=finished_at, status=status,
                                             reason=reason))

    def run_records(self, run_id: str | None = None) -> list[dict[str, Any]]:
        runs = self.runs
        query = select(runs).order_by(runs.c.started_at, runs.c.unit)
        if run_id is not None:
            query = query.where(runs.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _make_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _convergence_detail(submission_id: str, rows: int) -> str:
    return json.dumps({"submission_id": submission_id, "rows": rows}, ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the Dagster UI read the store while a run writes to it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _stage_frame(item: Item, text: TextStream) -> pd.DataFrame:
    from pipelines.intake import normalise

    return normalise(pd.read_csv(text, dtype=str, keep_default_na=False), item)


def typed_records(item: Item, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as the values the SQLite load binds, each cell read by the value model (pipelines.values):
    the same parse validation accepted, so a value that passed always loads (InvalidValue otherwise)."""
    fields = {f.name: f for f in item.fields}
    records = rows.to_dict(orient="records")
    return [
        {name: python_value(fields[name], value) for name, value in record.items() if name in fields}
        for record in records
    ]


__all__ = ["HeldRow", "SharedStore", "Written", "normalise_url", "platform_tables"]
