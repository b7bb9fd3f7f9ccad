"""Reusable GX expectations for the platform's catalogue standards.

Submissions arrive as text, so each expectation checks text values; nulls are left to
``ExpectColumnValuesToNotBeNull`` (map expectations skip them). Each check is the value model's parse
(``pipelines.values``), so GX, the pipeline's canonical text and the store's casts agree on what a value is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.compatibility.pydantic import PrivateAttr
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, MulticolumnMapExpectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metrics import ColumnMapMetricProvider
from great_expectations.expectations.metrics.map_metric_provider import MulticolumnMapMetricProvider
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)

from pipelines.catalogue.models import FieldType, Standard
from pipelines.column_values import days, decimal_reading, decimals, standard_valid, type_valid
from pipelines.values import InvalidValue, standard_reason, type_reason, type_value

# A float comparison with a bound decides exactly unless the value lies this close to it (a float holds a
# decimal to 1 part in 2**53); closer values are compared as Decimals.
_NEAR = 1e-9


def _on(column: pd.Series, mask: pd.Series | np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(mask, dtype=bool), index=column.index)


class ColumnValuesConformToStandard(ColumnMapMetricProvider):
    condition_metric_name = "column_values.conform_to_standard"
    condition_value_keys = ("standard",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, standard: str, **kwargs: Any) -> pd.Series:
        return present_passes(column, lambda values: standard_valid(Standard(standard), values))


class ColumnValuesParseAsType(ColumnMapMetricProvider):
    condition_metric_name = "column_values.parse_as_type"
    condition_value_keys = ("field_type",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, field_type: str, **kwargs: Any) -> pd.Series:
        return present_passes(column, lambda values: type_valid(FieldType(field_type), values))


def _within(value: Any, low: float | None, high: float | None) -> bool:
    try:
        number = type_value(FieldType.DECIMAL, value)  # an integer's text is a decimal's too
    except InvalidValue:
        return True  # not a number at all: the type rule reports it, once
    return number is None or ((low is None or number >= low) and (high is None or number <= high))


class ColumnValuesWithinTextRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.within_text_range"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, min_value: float | None = None, max_value: float | None = None,
                **kwargs: Any) -> pd.Series:
        return present_passes(column, lambda values: within_mask(values, min_value, max_value))


def _recent(value: Any, oldest: date) -> bool:
    try:
        moment = type_value(FieldType.DATETIME, value)  # a date's text is its midnight
    except InvalidValue:
        return True  # the type rule reports it
    return moment is None or moment.date() >= oldest


class ColumnValuesRecent(ColumnMapMetricProvider):
    condition_metric_name = "column_values.recent"
    condition_value_keys = ("max_age_days", "as_of")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, max_age_days: int, as_of: str, **kwargs: Any) -> pd.Series:
        oldest = date.fromisoformat(as_of) - timedelta(days=max_age_days)
        return present_passes(column, lambda values: recent_mask(values, oldest))


def within_mask(values: pd.Series, low: float | None, high: float | None,
                reading: tuple[pd.Series, pd.Series] | None = None) -> pd.Series:
    """``_within`` of every value: numbers read fast are compared as floats, those near a bound and the values
    only the scalar reader reads as Decimals (``reading``: the values' ``decimal_reading``, when made already)."""
    numbers, taken = decimals(values, reading)
    number, fast = numbers.to_numpy(), taken.to_numpy()
    ok = np.ones(len(values), dtype=bool)
    near = np.zeros(len(values), dtype=bool)
    for bound, outside in ((low, number < (low if low is not None else 0)),
                           (high, number > (high if high is not None else 0))):
        if bound is not None:
            ok &= ~outside
            near |= np.abs(number - bound) <= _NEAR * max(1.0, abs(bound))
    exact = ~fast | near
    ok[exact] = [_within(v, low, high) for v in values.to_numpy(dtype=object)[exact]]
    return _on(values, ok)


def recent_mask(values: pd.Series, oldest: date) -> pd.Series:
    """``_recent`` of every value: days read fast compared at once, the rest one by one."""
    moments, taken = days(values)
    fast = taken.to_numpy()
    ok = np.ones(len(values), dtype=bool)
    ok[fast] = (moments[taken] >= pd.Timestamp(oldest)).to_numpy()
    ok[~fast] = [_recent(v, oldest) for v in values.to_numpy(dtype=object)[~fast]]
    return _on(values, ok)


def present_passes(column: pd.Series, check: Any) -> pd.Series:
    """``check`` on the present values; a missing value passes (it is the required rule's)."""
    missing = column.isna().to_numpy()
    ok = np.ones(len(column), dtype=bool)
    if (~missing).any():
        ok[~missing] = np.asarray(check(column[~missing]), dtype=bool)
    return _on(column, ok)


def _oldest(params: dict[str, Any]) -> date:
    """The oldest record date a freshness rule of the contract accepts (its ``as_of`` is in the rule)."""
    return date.fromisoformat(params["as_of"]) - timedelta(days=params["max_age_days"])


def value_mask(kind: str, params: dict[str, Any], values: pd.Series,
               readings: dict[str, Any] | None = None) -> pd.Series:
    """One of a field's value rules on present values, a column at a time: what the field's contract checks,
    and what names the rule a failing row broke. ``value_passes`` is the same rule on one value. ``readings``:
    what rules before this one on the same values read, for it to read them no second time."""
    if kind == "type" and params["field_type"] == FieldType.DECIMAL.value:
        return _on(values, _decimal_reading(values, readings)[1].isna())
    if kind == "type":
        return _on(values, type_valid(FieldType(params["field_type"]), values))
    if kind == "standard":
        return _on(values, standard_valid(Standard(params["standard"]), values))
    if kind == "value_set":
        return values.isin(params["value_set"])
    if kind == "range":
        reading = _decimal_reading(values, readings) if readings is not None else None
        return within_mask(values, params.get("min_value"), params.get("max_value"), reading)
    if kind == "max_length":
        return _on(values, _lengths(values) <= params["max_length"])
    if kind == "fresh_records":
        return recent_mask(values, _oldest(params))
    raise ValueError(f"not a value rule: {kind}")


def _decimal_reading(values: pd.Series, readings: dict[str, Any] | None) -> tuple[pd.Series, pd.Series]:
    if readings is None:
        return decimal_reading(values)
    if "decimal" not in readings:
        readings["decimal"] = decimal_reading(values)
    return readings["decimal"]  # type: ignore[no-any-return]


def _lengths(values: pd.Series) -> np.ndarray:
    """``len(str(v))`` of every value: of texts (the usual column) their ``len``, without a Python call each."""
    cells = values.tolist()
    if set(map(type, cells)) <= {str}:
        return np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    return np.fromiter((len(str(v)) for v in cells), dtype=np.int64, count=len(cells))


def column_masks(rules: list[dict[str, Any]], column: pd.Series) -> list[np.ndarray]:
    """``rule_mask`` of each of one column's rules: its missing cells and present values found once for them all,
    and what two rules of it both read (a decimal's type and range) read once."""
    missing = column.isna().to_numpy()
    present = column[~missing] if missing.any() else column
    readings: dict[str, Any] = {}
    masks = []
    for rule in rules:
        ok = ~missing
        if rule["kind"] != "required":
            ok = np.ones(len(column), dtype=bool)
            if len(present):
                ok[~missing] = np.asarray(value_mask(rule["kind"], rule, present, readings), dtype=bool)
        masks.append(ok)
    return masks


def rule_mask(rule: dict[str, Any], column: pd.Series) -> pd.Series:
    """A row rule of the contract on a column: a missing value fails only ``required``."""
    return _on(column, column_masks([rule], column)[0])


def value_passes(kind: str, params: dict[str, Any], value: Any) -> bool:
    """One of a field's value rules on one present value (the scalar form of ``value_mask``)."""
    if kind == "type":
        return type_reason(FieldType(params["field_type"]), value) is None
    if kind == "standard":
        return standard_reason(Standard(params["standard"]), value) is None
    if kind == "value_set":
        return value in params["value_set"]
    if kind == "range":
        return _within(value, params.get("min_value"), params.get("max_value"))
    if kind == "max_length":
        return len(str(value)) <= params["max_length"]
    if kind == "fresh_records":
        return _recent(value, _oldest(params))
    raise ValueError(f"not a value rule: {kind}")


def rule_passes(rule: dict[str, Any], value: Any) -> bool:
    """A row rule of the contract on one cell: a missing value fails only ``required``."""
    if value is None or (isinstance(value, float) and value != value):
        return rule["kind"] != "required"
    return rule["kind"] == "required" or value_passes(rule["kind"], rule, value)


def contract_text(rules: list[dict[str, Any]]) -> str:
    """The row contract's rules as the one JSON text the expectation carries (``ExpectRowsToSatisfyContract``)."""
    return json.dumps(rules, ensure_ascii=False, sort_keys=True)


@lru_cache(maxsize=256)
def _contract_of(text: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(text))


def contract_rules(rules: str) -> list[dict[str, Any]]:
    """The contract's rules read from its text (once per text), value sets as sets: once per validation rather
    than per cell. Each a dict of its own: the caller's to keep."""
    return [{**r, "value_set": set(r.get("value_set") or ())} for r in _contract_of(rules)]


class MulticolumnValuesSatisfyContract(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.satisfy_contract"
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition", "condition_parser",
                             "ignore_row_if")
    condition_value_keys = ("rules",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, rules: str, **kwargs: Any) -> pd.Series:
        passes = np.ones(len(column_list), dtype=bool)
        made = []
        by_column: dict[str, list[dict[str, Any]]] = {}
        for rule in contract_rules(rules):
            by_column.setdefault(rule["column"], []).append(rule)
        for name, mine in by_column.items():
            column = column_list[name]
            cells = column.to_numpy(dtype=object, copy=True)  # its own: the frame's may change later
            texts = _texts_or_missing(cells)
            for rule, mask in zip(mine, column_masks(mine, column), strict=True):
                made.append(_Mask(rule, cells, texts, mask))
                passes &= mask
        _remember(made)
        return pd.Series(passes, index=column_list.index)


@dataclass(frozen=True)
class _Mask:
    """A rule's mask over the cells it was computed on (``texts``: whether those are texts or missing only)."""

    rule: dict[str, Any]
    cells: np.ndarray
    texts: bool
    mask: np.ndarray


# The masks of the contract GX evaluated last. The runner then tells which rule each failing row broke, on the
# same cells: when most rows fail (a stale daily item fails freshness in nearly every row) that second reading
# cost as much as the contract. A mask is reused only for a rule equal to its own and cells equal to its own,
# so whatever evaluated last (another item, another thread), the verdicts are the rule's.
_LAST_MASKS: dict[str, _Mask] = {}


def _remember(masks: list[_Mask]) -> None:
    global _LAST_MASKS
    _LAST_MASKS = {m.rule["id"]: m for m in masks}  # one assignment: a reader sees the old masks or the new


def remembered_mask(rule: dict[str, Any], column: pd.Series) -> np.ndarray | None:
    """``rule_mask(rule, column)`` as the contract last computed it, when it did on these very cells; else None."""
    made = _LAST_MASKS.get(rule.get("id"))  # type: ignore[arg-type]
    if made is None or made.rule != rule or not made.texts:
        return None
    cells = column.to_numpy(dtype=object)
    if not (_same_objects(made.cells, cells) or _same_texts(made.cells, cells)):
        return None
    return made.mask


def _same_objects(left: np.ndarray, right: np.ndarray) -> bool:
    """The very same objects at the same places (GX's column of the frame and the runner's hold the same
    texts): their addresses compared as bytes, one memcmp where comparing the texts cost about 10 ms a 100,000
    cells. ``left`` holds its objects, so no address of them can be another object's meanwhile."""
    return len(left) == len(right) and left.dtype == right.dtype == object and left.tobytes() == right.tobytes()


def _same_texts(left: np.ndarray, right: np.ndarray) -> bool:
    """The same texts at the same places, missing cells (None, NaN, ...) at the same places: all a rule's mask
    depends on (a rule reads every kind of missing cell alike). Only cells that are texts or missing: ``==`` on
    other objects says too little (True == 1 == 1.0, whose texts differ). ``left``: texts or missing cells."""
    if len(left) != len(right) or not _texts_or_missing(right):
        return False
    missing = pd.isna(left)
    if not np.array_equal(missing, pd.isna(right)):
        return False
    return bool((left[~missing] == right[~missing]).all())


def _texts_or_missing(cells: np.ndarray) -> bool:
    return pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty")


class ExpectRowsToSatisfyContract(MulticolumnMapExpectation):
    """Every row meets the row rules of its item's fields in one pass: required values, types, standards,
    value sets, ranges, lengths and record freshness (``rules``: each with its id, kind, column and parameters;
    a freshness rule carries the ``as_of`` it counts back from; one JSON text, ``contract_text``). One
    expectation instead of one per rule: GX's cost grows with the expectations of a suite (about 3-7 ms CPU
    each per validation, against about 2 ms for the call itself); which rule a failing row broke is told
    by the runner from the same ``rule_passes``."""

    # One text, not a list of dicts: GX copies an expectation's fields each time it makes its configuration
    # anew (the object below is made anew per metric: ``to_domain_obj``) and serialises its metrics' kwargs to
    # name them, several times per validation: every field's rules, copied and hashed; a text is neither.
    rules: str
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric: ClassVar[str] = "multicolumn_values.satisfy_contract"
    success_keys: ClassVar[tuple[str, ...]] = ("rules", "mostly", "ignore_row_if")
    # GX makes an expectation's configuration anew each time it needs one, a pydantic v1 copy of every
    # field: about 150 times per validation, each copying ``rules`` (every field's rules), most of GX's
    # fixed cost per call. Made once here, and again only after a field is set.
    _configuration_made: ExpectationConfiguration | None = PrivateAttr(default=None)

    @property
    def configuration(self) -> ExpectationConfiguration:
        if self._configuration_made is None:
            self._configuration_made = super().configuration
        return self._configuration_made

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name != "_configuration_made":
            self._configuration_made = None


class ExpectColumnValuesToConformToStandard(ColumnMapExpectation):
    """Values are valid identifiers of a national standard (uscc, ric, adcode, phone, ...)."""

    standard: str
    map_metric: ClassVar[str] = "column_values.conform_to_standard"
    success_keys: ClassVar[tuple[str, ...]] = ("standard", "mostly")


class ExpectColumnValuesToParseAsType(ColumnMapExpectation):
    """Text values parse as the catalogued type (integer, decimal, date, ...)."""

    field_type: str
    map_metric: ClassVar[str] = "column_values.parse_as_type"
    success_keys: ClassVar[tuple[str, ...]] = ("field_type", "mostly")


class ExpectColumnValuesToBeWithinTextRange(ColumnMapExpectation):
    """Numeric text values lie within the catalogued range (unparseable values are the type rule's)."""

    min_value: float | None = None
    max_value: float | None = None
    map_metric: ClassVar[str] = "column_values.within_text_range"
    success_keys: ClassVar[tuple[str, ...]] = ("min_value", "max_value", "mostly")


class ExpectColumnValuesToBeRecent(ColumnMapExpectation):
    """Record dates are no older than the item's update cycle allows, counted back from ``as_of``."""

    max_age_days: int
    as_of: str
    map_metric: ClassVar[str] = "column_values.recent"
    success_keys: ClassVar[tuple[str, ...]] = ("max_age_days", "as_of", "mostly")
