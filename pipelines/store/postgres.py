"""PostgreSQL loads: COPY into a temporary staging table, then one merge, in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table

from pipelines.catalogue.models import Item
from pipelines.store.store import records_as_csv


def _quoted(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def copy_merge(engine: Engine, table: Table, item: Item, records: list[dict[str, Any]],
               lineage: dict[str, Any]) -> int:
    columns = [c.name for c in table.columns]
    rows = [{**r, **lineage} for r in records]
    column_list = ", ".join(f'"{c}"' for c in columns)
    key = ", ".join(f'"{c}"' for c in item.primary_key)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in item.primary_key)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute(f'CREATE TEMP TABLE "_stage" (LIKE {_quoted(table)} INCLUDING DEFAULTS) ON COMMIT DROP')
            cursor.copy_expert(f'COPY "_stage" ({column_list}) FROM STDIN WITH (FORMAT csv)',
                               records_as_csv(rows, columns))
            cursor.execute(
                f"INSERT INTO {_quoted(table)} ({column_list}) SELECT {column_list} FROM \"_stage\" "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
            )
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return len(rows)
