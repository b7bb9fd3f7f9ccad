"""Connected stores (art. 11, 19): county data converges into its city's store, city stores into the
provincial store.

For each provincial item that city or county items map onto (``maps_to``):
- a city table ``connected_<item>_<city region>`` holds the rows of every mapped item of that city and
  of its counties (a county has no store of its own);
- the provincial table ``connected_<item>`` holds the provincial unit's own rows and every city table's
  rows, each row with its region code and the item and unit it came from.

Tables are rebuilt whole in one transaction on each refresh, so they always equal their sources.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    inspect,
    select,
)

from pipelines.catalogue.models import Catalogue, Item, Level
from pipelines.store import SharedStore
from pipelines.store.schema import _TYPES as COLUMN_TYPES

CONNECTED_COLUMNS = ("_region", "_source_item", "_source_unit", "_submission_id", "_converged_at")


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


def _schema(level: Level, dialect: str) -> str | None:
    return f"shared_{level.value}" if dialect == "postgresql" else None


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
                 schema=_schema(level, dialect),
                 comment=f"{provincial.name}: connected {level.value} store")


def city_table(store: SharedStore, rollup: CityRollup) -> Table:
    return connected_table(rollup.provincial, rollup.table_name, Level.CITY, MetaData(), store.dialect)


def province_table(store: SharedStore, rollup: ProvinceRollup) -> Table:
    return connected_table(rollup.provincial, rollup.table_name, Level.PROVINCE, MetaData(), store.dialect)


def refresh_city(store: SharedStore, rollup: CityRollup) -> int:
    """Rebuild the city table from its items' shared tables; returns its row count."""
    target = city_table(store, rollup)
    rows = [row for item in rollup.sources for row in _item_rows(store, item, rollup.provincial)]
    return _replace(store, target, rows)


def refresh_province(store: SharedStore, rollup: ProvinceRollup) -> int:
    """Rebuild the provincial table from the provincial item's own rows and every city table."""
    target = province_table(store, rollup)
    rows = _item_rows(store, rollup.provincial, rollup.provincial)
    for city in rollup.cities:
        rows += _table_rows(store, city_table(store, city))
    return _replace(store, target, rows)


def _item_rows(store: SharedStore, item: Item, provincial: Item) -> list[dict[str, object]]:
    if not store.table_exists(item):
        return []
    source = store.table(item)
    columns = [source.c[f.name] for f in item.fields if provincial.field(f.name) is not None]
    lineage = [source.c["_source_unit"], source.c["_submission_id"], source.c["_converged_at"]]
    with store.engine.connect() as conn:
        found = conn.execute(select(*columns, *lineage)).mappings().all()
    return [{**dict(row), "_region": item.region, "_source_item": item.code} for row in found]


def _table_rows(store: SharedStore, table: Table) -> list[dict[str, object]]:
    if not _exists(store, table):
        return []
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


def _exists(store: SharedStore, table: Table) -> bool:
    return inspect(store.engine).has_table(table.name, schema=table.schema)


def _replace(store: SharedStore, table: Table, rows: list[dict[str, object]]) -> int:
    with store.engine.begin() as conn:
        if table.schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
        table.create(conn, checkfirst=True)
        conn.execute(delete(table))
        if rows:  # executemany needs every column in every row: fields a lower level omits are null
            conn.execute(insert(table), [{c.name: row.get(c.name) for c in table.columns} for row in rows])
    return len(rows)


def read_connected(store: SharedStore, table: Table) -> list[dict[str, object]]:
    return _table_rows(store, table)
