"""The quarantine: rows held back, one per held row with its reasons, until a corrected resubmission that
converges the same key releases them (art. 16)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from pipelines.catalogue.models import Item
from pipelines.store.tables import Tables
from pipelines.store.unit import Session

_CHUNK = 500  # keeps IN (...) lists well under SQLite's variable limit
_BATCH = 10_000  # held rows per INSERT: bounded memory for a submission of millions


@dataclass(frozen=True)
class HeldRow:
    row_no: int
    key: dict[str, Any]
    reasons: Sequence[str]
    record: dict[str, Any]


def quarantine_key(item: Item, values: Mapping[str, Any]) -> str:
    """The text a held row is found by again (a corrected resubmission releases it): its primary-key values
    in catalogue order."""
    return json.dumps({k: values.get(k) for k in item.primary_key}, ensure_ascii=False, default=str)


def kept_record(item: Item, record: Mapping[str, Any]) -> dict[str, Any]:
    """The held row as recorded: without the values the platform obtains through sharing (art. 13), which
    were discarded, not collected."""
    looked_up = {f.name for f in item.fields if f.lookup is not None}
    return {k: (None if k in looked_up else v) for k, v in record.items()}


class Quarantine:
    def __init__(self, tables: Tables, session: Session):
        self._session = session
        self.table = tables.quarantine

    def hold(self, item: Item, unit: str, submission_id: str, rows: Iterable[HeldRow], now: datetime) -> int:
        """Insert the held rows in one transaction, ``_BATCH`` at a time: ``rows`` may be a generator over a
        large submission's chunks, never all in memory at once."""
        held = 0
        batch: list[dict[str, Any]] = []
        with self._session.begin() as conn:
            for r in rows:
                batch.append({"submission_id": submission_id, "item": item.code, "unit": unit, "row_no": r.row_no,
                              "record_key": quarantine_key(item, r.key), "reasons": "; ".join(r.reasons),
                              "record": json.dumps(kept_record(item, r.record), ensure_ascii=False, default=str),
                              "held_at": now})
                if len(batch) == _BATCH:
                    conn.execute(insert(self.table), batch)
                    held, batch = held + len(batch), []
            if batch:
                conn.execute(insert(self.table), batch)
        return held + len(batch)

    def release(self, item: Item, submission_id: str, keys: Iterable[Mapping[str, Any]], now: datetime) -> int:
        """Mark the item's open rows with these keys (held by other submissions) released by this one."""
        wanted = [quarantine_key(item, key) for key in keys]
        q = self.table
        released = 0
        with self._session.begin() as conn:
            for start in range(0, len(wanted), _CHUNK):
                statement = (update(q).where(q.c.item == item.code, q.c.released_at.is_(None),
                                             q.c.submission_id != submission_id,
                                             q.c.record_key.in_(wanted[start:start + _CHUNK]))
                             .values(released_by=submission_id, released_at=now))
                released += conn.execute(statement).rowcount or 0
        return released

    def has_open(self, item_code: str, other_than: str | None = None) -> bool:
        """Whether the item has open rows (held by a submission other than ``other_than``, when given)."""
        with self._session.read() as conn:
            return conn.execute(self._open(item_code, other_than, self.table.c.id).limit(1)).first() is not None

    def open_keys(self, item_code: str, other_than: str | None = None) -> set[str]:
        """The record keys of the item's open rows (held by a submission other than ``other_than``, when given)."""
        with self._session.read() as conn:
            return set(conn.execute(self._open(item_code, other_than, self.table.c.record_key).distinct()).scalars())

    def _open(self, item_code: str, other_than: str | None, column: Any) -> Any:
        q = self.table
        query = select(column).where(q.c.item == item_code, q.c.released_at.is_(None))
        return query if other_than is None else query.where(q.c.submission_id != other_than)

    def open_rows(self, unit: str) -> list[dict[str, Any]]:
        q = self.table
        query = select(q).where(q.c.unit == unit, q.c.released_at.is_(None)).order_by(q.c.item, q.c.id)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def held_rows(self, item: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
        q = self.table
        query = select(q).order_by(q.c.id)
        if item is not None:
            query = query.where(q.c.item == item)
        if unit is not None:
            query = query.where(q.c.unit == unit)
        with self._session.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
