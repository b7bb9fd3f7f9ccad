"""Rules that need more than the submission itself: the ledger (row count against the previous
submission) and the authoritative shared tables (comparison, resolvable references).

Plain Python over pandas; the GX suite covers every rule that the data alone decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pandas as pd

from pipelines.catalogue.models import FieldRef, Item, ItemField
from pipelines.quality.masking import mask
from pipelines.quality.outcome import SAMPLE_SIZE, RuleResult
from pipelines.quality.rules import Kind, Rule, rules_for
from pipelines.values import canonical_or_cleaned, same, stored_text

CORRECTION_TAG = "correction"  # <item>__correction....csv: a partial resubmission of corrected rows
FINISHED = ("validated", "converged")


class Authority(Protocol):
    def keys(self, ref: FieldRef) -> set[str]: ...

    def values(self, key: FieldRef, value: FieldRef) -> Mapping[str, str | None]: ...


class StoreAuthority:
    """Authoritative look-ups through pipelines.authority, each column read once per instance, keys and values
    in canonical text (pipelines.values): a numeric 1000.000000 answers for "1000", a key stored before the
    value model (a citizen ID ending in a lower-case x) answers for its canonical form."""

    def __init__(self, store: Any, store_of: Callable[[str], Any] | None = None):
        self._store = store
        self._store_of = store_of  # item -> its store, when authorities sit on another platform's store
        self._keys: dict[str, set[str]] = {}
        self._values: dict[tuple[str, str], Mapping[str, str | None]] = {}

    def keys(self, ref: FieldRef) -> set[str]:
        from pipelines.authority import known_keys

        if str(ref) not in self._keys:
            field = self._field(ref)
            self._keys[str(ref)] = {text for k in known_keys(self._authority_store(ref), ref)
                                    if (text := stored_text(field, k)) is not None}
        return self._keys[str(ref)]

    def values(self, key: FieldRef, value: FieldRef) -> Mapping[str, str | None]:
        from pipelines.authority import authoritative_values

        wanted = (str(key), str(value))
        if wanted not in self._values:
            key_field, value_field = self._field(key), self._field(value)
            pairs = ((stored_text(key_field, k), stored_text(value_field, v))
                     for k, v in authoritative_values(self._authority_store(key), key, value).items())
            self._values[wanted] = {k: v for k, v in pairs if k is not None}
        return self._values[wanted]

    def _authority_store(self, ref: FieldRef) -> Any:
        return self._store if self._store_of is None else self._store_of(ref.item)

    def _field(self, ref: FieldRef) -> ItemField:
        field = self._store.catalogue.item(ref.item).field(ref.field)
        assert field is not None, ref  # the catalogue loader checks every reference names a field
        return field


def is_correction(source: str) -> bool:
    stem = source.rsplit(".", 1)[0]
    return "__" in stem and stem.split("__", 1)[1].startswith(CORRECTION_TAG)


def previous_rows(ledger: list[dict[str, Any]], submission_id: str) -> int | None:
    """Rows of the item's newest earlier full submission; corrections are partial by design."""
    earlier = [e for e in ledger if e["status"] in FINISHED and e["submission_id"] != submission_id
               and not is_correction(e["source"])]
    return earlier[-1]["received"] if earlier else None


def contextual_results(item: Item, frame: pd.DataFrame, authority: Authority | None,
                       previous: int | None = None, correction: bool = False, rows: int | None = None,
                       offset: int = 0) -> tuple[RuleResult, ...]:
    """``frame``: the submission, or one chunk of it whose first row is row ``offset`` (failing rows and samples
    are numbered from the submission's first row) in a submission of ``rows`` rows (the row counts' figure)."""
    total = len(frame) if rows is None else rows
    results = []
    for rule in (r for r in rules_for(item) if r.contextual):
        if rule.kind is Kind.ROW_COUNT:
            results.append(row_count_result(rule, total, correction))
        elif rule.kind is Kind.ROW_CHANGE:
            results.append(row_change_result(rule, total, None if correction else previous))
        elif authority is not None and rule.kind is Kind.MATCHES:
            results.append(matches_result(item, rule, frame, authority, offset))
        elif authority is not None and rule.kind is Kind.RESOLVABLE:
            results.append(resolvable_result(item, rule, frame, authority, offset))
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


def matches_result(item: Item, rule: Rule, frame: pd.DataFrame, authority: Authority, offset: int = 0) -> RuleResult:
    """Canonical equality with the authoritative row's value: 1000 equals 1000.0, a padded name its trimmed one."""
    key_column, value_column = rule.columns
    truth = authority.values(rule.params["key"], rule.params["value"])
    keys = canonical_texts(item, key_column, frame[key_column])
    value_field = item.field(value_column)
    failing = [
        row for row, (key, value) in enumerate(zip(keys, frame[value_column], strict=True))
        if key is not None and _present(value) and key in truth and not _same(value_field, value, truth[key])
    ]
    sample = tuple(
        f"row {offset + row + 1}: {_masked(item, key_column, frame.at[row, key_column])}: "
        f"{_masked(item, value_column, frame.at[row, value_column])} ≠ "
        f"{_masked(item, value_column, truth[str(keys[row])])}"
        for row in failing[:SAMPLE_SIZE]
    )
    return RuleResult(rule, not failing, len(frame), len(failing), tuple(offset + r for r in failing), sample)


def resolvable_result(item: Item, rule: Rule, frame: pd.DataFrame, authority: Authority,
                      offset: int = 0) -> RuleResult:
    column = rule.columns[0]
    known = authority.keys(rule.params["key"])
    failing = [row for row, key in enumerate(canonical_texts(item, column, frame[column]))
               if key is not None and key not in known]
    sample = tuple(f"row {offset + row + 1}: {_masked(item, column, frame.at[row, column])}"
                   for row in failing[:SAMPLE_SIZE])
    return RuleResult(rule, not failing, len(frame), len(failing), tuple(offset + r for r in failing), sample)


def canonical_texts(item: Item, column: str, cells: Any) -> list[str | None]:
    """The column's cells as the keys the authority is looked up by (canonical text; idempotent on a
    canonical frame)."""
    field = item.field(column)
    if field is None:
        return [None if not _present(c) else str(c) for c in cells]
    return [canonical_or_cleaned(field, c) if _present(c) else None for c in cells]


def _same(field: ItemField | None, value: Any, truth: str | None) -> bool:
    return same(field, value, truth) if field is not None else str(value) == truth


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value) != ""


def _masked(item: Item, column: str, value: Any) -> str:
    return "∅" if value is None else mask(str(value), item.field(column))
