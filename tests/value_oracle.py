"""The store as the value model's independent oracle: accepted texts are loaded through the real load path
(SQLite: typed_records; PostgreSQL: COPY of the canonical text and the merge's casts) and read back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import select

from pipelines.catalogue.models import Catalogue, FieldType, ItemField
from pipelines.store import Store
from pipelines.values import InvalidValue, canonical
from tests.postgres.pgutil import NOW, mini, with_fields

COLUMNS = {t: f"v_{t.value}" for t in FieldType}
KEY = "k"


def catalogue() -> Catalogue:
    fields = [ItemField(name=KEY, label="键", primary_key=True)]
    fields += [ItemField(name=column, label=column, type=t) for t, column in COLUMNS.items()]
    return with_fields(mini(), "water_account", fields)


def accepted(field_type: FieldType, texts: list[str]) -> list[tuple[str, str]]:
    """(submitted text, canonical text) of the texts the validator accepts."""
    field = ItemField(name="v", label="v", type=field_type)
    out = []
    for text in texts:
        try:
            value = canonical(field, text)
        except InvalidValue:
            continue
        if value is not None:
            out.append((text, value))
    return out


_keys = itertools.count()


def load_and_read(store: Store, field_type: FieldType, texts: list[str]) -> list[tuple[str, Any]]:
    """Each text in its own row as the unit submitted it (the load canonicalises, as the pipeline's stage file
    has it), upserted through the store's own load path; returns (canonical text, value read back)."""
    item = store.catalogue.item("water_account")
    pairs = accepted(field_type, texts)
    if not pairs:
        return []
    keys = [f"k{next(_keys)}" for _ in pairs]
    frame = pd.DataFrame({KEY: keys, COLUMNS[field_type]: [text for text, _ in pairs]}, dtype=object)
    store.shared.upsert(item, frame, "nn_water", "s", NOW)
    table = store.tables.shared(item)
    with store.engine.connect() as conn:
        query = select(table.c[KEY], table.c[COLUMNS[field_type]]).where(table.c[KEY].in_(keys))
        back = {key: value for key, value in conn.execute(query)}
    return [(value, back[key]) for key, (_, value) in zip(keys, pairs, strict=True)]


def expected(field_type: FieldType, text: str) -> Any:
    """What the stdlib reads the canonical text as: the value a faithful store must give back."""
    readers: dict[FieldType, Callable[[str], Any]] = {
        FieldType.STRING: str,
        FieldType.INTEGER: int,
        FieldType.DECIMAL: Decimal,
        FieldType.BOOLEAN: lambda t: {"true": True, "false": False}[t],
        FieldType.DATE: date.fromisoformat,
        FieldType.DATETIME: datetime.fromisoformat,
    }
    return readers[field_type](text)
