"""Online verification and shared access at validation time (art. 13, 14).

- a field that ``references`` an authoritative item carries its key: each value must exist in the
  authority's shared table, else the row is held back as "not found in the authoritative source";
- a field with a ``lookup`` is not collected: the submitted value (if any) is flagged as repeated
  collection and discarded, and the value is filled from the authority's shared table through the
  referencing key.

Both go through the validation's ``StoreAuthority``, which reads each authoritative column once, however
many submissions and rules ask for it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.catalogue.models import FieldRef, Item, ItemField
from pipelines.quality.context import StoreAuthority, canonical_texts
from pipelines.values import InvalidValue, canonical

NOT_FOUND = "not found in the authoritative source"
REPEATED_LOG = Path("governance") / "repeated_collection.jsonl"
log = logging.getLogger(__name__)


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
        present = sum(1 for value in frame[f.name] if _present(value))
        if present:
            carried.append(CarriedLookup(f.name, str(f.lookup), present))
        stripped[f.name] = None
    return stripped, carried


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


def record_carried(data_dir: Path, item: Item, submission_id: str, carried: list[CarriedLookup],
                   when: datetime) -> None:
    """Append the flag to the repeated-collection log the supervision report reads."""
    if not carried:
        return
    path = data_dir / REPEATED_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        for c in carried:
            log.write(json.dumps({"item": item.code, "unit": item.unit, "submission_id": submission_id,
                                  "field": c.field, "source": c.source, "rows": c.rows,
                                  "flagged_at": when.isoformat()}, ensure_ascii=False) + "\n")


def carried_log(data_dir: Path) -> list[dict[str, object]]:
    """The flags of the repeated-collection log, skipping (with a warning) lines that do not read: a last line
    half-written by a validation still appending, or cut short by a crash, must not stop every evaluation."""
    path = data_dir / REPEATED_LOG
    if not path.is_file():
        return []
    # "\n" only, not splitlines(): a value may hold U+2028 (the log is written with ensure_ascii=False).
    # errors="replace": a character cut in half can only be on a half-written line, which is skipped anyway.
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    flags = (_flag(path, number, line) for number, line in enumerate(lines, start=1) if line.strip())
    return [flag for flag in flags if flag is not None]


def _flag(path: Path, number: int, line: str) -> dict[str, object] | None:
    try:
        flag = json.loads(line)
    except json.JSONDecodeError as exc:
        log.warning("%s line %d: unreadable, skipped (%s)", path, number, exc)
        return None
    if not isinstance(flag, dict):
        log.warning("%s line %d: not a flag object, skipped", path, number)
        return None
    return flag


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value) != ""


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
