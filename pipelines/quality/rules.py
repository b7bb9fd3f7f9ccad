"""Which quality rules apply to a catalogue item, in which dimension, at which severity (art. 15, 16).

A rule is data: the GX suite builder turns each rule into an expectation, the pipeline turns
failed row rules into hold-back reasons. Severity defaults live here; the catalogue may override
them per rule id (``quality.severity``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pipelines.catalogue.models import FieldType, Item, Severity
from pipelines.values import canonical_or_cleaned


class Dimension(StrEnum):
    ACCURACY = "accuracy"
    TIMELINESS = "timeliness"
    INTEGRITY = "integrity"
    AVAILABILITY = "availability"


class Kind(StrEnum):
    COLUMNS = "columns"
    REQUIRED = "required"
    UNIQUE_KEY = "unique_key"
    TYPE = "type"
    STANDARD = "standard"
    VALUE_SET = "value_set"
    RANGE = "range"
    MAX_LENGTH = "max_length"
    FRESH_RECORDS = "fresh_records"
    ROW_COUNT = "row_count"  # declared bounds min_rows / max_rows (full submissions and the shared table)
    ROW_CHANGE = "row_change"  # against the previous submission (needs the ledger)
    MATCHES = "matches"  # comparison with the authoritative item (needs the shared store)
    # Integrity metric only: holding back unknown keys is online verification's job (``references``).
    RESOLVABLE = "resolvable_reference"


ROW_LEVEL = frozenset(
    {Kind.REQUIRED, Kind.UNIQUE_KEY, Kind.TYPE, Kind.STANDARD, Kind.VALUE_SET, Kind.RANGE, Kind.MAX_LENGTH,
     Kind.FRESH_RECORDS, Kind.MATCHES, Kind.RESOLVABLE}
)
# Evaluated in plain Python with the ledger or the authoritative tables, not in the GX suite.
# Row counts are here too: a correction resubmission is partial by design and is not held to them.
CONTEXTUAL = frozenset({Kind.ROW_COUNT, Kind.ROW_CHANGE, Kind.MATCHES, Kind.RESOLVABLE})
REPORT_ONLY = frozenset({Kind.RESOLVABLE})

DEFAULT_SEVERITY = {Kind.FRESH_RECORDS: Severity.WARNING, Kind.RESOLVABLE: Severity.WARNING}


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Kind
    dimension: Dimension
    severity: Severity
    columns: tuple[str, ...]
    description: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def row_level(self) -> bool:
        return self.kind in ROW_LEVEL

    @property
    def holds_back_rows(self) -> bool:
        return self.row_level and self.severity is Severity.ERROR and self.kind not in REPORT_ONLY

    @property
    def contextual(self) -> bool:
        return self.kind in CONTEXTUAL


def rules_for(item: Item) -> tuple[Rule, ...]:
    rules = [_columns_rule(item), _unique_key_rule(item)]
    for f in item.fields:
        rules.extend(_field_rules(item, f))
    if item.timestamp_field:
        rules.append(_fresh_records_rule(item))
    rules.extend(_row_count_rules(item))
    rules.extend(_authority_rules(item))
    return tuple(_with_severity(item, r) for r in rules)


def rule_ids(item: Item) -> set[str]:
    return {r.id for r in rules_for(item)}


def _with_severity(item: Item, rule: Rule) -> Rule:
    severity = item.quality.severity.get(rule.id)
    if severity is None or rule.kind is Kind.TYPE:  # a value the store cannot hold never reaches the merge
        return rule
    return Rule(rule.id, rule.kind, rule.dimension, severity, rule.columns, rule.description, rule.params)


def _rule(kind: Kind, dimension: Dimension, columns: tuple[str, ...], description: str, suffix: str = "",
          **params: Any) -> Rule:
    rule_id = f"{kind.value}:{suffix}" if suffix else kind.value
    severity = DEFAULT_SEVERITY.get(kind, Severity.ERROR)
    return Rule(rule_id, kind, dimension, severity, columns, description, params)


def _columns_rule(item: Item) -> Rule:
    return _rule(Kind.COLUMNS, Dimension.INTEGRITY, item.field_names,
                 "the submission carries exactly the catalogued columns")


def _unique_key_rule(item: Item) -> Rule:
    key = item.primary_key
    return _rule(Kind.UNIQUE_KEY, Dimension.INTEGRITY, key, f"primary key ({', '.join(key)}) is unique")


def _field_rules(item: Item, f: Any) -> list[Rule]:
    col = (f.name,)
    out: list[Rule] = []
    if f.not_null:
        out.append(_rule(Kind.REQUIRED, Dimension.INTEGRITY, col, f"{f.label} is required", f.name))
    # Every field has one, text too: its value must be one the store holds (no control characters in text).
    noun = "text without control characters" if f.type is FieldType.STRING else f"a valid {f.type.value}"
    out.append(_rule(Kind.TYPE, Dimension.ACCURACY, col, f"{f.label} is {noun}", f.name, field_type=f.type.value))
    if f.standard is not None:
        out.append(_rule(Kind.STANDARD, Dimension.ACCURACY, col, f"{f.label} conforms to {f.standard.value}",
                         f.name, standard=f.standard.value))
    if f.values is not None:
        out.append(_rule(Kind.VALUE_SET, Dimension.ACCURACY, col, f"{f.label} is in its value set", f.name,
                         value_set=[canonical_or_cleaned(f, v) for v in f.values]))
    if f.range is not None:
        out.append(_rule(Kind.RANGE, Dimension.ACCURACY, col, f"{f.label} is within its range", f.name,
                         min_value=f.range.min, max_value=f.range.max))
    if f.max_length is not None:
        out.append(_rule(Kind.MAX_LENGTH, Dimension.ACCURACY, col, f"{f.label} is at most {f.max_length} long",
                         f.name, max_length=f.max_length))
    return out


def _fresh_records_rule(item: Item) -> Rule:
    ts = item.timestamp_field
    assert ts is not None
    days = item.update_cycle.max_age.days
    return _rule(Kind.FRESH_RECORDS, Dimension.TIMELINESS, (ts,),
                 f"records dated within {days} days ({item.update_cycle.value} update cycle)", ts,
                 max_age_days=days)


def _row_count_rules(item: Item) -> list[Rule]:
    policy = item.quality
    out: list[Rule] = []
    if policy.min_rows is not None or policy.max_rows is not None:
        bounds = f"{policy.min_rows if policy.min_rows is not None else 0}..{policy.max_rows or '∞'}"
        out.append(_rule(Kind.ROW_COUNT, Dimension.INTEGRITY, (), f"row count within the declared {bounds}",
                         min_rows=policy.min_rows, max_rows=policy.max_rows))
    if policy.max_row_change is not None:
        out.append(_rule(Kind.ROW_CHANGE, Dimension.INTEGRITY, (),
                         f"row count within ±{policy.max_row_change:.0%} of the previous submission",
                         max_row_change=policy.max_row_change))
    return out


def _authority_rules(item: Item) -> list[Rule]:
    """``references``: keys resolvable in the authoritative item (a metric); ``matches``: the value
    equals the authoritative row's, found through the field that references the same item."""
    out: list[Rule] = []
    for f in item.fields:
        if f.references is not None:
            out.append(_rule(Kind.RESOLVABLE, Dimension.INTEGRITY, (f.name,),
                             f"{f.label} resolves to a key of {f.references}", f.name, key=f.references))
        if f.matches is not None:
            key_field = next(g for g in item.fields if g.references and g.references.item == f.matches.item)
            assert key_field.references is not None
            out.append(_rule(Kind.MATCHES, Dimension.ACCURACY, (key_field.name, f.name),
                             f"{f.label} equals {f.matches} of the row found by {key_field.label}", f.name,
                             key=key_field.references, value=f.matches))
    return out
