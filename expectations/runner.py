"""Run an item's suite on a submission with GX Core and translate the result to plain outcomes."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.catalogue.models import Item
from pipelines.quality.masking import mask
from pipelines.quality.outcome import RuleResult, ValidationOutcome
from pipelines.quality.rules import Rule

SAMPLE_SIZE = 5


class GxValidator:
    """Holds one ephemeral GX context, made on first use (never at import)."""

    def __init__(self, docs_dir: Path | None = None) -> None:
        self.docs_dir = docs_dir  # where each validation's Data Docs page goes; None builds none
        self._batch_definition: Any = None
        self._suites: dict[tuple[str, date], tuple[Any, dict[str, Rule]]] = {}

    def _definition(self) -> Any:
        if self._batch_definition is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            logging.getLogger("great_expectations").setLevel(logging.WARNING)
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            asset = context.data_sources.add_pandas("submissions").add_dataframe_asset("submission")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        return self._batch_definition

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
        batch = self._definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        results = tuple(rr for r in result.results for rr in _rule_results(r, rules, item, frame))
        docs = ""
        if self.docs_dir is not None:
            from expectations.docs import write_validation_page

            docs = str(write_validation_page(self.docs_dir, item, result))
        return ValidationOutcome(item=item.code, rows=len(frame), results=results, docs=docs)


def _rule_results(gx_result: Any, rules: dict[str, Rule], item: Item, frame: pd.DataFrame) -> list[RuleResult]:
    """One result per rule the expectation checks: the row contract's failing rows are put to each of its
    rules, so each row is held back with every rule it broke."""
    from expectations.custom import contract_rules, rule_mask
    from expectations.suites import ROW_RULES

    detail = gx_result.result or {}
    failing = tuple(int(i) for i in detail.get("unexpected_index_list") or () if not isinstance(i, dict))
    checked = [rules[rule_id] for rule_id in gx_result.expectation_config.meta["rule_ids"]]
    if not any(r.kind in ROW_RULES for r in checked):
        return [_rule_result(checked[0], bool(gx_result.success), failing, detail, item, frame)]
    if not failing:  # every row passed every rule: nothing to attribute (a column read per rule otherwise)
        return [_rule_result(rule, True, (), detail, item, frame) for rule in checked]
    out = []
    rows = pd.Index(failing)
    for rule in checked:
        [params] = contract_rules([{"kind": rule.kind.value, **rule.params}])
        passed = rule_mask(params, frame.loc[rows, rule.columns[0]]).to_numpy()
        broken = tuple(rows[~passed].tolist())
        out.append(_rule_result(rule, not broken, broken, detail, item, frame))
    return out


def _rule_result(rule: Rule, success: bool, failing: tuple[int, ...], detail: dict[str, Any], item: Item,
                 frame: pd.DataFrame) -> RuleResult:
    if rule.row_level:
        count = len(failing)
        sample = _sample(item, rule, frame, failing)
        observed = ""
    else:
        count = 0 if success else 1
        sample = ()
        observed = str(detail.get("observed_value", ""))[:500]
    return RuleResult(rule=rule, success=success, element_count=len(frame),
                      unexpected_count=count, failing_rows=failing, sample=sample, observed=observed)


def _sample(item: Item, rule: Rule, frame: pd.DataFrame, failing: tuple[int, ...]) -> tuple[str, ...]:
    out = []
    for row in failing[:SAMPLE_SIZE]:
        values = [mask(_text(frame.at[row, c]), item.field(c)) for c in rule.columns]
        out.append(f"row {row + 1}: " + ", ".join(values))
    return tuple(out)


def _text(value: Any) -> str:
    return "∅" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
