"""Small helpers shared by the PostgreSQL tests: stores on a throwaway database, catalogue variants."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.catalogue.models import Item, ItemField
from pipelines.store import Store
from tests.conftest import MINI, make_uscc

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def mini() -> Catalogue:
    return load_catalogue(MINI)


def with_item(catalogue: Catalogue, item: Item) -> Catalogue:
    items = tuple(item if i.code == item.code else i for i in catalogue.items)
    return Catalogue(units=catalogue.units, items=items)


def with_fields(catalogue: Catalogue, code: str, fields: list[ItemField]) -> Catalogue:
    return with_item(catalogue, catalogue.item(code).model_copy(update={"fields": tuple(fields)}))


def enterprise_frame(n: int, start: int = 0, name: str = "企业") -> pd.DataFrame:
    rows = [[make_uscc(i), f"{name}{i}", "450103", f"{i}.5", "存续", "2026-10-01"] for i in range(start, start + n)]
    return pd.DataFrame(rows, columns=["credit_code", "name", "region", "capital", "status", "updated_at"],
                        dtype=object)


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def store_on(url: str, catalogue: Catalogue | None = None) -> Store:
    store = Store(url, catalogue or mini())
    store.ensure_tables()
    return store


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
