"""Catalogue changes reach the live shared tables: additive changes applied, destructive ones refused.

The catalogue is code, the shared tables hold converged data. A new nullable column or a new
comment costs nothing and is applied; a dropped column, a type change, a primary key change or a new
NOT NULL column on a table that already has rows would lose or reject data, so the migration refuses
the whole plan and names each such change (item, column, change) for a person to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, Table, inspect

from pipelines.catalogue.models import Item
from pipelines.store.postgres import quote_ident, quote_literal, quoted


@dataclass(frozen=True)
class Change:
    item: str
    column: str | None
    kind: str  # add_column, comment, drop_not_null | drop_column, type, primary_key, add_not_null, set_not_null
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
    has_rows = bool(conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {quoted(table)})").scalar())
    changes: list[Change] = []
    for column in table.columns:
        found = columns.get(column.name)
        if found is None:
            changes.append(_added(item, table, column, has_rows, dialect))
        else:
            changes += _altered(item, table, column, found, has_rows, dialect)
    changes += [Change(item.code, name, "drop_column", "the column is no longer catalogued", True)
                for name in columns if name not in table.columns]
    changes += _primary_key(item, table, live)
    if dialect.name == "postgresql":
        changes += _table_comment(item, table, live)
    return Plan(changes)


def _added(item: Item, table: Table, column: Column[Any], has_rows: bool, dialect: Any) -> Change:
    type_sql = column.type.compile(dialect=dialect)
    if not column.nullable and has_rows:
        return Change(item.code, column.name, "add_not_null",
                      f"new NOT NULL column {type_sql} on a table that has rows", True)
    if not column.nullable and dialect.name != "postgresql":
        # SQLite cannot add a NOT NULL column without a default; the table is empty, so rebuild it.
        return Change(item.code, column.name, "add_column", f"new NOT NULL column {type_sql} (empty table rebuilt)",
                      False, ("REBUILD",))
    null = "" if column.nullable else " NOT NULL"
    sql = [f"ALTER TABLE {quoted(table)} ADD COLUMN {quote_ident(column.name)} {type_sql}{null}"]
    if column.comment and dialect.name == "postgresql":
        sql.append(_comment_sql(table, column.name, column.comment))
    return Change(item.code, column.name, "add_column", f"new {'nullable' if column.nullable else 'NOT NULL'} "
                  f"column {type_sql}", False, tuple(sql))


def _altered(item: Item, table: Table, column: Column[Any], live: Any, has_rows: bool,
             dialect: Any) -> list[Change]:
    wanted_type = column.type.compile(dialect=dialect)
    live_type = live["type"].compile(dialect=dialect)
    changes = []
    if wanted_type != live_type:
        changes.append(Change(item.code, column.name, "type", f"{live_type} -> {wanted_type}", True))
    if live["nullable"] and not column.nullable and not column.primary_key:
        changes.append(Change(item.code, column.name, "set_not_null", "nullable -> NOT NULL", has_rows,
                              (f"ALTER TABLE {quoted(table)} ALTER COLUMN {quote_ident(column.name)} SET NOT NULL",)))
    if dialect.name == "postgresql":
        if not live["nullable"] and column.nullable:
            changes.append(Change(item.code, column.name, "drop_not_null", "NOT NULL -> nullable", False,
                                  (f"ALTER TABLE {quoted(table)} ALTER COLUMN {quote_ident(column.name)} "
                                   "DROP NOT NULL",)))
        if column.comment and live.get("comment") != column.comment:
            changes.append(Change(item.code, column.name, "comment", f"{live.get('comment')!r} -> {column.comment!r}",
                                  False, (_comment_sql(table, column.name, column.comment),)))
    return changes


def _primary_key(item: Item, table: Table, live: Any) -> list[Change]:
    found = list(live.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or [])
    wanted = [c.name for c in table.primary_key.columns]
    if found == wanted:
        return []
    return [Change(item.code, ", ".join(wanted), "primary_key", f"({', '.join(found)}) -> ({', '.join(wanted)})",
                   True)]


def _table_comment(item: Item, table: Table, live: Any) -> list[Change]:
    found = live.get_table_comment(table.name, schema=table.schema).get("text")
    if not table.comment or found == table.comment:
        return []
    sql = f"COMMENT ON TABLE {quoted(table)} IS {quote_literal(table.comment)}"
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


def _comment_sql(table: Table, column: str, comment: str) -> str:
    return f"COMMENT ON COLUMN {quoted(table)}.{quote_ident(column)} IS {quote_literal(comment)}"
