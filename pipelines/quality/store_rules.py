"""Which checks run on a converged shared table, as plain data (art. 15, 16).

The shared table is typed, so these are the built-in expectations a SQL engine answers by itself:
row count, not-null, unique key, value set, range, value length and the shape of the catalogued
standards as a regular expression. (Check digits stay with validation, which runs in Python.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.catalogue.models import Item, Standard
from pipelines.quality.rules import Dimension
from pipelines.values import STANDARDS

# Shapes only: PostgreSQL answers these with its regex operator, no per-row Python. They are the shapes of the
# value model's canonical text (pipelines.values), which is what the shared table holds.
STANDARD_SHAPES: dict[Standard, str] = {s: model.shape for s, model in STANDARDS.items()}


@dataclass(frozen=True)
class StoreRule:
    id: str
    expectation: str  # the GX Core expectation class name
    dimension: Dimension
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    column: str | None = None


def store_rules(item: Item) -> list[StoreRule]:
    rules = [_row_count(item), _unique_key(item)]
    for f in item.fields:
        if f.not_null:
            rules.append(StoreRule(f"not_null:{f.name}", "ExpectColumnValuesToNotBeNull", Dimension.INTEGRITY,
                                   f"{f.label} is never null", {"column": f.name}, f.name))
        if f.values is not None:
            rules.append(StoreRule(f"in_set:{f.name}", "ExpectColumnValuesToBeInSet", Dimension.INTEGRITY,
                                   f"{f.label} is in its value set", {"column": f.name, "value_set": list(f.values)},
                                   f.name))
        if f.range is not None:
            rules.append(StoreRule(f"between:{f.name}", "ExpectColumnValuesToBeBetween", Dimension.INTEGRITY,
                                   f"{f.label} is within its range",
                                   {"column": f.name, "min_value": f.range.min, "max_value": f.range.max}, f.name))
        if f.standard in STANDARD_SHAPES:
            assert f.standard is not None
            rules.append(StoreRule(f"regex:{f.name}", "ExpectColumnValuesToMatchRegex", Dimension.INTEGRITY,
                                   f"{f.label} has the shape of {f.standard.value}",
                                   {"column": f.name, "regex": STANDARD_SHAPES[f.standard]}, f.name))
        if f.max_length is not None:
            rules.append(StoreRule(f"max_length:{f.name}", "ExpectColumnValueLengthsToBeBetween", Dimension.INTEGRITY,
                                   f"{f.label} is at most {f.max_length} long",
                                   {"column": f.name, "max_value": f.max_length}, f.name))
    return rules


def _row_count(item: Item) -> StoreRule:
    low = item.quality.min_rows if item.quality.min_rows is not None else 1
    return StoreRule("row_count", "ExpectTableRowCountToBeBetween", Dimension.AVAILABILITY,
                     f"the shared table holds at least {low} row(s)",
                     {"min_value": low, "max_value": item.quality.max_rows})


def _unique_key(item: Item) -> StoreRule:
    key = list(item.primary_key)
    description = f"primary key ({', '.join(key)}) is unique"
    if len(key) == 1:
        return StoreRule("unique_key", "ExpectColumnValuesToBeUnique", Dimension.INTEGRITY, description,
                         {"column": key[0]}, key[0])
    return StoreRule("unique_key", "ExpectCompoundColumnsToBeUnique", Dimension.INTEGRITY, description,
                     {"column_list": key})
