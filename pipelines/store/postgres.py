"""PostgreSQL loads: COPY text into a temporary staging table, then one typed merge, in the caller's transaction.

The staging table holds every catalogued column as text, so the rows go to COPY exactly as the
validated stage file has them (no per-value Python conversion); the casts to the catalogue's types
happen inside PostgreSQL during the merge. Anything that fails before the commit (a bad value, a
short row, a lost connection) rolls the whole load back: the store is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, Table

from pipelines.catalogue.models import Item
from pipelines.store.schema import LINEAGE_COLUMNS
from pipelines.values import pg_cast

STAGE = "_govdata_stage"
# Large loads stage in memory instead of spilling temp files: the setting can only change before the
# session's first temporary table, so it is tried once per session inside a savepoint.
TEMP_BUFFERS = "256MB"


# SQL the platform writes itself (DDL, COPY, roles, grants) quotes every name and literal through these.
def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quoted(table: Table) -> str:
    """The table's schema-qualified, quoted name."""
    name = quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{name}" if table.schema else name


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def typed_select(item: Item, columns: list[str]) -> str:
    """The staged text columns cast to the catalogue's types, plus the lineage parameters.

    The stage holds canonical text (pipelines.values), which each type's cast takes as it is: the value
    model owns the casts, and its properties prove every text it accepts casts (empty text is null)."""
    types = {f.name: f.type for f in item.fields}
    casts = [pg_cast(types[c], f"NULLIF({quote_ident(c)}, '')") for c in columns]
    lineage = [f"%({name})s" for name in LINEAGE_COLUMNS]  # parameters named after their columns
    return f"SELECT {', '.join(casts + lineage)} FROM {STAGE}"


def merge_statement(table: Table, item: Item, columns: list[str]) -> str:
    targets = [*columns, *LINEAGE_COLUMNS]
    column_list = ", ".join(quote_ident(c) for c in targets)
    key = ", ".join(quote_ident(c) for c in item.primary_key)
    updates = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in targets if c not in item.primary_key)
    return (f"INSERT INTO {quoted(table)} ({column_list}) {typed_select(item, columns)} "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}")


def _prepare_session(cursor: Any) -> None:
    cursor.execute("SHOW temp_buffers")
    if cursor.fetchone()[0] == TEMP_BUFFERS:
        return
    cursor.execute("SAVEPOINT govdata_temp_buffers")
    try:
        cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    except Exception:  # the session already used a temporary table: keep its setting
        cursor.execute("ROLLBACK TO SAVEPOINT govdata_temp_buffers")


def _create_stage(cursor: Any, columns: list[str]) -> None:
    text_columns = ", ".join(f"{quote_ident(c)} text" for c in columns)
    cursor.execute(f"CREATE TEMP TABLE {STAGE} ({text_columns}) ON COMMIT DROP")


def _copy(cursor: Any, columns: list[str], source: IO[str], header: bool) -> None:
    options = "FORMAT csv, HEADER true" if header else "FORMAT csv"
    column_list = ", ".join(quote_ident(c) for c in columns)
    cursor.copy_expert(f"COPY {STAGE} ({column_list}) FROM STDIN WITH ({options})", source)


@dataclass(frozen=True)
class Written:
    """What a merge reported writing: rows inserted (new keys) and updated (keys the table held)."""
    inserted: int
    updated: int

    @property
    def rows(self) -> int:
        return self.inserted + self.updated


def counted_merge(merge: str) -> str:
    """The merge, answering how many rows it inserted and how many it updated: a row version an INSERT .. ON
    CONFLICT created has no deleting transaction (xmax = 0), one it updated has (PostgreSQL's own marker)."""
    return (f"WITH merged AS ({merge} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged")


def _merge(cursor: Any, table: Table, item: Item, columns: list[str], lineage: dict[str, Any]) -> Written:
    cursor.execute(counted_merge(merge_statement(table, item, columns)), lineage)
    inserted, updated = cursor.fetchone()
    return Written(int(inserted), int(updated))


def copy_merge(conn: Connection, table: Table, item: Item, source: IO[str], columns: list[str],
               lineage: dict[str, Any], header: bool = False) -> Written:
    """COPY ``source`` (CSV text of ``columns``) and merge it into ``table``, inside ``conn``'s transaction.

    The caller's transaction holds everything the convergence changes (the ledger, the audit row, the
    released quarantine rows): it commits them together, or an error anywhere rolls all of them back.
    """
    unknown = sorted(set(columns) - set(item.field_names))
    if unknown:
        raise ValueError(f"{item.code}: columns {', '.join(unknown)} are not catalogued")
    cursor = conn.connection.cursor()  # the same DBAPI connection, so the same transaction
    try:
        _prepare_session(cursor)
        _create_stage(cursor, columns)
        _copy(cursor, columns, source, header)
        return _merge(cursor, table, item, columns, lineage)
    finally:
        cursor.close()
