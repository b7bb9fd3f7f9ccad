"""Catalogue changes reach the live shared tables: additive changes applied, destructive ones refused.

The catalogue is code, the shared tables hold converged data. A new nullable column or a new
comment costs nothing and is applied; a dropped column, a type change, a primary key change or a new
NOT NULL column on a table that already has rows would lose or reject data, so the migration refuses
the whole plan and names each such change (item, column, change) for a person to decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql
from sqlalchemy import Column, Connection, Table, delete, func, inspect, select, update

from pipelines.catalogue.models import Catalogue, Item, ItemField
from pipelines.store.postgres import render, table_name
from pipelines.store.quarantine import quarantine_key
from pipelines.values import InvalidValue, canonical


@dataclass(frozen=True)
class Change:
    item: str
    column: str | None
    kind: str  # add_column, comment, drop_not_null, held_keys, converged_stage | drop_column, type, primary_key,
    # add_not_null, set_not_null
    detail: str
    destructive: bool
    sql: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        where = f"{self.item}.{self.column}" if self.column else self.item
        verdict = "REFUSED (destructive)" if self.destructive else "applied"
        return f"{where}: {self.kind.replace('_', ' ')}: {self.detail} -- {verdict}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    @property
    def destructive(self) -> list[Change]:
        return [c for c in self.changes if c.destructive]

    @property
    def additive(self) -> list[Change]:
        return [c for c in self.changes if not c.destructive]

    def describe(self) -> str:
        return "\n".join(c.message for c in self.changes) or "no changes: the shared tables match the catalogue"


class MigrationRefused(RuntimeError):
    def __init__(self, plan: Plan):
        self.plan = plan
        lines = "\n".join(f"  - {c.message}" for c in plan.destructive)
        super().__init__(f"catalogue changes would lose or reject converged data; nothing was applied:\n{lines}")


def plan_table(conn: Connection, item: Item, table: Table) -> Plan:
    """What it takes to bring the live ``table`` in line with the catalogue's ``item``."""
    live = inspect(conn)
    if not live.has_table(table.name, schema=table.schema):
        return Plan()
    dialect = conn.dialect
    columns = {c["name"]: c for c in live.get_columns(table.name, schema=table.schema)}
    has_rows = bool(conn.exec_driver_sql(ddl(conn, "SELECT EXISTS (SELECT 1 FROM {table})", table)).scalar())
    changes: list[Change] = []
    for column in table.columns:
        found = columns.get(column.name)
        if found is None:
            changes.append(_added(conn, item, table, column, has_rows))
        else:
            changes += _altered(conn, item, table, column, found, has_rows)
    changes += [Change(item.code, name, "drop_column", "the column is no longer catalogued", True)
                for name in columns if name not in table.columns]
    changes += _primary_key(item, table, live)
    if dialect.name == "postgresql":
        changes += _table_comment(conn, item, table, live)
    return Plan(changes)


def _added(conn: Connection, item: Item, table: Table, column: Column[Any], has_rows: bool) -> Change:
    dialect = conn.dialect
    type_sql = column.type.compile(dialect=dialect)
    if not column.nullable and has_rows:
        return Change(item.code, column.name, "add_not_null",
                      f"new NOT NULL column {type_sql} on a table that has rows", True)
    if not column.nullable and dialect.name != "postgresql":
        # SQLite cannot add a NOT NULL column without a default; the table is empty, so rebuild it.
        return Change(item.code, column.name, "add_column", f"new NOT NULL column {type_sql} (empty table rebuilt)",
                      False, ("REBUILD",))
    sql = [add_column_sql(conn, table, column)]
    if column.comment and dialect.name == "postgresql":
        sql.append(_comment_sql(conn, table, column.name, column.comment))
    return Change(item.code, column.name, "add_column", f"new {'nullable' if column.nullable else 'NOT NULL'} "
                  f"column {type_sql}", False, tuple(sql))


def _altered(conn: Connection, item: Item, table: Table, column: Column[Any], live: Any,
             has_rows: bool) -> list[Change]:
    dialect = conn.dialect
    wanted_type = column.type.compile(dialect=dialect)
    live_type = live["type"].compile(dialect=dialect)
    changes = []
    if wanted_type != live_type:
        changes.append(Change(item.code, column.name, "type", f"{live_type} -> {wanted_type}", True))
    if live["nullable"] and not column.nullable and not column.primary_key:
        changes.append(Change(item.code, column.name, "set_not_null", "nullable -> NOT NULL", has_rows,
                              (ddl(conn, "ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL", table,
                                   column.name),)))
    if dialect.name == "postgresql":
        if not live["nullable"] and column.nullable:
            changes.append(Change(item.code, column.name, "drop_not_null", "NOT NULL -> nullable", False,
                                  (ddl(conn, "ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL", table,
                                       column.name),)))
        if column.comment and live.get("comment") != column.comment:
            changes.append(Change(item.code, column.name, "comment", f"{live.get('comment')!r} -> {column.comment!r}",
                                  False, (_comment_sql(conn, table, column.name, column.comment),)))
    return changes


def _primary_key(item: Item, table: Table, live: Any) -> list[Change]:
    found = list(live.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or [])
    wanted = [c.name for c in table.primary_key.columns]
    if found == wanted:
        return []
    return [Change(item.code, ", ".join(wanted), "primary_key", f"({', '.join(found)}) -> ({', '.join(wanted)})",
                   True)]


def _table_comment(conn: Connection, item: Item, table: Table, live: Any) -> list[Change]:
    found = live.get_table_comment(table.name, schema=table.schema).get("text")
    if not table.comment or found == table.comment:
        return []
    sql = ddl(conn, "COMMENT ON TABLE {table} IS {literal}", table, literal=table.comment)
    return [Change(item.code, None, "comment", f"table comment {found!r} -> {table.comment!r}", False, (sql,))]


def apply_plan(conn: Connection, plan: Plan, tables: dict[str, Table]) -> None:
    """Apply the additive changes; refuse everything if any change is destructive."""
    if plan.destructive:
        raise MigrationRefused(plan)
    for change in plan.additive:
        if change.sql == ("REBUILD",):
            table = tables[change.item]
            table.drop(conn)
            table.create(conn)
            continue
        for statement in change.sql:
            conn.exec_driver_sql(statement)


def _comment_sql(conn: Connection, table: Table, column: str, comment: str) -> str:
    return ddl(conn, "COMMENT ON COLUMN {table}.{column} IS {literal}", table, column, comment)


def add_column_sql(conn: Connection, table: Table, column: Column[Any]) -> str:
    """ALTER TABLE .. ADD COLUMN for a column of the metadata (its type compiled by the dialect)."""
    null = "" if column.nullable else " NOT NULL"
    template = "ALTER TABLE {table} ADD COLUMN {column} " + column.type.compile(dialect=conn.dialect) + null
    return ddl(conn, template, table, column.name)


def ddl(conn: Connection, template: str, table: Table, column: str | None = None, literal: str | None = None) -> str:
    """A statement of the plan, its names and literal quoted by the driver's own tools: psycopg2.sql on
    PostgreSQL; SQLAlchemy's identifier preparer on SQLite (which never takes a comment literal)."""
    if conn.dialect.name == "postgresql":
        parts: dict[str, sql.Composable] = {"table": table_name(table)}
        if column is not None:
            parts["column"] = sql.Identifier(column)
        if literal is not None:
            parts["literal"] = sql.Literal(literal)
        return render(conn, sql.SQL(template).format(**parts))
    if literal is not None:
        raise ValueError(f"{table.name}: {conn.dialect.name} takes no comments")
    preparer = conn.dialect.identifier_preparer
    return template.format(table=preparer.format_table(table),
                           column=None if column is None else preparer.quote(column))


def canonical_held_keys(conn: Connection, catalogue: Catalogue, quarantine: Table, dry_run: bool = False) -> Plan:
    """Open quarantine rows held before the value model keep their keys as submitted (a lowercase ``x`` in a
    citizen ID, full-width digits), which a corrected resubmission's canonical key never matches: rewrite each
    to its canonical form (pipelines.values), so the correction releases it. A value the model refuses stays
    as it is. One change per item, naming how many keys were rewritten."""
    q = quarantine
    rows = conn.execute(select(q.c.id, q.c.item, q.c.record_key).where(q.c.released_at.is_(None))
                        .order_by(q.c.id)).all()
    codes = {i.code for i in catalogue.items}
    rewritten: dict[str, list[tuple[int, str]]] = {}
    for row_id, code, key in rows:
        if code not in codes or key is None:
            continue
        item = catalogue.item(code)
        wanted = quarantine_key(item, _canonical_key(item, json.loads(key)))
        if wanted != key:
            rewritten.setdefault(code, []).append((row_id, wanted))
    if not dry_run:
        for found in rewritten.values():
            for row_id, wanted in found:
                conn.execute(update(q).where(q.c.id == row_id).values(record_key=wanted))
    return Plan([Change(code, "record_key", "held_keys", f"{len(found)} held row key(s) rewritten to their "
                        "canonical form", False) for code, found in sorted(rewritten.items())])


def converged_stage(conn: Connection, stage: Table, ledger: Table, dry_run: bool = False) -> Plan:
    """The stage data of submissions converged before convergence dropped it: nothing reads it, and a large
    submission's is the size of the submission twice over. One change per item, naming how many submissions'."""
    converged = ledger.c.status == "converged"
    found = conn.execute(select(ledger.c.item, func.count(func.distinct(stage.c.submission_id)))
                         .select_from(stage.join(ledger, ledger.c.submission_id == stage.c.submission_id))
                         .where(converged).group_by(ledger.c.item).order_by(ledger.c.item)).all()
    if found and not dry_run:
        conn.execute(delete(stage).where(stage.c.submission_id.in_(select(ledger.c.submission_id).where(converged))))
    return Plan([Change(item, None, "converged_stage", f"the stage data of {n} converged submission(s) dropped", False)
                 for item, n in found])


def _canonical_key(item: Item, key: dict[str, Any]) -> dict[str, Any]:
    return {name: _canonical_or_as_is(item.field(name), value) for name, value in key.items()}


def _canonical_or_as_is(field: ItemField | None, value: Any) -> Any:
    if field is None:  # no longer catalogued: nothing to read it by
        return value
    try:
        return canonical(field, value)
    except InvalidValue:
        return value
