"""The error-correction loop (art. 16): held-back rows go back to their unit as a correction list;
a resubmission that converges a row with the same primary key releases it from the quarantine.

The quarantine keeps every held row with its submission and reasons, the ledger every submission,
so the history of a row (held in one submission, converged by a later one) stays readable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from pipelines.catalogue.models import Catalogue, Item
from pipelines.outputs import CSV_LINE_END, numeric_columns, safe_frame, workbook_frame, write_workbook
from pipelines.quality.masking import mask
from pipelines.store import Store
from pipelines.store.quarantine import Quarantine, quarantine_key

META_COLUMNS = ("reasons", "submission_id", "row_no")  # delete these before resubmitting
NUMERIC = "numeric_columns"  # frame.attrs key: the item's integer and decimal columns


def release_corrected(quarantine: Quarantine, item: Item, submission_id: str, converged: pd.DataFrame,
                      now: datetime) -> int:
    """Release open quarantine rows of the item whose key this submission converged; returns how many. Given
    the convergence's unit of work (``uow.quarantine``), the release commits with the rows.
    Callers check ``Quarantine.has_open`` first: usually nothing is held, and then no keys need reading.
    Only the converged keys that an open row of another submission holds are sent to the store: a million-row
    submission sent every key, 500 to an UPDATE, for the few rows a correction releases."""
    held = quarantine.open_keys(item.code, other_than=submission_id)
    if not held:
        return 0
    keys = converged[list(item.primary_key)]
    return quarantine.release(item, submission_id, _keys_among(item, keys, held), now)


def _keys_among(item: Item, keys: pd.DataFrame, held: set[str]) -> list[dict[str, Any]]:
    """The rows of ``keys`` whose quarantine key is one of ``held``: rows whose values are those of a held key
    first (a set of tuples, no JSON per row), then each of those few checked by its quarantine key."""
    names = list(item.primary_key)
    wanted = {tuple(record.get(k) for k in names) for record in (json.loads(text) for text in held if text)}
    candidates = [row for row, values in enumerate(zip(*(keys[k] for k in names), strict=True))
                  if values in wanted]
    rows = keys.iloc[candidates].to_dict(orient="records")
    return [row for row in rows if quarantine_key(item, row) in held]


def has_open_rows(store: Store, item_code: str, other_than: str | None = None) -> bool:
    """Whether the item has open quarantine rows (held by a submission other than ``other_than``, when given):
    a submission's own held rows are never released by it."""
    return store.quarantine.has_open(item_code, other_than)


def open_rows(store: Store, unit: str) -> list[dict[str, Any]]:
    return store.quarantine.open_rows(unit)


def correction_frames(catalogue: Catalogue, rows: Iterable[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Per item: the reason, where the row came from, then the row as submitted, in catalogue order."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        record = json.loads(row["record"])
        by_item.setdefault(row["item"], []).append(
            {"reasons": row["reasons"], "submission_id": row["submission_id"], "row_no": row["row_no"], **record})
    frames = {}
    for code, records in by_item.items():
        columns = [*META_COLUMNS, *catalogue.item(code).field_names]
        frames[code] = pd.DataFrame(records, columns=columns)
        frames[code].attrs[NUMERIC] = numeric_columns(catalogue.item(code))
    return frames


def write_correction_files(directory: Path, unit: str, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    """``<unit>.xlsx`` with a sheet per item, and ``<unit>/<item>.csv`` ready to correct and resubmit.
    Cells are written safe for a spreadsheet (pipelines.outputs): a held-back row is exactly the kind that may
    carry a formula; the frame's integer and decimal columns (``NUMERIC``, set by ``correction_frames``) keep
    negative numbers numbers.
    A resubmission named ``<item>__correction….csv`` is read with the platform's quotes taken off again."""
    frames = {code: safe_frame(frame, frame.attrs.get(NUMERIC, ())) for code, frame in frames.items()}
    directory.mkdir(parents=True, exist_ok=True)
    workbook = directory / f"{unit}.xlsx"
    sheets = {code[:31]: workbook_frame(frame) for code, frame in frames.items()}
    write_workbook(workbook, sheets or {"none": pd.DataFrame(columns=list(META_COLUMNS))})
    paths = {"xlsx": workbook}
    csv_dir = directory / unit
    csv_dir.mkdir(exist_ok=True)
    for stale in csv_dir.glob("*.csv"):  # an item with no open rows any more has nothing to correct
        stale.unlink()
    for code, frame in frames.items():
        paths[code] = csv_dir / f"{code}.csv"
        # the BOM lets Excel read Chinese
        frame.to_csv(paths[code], index=False, encoding="utf-8-sig", lineterminator=CSV_LINE_END)
    return paths


def masked_preview(catalogue: Catalogue, frames: dict[str, pd.DataFrame], limit: int = 10) -> str:
    """A markdown table of the first rows, personal data masked: for the UI, not for the unit."""
    lines = []
    for code, frame in frames.items():
        item = catalogue.item(code)
        fields: Sequence[str] = item.field_names
        lines += [f"**{item.name}** (`{code}`): {len(frame)} row(s)", "",
                  "| row | reasons | " + " | ".join(fields) + " |", "|---" * (len(fields) + 2) + "|"]
        for _, row in frame.head(limit).iterrows():
            values = [_cell(mask(_text(row[f]), item.field(f))) for f in fields]
            lines.append(f"| {row['row_no']} | {_cell(row['reasons'])} | " + " | ".join(values) + " |")
        lines.append("")
    return "\n".join(lines) or "no rows held back"


def row_history(store: Store, item: Item, key: dict[str, Any]) -> list[dict[str, Any]]:
    """Every submission that carried this row: when it was held and why, and which one released it."""
    q, ledger = store.tables.quarantine, store.tables.ledger
    wanted = quarantine_key(item, key)
    with store.engine.connect() as conn:
        held = [dict(r._mapping) for r in conn.execute(select(q).where(q.c.item == item.code,
                                                                        q.c.record_key == wanted).order_by(q.c.id))]
        ids = {h["submission_id"] for h in held} | {h["released_by"] for h in held if h["released_by"]}
        sources = {r.submission_id: r.source for r in conn.execute(
            select(ledger.c.submission_id, ledger.c.source).where(ledger.c.submission_id.in_(ids)))}
    history = [{"submission_id": h["submission_id"], "source": sources.get(h["submission_id"]), "outcome": "held",
                "reasons": h["reasons"], "at": h["held_at"]} for h in held]
    for sid in dict.fromkeys(h["released_by"] for h in held if h["released_by"]):
        at = next(h["released_at"] for h in held if h["released_by"] == sid)
        history.append({"submission_id": sid, "source": sources.get(sid), "outcome": "converged", "reasons": "",
                        "at": at})
    return history


def _text(value: Any) -> str:
    return "∅" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")
