"""Rules that need more than the submission itself: the ledger (row count against the previous
submission) and the authoritative shared tables (comparison, resolvable references).

Plain Python over pandas; the GX suite covers every rule that the data alone decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from pipelines.catalogue.models import FieldRef, Item
from pipelines.quality.masking import mask
from pipelines.quality.outcome import RuleResult
from pipelines.quality.rules import Kind, Rule, rules_for

SAMPLE_SIZE = 5
CORRECTION_TAG = "correction"  # <item>__correction....csv: a partial resubmission of corrected rows
FINISHED = ("validated", "converged")


class Authority(Protocol):
    def keys(self, ref: FieldRef) -> set[str]: ...

    def values(self, key: FieldRef, value: FieldRef) -> Mapping[str, str | None]: ...


class StoreAuthority:
    """Authoritative look-ups through pipelines.authority, each column read once per instance."""

    def __init__(self, store: Any):
        self._store = store
        self._keys: dict[str, set[str]] = {}
        self._values: dict[tuple[str, str], Mapping[str, str | None]] = {}

    def keys(self, ref: FieldRef) -> set[str]:
        from pipelines.authority import known_keys

        if str(ref) not in self._keys:
            self._keys[str(ref)] = known_keys(self._store, ref)
        return self._keys[str(ref)]

    def values(self, key: FieldRef, value: FieldRef) -> Mapping[str, str | None]:
        from pipelines.authority import authoritative_values

        wanted = (str(key), str(value))
        if wanted not in self._values:
            self._values[wanted] = authoritative_values(self._store, key, value)
        return self._values[wanted]


def is_correction(source: str) -> bool:
    stem = source.rsplit(".", 1)[0]
    return "__" in stem and stem.split("__", 1)[1].startswith(CORRECTION_TAG)


def previous_rows(ledger: list[dict[str, Any]], submission_id: str) -> int | None:
    """Rows of the item's newest earlier full submission; corrections are partial by design."""
    earlier = [e for e in ledger if e["status"] in FINISHED and e["submission_id"] != submission_id
               and not is_correction(e["source"])]
    return earlier[-1]["received"] if earlier else None


def contextual_results(item: Item, frame: pd.DataFrame, authority: Authority | None,
                       previous: int | None = None, correction: bool = False) -> tuple[RuleResult, ...]:
    results = []
    for rule in (r for r in rules_for(item) if r.contextual):
        if rule.kind is Kind.ROW_COUNT:
            results.append(row_count_result(rule, len(frame), correction))
        elif rule.kind is Kind.ROW_CHANGE:
            results.append(row_change_result(rule, len(frame), None if correction else previous))
        elif authority is not None and rule.kind is Kind.MATCHES:
            results.append(matches_result(item, rule, frame, authority))
        elif authority is not None and rule.kind is Kind.RESOLVABLE:
            results.append(resolvable_result(item, rule, frame, authority))
    return tuple(results)


def row_count_result(rule: Rule, rows: int, correction: bool = False) -> RuleResult:
    low, high = rule.params["min_rows"], rule.params["max_rows"]
    if correction:
        return RuleResult(rule, True, rows, 0, observed=f"{rows} rows: a correction, not held to the bounds")
    ok = (low is None or rows >= low) and (high is None or rows <= high)
    return RuleResult(rule, ok, rows, 0 if ok else 1, observed=f"{rows} rows")


def row_change_result(rule: Rule, rows: int, previous: int | None) -> RuleResult:
    if not previous:
        return RuleResult(rule, True, rows, 0, observed="no earlier full submission to compare with")
    change = (rows - previous) / previous
    ok = abs(change) <= rule.params["max_row_change"]
    observed = f"{rows} rows against {previous} in the previous submission ({change:+.1%})"
    return RuleResult(rule, ok, rows, 0 if ok else 1, observed=observed)


def matches_result(item: Item, rule: Rule, frame: pd.DataFrame, authority: Authority) -> RuleResult:
    key_column, value_column = rule.columns
    truth = authority.values(rule.params["key"], rule.params["value"])
    failing = [
        row for row, (key, value) in enumerate(zip(frame[key_column], frame[value_column], strict=True))
        if key is not None and value is not None and str(key) in truth and truth[str(key)] != str(value)
    ]
    sample = tuple(
        f"row {row + 1}: {_masked(item, key_column, frame.at[row, key_column])}: "
        f"{_masked(item, value_column, frame.at[row, value_column])} ≠ "
        f"{_masked(item, value_column, truth[str(frame.at[row, key_column])])}"
        for row in failing[:SAMPLE_SIZE]
    )
    return RuleResult(rule, not failing, len(frame), len(failing), tuple(failing), sample)


def resolvable_result(item: Item, rule: Rule, frame: pd.DataFrame, authority: Authority) -> RuleResult:
    column = rule.columns[0]
    known = authority.keys(rule.params["key"])
    failing = [row for row, key in enumerate(frame[column]) if key is not None and str(key) not in known]
    sample = tuple(f"row {row + 1}: {_masked(item, column, frame.at[row, column])}" for row in failing[:SAMPLE_SIZE])
    return RuleResult(rule, not failing, len(frame), len(failing), tuple(failing), sample)


def _masked(item: Item, column: str, value: Any) -> str:
    return "∅" if value is None else mask(str(value), item.field(column))
