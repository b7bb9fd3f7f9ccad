"""Submissions for any catalogue, from its field types and standards alone.

``generate_submissions`` writes one CSV per item collected by submission (``<intake>/<unit>/<item>.csv``,
headed by the field names) whose every value is valid by the catalogue: identifiers that python-stdnum
accepts (credit codes, citizen IDs with a real division and birth date), division codes in use, phones,
postcodes, e-mail addresses, dates fresh for the item's update cycle on ``as_of``, values from value
sets, numbers inside ranges, text within ``max_length``, unique primary keys. A field that ``references``
an authoritative item takes a key from the rows written for that authority that will converge (so
online verification passes), a ``matches`` field the authority's value in that row; ``lookup`` fields are
left out, as the catalogue says they are not collected. Items pulled from a database are skipped.

With a fault rate, that share of rows gets one known fault each (a bad check digit, a missing required
value, a value outside its value set or range, a duplicate key) and the manifest says, per item, the
rows written, the rows expected valid and held back, and the kind and rows of every fault: counted
from what was injected, not by running the validator, so a test can hold the platform to it.

Everything is drawn from one ``random.Random(seed)`` in a fixed order: a seed and an as-of date always
give the same bytes.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import (
    Catalogue,
    DatabaseCollection,
    FieldRef,
    FieldType,
    Item,
    ItemField,
    Level,
    Severity,
    Standard,
)
from pipelines.demo.generator import (
    DEFAULT_SEED,
    DIVISIONS,
    OUT_OF_SET_VALUES,
    Row,
    _as_date,
    corrupt_check_char,
    duplicate_keys,
    duplicated_key_rows,
    field_problems,
    fresh_key,
    mobile,
    money,
    out_of_range_value,
    person_name,
    write_csv,
)
from pipelines.sharing import authority_first
from pipelines.standards import _divisions_in_use

DEFAULT_ROWS = 200
FAULT_KINDS = ("bad_check_digit", "missing_required", "out_of_set", "out_of_range", "duplicate_key")
UNKNOWN_KEY = "unknown_key"  # a required reference whose authority gets no rows from this generator
REFUSED = "expired_temporary_collection"
MANIFEST_VERSION = 1


# =============================================================================================
# Valid values, field by field
# =============================================================================================
@cache
def divisions_under(region: str, level: Level) -> tuple[str, ...]:
    """Division codes in use inside the item's region (the whole province for a provincial item)."""
    prefix = {Level.PROVINCE: region[:2], Level.CITY: region[:4]}.get(level, region)
    inside = sorted(c for c in _divisions_in_use() if c.startswith(prefix))
    return tuple(inside) or tuple(sorted(_divisions_in_use()))


def fits(text: str, f: ItemField) -> str:
    return text[: f.max_length] if f.max_length is not None else text


def number_in_range(rng: random.Random, f: ItemField) -> str:
    low = f.range.min if f.range and f.range.min is not None else 0.0
    high = f.range.max if f.range and f.range.max is not None else max(low, 0.0) + 10_000
    if f.type is FieldType.INTEGER:
        return str(rng.randint(math.ceil(low), math.floor(high)))
    value = money(rng.uniform(low, high))
    return value if low <= float(value) <= high else repr(low)  # rounding to cents must not leave the range


def fresh_day(rng: random.Random, item: Item, as_of: date) -> date:
    """Recent enough for the update cycle, a day clear of the staleness boundary."""
    return as_of - timedelta(days=rng.randint(0, max(0, item.update_cycle.max_age.days - 1)))


def past_day(rng: random.Random, as_of: date) -> date:
    return as_of - timedelta(days=rng.randint(0, 5 * 365))


def moment(rng: random.Random, day: date) -> str:
    return datetime.combine(day, time(rng.randrange(24), rng.randrange(60), rng.randrange(60))).isoformat()


def standard_value(rng: random.Random, item: Item, f: ItemField, serial: int, as_of: date) -> str:
    standard = f.standard
    if standard in (Standard.USCC, Standard.RIC):
        return fresh_key(rng, standard)
    if standard is Standard.ADCODE:
        return rng.choice(divisions_under(item.region, item.level))
    if standard is Standard.PHONE:
        return mobile(rng)
    if standard is Standard.POSTCODE:
        return rng.choice(DIVISIONS).postcode
    if standard is Standard.EMAIL:
        return f"user{serial}.{rng.randrange(10**4):04d}@example.cn"
    assert standard is Standard.DATE, standard
    day = fresh_day(rng, item, as_of) if f.name == item.timestamp_field else past_day(rng, as_of)
    return day.isoformat()


def typed_value(rng: random.Random, item: Item, f: ItemField, serial: int, as_of: date) -> str:
    if f.values is not None:
        return rng.choice(f.values)
    if f.standard is not None:
        return standard_value(rng, item, f, serial, as_of)
    if f.type in (FieldType.INTEGER, FieldType.DECIMAL):
        return number_in_range(rng, f)
    if f.type is FieldType.BOOLEAN:
        return rng.choice(("true", "false"))
    if f.type in (FieldType.DATE, FieldType.DATETIME):
        day = fresh_day(rng, item, as_of) if f.name == item.timestamp_field else past_day(rng, as_of)
        return day.isoformat() if f.type is FieldType.DATE else moment(rng, day)
    return fits(person_name(rng) if f.personal else f"{f.label}{serial + 1}", f)


def serial_key(f: ItemField, serial: int) -> str | None:
    """A value unique by construction for a key field that can carry a running number, else None."""
    if f.values is not None or f.standard is not None:
        return None
    if f.type is FieldType.STRING:
        text = f"K{serial:07d}"
        return text if f.max_length is None or len(text) <= f.max_length else None
    if f.type is FieldType.INTEGER:
        low = math.ceil(f.range.min) if f.range and f.range.min is not None else 1
        high = f.range.max if f.range and f.range.max is not None else math.inf
        return str(low + serial) if low + serial <= high else None
    return None


# =============================================================================================
# Authorities: the rows that converge, by the field other items reference
# =============================================================================================
@dataclass
class Authorities:
    """Converging rows of each authoritative item written so far (faulty rows are held back, so left out)."""

    rows: dict[str, list[Row]] = field(default_factory=dict)

    def holds(self, item_code: str) -> bool:
        return bool(self.rows.get(item_code))

    def pick(self, rng: random.Random, item_code: str) -> Row:
        return rng.choice(self.rows[item_code])


def referencing_fields(item: Item) -> list[ItemField]:
    return [f for f in item.fields if f.references is not None and f.lookup is None]


def unreferenced_fields(item: Item, authorities: Authorities) -> frozenset[str]:
    """Optional references left empty in every row: their authority has no rows here."""
    return frozenset(f.name for f in referencing_fields(item)
                     if f.references and not authorities.holds(f.references.item) and not f.not_null)


def first_reference_to(item: Item, authority: str) -> ItemField | None:
    """The field through which ``matches`` and ``lookup`` find the authority's row (the loader's rule)."""
    return next((f for f in item.fields if f.references and f.references.item == authority), None)


# =============================================================================================
# Rows
# =============================================================================================
@dataclass
class ItemRows:
    rows: list[Row]
    unknown_key_rows: list[int]  # required references to an authority that has no rows here


def submitted_fields(item: Item) -> list[ItemField]:
    """Every catalogued field except the looked-up ones: they are obtained by sharing, not collected."""
    return [f for f in item.fields if f.lookup is None]


def build_rows(rng: random.Random, item: Item, n_rows: int, as_of: date, authorities: Authorities) -> ItemRows:
    fields = submitted_fields(item)
    serial_field = next((f for f in fields if f.primary_key and serial_key(f, 0) is not None), None)
    seen_keys: set[tuple[str | None, ...]] = set()
    rows: list[Row] = []
    unknown: list[int] = []
    for serial in range(n_rows):
        for _ in range(10_000):
            row, unverifiable = build_row(rng, item, fields, serial, as_of, authorities, serial_field)
            key = tuple(row[k] for k in item.primary_key)
            if key not in seen_keys:
                break
        else:
            raise RuntimeError(f"{item.code}: ran out of distinct primary keys after {serial} rows; lower --rows")
        seen_keys.add(key)
        rows.append(row)
        if unverifiable:
            unknown.append(serial)
    return ItemRows(rows, unknown)


def build_row(rng: random.Random, item: Item, fields: list[ItemField], serial: int, as_of: date,
              authorities: Authorities, serial_field: ItemField | None) -> tuple[Row, bool]:
    """One valid row; True when a required reference cannot be met (its authority has no rows here)."""
    row: Row = {}
    for f in fields:
        unique = serial_key(f, serial) if f is serial_field else None
        row[f.name] = unique if unique is not None else typed_value(rng, item, f, serial, as_of)
    unverifiable = False
    picked: dict[str, Row] = {}
    for f in referencing_fields(item):
        unverifiable |= _reference(rng, item, f, row, authorities, picked)
    for f in fields:
        if f.matches is not None and f.matches.item in picked:
            row[f.name] = picked[f.matches.item][f.matches.field]
    return row, unverifiable


def _reference(rng: random.Random, item: Item, f: ItemField, row: Row, authorities: Authorities,
               picked: dict[str, Row]) -> bool:
    ref = f.references
    assert ref is not None
    if not authorities.holds(ref.item):
        if not f.not_null:
            row[f.name] = None  # nothing to verify against: an optional reference is left empty
            return False
        return True  # keeps its made-up, well-formed value: held back by online verification
    source = authorities.pick(rng, ref.item)
    row[f.name] = source[ref.field]
    if first_reference_to(item, ref.item) is f:
        picked[ref.item] = source
    return False


# =============================================================================================
# Faults: one per faulty row, only where the catalogue's rule holds rows back
# =============================================================================================
def holds_back(item: Item, rule_id: str) -> bool:
    return item.quality.severity.get(rule_id, Severity.ERROR) is Severity.ERROR


def fault_targets(item: Item, empty: frozenset[str] = frozenset()) -> dict[str, list[ItemField]]:
    """Per fault kind, the fields it may be injected into without breaking any other rule; ``empty``: the
    fields left empty in every row (optional references to an authority that has no rows here)."""
    fields = [f for f in submitted_fields(item) if not f.primary_key and f.matches is None]
    return {
        "bad_check_digit": [f for f in submitted_fields(item) if f.standard in (Standard.USCC, Standard.RIC)
                            and f.name not in empty and holds_back(item, f"standard:{f.name}")],
        "missing_required": [f for f in fields if f.required and f.type is FieldType.STRING and f.values is None
                             and f.standard is None and f.name != item.timestamp_field
                             and holds_back(item, f"required:{f.name}")],
        "out_of_set": [f for f in fields if f.values is not None and holds_back(item, f"value_set:{f.name}")],
        "out_of_range": [f for f in fields if f.range is not None and _can_leave(f)
                         and holds_back(item, f"range:{f.name}")],
        "duplicate_key": [] if not holds_back(item, "unique_key") else [f for f in item.fields if f.primary_key],
    }


def _can_leave(f: ItemField) -> bool:
    """out_of_range_value goes below a non-negative minimum or above a maximum."""
    assert f.range is not None
    return (f.range.min is not None and f.range.min >= 0) or f.range.max is not None


def plan_faults(rng: random.Random, item: Item, n_rows: int, rate: float, exclude: set[int],
                empty: frozenset[str]) -> dict[str, list[int]]:
    """Disjoint rows per fault kind, ``rate`` of the rows in all, spread evenly over the kinds that apply;
    duplicate keys come in pairs (both rows of a pair carry the duplicated key)."""
    kinds = [kind for kind, targets in fault_targets(item, empty).items() if targets]
    wanted = round(rate * n_rows)
    if not kinds or not wanted:
        return {}
    quotas = fault_quotas(kinds, wanted)
    free = [i for i in range(n_rows) if i not in exclude]
    chosen = rng.sample(free, min(len(free), sum(quotas.values())))
    plan: dict[str, list[int]] = {}
    for kind in quotas:
        plan[kind], chosen = sorted(chosen[: quotas[kind]]), chosen[quotas[kind]:]
    return {kind: rows for kind, rows in plan.items() if rows and (kind != "duplicate_key" or len(rows) % 2 == 0)}


def fault_quotas(kinds: list[str], wanted: int) -> dict[str, int]:
    """``wanted`` rows spread evenly over the kinds; duplicate keys take whole pairs, at least one if it fits."""
    pairs = 0
    if "duplicate_key" in kinds and wanted >= 2:
        others = len(kinds) - 1
        pairs = wanted // 2 if not others else max(1, round(wanted / len(kinds) / 2))
    rest, others_kinds = wanted - 2 * pairs, [k for k in kinds if k != "duplicate_key"]
    quotas = {kind: rest // len(others_kinds) + (1 if i < rest % len(others_kinds) else 0)
              for i, kind in enumerate(others_kinds)} if others_kinds else {}
    return quotas | ({"duplicate_key": 2 * pairs} if pairs else {})


def inject_faults(rng: random.Random, item: Item, rows: list[Row], plan: dict[str, list[int]],
                  empty: frozenset[str]) -> None:
    targets = fault_targets(item, empty)
    for kind, indices in plan.items():
        if kind == "duplicate_key":
            duplicate_keys(item, rows, indices)  # the second row of each pair takes the first one's key
            continue
        for index in indices:
            target = rng.choice(targets[kind])
            rows[index][target.name] = faulty_value(rng, kind, target, rows[index][target.name])


def faulty_value(rng: random.Random, kind: str, target: ItemField, value: str | None) -> str | None:
    if kind == "bad_check_digit":
        assert target.standard is not None and value
        return corrupt_check_char(rng, value, target.standard)
    if kind == "missing_required":
        return None
    if kind == "out_of_set":
        return rng.choice([v for v in OUT_OF_SET_VALUES if v not in (target.values or ())])
    assert kind == "out_of_range"
    return out_of_range_value(rng, target)


def verify_faults(item: Item, rows: list[Row], plan: dict[str, list[int]]) -> None:
    """Every row breaks exactly the rule its fault names, clean rows none (the generator's self-check)."""
    expected = {index: {kind} for kind, indices in plan.items() for index in indices}
    duplicated = set(duplicated_key_rows(item, rows))
    for index, row in enumerate(rows):
        found = field_problems(item, row) | ({"duplicate_key"} if index in duplicated else set())
        if found != expected.get(index, set()):
            raise AssertionError(f"{item.code} row {index}: planned {expected.get(index, set())}, found {found}")


# =============================================================================================
# The run
# =============================================================================================
@dataclass(frozen=True)
class Options:
    rows: int = DEFAULT_ROWS
    items: int | None = None
    faults: float = 0.0
    seed: int = DEFAULT_SEED
    as_of: date = field(default_factory=date.today)


def generate_submissions(catalogue_dir: str | Path, intake_dir: str | Path, rows: int = DEFAULT_ROWS,
                         items: int | None = None, faults: float = 0.0, seed: int = DEFAULT_SEED,
                         as_of: date | str | None = None, manifest: str | Path | None = None) -> dict[str, Any]:
    """Write the submissions and return the manifest (also written to ``manifest`` when given)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if not 0 <= faults <= 1:
        raise ValueError("faults is a rate between 0 and 1")
    options = Options(rows, items, faults, seed, _as_date(as_of))
    catalogue = load_catalogue(catalogue_dir)
    intake = Path(intake_dir).resolve()
    selected, added = select_items(catalogue, options.items)
    rng = random.Random(options.seed)
    authorities = Authorities()
    entries: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for item in authority_first(tuple(selected)):
        reason = skip_reason(item)
        if reason:
            skipped[item.code] = reason
            continue
        entries[item.code] = generate_item(rng, item, options, authorities, intake)
        if item.code in added:
            entries[item.code]["added_as_authority"] = True
    document = manifest_document(options, catalogue_dir, intake, entries, skipped)
    if manifest is not None:
        path = Path(manifest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return document


def select_items(catalogue: Catalogue, count: int | None) -> tuple[list[Item], set[str]]:
    """The first ``count`` items in catalogue order, and the authorities they read that are outside them."""
    chosen = list(catalogue.items if count is None else catalogue.items[:count])
    codes = {i.code for i in chosen}
    added: set[str] = set()
    pending = list(chosen)
    while pending:
        for code in authority_codes(pending.pop()):
            if code not in codes and catalogue.find_item(code) is not None:
                codes.add(code)
                added.add(code)
                pending.append(catalogue.item(code))
    return [i for i in catalogue.items if i.code in codes], added


def authority_codes(item: Item) -> list[str]:
    refs: Iterable[FieldRef | None] = (r for f in item.fields for r in (f.references, f.matches, f.lookup))
    return sorted({r.item for r in refs if r is not None} - {item.code})


def skip_reason(item: Item) -> str | None:
    if isinstance(item.collection, DatabaseCollection):
        return f"collected from a database ({item.collection.url_env}), not submitted: no file written"
    return None


def n_rows_for(item: Item, rows: int) -> int:
    """The requested rows within the item's declared bounds: outside them the whole submission is blocked."""
    low, high = item.quality.min_rows, item.quality.max_rows
    return max(low or 0, min(rows, high if high is not None else rows))


def generate_item(rng: random.Random, item: Item, options: Options, authorities: Authorities,
                  intake: Path) -> dict[str, Any]:
    n_rows = n_rows_for(item, options.rows)
    built = build_rows(rng, item, n_rows, options.as_of, authorities)
    refused = item.temporary is not None and item.temporary.expired(options.as_of)
    empty = unreferenced_fields(item, authorities)
    plan = {} if refused else plan_faults(rng, item, n_rows, options.faults, set(built.unknown_key_rows), empty)
    inject_faults(rng, item, built.rows, plan, empty)
    verify_faults(item, built.rows, plan)
    faulty = {i for indices in plan.values() for i in indices} | set(built.unknown_key_rows)
    authorities.rows[item.code] = [] if refused else [r for i, r in enumerate(built.rows) if i not in faulty]
    path = intake / item.unit / f"{item.code}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [f.name for f in submitted_fields(item)]
    write_csv(path, header, [[row[name] for name in header] for row in built.rows], "utf-8")
    return manifest_entry(item, path, n_rows, plan, built.unknown_key_rows, refused)


def manifest_entry(item: Item, path: Path, n_rows: int, plan: dict[str, list[int]], unknown: list[int],
                   refused: bool) -> dict[str, Any]:
    fault_rows = {kind: plan.get(kind, []) for kind in FAULT_KINDS} | {UNKNOWN_KEY: unknown}
    held = n_rows if refused else sum(len(rows) for rows in fault_rows.values())
    return {
        "unit": item.unit,
        "file": str(path),
        "rows": n_rows,
        "expected_valid": n_rows - held,
        "expected_held_back": held,
        "held_back_by_kind": {REFUSED: n_rows} if refused else {k: len(v) for k, v in fault_rows.items() if v},
        # 0-based data-row positions (header excluded); the platform's row_no is position + 1.
        "fault_rows": {} if refused else {k: v for k, v in fault_rows.items() if v},
        "omitted_lookups": [f.name for f in item.fields if f.lookup is not None],
        "refused": REFUSED if refused else None,
    }


def manifest_document(options: Options, catalogue_dir: str | Path, intake: Path, entries: dict[str, dict[str, Any]],
                      skipped: dict[str, str]) -> dict[str, Any]:
    totals = {key: sum(e[key] for e in entries.values()) for key in ("rows", "expected_valid", "expected_held_back")}
    return {
        "version": MANIFEST_VERSION,
        "seed": options.seed,
        "as_of": options.as_of.isoformat(),
        "fault_rate": options.faults,
        "catalogue": str(catalogue_dir),
        "intake": str(intake),
        "totals": {**totals, "items": len(entries), "skipped": len(skipped)},
        "items": entries,
        "skipped": skipped,
    }
