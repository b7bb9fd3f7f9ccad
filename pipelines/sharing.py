"""Online verification and shared access at validation time (art. 13, 14).

- a field that ``references`` an authoritative item carries its key: each value must exist in the
  authority's shared table, else the row is held back as "not found in the authoritative source";
- a field with a ``lookup`` is not collected: the submitted value (if any) is flagged as repeated
  collection and discarded, and the value is filled from the authority's shared table through the
  referencing key; an item whose catalogue says ``carried_values: refuse`` has such a submission refused
  whole at intake instead (``refuse_carried``), flagged all the same.

Both go through the validation's ``StoreAuthority``, which reads each authoritative column once, however
many submissions and rules ask for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from pipelines.catalogue.models import CarriedValues, FieldRef, Item, ItemField
from pipelines.intake import SubmissionError
from pipelines.quality.context import StoreAuthority, canonical_texts
from pipelines.values import InvalidValue, canonical

if TYPE_CHECKING:
    from pipelines.store import Store

log = logging.getLogger(__name__)
NOT_FOUND = "not found in the authoritative source"


def reference_rule_id(field: str) -> str:
    return f"references:{field}"


def unknown_keys(authority: StoreAuthority, item: Item, frame: pd.DataFrame) -> dict[int, list[str]]:
    """Row position -> reasons, for each referencing value the authoritative table does not hold."""
    reasons: dict[int, list[str]] = {}
    for f in item.fields:
        if f.references is None:
            continue
        known = authority.keys(f.references)
        reason = f"{reference_rule_id(f.name)}: {f.label} {NOT_FOUND} ({f.references})"
        for row, key in enumerate(canonical_texts(item, f.name, frame[f.name])):
            if key is not None and key not in known:
                reasons.setdefault(row, []).append(reason)
    return reasons


@dataclass(frozen=True)
class CarriedLookup:
    """A submission carrying values the platform must obtain through sharing (art. 13)."""

    field: str
    source: str
    rows: int


def strip_lookups(item: Item, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[CarriedLookup]]:
    """Discard submitted values of looked-up fields, saying which fields carried how many values."""
    carried = []
    stripped = frame.copy()
    for f in item.fields:
        if f.lookup is None:
            continue
        present = _present_count(frame[f.name])
        if present:
            carried.append(CarriedLookup(f.name, str(f.lookup), present))
        stripped[f.name] = None
    return stripped, carried


class CarriedRefused(SubmissionError):
    """A submission of an item with ``carried_values: refuse`` carried values of looked-up fields: refused whole
    at intake (art. 13), a refusal like the others (ledger ``rejected``, its rows held back), and flagged."""

    def __init__(self, item: Item, carried: list[CarriedLookup]):
        self.item = item
        self.carried = carried
        labels = {f.name: f.label for f in item.fields}
        fields = "; ".join(f"{labels[c.field]} ({c.field}): {c.rows} value(s), obtained through sharing from "
                           f"{c.source}" for c in carried)
        super().__init__(f"carries values the platform obtains through sharing, refused (art. 13, carried_values: "
                         f"refuse): {fields}")

    def flags(self, submission_id: str, when: datetime) -> list[dict[str, Any]]:
        """The repeated-collection log's rows of the refused submission, as a stripped one's."""
        return carried_rows(self.item, submission_id, self.carried, when)


def carried_in(item: Item, frames: Iterable[pd.DataFrame]) -> list[CarriedLookup]:
    """What the looked-up fields of a submission's chunks carry, in the item's field order; nothing is copied."""
    looked_up = [f for f in item.fields if f.lookup is not None]
    counts = dict.fromkeys((f.name for f in looked_up), 0)
    for frame in frames:
        for f in looked_up:
            counts[f.name] += _present_count(frame[f.name])
    return [CarriedLookup(f.name, str(f.lookup), counts[f.name]) for f in looked_up if counts[f.name]]


def refuse_carried(item: Item, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
    """Raise CarriedRefused when the item refuses carried values and the submission carries some. Read before
    anything is staged: an item that strips them (the default) reads nothing here."""
    if item.carried_values is not CarriedValues.REFUSE:
        return
    carried = carried_in(item, [frames] if isinstance(frames, pd.DataFrame) else frames)
    if carried:
        raise CarriedRefused(item, carried)


class LookupStripper:
    """``strip_lookups`` over the chunks of one submission, tallying what the looked-up fields carried."""

    def __init__(self, item: Item):
        self.item = item
        self._counts: dict[str, int] = {}

    def strip(self, frames: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            kept, carried = strip_lookups(self.item, frame)
            for lookup in carried:
                self._counts[lookup.field] = self._counts.get(lookup.field, 0) + lookup.rows
            yield kept

    @property
    def carried(self) -> list[CarriedLookup]:
        """In the item's field order, whichever chunk carried a field first."""
        return [CarriedLookup(f.name, str(f.lookup), self._counts[f.name])
                for f in self.item.fields if f.lookup is not None and f.name in self._counts]


def fill_lookups(authority: StoreAuthority, item: Item, frame: pd.DataFrame) -> pd.DataFrame:
    """Each looked-up field filled from the authority's row found through the referencing key."""
    filled = frame.copy()
    for f in item.fields:
        if f.lookup is None:
            continue
        key_field, key_ref = _referencing_field(item, f.lookup)
        values = authority.values(key_ref, f.lookup)
        found = (None if k is None else values.get(k) for k in canonical_texts(item, key_field, frame[key_field]))
        filled[f.name] = [_as_field(f, v) for v in found]
    return filled


def _as_field(field: ItemField, value: str | None) -> str | None:
    """An authoritative value in this field's own canonical text, what its load cast takes; one that is no
    value of this field (the authority's column has another type) is left empty rather than break the load."""
    try:
        return canonical(field, value)
    except InvalidValue:
        log.warning("look-up %s: an authoritative value is not a valid %s, left empty", field.name, field.type.value)
        return None


def _referencing_field(item: Item, lookup: FieldRef) -> tuple[str, FieldRef]:
    """The field (and its reference) through which the authority's row is found; the loader guarantees one."""
    return next((f.name, f.references) for f in item.fields if f.references and f.references.item == lookup.item)


def record_carried(store: Store, item: Item, submission_id: str, carried: list[CarriedLookup],
                   when: datetime) -> None:
    """Flag the submission in the store's repeated-collection log, which the supervision report and the
    evaluation read (a later step, perhaps on another worker: so it is kept in the store, not a local file)."""
    store.records.flag_carried(carried_rows(item, submission_id, carried, when))


def carried_of(store: Store, submission_id: str) -> list[CarriedLookup]:
    """What the submission was flagged for carrying (at intake, where the values were discarded)."""
    return [CarriedLookup(f["field"], f["source"], f["rows"]) for f in store.records.carried_flags(submission_id)]


def carried_rows(item: Item, submission_id: str, carried: list[CarriedLookup], when: datetime) -> list[dict[str, Any]]:
    """The repeated-collection log's rows for a submission's carried look-ups (written with its validation)."""
    at = when.astimezone(UTC)  # SQLite keeps no zone: the store's timestamps are all UTC
    return [{"item": item.code, "unit": item.unit, "submission_id": submission_id, "field": c.field,
             "source": c.source, "rows": c.rows, "flagged_at": at} for c in carried]


def carried_log(store: Store) -> list[dict[str, object]]:
    """The flags of the repeated-collection log, oldest first, with ``flagged_at`` as ISO text in UTC."""
    from pipelines.store import as_utc

    log = store.tables.repeated_collection
    with store.engine.connect() as conn:
        flags = conn.execute(select(log.c.item, log.c.unit, log.c.submission_id, log.c.field, log.c.source,
                                    log.c.rows, log.c.flagged_at).order_by(log.c.id)).all()
    return [{**row._asdict(), "flagged_at": as_utc(row.flagged_at).isoformat()} for row in flags]


def _present_count(values: Iterable[object]) -> int:
    return sum(1 for value in values if _present(value))


def _present(value: object) -> bool:
    missing = value is None or value is pd.NA or (isinstance(value, float) and value != value)  # NA: Arrow-backed
    return not missing and str(value) != ""


def authorities(item: Item) -> list[str]:
    """The items whose shared tables this item's validation reads (references, look-ups, comparisons)."""
    refs = [ref for f in item.fields for ref in (f.references, f.lookup, f.matches) if ref is not None]
    return sorted({ref.item for ref in refs} - {item.code})


def authority_first(items: tuple[Item, ...]) -> list[Item]:
    """Items of one unit ordered so an authority converges before the items that read it."""
    pending = list(items)
    ordered: list[Item] = []
    while pending:
        codes = {i.code for i in pending}
        ready = [i for i in pending if not codes.intersection(authorities(i))] or pending[:1]  # a cycle: keep order
        ordered += ready
        pending = [i for i in pending if i not in ready]
    return ordered
