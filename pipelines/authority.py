"""Look-ups in authoritative shared tables: the basis of online verification (art. 14) and of
comparison with the authoritative item (art. 16).

Reads only the key (and compared) columns, once per validation, never the whole table.
"""

from __future__ import annotations

from sqlalchemy import select

from pipelines.catalogue.models import FieldRef
from pipelines.store import Store


def known_keys(store: Store, ref: FieldRef) -> set[str]:
    """Every value of the authoritative key column, as text."""
    authority = store.catalogue.item(ref.item)
    if not store.shared.exists(authority):
        return set()
    column = store.tables.shared(authority).c[ref.field]
    with store.engine.connect() as conn:
        return {str(v) for v in conn.execute(select(column).distinct()).scalars() if v is not None}


def authoritative_values(store: Store, key: FieldRef, value: FieldRef) -> dict[str, str | None]:
    """Authoritative key -> the compared field's value, both as text."""
    authority = store.catalogue.item(key.item)
    if not store.shared.exists(authority):
        return {}
    table = store.tables.shared(authority)
    with store.engine.connect() as conn:
        rows = conn.execute(select(table.c[key.field], table.c[value.field]))
        return {str(k): (None if v is None else str(v)) for k, v in rows}
