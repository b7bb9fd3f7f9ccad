"""PostgreSQL loads: COPY text into a temporary staging table, then one typed merge, in the caller's transaction.

The staging table holds every catalogued column as text, so the rows go to COPY exactly as the
validated stage file has them (no per-value Python conversion); the casts to the catalogue's types
happen inside PostgreSQL during the merge. Anything that fails before the commit (a bad value, a
short row, a lost connection) rolls the whole load back: the store is left exactly as it was.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from psycopg2 import errors, extensions, sql
from sqlalchemy import Connection, Select, Table
from sqlalchemy.exc import DBAPIError

from pipelines.catalogue.models import Item
from pipelines.store.schema import LINEAGE_COLUMNS
from pipelines.values import pg_cast

STAGE = "_govdata_stage"
# Large loads stage in memory instead of spilling temp files: the setting can only change before the
# session's first temporary table, so it is tried once per session inside a savepoint.
TEMP_BUFFERS = "256MB"
# The merge sorts the staged rows by key (``typed_select``); with the server's default 4 MB of work memory a
# large load sorts on disk. 1,000,000 rows of the large demo item inserted, casts and key order included: 5.6 and
# 6.1 s at 4 MB, 4.8 and 4.6 s at 256 MB. Set for the load's transaction only (SET LOCAL), and only ever raised.
MERGE_WORK_MEM = "256MB"


# SQL the platform writes itself (DDL, COPY, roles, grants) is composed with psycopg2.sql: every name an
# Identifier, every value a Literal or a parameter, quoted by the driver.
def table_name(table: Table) -> sql.Identifier:
    """The table's schema-qualified name."""
    return sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)


def render(conn: Connection, statement: sql.Composable) -> str:
    """The statement as text, quoted for ``conn``'s server (for exec_driver_sql and for showing in a plan)."""
    return statement.as_string(conn.connection.dbapi_connection)


def execute(conn: Connection, statement: sql.Composable) -> None:
    """Run a composed statement on ``conn``'s DBAPI connection: the same transaction."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def typed_select(item: Item, columns: list[str]) -> sql.Composed:
    """The staged text columns cast to the catalogue's types, plus the lineage parameters.

    The stage holds canonical text (pipelines.values), which each type's cast takes as it is: the value
    model owns the casts, and its properties prove every text it accepts casts (empty text is null)."""
    types = {f.name: f.type for f in item.fields}
    casts = [sql.SQL(pg_cast(types[c], "{}")).format(sql.SQL("NULLIF({}, '')").format(sql.Identifier(c)))
             for c in columns]
    lineage = [sql.Placeholder(name) for name in LINEAGE_COLUMNS]  # parameters named after their columns
    # in the primary key's order (its typed values, by their place in the select list): the key's index then
    # grows page after page instead of at random; 1,000,000 rows of the large demo item into an empty table:
    # 4.7-5.2 s against 6.2-8.3 s (the sort itself included)
    key_order = [sql.Literal(columns.index(k) + 1) for k in item.primary_key if k in columns]
    order = sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(key_order)) if key_order else sql.SQL("")
    return sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(casts + lineage), sql.Identifier(STAGE), order)


def insert_statement(table: Table, item: Item, columns: list[str]) -> sql.Composed:
    """The staged rows, typed, inserted: the whole load into a table that holds no row, whose row count is
    the rows inserted."""
    return sql.SQL("INSERT INTO {} ({}) {}").format(
        table_name(table), _names([*columns, *LINEAGE_COLUMNS]), typed_select(item, columns))


def merge_statement(table: Table, item: Item, columns: list[str]) -> sql.Composed:
    """The same INSERT, a held key's row updated in place."""
    updates = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
               for c in [*columns, *LINEAGE_COLUMNS] if c not in item.primary_key]
    return sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(
        insert_statement(table, item, columns), _names(item.primary_key), sql.SQL(", ").join(updates))


def _names(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


# The stage's chunks above a megabyte are zstd streams already (``pipelines.store.stage``): PostgreSQL's default
# TOAST compression, pglz, still tries each one and gives up, at about 0.8 s a million rows' chunks (64 MB). lz4
# gives up at once and compresses the small uncompressed chunks as pglz does (200 100-row chunks: the same pages);
# writing the 64 MB took 2.13, 2.13 s with pglz and 1.33, 1.31 s with lz4 (psycopg2, alternating).
STAGE_COMPRESSION = "lz4"


def compress_stage_chunks(conn: Connection, table: Table, column: str = "data") -> None:
    """The stage's chunk column compressed by ``STAGE_COMPRESSION`` from now on (chunks stored before keep theirs);
    the server's default kept where the server has no lz4 (before PostgreSQL 14, or built without it). Inside the
    caller's transaction, in a savepoint: a refusal leaves the transaction as it was."""
    if (conn.dialect.server_version_info or (0,)) < (14,):
        return
    method = conn.exec_driver_sql(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = %(table)s::regclass AND attname = %(column)s",
        {"table": render(conn, table_name(table)), "column": column}).scalar_one()
    if method == STAGE_COMPRESSION[0]:  # pg_attribute's code: 'l' lz4, 'p' pglz, '' the server's default
        return
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(render(conn, sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET COMPRESSION {}").format(
            table_name(table), sql.Identifier(column), sql.SQL(STAGE_COMPRESSION))))
    except DBAPIError:
        savepoint.rollback()
        return
    savepoint.commit()


# COPY's binary format (PostgreSQL's documentation, COPY, "Binary Format"): its signature, flags and header
# extension length; then each row as its field count and each field as its length and bytes; then -1.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_BINARY_TRAILER = struct.pack("!h", -1)
_NULL_FIELD = -1


def copy_binary_in(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` into ``table``'s ``columns`` by one COPY in the binary format, in ``conn``'s transaction. A bytea
    value travels as its bytes, where an INSERT's parameter travels as hex text the server decodes: a million
    rows' stage chunks (65 MB) written in 0.44-0.54 s against 1.08-1.19 s, the server's CPU 0.38-0.44 s against
    0.94-1.13 s (``benchmarks/stage_pg.py``). Values: str (text, varchar), int (integer: 4 bytes), bytes (bytea)."""
    cursor = conn.connection.cursor()
    try:
        encoding = extensions.encodings[cursor.connection.encoding]  # text travels in the client's encoding
        body = io.BytesIO()
        body.write(_BINARY_HEADER)
        for row in rows:
            body.write(struct.pack("!h", len(row)))
            for value in row:
                body.write(_binary_field(value, encoding))
        body.write(_BINARY_TRAILER)
        body.seek(0)
        cursor.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
            table_name(table), _names(columns)), body)
    finally:
        cursor.close()


def _binary_field(value: Any, encoding: str) -> bytes:
    if value is None:
        return struct.pack("!i", _NULL_FIELD)
    if isinstance(value, bool) or not isinstance(value, str | int | bytes):
        raise TypeError(f"no binary COPY form for {type(value).__name__}")
    data = (value.encode(encoding) if isinstance(value, str) else
            struct.pack("!i", value) if isinstance(value, int) else value)
    return struct.pack("!i", len(data)) + data


def copy_binary_value(conn: Connection, query: Select[Any]) -> bytes | None:
    """The one bytea value of ``query``'s one row and column, by COPY in the binary format: its bytes as they are
    stored, where a SELECT sends hex text for the driver to decode (the same 65 MB read in 0.13-0.16 s against
    0.50-0.66 s). None when the query answers no row. COPY takes no parameters: the driver quotes them into the
    statement (``mogrify``), as it would have sent them."""
    compiled = query.compile(dialect=conn.dialect)
    out = io.BytesIO()
    cursor = conn.connection.cursor()
    try:
        statement = cursor.mogrify(str(compiled), compiled.params).decode(extensions.encodings[
            cursor.connection.encoding])
        cursor.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT binary)", out)
    finally:
        cursor.close()
    return _single_binary_value(out.getvalue())


def _single_binary_value(data: bytes) -> bytes | None:
    (extension,) = struct.unpack_from("!i", data, len(_BINARY_HEADER) - 4)
    at = len(_BINARY_HEADER) + extension
    (fields,) = struct.unpack_from("!h", data, at)
    if fields == -1:  # the trailer: no row
        return None
    if fields != 1:
        raise ValueError(f"a row of {fields} fields where one was asked for")
    (length,) = struct.unpack_from("!i", data, at + 2)
    if length == _NULL_FIELD:
        raise ValueError("a null where a value was asked for")
    return data[at + 6:at + 6 + length]


def _prepare_session(cursor: Any) -> None:
    cursor.execute("SHOW temp_buffers")
    if cursor.fetchone()[0] == TEMP_BUFFERS:
        return
    cursor.execute("SAVEPOINT govdata_temp_buffers")
    try:
        cursor.execute(sql.SQL("SET temp_buffers = {}").format(sql.Literal(TEMP_BUFFERS)))
    except Exception:  # the session already used a temporary table: keep its setting
        cursor.execute("ROLLBACK TO SAVEPOINT govdata_temp_buffers")


def _raise_work_mem(cursor: Any) -> None:
    cursor.execute("SELECT pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(%s)", (MERGE_WORK_MEM,))
    if cursor.fetchone()[0]:
        cursor.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(MERGE_WORK_MEM)))


def _create_stage(cursor: Any, columns: list[str]) -> None:
    text_columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(STAGE), text_columns))


def _copy(cursor: Any, columns: list[str], source: IO[str], header: bool) -> None:
    options = sql.SQL("FORMAT csv, HEADER true" if header else "FORMAT csv")
    cursor.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(
        sql.Identifier(STAGE), _names(columns), options), source)


@dataclass(frozen=True)
class Written:
    """What a merge reported writing: rows inserted (new keys) and updated (keys the table held)."""
    inserted: int
    updated: int

    @property
    def rows(self) -> int:
        return self.inserted + self.updated


def counted_merge(merge: sql.Composable) -> sql.Composed:
    """The merge, answering how many rows it inserted and how many it updated: a row version an INSERT .. ON
    CONFLICT created has no deleting transaction (xmax = 0), one it updated has (PostgreSQL's own marker)."""
    return sql.SQL("WITH merged AS ({} RETURNING (xmax = 0) AS inserted) "
                   "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
                   ).format(merge)


def _merge(cursor: Any, table: Table, item: Item, columns: list[str], lineage: dict[str, Any]) -> Written:
    if _holds_no_row(cursor, table):
        written = _insert_into_empty(cursor, table, item, columns, lineage)
        if written is not None:
            return written
    cursor.execute(counted_merge(merge_statement(table, item, columns)), lineage)
    inserted, updated = cursor.fetchone()
    return Written(int(inserted), int(updated))


def _holds_no_row(cursor: Any, table: Table) -> bool:
    cursor.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(table_name(table)))
    return bool(cursor.fetchone()[0])


def _insert_into_empty(cursor: Any, table: Table, item: Item, columns: list[str],
                       lineage: dict[str, Any]) -> Written | None:
    """Every row inserted by a plain INSERT, or None when a key was already taken: half the server's time of
    INSERT .. ON CONFLICT, whose speculative insertion and RETURNING cost per row (the first load of an item,
    its largest). The primary key, not the emptiness seen a moment before, is what makes the result right: a
    key met twice, within the load or committed meanwhile by another writer, fails the INSERT, which is then
    undone to its savepoint so that the counted merge writes (and fails) exactly as it always did."""
    cursor.execute("SAVEPOINT govdata_insert")
    try:
        cursor.execute(insert_statement(table, item, columns), lineage)
    except errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT govdata_insert")
        return None
    inserted = cursor.rowcount  # before the next statement resets it
    cursor.execute("RELEASE SAVEPOINT govdata_insert")
    return Written(inserted, 0)


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
        _raise_work_mem(cursor)
        return _merge(cursor, table, item, columns, lineage)
    finally:
        cursor.close()
