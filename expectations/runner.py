"""Run an item's suite on a submission with GX Core and translate the result to plain outcomes."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.catalogue.models import Item
from pipelines.quality.masking import mask
from pipelines.quality.outcome import SAMPLE_SIZE, RuleResult, ValidationOutcome, merge_results
from pipelines.quality.rules import Kind, Rule

PARTIAL_LIST = 20  # GX's own length of a result's partial_unexpected_list


@functools.cache
def _whole_frame_batches() -> Any:
    """The batch definition every validation in this process runs through, in one ephemeral GX context made on
    first use (never at import): a context costs about 0.1 s CPU, and a run's steps build a platform, and so a
    validator, per unit."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("submissions").add_dataframe_asset("submission")
    return asset.add_batch_definition_whole_dataframe("whole")


class GxValidator:
    """Validates through the process's one GX context (``_whole_frame_batches``), with this validator's suites."""

    def __init__(self, docs_dir: Path | None = None) -> None:
        self.docs_dir = docs_dir  # where each validation's Data Docs page goes; None builds none
        self._suites: dict[tuple[str, date], tuple[Any, dict[str, Rule]]] = {}
        self._split: dict[tuple[str, date], tuple[Any, Any, dict[str, Rule]]] = {}

    def _definition(self) -> Any:
        return _whole_frame_batches()

    def _suite(self, item: Item, as_of: date) -> tuple[Any, dict[str, Rule]]:
        key = (item.code, as_of)
        if key not in self._suites:
            self._definition()  # suites need an active GX context
            from expectations.suites import build_suite

            self._suites[key] = build_suite(item, as_of)
        return self._suites[key]

    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        suite, rules = self._suite(item, as_of)
        frame = frame.reset_index(drop=True)
        result = self._run(suite, frame)
        results = tuple(rr for r in result.results for rr in _rule_results(r, rules, item, frame))
        return ValidationOutcome(item=item.code, rows=len(frame), results=_freshness_last(results),
                                 docs=self._page(item, result))

    def _run(self, suite: Any, frame: pd.DataFrame, fingerprint: bool = True) -> Any:
        """``fingerprint=False``: without GX's hash of the whole frame for its batch markers (a chunk's would
        only name a page that shows every chunk; it costs as much as a column's rule)."""
        if fingerprint:
            return self._batch(frame).validate(suite, result_format={"result_format": "COMPLETE"})
        from great_expectations.execution_engine import pandas_execution_engine as engine

        threshold, engine.HASH_THRESHOLD = engine.HASH_THRESHOLD, 0  # GX's own skip, for frames above it
        try:
            return self._batch(frame).validate(suite, result_format={"result_format": "COMPLETE"})
        finally:
            engine.HASH_THRESHOLD = threshold

    def _batch(self, frame: pd.DataFrame) -> Any:
        return self._definition().get_batch(batch_parameters={"dataframe": frame})

    def _page(self, item: Item, result: Any) -> str:
        if self.docs_dir is None:
            return ""
        from expectations.docs import write_validation_page

        return str(write_validation_page(self.docs_dir, item, result))

    # --- a submission in chunks (pipelines.process validates one that is staged in several) -------------
    def chunked(self, item: Item, as_of: date, rows: int) -> ChunkedValidation:
        """A validation of a ``rows``-row submission given a chunk at a time, with the same suite: what
        ``validate`` of the whole would give (see ChunkedValidation)."""
        self._suite(item, as_of)  # the GX context first: the split suites are GX objects too
        key = (item.code, as_of)
        if key not in self._split:
            from expectations.suites import build_split_suites

            self._split[key] = build_split_suites(item, as_of)
        whole, per_chunk, rules = self._split[key]
        return ChunkedValidation(self, item, self._suite(item, as_of)[0], whole, per_chunk, rules, rows)


class ChunkedValidation:
    """One submission validated a chunk at a time. The rules that need the whole submission at once (the
    primary key's uniqueness) are checked by ``keys`` on its key columns only, every row of them; the rest of
    the suite by ``chunk`` on each chunk in turn. Results are numbered from the submission's first row, and
    ``outcome`` merges them per rule as one validation of the whole gives them: counts summed, failing rows
    in order, the first samples, and the rules in the order GX reports the whole suite in."""

    def __init__(self, validator: GxValidator, item: Item, suite: Any, whole: Any, per_chunk: Any,
                 rules: dict[str, Rule], rows: int):
        self._validator, self.item, self._suite, self._whole, self._per_chunk = validator, item, suite, whole, per_chunk
        self._rules, self.rows = rules, rows
        self._key_results: tuple[RuleResult, ...] = ()
        self._parts: list[tuple[RuleResult, ...]] = []
        self._order: dict[str, int] | None = None
        self._page: Any = None  # the GX result of every chunk merged, for the Data Docs page

    def keys(self, keys: pd.DataFrame) -> tuple[RuleResult, ...]:
        """The whole-submission rules on the key columns of every row (positionally indexed, in row order)."""
        keys = keys.reset_index(drop=True)
        result = self._validator._run(self._whole, keys, fingerprint=False)
        self._key_results = tuple(rr for r in result.results for rr in _rule_results(r, self._rules, self.item, keys))
        self._page = _merged_page(self._page, result)
        return self._key_results

    def chunk(self, frame: pd.DataFrame, offset: int) -> ValidationOutcome:
        """The rest of the suite on one chunk whose first row is row ``offset`` of the submission; its results
        (rows numbered from the submission's first) with the key rules' failing rows of this chunk, in order."""
        frame = frame.reset_index(drop=True)
        if self._order is None:  # GX orders a suite's results its own way: the whole suite's, on one row
            probe = self._validator._run(self._suite, frame.head(1))
            self._order = {rid: n for n, r in enumerate(probe.results) for rid in r.expectation_config.meta["rule_ids"]}
        result = self._validator._run(self._per_chunk, frame, fingerprint=False)
        part = tuple(_shifted(rr, offset) for r in result.results
                     for rr in _rule_results(r, self._rules, self.item, frame, offset))
        self._page = _merged_page(self._page, result)  # after: it drops the index lists read above
        self._parts.append(part)
        end = offset + len(frame)
        keyed = tuple(replace(r, failing_rows=tuple(i for i in r.failing_rows if offset <= i < end))
                      for r in self._key_results)
        return ValidationOutcome(item=self.item.code, rows=len(frame), results=self._ordered(keyed + part))

    def outcome(self) -> ValidationOutcome:
        """Every chunk's results merged per rule, with the key rules', as ``GxValidator.validate`` of the whole."""
        merged = merge_results(self.rows, [self._key_results, *self._parts])
        page = self._validator._page(self.item, self._page) if self._page is not None else ""
        return ValidationOutcome(item=self.item.code, rows=self.rows, results=self._ordered(merged), docs=page)

    def _ordered(self, results: tuple[RuleResult, ...]) -> tuple[RuleResult, ...]:
        order = self._order or {}
        in_order = sorted(results, key=lambda r: order.get(r.rule.id, len(order)))  # stable: a contract's rules
        return _freshness_last(tuple(in_order))


def _freshness_last(results: tuple[RuleResult, ...]) -> tuple[RuleResult, ...]:
    """The freshness rule's result last, where GX listed it as an expectation of its own (GX lists a suite's
    results by column, those of no column first): checked in the contract now, it keeps its place in the
    rules table and in a row's held-back reasons."""
    return tuple(sorted(results, key=lambda r: r.rule.kind is Kind.FRESH_RECORDS))


def _shifted(result: RuleResult, offset: int) -> RuleResult:
    return replace(result, failing_rows=tuple(i + offset for i in result.failing_rows)) if offset else result


def _merged_page(merged: Any, result: Any) -> Any:
    """GX's result of the chunks so far and of one more, as one result for its Data Docs page: per expectation
    the counts summed and percentages recomputed, the first partial lists kept, the index lists dropped."""
    for evr in result.results:
        for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query",
                    "partial_unexpected_index_list"):
            (evr.result or {}).pop(key, None)
    if merged is None:
        return result
    mine = {_config_id(evr): evr for evr in merged.results}
    for evr in result.results:
        into = mine.get(_config_id(evr))
        if into is None:
            merged.results.append(evr)
            continue
        into.success = bool(into.success and evr.success)
        _add_counts(into.result or {}, evr.result or {})
    successful = sum(1 for evr in merged.results if evr.success)
    merged.success = successful == len(merged.results)
    merged.statistics.update({"evaluated_expectations": len(merged.results),
                              "successful_expectations": successful,
                              "unsuccessful_expectations": len(merged.results) - successful,
                              "success_percent": 100.0 * successful / len(merged.results) if merged.results else 100.0})
    return merged


def _config_id(evr: Any) -> str:
    return ",".join(evr.expectation_config.meta["rule_ids"])


def _add_counts(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in into or key in more:
            into[key] = (into.get(key) or 0) + (more.get(key) or 0)
    for key in ("partial_unexpected_list", "partial_unexpected_counts"):
        if key in more:
            into[key] = ((into.get(key) or []) + more[key])[:PARTIAL_LIST]
    elements, missing = into.get("element_count") or 0, into.get("missing_count") or 0
    if "unexpected_percent" in into:
        into["unexpected_percent"] = 100.0 * into["unexpected_count"] / elements if elements else 0.0
    if "missing_percent" in into:
        into["missing_percent"] = 100.0 * missing / elements if elements else 0.0
    for key in ("unexpected_percent_total", "unexpected_percent_nonmissing"):
        if key in into:
            present = elements - (missing if key.endswith("nonmissing") else 0)
            into[key] = 100.0 * into["unexpected_count"] / present if present else 0.0


def _rule_results(gx_result: Any, rules: dict[str, Rule], item: Item, frame: pd.DataFrame,
                  offset: int = 0) -> list[RuleResult]:
    """One result per rule the expectation checks: the row contract's failing rows are put to each of its
    rules, so each row is held back with every rule it broke."""
    detail = gx_result.result or {}
    failing = _failing_rows(detail.get("unexpected_index_list") or ())
    config = gx_result.expectation_config
    checked = [rules[rule_id] for rule_id in config.meta["rule_ids"]]
    if "rules" not in config.kwargs:  # one rule's own expectation: its failing rows are the rule's
        return [_rule_result(checked[0], bool(gx_result.success), failing, detail, item, frame, offset)]
    broken = _broken_by_rule(config.kwargs["rules"], frame, failing)
    return [_rule_result(rule, not broken[rule.id], broken[rule.id], detail, item, frame, offset)
            for rule in checked]


def _failing_rows(indices: list[Any] | tuple[Any, ...]) -> tuple[int, ...]:
    """GX's unexpected row indices as ints (an entry that is a dict names no row by position): one numpy
    conversion for the usual list of ints, where a stale daily item fails in nearly every row."""
    numbers = np.asarray(indices) if indices and all(type(i) is int for i in (indices[0], indices[-1])) else None
    if numbers is not None and numbers.ndim == 1 and numbers.dtype.kind in "iu":
        return tuple(numbers.tolist())
    return tuple(int(i) for i in indices if not isinstance(i, dict))


# Up to this many failing rows, the rule each broke is told cell by cell: a column rule's pandas calls cost
# about 0.3 ms whatever their length, a cell's check a few microseconds.
CELL_BY_CELL = 64


def _broken_by_rule(contract: str, frame: pd.DataFrame, failing: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The contract's failing rows that break each of its rules (``rule_passes`` on each cell, or
    ``rule_mask`` on each column when many rows failed: the same verdicts, tests/unit/test_column_values.py)."""
    from expectations.custom import contract_rules, rule_passes

    rules = contract_rules(contract)
    if not failing:  # every row passed every rule: nothing to attribute
        return {rule["id"]: () for rule in rules}
    rows = np.asarray(failing, dtype=np.intp)
    broken = {}
    for params in rules:
        if len(failing) <= CELL_BY_CELL:
            cells = frame[params["column"]].to_numpy(dtype=object)[list(failing)]
            passed = np.array([rule_passes(params, cell) for cell in cells], dtype=bool)
        else:
            passed = _column_passes(params, frame, rows)
        broken[params["id"]] = tuple(rows[~passed].tolist())
    return broken


def _column_passes(params: dict[str, Any], frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The rule on the failing rows' cells: the contract's own mask of the frame's column when GX just computed
    it on these cells (``remembered_mask``), else the rule read again on those cells."""
    from expectations.custom import remembered_mask, rule_mask

    column = frame[params["column"]]
    whole = remembered_mask(params, column) if frame.index.equals(pd.RangeIndex(len(frame))) else None
    if whole is not None:
        return np.asarray(whole[rows], dtype=bool)  # a row's label is its position
    return rule_mask(params, frame.loc[pd.Index(rows), params["column"]]).to_numpy(dtype=bool)


def _rule_result(rule: Rule, success: bool, failing: tuple[int, ...], detail: dict[str, Any], item: Item,
                 frame: pd.DataFrame, offset: int = 0) -> RuleResult:
    """``failing``: rows of ``frame``; the samples name them as rows of the submission (``offset`` before)."""
    if rule.row_level:
        count = len(failing)
        sample = _sample(item, rule, frame, failing, offset)
        observed = ""
    else:
        count = 0 if success else 1
        sample = ()
        observed = str(detail.get("observed_value", ""))[:500]
    return RuleResult(rule=rule, success=success, element_count=len(frame),
                      unexpected_count=count, failing_rows=failing, sample=sample, observed=observed)


def _sample(item: Item, rule: Rule, frame: pd.DataFrame, failing: tuple[int, ...],
            offset: int = 0) -> tuple[str, ...]:
    out = []
    for row in failing[:SAMPLE_SIZE]:
        values = [mask(_text(frame.at[row, c]), item.field(c)) for c in rule.columns]
        out.append(f"row {offset + row + 1}: " + ", ".join(values))
    return tuple(out)


def _text(value: Any) -> str:
    return "∅" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
