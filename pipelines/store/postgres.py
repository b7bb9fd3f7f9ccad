"""PostgreSQL loads: COPY text into a temporary staging table, then one typed merge, in one transaction.

The staging table holds every catalogued column as text, so the rows go to COPY exactly as the
validated stage file has them (no per-value Python conversion); the casts to the catalogue's types
happen inside PostgreSQL during the merge. Anything that fails before the commit (a bad value, a
short row, a lost connection) rolls the whole load back: the store is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from sqlalchemy import Engine, Table

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


def _merge(cursor: Any, table: Table, item: Item, columns: list[str], lineage: dict[str, Any]) -> int:
    cursor.execute(merge_statement(table, item, columns), lineage)
    return int(cursor.rowcount)


AfterMerge = Callable[[Any, int], None]


def copy_merge(engine: Engine, table: Table, item: Item, source: IO[str], columns: list[str],
               lineage: dict[str, Any], header: bool = False, after_merge: AfterMerge | None = None) -> int:
    """COPY ``source`` (CSV text of ``columns``) and merge it into ``table``; returns rows written.

    ``after_merge(cursor, written)`` runs inside the same transaction before the commit (the audit
    row is written there, so a convergence and its audit entry commit or roll back together).
    """
    unknown = sorted(set(columns) - set(item.field_names))
    if unknown:
        raise ValueError(f"{item.code}: columns {', '.join(unknown)} are not catalogued")
    raw = engine.raw_connection()
    cursor = raw.cursor()
    try:
        _prepare_session(cursor)
        _create_stage(cursor, columns)
        _copy(cursor, columns, source, header)
        written = _merge(cursor, table, item, columns, lineage)
        if after_merge is not None:
            after_merge(cursor, written)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        cursor.close()
        raw.close()
    return written


