"""Platforms federated (art. 19): each platform's own store, and the declared interface between them.

Each platform (the province, each city hosting its counties) keeps its own store: on the embedded default a
SQLite file per platform under the data directory, on PostgreSQL a database per platform
(``platform_store_url``). County data converges into its city's store on the city's platform; what crosses
platforms goes through a ``PlatformLink`` only, never through another platform's files:

- upward, the province pulls each city's connected tables (``pull``: the rows, their lineage, and the city's
  ledger counts of the items they came from), and records every pull in its own audit log;
- the province's supervision reads each city's ledger, quarantine, checks and runs read-only (art. 8, 9, 15);
- downward, a city's validation reads the province's authoritative tables (art. 13, 14).

``DatabaseLink`` implements the link as a read-only connection to the other platform's store (SQLite opened
``mode=ro``; on PostgreSQL a login role the linked platform grants SELECT on the tables the link may read,
``grant_link``). The protocol names no transport: a sharing API over HTTP can implement it too. Between two
PostgreSQL stores the link hands the rows over as COPY text (``CopyingLink``) rather than as Python rows. Plain
Python.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from pipelines.catalogue.models import Catalogue, Item
from pipelines.connected import (
    CityRollup,
    ProvinceRollup,
    city_table,
    copy_item,
    count_rows,
    province_table,
    rebuilding,
    rollups,
)
from pipelines.evaluation.records import Records
from pipelines.platforms import PROVINCE, city_platform
from pipelines.store import Store
from pipelines.store.postgres import table_name

PLACEHOLDER = "{platform}"
PULL = "federation_pull"  # the audit log's action for one pull
CONVERGED, NOT_CONVERGED = "converged", "not converged"
LINK_ROLE = "govdata_link"  # the PostgreSQL login role a platform grants read access to its linked platforms
COPY_CHUNK = 1 << 20  # bytes per read or write of a COPY between the platforms' databases
SPOOL_IN_MEMORY = 64 << 20  # a pull's COPY text held in memory up to this, then in a temporary file


def platform_store_url(url: str, platform: str) -> str:
    """The store of one platform. ``{platform}`` in the URL is replaced by the platform's name; otherwise the
    URL names the province's store and each city's is the same server's database (or SQLite file) with
    ``_<platform>`` appended: one variable still configures every platform."""
    if PLACEHOLDER in url:
        return url.replace(PLACEHOLDER, platform)
    if platform == PROVINCE:
        return url
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        path = Path(database)
        renamed = str(path.with_name(f"{path.stem}_{platform}{path.suffix}"))
    else:
        renamed = f"{database}_{platform}"
    return parsed.set(database=renamed).render_as_string(hide_password=False)


def read_only_url(url: str, role: str = LINK_ROLE, password: str | None = None) -> str:
    """How a linked platform connects to this store: SQLite opened read-only (and never created: a missing file
    is an unreachable platform), PostgreSQL as the read-only login role the store's platform granted."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").resolve()
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return parsed.set(username=role)._replace(password=password).render_as_string(hide_password=False)


class PlatformUnreachable(RuntimeError):
    """The linked platform's store did not answer; the caller goes on without it."""


@dataclass(frozen=True)
class LedgerCounts:
    """A linked platform's ledger for one of its items: what it received, converged and held back."""

    item: str
    submissions: int
    received: int
    converged: int
    held_back: int


@dataclass(frozen=True)
class CopyText:
    """A pull's rows as PostgreSQL COPY text (its default format) of ``columns``, spooled: in memory while small,
    then in a temporary file, never as Python rows."""

    columns: tuple[str, ...]
    rows: int
    data: IO[bytes]

    def close(self) -> None:
        self.data.close()


@dataclass(frozen=True)
class Pull:
    """What one pull brought: the provincial item's rows as the city holds them, each with its lineage
    (``_region``, ``_source_item``, ``_source_unit``, ``_submission_id``, ``_converged_at``); from a
    ``CopyingLink``, as COPY text (``copied``) instead of ``rows``."""

    platform: str
    item: str
    rows: Sequence[Mapping[str, Any]]
    ledger: tuple[LedgerCounts, ...]
    since: datetime | None = None
    copied: CopyText | None = None

    @property
    def count(self) -> int:
        return self.copied.rows if self.copied is not None else len(self.rows)

    def close(self) -> None:
        if self.copied is not None:
            self.copied.close()


class PlatformLink(Protocol):
    """The declared interface from the province to one city platform: its connected rows (``pull``) and the
    records the province supervises (``records``), both read-only."""

    platform: str

    def pull(self, item: Item, since: datetime | None = None) -> Pull:
        """The city's rows of a connected provincial item (converged after ``since``, or all), with their
        lineage and the city's ledger counts of its items mapping onto it. PlatformUnreachable when down."""
        ...

    def records(self) -> Records:
        """What the province's supervision and evaluation read of the city (art. 8, 9, 15): its ledger,
        quarantine, check history, runs, repeated-collection flags, sharing applications and sharing reads.
        PlatformUnreachable when down, or when the city's store holds no ledger yet."""
        ...


@runtime_checkable
class CopyingLink(PlatformLink, Protocol):
    """A link that can hand a pull over as PostgreSQL COPY text, for a province whose store is PostgreSQL too."""

    def pull_copy(self, item: Item, since: datetime | None = None) -> Pull:
        """As ``pull``, the rows in ``Pull.copied``."""
        ...


class LinkedStore(Store):
    """Another platform's store seen through a read-only connection: it never creates or migrates a table."""

    def __init__(self, url: str, catalogue: Catalogue, platform: str):
        super().__init__(url, catalogue)
        self.platform = platform

    def ensure_tables(self, items: Iterable[Item] | None = None) -> None:
        return None

    def migrate(self, dry_run: bool = False) -> Any:
        raise PermissionError(f"{self.platform}: a linked store is read-only; its own platform migrates it")


@dataclass
class DatabaseLink:
    """A PlatformLink over a read-only connection to the linked platform's store."""

    platform: str
    catalogue: Catalogue
    url: str  # the read-only URL (read_only_url)
    _store: LinkedStore | None = field(default=None, repr=False)

    @property
    def store(self) -> LinkedStore:
        if self._store is None:
            self._store = LinkedStore(self.url, self.catalogue, self.platform)
        return self._store

    def pull(self, item: Item, since: datetime | None = None) -> Pull:
        rollup = self._rollup(item)
        if rollup is None:  # the city maps nothing onto the item: nothing to pull
            return Pull(self.platform, item.code, [], (), since)
        table = city_table(self.store, rollup)
        with self._answering():
            return Pull(self.platform, item.code, self._rows(table, since), self._ledger(rollup), since)

    def pull_copy(self, item: Item, since: datetime | None = None) -> Pull:
        """On PostgreSQL the city's rows as COPY text through the same read-only connection (SELECT is all COPY
        ... TO needs), so they never become Python rows; elsewhere ``pull``."""
        rollup = self._rollup(item)
        if rollup is None or self.store.dialect != "postgresql":
            return self.pull(item, since)
        table = city_table(self.store, rollup)
        with self._answering():
            copied = self._copy_out(table, since)
            try:
                return Pull(self.platform, item.code, (), self._ledger(rollup), since, copied)
            except BaseException:
                copied.close()
                raise

    def records(self) -> Records:
        from pipelines.evaluation.records import read_records

        with self._answering():
            self.require_ledger()
            return read_records(self.store)

    def require_ledger(self) -> None:
        """PlatformUnreachable unless the city's store answers and holds its ledger (a platform no run has used
        yet has nothing to supervise; its first run makes it)."""
        with self._answering(), self.store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            if not self.store.shared.has_table(self.store.tables.ledger):
                raise PlatformUnreachable(f"{self.platform}: its store holds no ledger yet")

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """What the city's database raised, as the platform not answering (the driver's message, no statement)."""
        from psycopg2 import Error as DriverError

        try:
            yield
        except (SQLAlchemyError, DriverError) as exc:
            cause = getattr(exc, "orig", None) or exc
            raise PlatformUnreachable(f"{self.platform}: {type(exc).__name__}: {cause}"[:300]) from exc

    def _rollup(self, item: Item) -> CityRollup | None:
        return next((c for r in rollups(self.catalogue) if r.provincial.code == item.code for c in r.cities
                     if city_platform(c.city) == self.platform), None)

    def _rows(self, table: Table, since: datetime | None) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:  # a missing table raises here too: the city never refreshed
            if not self.store.shared.has_table(table):
                return []
            query = select(table) if since is None else select(table).where(table.c._converged_at > since)
            return [dict(row) for row in conn.execute(query).mappings()]

    def _copy_out(self, table: Table, since: datetime | None) -> CopyText:
        from psycopg2 import sql

        columns = tuple(c.name for c in table.columns)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the Pull
        with self.store.engine.connect() as conn:
            if not self.store.shared.has_table(table):
                return CopyText(columns, 0, spool)
            query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                       table_name(table))
            if since is not None:
                query += sql.SQL(" WHERE {} > {}").format(sql.Identifier("_converged_at"), sql.Literal(since))
            cursor = conn.connection.cursor()
            cursor.copy_expert(sql.SQL("COPY ({}) TO STDOUT").format(query), spool, size=COPY_CHUNK)
            rows = cursor.rowcount
        spool.seek(0)
        return CopyText(columns, rows, spool)

    def _ledger(self, rollup: CityRollup) -> tuple[LedgerCounts, ...]:
        entries = self.store.ledger.submissions()
        counts = []
        for source in rollup.sources:
            mine = [e for e in entries if e["item"] == source.code]
            counts.append(LedgerCounts(source.code, len(mine), *(sum(e[c] or 0 for e in mine)
                                                                 for c in ("received", "converged", "held_back"))))
        return tuple(counts)

    def dispose(self) -> None:
        if self._store is not None:
            self._store.dispose()


@dataclass(frozen=True)
class CityConvergence:
    city: str  # region code
    platform: str
    status: str  # converged or not converged
    rows: int = 0
    reason: str | None = None
    ledger: tuple[LedgerCounts, ...] = ()


@dataclass(frozen=True)
class ProvinceRefresh:
    rows: int
    cities: tuple[CityConvergence, ...]

    @property
    def not_converged(self) -> list[CityConvergence]:
        return [c for c in self.cities if c.status != CONVERGED]


def refresh_province(store: Store, rollup: ProvinceRollup, links: Mapping[str, PlatformLink],
                     now: datetime) -> ProvinceRefresh:
    """The provincial table from the province's own rows and what each city's link gives. A city that does not
    answer keeps the rows of its last pull and is reported not converged; the province goes on without it."""
    pulls: dict[str, Pull] = {}
    cities: list[CityConvergence] = []
    try:
        for city in rollup.cities:
            name = city_platform(city.city)
            link = links.get(name)
            try:
                if link is None:
                    raise PlatformUnreachable(f"no link to the platform {name}")
                # every city's answer is whole before the province's table is emptied: a city failing mid-pull
                # keeps the rows of its last pull, as one that does not answer at all
                pulls[city.city] = pull = _pull(store, link, rollup.provincial)
                cities.append(CityConvergence(city.city, name, CONVERGED, pull.count, ledger=pull.ledger))
            except PlatformUnreachable as exc:
                cities.append(CityConvergence(city.city, name, NOT_CONVERGED, reason=str(exc)))
        target = province_table(store, rollup)
        refreshed = [rollup.provincial.code, *(s.code for c in rollup.cities if c.city in pulls for s in c.sources)]
        with rebuilding(store, target, refreshed) as conn:
            copy_item(store, conn, rollup.provincial, rollup.provincial, target)
            for pull in pulls.values():
                _write_pull(conn, target, pull)
            conn.execute(insert(store.tables.audit_log), [_audit(rollup, c, now) for c in cities])
            rows = count_rows(conn, target)
    finally:
        for pull in pulls.values():
            pull.close()
    return ProvinceRefresh(rows, tuple(cities))


def _pull(store: Store, link: PlatformLink, item: Item) -> Pull:
    """COPY text when both ends are PostgreSQL and the link can give it; the protocol's rows otherwise."""
    if store.dialect == "postgresql" and isinstance(link, CopyingLink):
        return link.pull_copy(item)
    return link.pull(item)


def _write_pull(conn: Connection, target: Table, pull: Pull) -> None:
    """A pull's rows into the province's table, in the rebuild's transaction: COPY text by COPY ... FROM STDIN
    in chunks, Python rows by INSERT. The city's connected table and the province's are made from the same
    provincial item (``connected.connected_table``): the same columns, named in the COPY."""
    if pull.copied is not None:
        from psycopg2 import sql

        names = sql.SQL(", ").join(map(sql.Identifier, pull.copied.columns))
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table_name(target), names)
        conn.connection.cursor().copy_expert(statement, pull.copied.data, size=COPY_CHUNK)
    elif pull.rows:
        conn.execute(insert(target), [_province_row(target, row) for row in pull.rows])


def _province_row(target: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    return {c.name: row.get(c.name) for c in target.columns}


def _audit(rollup: ProvinceRollup, city: CityConvergence, now: datetime) -> dict[str, Any]:
    detail = {"platform": city.platform, "city": city.city, "status": city.status, "rows": city.rows,
              "reason": city.reason, "ledger": [vars(c) for c in city.ledger]}
    return {"at": now.astimezone(UTC), "action": PULL, "actor": PROVINCE, "unit": city.platform,
            "item": rollup.provincial.code, "detail": json.dumps(detail, ensure_ascii=False)}


def latest_pulls(store: Store) -> list[dict[str, Any]]:
    """The newest pull of each (provincial item, city platform), from the province's audit log."""
    log = store.tables.audit_log
    with store.engine.connect() as conn:
        entries = conn.execute(select(log.c.at, log.c.item, log.c.detail).where(log.c.action == PULL)
                               .order_by(log.c.id)).all()
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        detail = json.loads(entry.detail)
        newest[(entry.item, detail["platform"])] = {"item": entry.item, "at": entry.at, **detail}
    return [newest[k] for k in sorted(newest)]


def unconverged_cities(store: Store) -> list[dict[str, Any]]:
    return [p for p in latest_pulls(store) if p["status"] != CONVERGED]



def reachable(links: Mapping[str, DatabaseLink]) -> tuple[list[LinkedStore], dict[str, str]]:
    """The linked stores that answer, and the reason for each that does not (the province goes on without it)."""
    stores: list[LinkedStore] = []
    down: dict[str, str] = {}
    for name, link in sorted(links.items()):
        try:
            link.require_ledger()
            stores.append(link.store)
        except PlatformUnreachable as exc:
            down[name] = _reason(exc)
    return stores, down


def linked_records(links: Mapping[str, PlatformLink]) -> tuple[list[Records], dict[str, str]]:
    """Each city's supervised records through its link (``PlatformLink.records``), and the reason for each city
    that does not answer: the province evaluates without it and says so."""
    records: list[Records] = []
    down: dict[str, str] = {}
    for name, link in sorted(links.items()):
        try:
            records.append(link.records())
        except PlatformUnreachable as exc:
            down[name] = _reason(exc)
    return records, down


def _reason(exc: PlatformUnreachable) -> str:
    """The database's own message when it raised (the caller keys the reason by the platform), else ours."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return str(getattr(cause, "orig", None) or cause)[:300]


def read_by_others(catalogue: Catalogue, platform: str) -> list[Item]:
    """This platform's items whose shared tables other platforms' validation reads (authorities, art. 13, 14)."""
    from pipelines.platforms import platform_of
    from pipelines.sharing import authorities

    def host(item: Item) -> str:
        return platform_of(catalogue.unit(item.unit))

    read = {code for i in catalogue.items if host(i) != platform for code in authorities(i)}
    return [catalogue.item(code) for code in sorted(read) if host(catalogue.item(code)) == platform]


def render_unconverged(pulls: Sequence[Mapping[str, Any]]) -> str:
    """The supervision report's lines: each provincial item a city platform did not converge into, and why."""
    if not pulls:
        return "every city platform converged into the province on its last pull"
    return "\n".join(f"{p['item']}: {p['platform']} not converged since {p['at']}: {p['reason']}" for p in pulls)


def supervised_tables(store: Store) -> list[Table]:
    """What a platform's link role may read besides the shared tables it grants: the records the province's
    supervision evaluates (ledger, quarantine, checks, runs, repeated collection, sharing applications, and the
    sharing service's audit chain when the service runs there)."""
    from pipelines.serving.tables import service_tables

    tables = store.tables
    audit = service_tables(store).audit
    return [tables.ledger, tables.quarantine, tables.check_results, tables.runs, tables.repeated_collection,
            tables.sharing_applications, *([audit] if store.shared.has_table(audit) else [])]


def grant_link(store: Store, tables: Sequence[Table], role: str = LINK_ROLE) -> None:
    """On PostgreSQL, let the linked platforms' role read exactly these tables and the supervised records of this
    store (created as a login role without password if missing: set one with ALTER ROLE, GOVDATA_LINK_PASSWORD).
    On SQLite nothing to grant: the link opens the file read-only."""
    if store.dialect != "postgresql":
        return
    from psycopg2 import errors, sql

    wanted = [*supervised_tables(store), *tables]
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cursor.fetchone() is None:
            try:
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            except (errors.DuplicateObject, errors.UniqueViolation):  # another platform created it meanwhile
                raw.rollback()
                cursor = raw.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (role,))  # concurrent GRANTs on one object
        cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(store.engine.url.database or ""), sql.Identifier(role)))
        for schema in sorted({t.schema for t in wanted if t.schema}):
            cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                            sql.Identifier(role)))
        for table in wanted:
            cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table_name(table), sql.Identifier(role)))
        raw.commit()
    finally:
        raw.close()


def ensure_database(url: str) -> None:
    """On PostgreSQL, create a platform's database when it is missing and the configured role may (CREATEDB);
    otherwise the database administrator creates it beforehand. SQLite creates its file on first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    from psycopg2 import errors, sql
    from sqlalchemy import create_engine

    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).first():
                return
            cursor = conn.connection.cursor()
            with suppress(errors.DuplicateDatabase, errors.UniqueViolation):  # another process created it meanwhile
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
    finally:
        admin.dispose()


@dataclass
class Supervised:
    """The province's store and the city platforms' stores it reaches read-only (those down, with the reason)."""

    province: Store
    linked: list[LinkedStore]
    down: dict[str, str]
    links: dict[str, DatabaseLink] = field(default_factory=dict)

    @property
    def stores(self) -> list[Store]:
        return [self.province, *self.linked]

    def linked_records(self) -> list[Records]:
        """The supervised records of each city that answers, through its link (``PlatformLink.records``)."""
        return linked_records(self.links)[0]


@contextmanager
def supervised(catalogue: Catalogue, url: str, password: str | None = None) -> Iterator[Supervised]:
    """For the province's own commands (summary, evaluation, reports): every platform's records."""
    from pipelines.platforms import platform_names

    province = Store(platform_store_url(url, PROVINCE), catalogue)
    links = {name: DatabaseLink(name, catalogue, read_only_url(platform_store_url(url, name), password=password))
             for name in platform_names(catalogue) if name != PROVINCE}
    try:
        province.ensure_tables([])  # the province's own store: a platform no run has used yet reads as empty
        linked, down = reachable(links)
        yield Supervised(province, linked, down, links)
    finally:
        province.dispose()
        for link in links.values():
            link.dispose()
