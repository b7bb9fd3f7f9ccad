"""Connected stores (art. 11, 19): county data converges into its city's store, city stores into the
provincial store.

For each provincial item that city or county items map onto (``maps_to``):
- a city table ``connected_<item>_<city region>`` in the city platform's store holds the rows of every mapped
  item of that city and of its counties (a county has no store of its own); it is rebuilt whole in one
  transaction on each refresh, the rows copied inside the database (INSERT ... SELECT), never through Python;
- the provincial table ``connected_<item>`` in the province's store holds the provincial unit's own rows and
  every city table's rows, each row with its region code and the item and unit it came from. The city tables
  are in other platforms' stores: they reach it through the declared interface (``pipelines.federation``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    literal,
    select,
)

from pipelines.catalogue.models import Catalogue, Item, Level
from pipelines.store import Store
from pipelines.store.postgres import execute
from pipelines.store.schema import COLUMN_TYPES, level_schema


def city_of(region: str) -> str:
    """GB/T 2260: the city a county (or city) code belongs to."""
    return region[:4] + "00"


@dataclass(frozen=True)
class CityRollup:
    provincial: Item
    city: str  # city region code
    sources: tuple[Item, ...]  # city and county items of that city mapping onto the provincial item

    @property
    def table_name(self) -> str:
        return f"connected_{self.provincial.code}_{self.city}"


@dataclass(frozen=True)
class ProvinceRollup:
    provincial: Item
    cities: tuple[CityRollup, ...]

    @property
    def table_name(self) -> str:
        return f"connected_{self.provincial.code}"


def rollups(catalogue: Catalogue) -> list[ProvinceRollup]:
    """One provincial rollup per provincial item that lower-level items map onto."""
    mapped: dict[str, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    for item in catalogue.items:
        if item.maps_to is not None and item.level is not Level.PROVINCE:
            mapped[item.maps_to][city_of(item.region)].append(item)
    return [
        ProvinceRollup(catalogue.item(code), tuple(
            CityRollup(catalogue.item(code), city, tuple(items)) for city, items in sorted(by_city.items())))
        for code, by_city in sorted(mapped.items())
    ]


def connected_table(provincial: Item, name: str, level: Level, metadata: MetaData, dialect: str) -> Table:
    """The provincial item's columns (nullable: lower levels may omit optional fields) plus provenance."""
    columns: list[Column[Any]] = [
        Column(f.name, COLUMN_TYPES[f.type], nullable=not f.primary_key, comment=f.label) for f in provincial.fields
    ]
    provenance: list[Column[Any]] = [
        Column("_region", String(6), nullable=False, comment="region code of the source unit"),
        Column("_source_item", String(64), nullable=False, comment="source item"),
        Column("_source_unit", String(64), nullable=False, comment="source unit"),
        Column("_submission_id", String(300), comment="submission id"),
        Column("_converged_at", DateTime(timezone=True), comment="converged at"),
    ]
    return Table(name, metadata, *columns, *provenance,
                 PrimaryKeyConstraint("_region", "_source_item", *provincial.primary_key),
                 schema=level_schema(level, dialect),
                 comment=f"{provincial.name}: connected {level.value} store")


def city_table(store: Store, rollup: CityRollup) -> Table:
    return connected_table(rollup.provincial, rollup.table_name, Level.CITY, MetaData(), store.dialect)


def province_table(store: Store, rollup: ProvinceRollup) -> Table:
    return connected_table(rollup.provincial, rollup.table_name, Level.PROVINCE, MetaData(), store.dialect)


def refresh_city(store: Store, rollup: CityRollup) -> int:
    """Rebuild the city table from its items' shared tables; returns its row count."""
    target = city_table(store, rollup)
    with rebuilding(store, target) as conn:
        for item in rollup.sources:
            copy_item(store, conn, item, rollup.provincial, target)
        return count_rows(conn, target)


@contextmanager
def rebuilding(store: Store, table: Table, source_items: Sequence[str] | None = None) -> Iterator[Connection]:
    """One transaction: the table created if need be and emptied (of the rows of ``source_items`` only, when
    given); the caller fills it."""
    with store.engine.begin() as conn:
        if table.schema:
            execute(conn, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.schema)))
        table.create(conn, checkfirst=True)
        emptied = delete(table) if source_items is None else delete(table).where(
            table.c._source_item.in_(list(source_items)))
        conn.execute(emptied)
        yield conn


def copy_item(store: Store, conn: Connection, item: Item, provincial: Item, target: Table) -> None:
    """The item's rows with its region and code; fields the provincial item lacks are left behind, fields
    the item lacks stay null."""
    if not store.shared.exists(item):
        return
    source = store.tables.shared(item)
    fields = [f.name for f in item.fields if provincial.field(f.name) is not None]
    lineage = ["_source_unit", "_submission_id", "_converged_at"]
    query = select(*(source.c[name] for name in fields + lineage),
                   literal(item.region, String), literal(item.code, String))
    conn.execute(insert(target).from_select([*fields, *lineage, "_region", "_source_item"], query))


def count_rows(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def read_connected(store: Store, table: Table) -> list[dict[str, object]]:
    if not store.shared.has_table(table):
        return []
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]
