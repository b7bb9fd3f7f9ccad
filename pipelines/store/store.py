"""The store: the engine, the metadata and the unit of work its repositories share, over SQLAlchemy.

Embedded default: a SQLite file. Production: PostgreSQL. What the store holds is reached through repositories
(``pipelines.store.ledger.Ledger``, ``pipelines.store.quarantine.Quarantine``,
``pipelines.store.shared.SharedTables``, ``pipelines.store.records.PlatformRecords``, the stage data
``pipelines.store.stage.StageStore``): ``store.ledger`` and friends run each call in its own transaction;
``with store.unit_of_work() as uow:`` gives them one transaction to share, so a submission's state change
commits with everything that belongs to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg2 import sql
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pipelines.catalogue.models import Catalogue, Item
from pipelines.store.ledger import Ledger
from pipelines.store.migrate import (
    Plan,
    add_column_sql,
    apply_plan,
    canonical_held_keys,
    converged_stage,
    plan_table,
)
from pipelines.store.postgres import compress_stage_chunks, execute
from pipelines.store.quarantine import Quarantine
from pipelines.store.records import PlatformRecords
from pipelines.store.schema import build_metadata, ledger_write_columns
from pipelines.store.shared import SharedTables
from pipelines.store.stage import StageStore
from pipelines.store.tables import Tables
from pipelines.store.unit import Session, UnitOfWork

DDL_LOCK = 0x676F7664  # "govd": the advisory lock key of the store's DDL on PostgreSQL


def normalise_url(url: str) -> str:
    """Pin PostgreSQL to psycopg2: SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql:// URL."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the platform writes them in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Store:
    def __init__(self, url: str, catalogue: Catalogue):
        self.url = normalise_url(url)
        self.catalogue = catalogue
        self._engine: Engine | None = None
        self._metadata: MetaData | None = None
        self._stage_compression_set = False

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
            self._metadata = build_metadata(self.dialect)
        return self._metadata

    @property
    def tables(self) -> Tables:
        return Tables(self.metadata, self.dialect)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- the unit of work and the repositories ---------------------------------------------------
    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction the repositories share: committed when the block ends, rolled back whole if it
        raises (or the process dies inside it)."""
        with self.engine.begin() as conn:
            session, tables = Session(self.engine, conn), self.tables
            yield UnitOfWork(conn, Ledger(tables, session), Quarantine(tables, session), SharedTables(tables, session),
                             PlatformRecords(tables, session), self.stage)

    @property
    def ledger(self) -> Ledger:
        """The ledger, each call its own transaction."""
        return Ledger(self.tables, Session(self.engine))

    @property
    def quarantine(self) -> Quarantine:
        return Quarantine(self.tables, Session(self.engine))

    @property
    def shared(self) -> SharedTables:
        return SharedTables(self.tables, Session(self.engine))

    @property
    def records(self) -> PlatformRecords:
        return PlatformRecords(self.tables, Session(self.engine))

    @property
    def stage(self) -> StageStore:
        """Submissions' stage data (intake and validated rows), in this store so any worker reads it."""
        return StageStore(self.engine, self.tables.stage)

    def is_transient(self, exc: BaseException) -> bool:
        """A lost connection (the server restarted, the network dropped): retry the step, the submission is
        fine. Anything else the database raised is about the submission and ends it failed."""
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        raw = exc.orig if isinstance(exc, DBAPIError) else exc
        dbapi = self.engine.dialect.loaded_dbapi
        return (isinstance(raw, (dbapi.OperationalError, dbapi.InterfaceError))
                and self.engine.dialect.is_disconnect(raw, None, None))

    # --- tables and migrations ------------------------------------------------------------------
    def ensure_tables(self, items: Iterable[Item] | None = None) -> None:
        shared = list(items if items is not None else self.catalogue.items)  # read once: items may be a generator
        tables = self.tables
        wanted = [*tables.platform_tables(), *(tables.shared(i) for i in shared)]
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Steps on several workers create and migrate at once: IF NOT EXISTS / checkfirst still race
                # (duplicate key in pg_namespace), so the DDL is serialized by a lock held to the commit.
                execute(conn, sql.SQL("SELECT pg_advisory_xact_lock({})").format(sql.Literal(DDL_LOCK)))
                for schema in sorted({t.schema for t in wanted if t.schema}):
                    execute(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            # a table listed is one create_all's check would find; the others are checked one by one as before
            self.metadata.create_all(conn, tables=_unlisted(conn, wanted), checkfirst=True)
            if self.dialect == "postgresql" and not self._stage_compression_set:  # a store made before it too
                compress_stage_chunks(conn, tables.stage)
            self._add_ledger_columns(conn)
            self._migrate(conn, shared)
        self._stage_compression_set = True  # once per store, once committed: convergence ensures on every call

    def _add_ledger_columns(self, conn: Connection) -> None:
        """A ledger made before its write counts were recorded takes them as new nullable columns (additive)."""
        ledger = self.tables.ledger
        live = {c["name"] for c in inspect(conn).get_columns(ledger.name, schema=ledger.schema)}
        for column in ledger_write_columns():
            if column.name not in live:
                conn.exec_driver_sql(add_column_sql(conn, ledger, column))

    def _migrate(self, conn: Connection, items: list[Item], dry_run: bool = False) -> Plan:
        """Bring existing shared tables in line with the catalogue (additive only; see migrate.py)."""
        tables = {item.code: self.tables.shared(item) for item in items}
        plan = Plan([c for item in items for c in plan_table(conn, item, tables[item.code]).changes])
        if not dry_run:
            apply_plan(conn, plan, tables)
        return plan

    def migrate(self, dry_run: bool = False) -> Plan:
        """Create missing tables and apply the catalogue's additive changes (MigrationRefused if destructive),
        then rewrite held rows' keys to their canonical form (``migrate.canonical_held_keys``) and drop the stage data
        of submissions converged before convergence dropped it (``migrate.converged_stage``)."""
        with self.engine.begin() as conn:
            plan = self._migrate(conn, list(self.catalogue.items), dry_run=True)
        if not dry_run:
            self.ensure_tables()  # applies the same plan, or refuses it whole
        if self.tables.quarantine.name not in _live_tables(self.engine, self.tables.quarantine.schema):
            return plan
        with self.engine.begin() as conn:
            keys = canonical_held_keys(conn, self.catalogue, self.tables.quarantine, dry_run=dry_run)
            stage = converged_stage(conn, self.tables.stage, self.tables.ledger, dry_run=dry_run)
        return Plan([*plan.changes, *keys.changes, *stage.changes])


def _unlisted(conn: Connection, tables: list[Table]) -> list[Table]:
    """The tables not among the live ones, one listing per schema: create_all's check is a query per table, and
    convergence ensures every platform table and its item's on each call."""
    listed = {schema: _live_tables(conn, schema) for schema in {t.schema for t in tables}}
    return [t for t in tables if t.name not in listed[t.schema]]


def _live_tables(engine: Engine | Connection, schema: str | None) -> set[str]:
    return set(inspect(engine).get_table_names(schema=schema))


def _make_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the Dagster UI read the store while a run writes to it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


__all__ = ["Store", "as_utc", "normalise_url"]
