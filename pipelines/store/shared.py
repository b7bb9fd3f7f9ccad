"""The shared tables: each item's converged rows, merged by primary key with their lineage and audit row.

SQLite: an upsert by key. PostgreSQL: COPY into a temporary staging table and one INSERT .. ON CONFLICT merge
(postgres.py), in the caller's transaction, so an interrupted load leaves the table as it was."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

import pandas as pd
from sqlalchemy import Connection, Table, func, insert, inspect, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pipelines.catalogue.models import Item, ItemField
from pipelines.outputs import CSV_LINE_END
from pipelines.store.postgres import Written, copy_merge
from pipelines.store.schema import lineage_values
from pipelines.store.stage import TextStream, read_otherwise, stage_rows
from pipelines.store.tables import Tables
from pipelines.store.unit import Session
from pipelines.values import canonical_frame, python_value


class SharedTables:
    def __init__(self, tables: Tables, session: Session):
        self._tables = tables
        self._session = session

    def table(self, item: Item) -> Table:
        return self._tables.shared(item)

    def exists(self, item: Item) -> bool:
        return self.has_table(self.table(item))

    def has_table(self, table: Table) -> bool:
        with self._session.read() as conn:
            return inspect(conn).has_table(table.name, schema=table.schema)

    def column_names(self, item: Item) -> list[str]:
        table = self.table(item)
        with self._session.read() as conn:
            return [c["name"] for c in inspect(conn).get_columns(table.name, schema=table.schema)]

    def count_rows(self, item: Item) -> int:
        with self._session.read() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table(item))).scalar_one())

    def read_table(self, item: Item) -> pd.DataFrame:
        with self._session.read() as conn:
            return pd.read_sql(select(self.table(item)), conn)

    def rows_by_submission(self, item: Item) -> dict[str, int]:
        """The shared table's rows per submission that last wrote them (one GROUP BY): what reconciliation
        holds the ledger to."""
        table = self.table(item)
        query = select(table.c._submission_id, func.count()).group_by(table.c._submission_id)
        with self._session.read() as conn:
            return {sid: int(n) for sid, n in conn.execute(query)}

    # --- convergence -----------------------------------------------------------------------------
    def upsert(self, item: Item, rows: pd.DataFrame, unit: str, submission_id: str, now: datetime) -> int:
        """Insert or update by primary key, with its audit row, in one transaction; returns the rows written."""
        if rows.empty:
            return 0
        with self._session.begin() as conn:
            written = self._merge_frame(conn, item, rows, lineage_values(unit, submission_id, now))
            self._audit_convergence(conn, item, unit, submission_id, now, written)
        return written.rows

    def upsert_stage(self, item: Item, text: TextStream, unit: str, submission_id: str, now: datetime) -> int:
        """Converge validated stage text (header + text rows, e.g. ``StageStore.open_text``), with its audit row."""
        return self.converge(item, self.loadable(item, text), unit, submission_id, now).rows

    def loadable(self, item: Item, text: TextStream) -> TextStream | TypedRows:
        """Validated stage text as this dialect's merge takes it: on PostgreSQL the text itself, streamed
        straight to COPY and never held whole in Python; on SQLite the rows as the values it binds (read them
        before the unit of work: SQLite's one writer waits for nobody's parsing)."""
        return text if self._tables.dialect == "postgresql" else stage_records(item, text)

    def converge(self, item: Item, rows: TextStream | pd.DataFrame | TypedRows, unit: str, submission_id: str,
                 now: datetime) -> Written:
        """Merge ``rows`` (``loadable``, or a frame) into the item's table and write its audit row, in one
        transaction (the unit of work's, when there is one)."""
        lineage = lineage_values(unit, submission_id, now)
        with self._session.begin() as conn:
            written = self._merge(conn, item, rows, lineage)
            self._audit_convergence(conn, item, unit, submission_id, now, written)
        return written

    def _merge(self, conn: Connection, item: Item, rows: TextStream | pd.DataFrame | TypedRows,
               lineage: dict[str, Any]) -> Written:
        if isinstance(rows, pd.DataFrame):
            return self._merge_frame(conn, item, rows, lineage)
        if isinstance(rows, TypedRows):
            return self._sqlite_merge(conn, item, rows.records, lineage) if rows.records else Written(0, 0)
        return self._merge_text(conn, item, rows, lineage)

    def _merge_text(self, conn: Connection, item: Item, text: TextStream, lineage: dict[str, Any]) -> Written:
        columns = next(csv.reader([text.readline()]), [])
        # psycopg2 COPY only calls read(): a stage stream serves as well as a file
        return copy_merge(conn, self.table(item), item, cast("IO[str]", text), columns, lineage)

    def _merge_frame(self, conn: Connection, item: Item, rows: pd.DataFrame, lineage: dict[str, Any]) -> Written:
        if rows.empty:
            return Written(0, 0)
        if self._tables.dialect == "postgresql":
            buffer = io.StringIO()
            # what the casts take; RFC 4180 line ends, so a cell's "\r" is quoted (COPY refuses it bare)
            canonical_frame(item, rows)[0].to_csv(buffer, header=True, index=False, lineterminator=CSV_LINE_END)
            buffer.seek(0)
            return self._merge_text(conn, item, buffer, lineage)
        return self._sqlite_merge(conn, item, typed_records(item, rows), lineage)

    def _sqlite_merge(self, conn: Connection, item: Item, records: list[dict[str, Any]],
                      lineage: dict[str, Any]) -> Written:
        """The upsert by key; the rows it inserted are what the table grew by (SQLite has one writer at a time,
        and this transaction is it), the rest of what it wrote were updates."""
        table = self.table(item)
        statement = sqlite_insert(table)
        excluded = statement.excluded  # made anew on every access: an alias of the table and all its columns
        updates = {c.name: excluded[c.name] for c in table.columns if c.name not in item.primary_key}
        statement = statement.on_conflict_do_update(index_elements=list(item.primary_key), set_=updates)
        count = select(func.count()).select_from(table)
        before = int(conn.execute(count).scalar_one())
        written = int(conn.execute(statement, [{**r, **lineage} for r in records]).rowcount)
        inserted = int(conn.execute(count).scalar_one()) - before
        return Written(inserted, written - inserted)

    def _audit_convergence(self, conn: Connection, item: Item, unit: str, submission_id: str, now: datetime,
                           written: Written) -> None:
        conn.execute(insert(self._tables.audit_log).values(
            at=now, action="converge", actor="platform", unit=unit, item=item.code,
            detail=json.dumps({"submission_id": submission_id, "rows": written.rows}, ensure_ascii=False)))


@dataclass(frozen=True)
class TypedRows:
    """Rows as the values the SQLite load binds (``typed_records``), one dict per row."""

    records: list[dict[str, Any]]


def stage_frame(item: Item, text: TextStream) -> pd.DataFrame:
    from pipelines.intake import normalise

    return normalise(pd.read_csv(text, dtype=str, keep_default_na=False), item)


def stage_records(item: Item, text: TextStream) -> TypedRows:
    """Validated stage text as the SQLite load binds it: each cell read by the value model (``python_value``)
    straight from the text. The text is canonical already and the value model idempotent, so canonicalising
    it first (``stage_frame``) gave the same values for twice the reading; a text pandas reads otherwise than
    the csv module (``stage.read_otherwise``) is still read as it was."""
    whole = text.read()
    if read_otherwise(whole):
        return TypedRows(typed_records(item, stage_frame(item, io.StringIO(whole))))
    names = list(item.field_names)
    return TypedRows(_typed(item, names, stage_rows(whole, names)))


def typed_records(item: Item, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as the values the SQLite load binds, each cell read by the value model (pipelines.values):
    the same parse validation accepted, so a value that passed always loads (InvalidValue otherwise)."""
    names = [name for name in rows.columns if item.field(name) is not None]
    return _typed(item, names, ([record[name] for name in names] for record in rows.to_dict(orient="records")))


def _typed(item: Item, names: list[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """``python_value`` of every cell of ``rows`` (cells of the columns ``names``), called once per distinct
    cell of a column: a column of a value set or a day holds few."""
    by_name = {field.name: field for field in item.fields}
    fields = [by_name[name] for name in names]
    memos: list[dict[tuple[type, Any], Any]] = [{} for _ in names]
    return [{name: _value(field, memo, cell) for name, field, memo, cell in zip(names, fields, memos, row,
                                                                                   strict=True)}
            for row in rows]


def _value(field: ItemField, memo: dict[tuple[type, Any], Any], cell: Any) -> Any:
    key = (type(cell), cell)  # by type too: 1, 1.0 and True are one dict key
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = python_value(field, cell)
        return value
    except TypeError:  # an unhashable cell (a list): the value model says why it is no cell
        return python_value(field, cell)
