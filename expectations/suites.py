"""Expectation suites as code: one suite per catalogue item, generated from its rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.custom import (
    ExpectColumnValuesToBeRecent,
    ExpectColumnValuesToBeWithinTextRange,
    ExpectColumnValuesToConformToStandard,
    ExpectColumnValuesToParseAsType,
    ExpectRowsToSatisfyContract,
    contract_text,
)
from pipelines.catalogue.models import Item
from pipelines.quality.rules import Kind, Rule, rules_for


def _columns(rule: Rule, as_of: date) -> Any:
    return gxe.ExpectTableColumnsToMatchSet(column_set=list(rule.columns), exact_match=True)


def _unique_key(rule: Rule, as_of: date) -> Any:
    if len(rule.columns) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=rule.columns[0])
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns))


def _required(rule: Rule, as_of: date) -> Any:
    return gxe.ExpectColumnValuesToNotBeNull(column=rule.columns[0])


def _type(rule: Rule, as_of: date) -> Any:
    return ExpectColumnValuesToParseAsType(column=rule.columns[0], field_type=rule.params["field_type"])


def _standard(rule: Rule, as_of: date) -> Any:
    return ExpectColumnValuesToConformToStandard(column=rule.columns[0], standard=rule.params["standard"])


def _value_set(rule: Rule, as_of: date) -> Any:
    return gxe.ExpectColumnValuesToBeInSet(column=rule.columns[0], value_set=rule.params["value_set"])


def _range(rule: Rule, as_of: date) -> Any:
    return ExpectColumnValuesToBeWithinTextRange(
        column=rule.columns[0], min_value=rule.params["min_value"], max_value=rule.params["max_value"]
    )


def _max_length(rule: Rule, as_of: date) -> Any:
    return gxe.ExpectColumnValueLengthsToBeBetween(column=rule.columns[0], max_value=rule.params["max_length"])


def _fresh(rule: Rule, as_of: date) -> Any:
    return ExpectColumnValuesToBeRecent(
        column=rule.columns[0], max_age_days=rule.params["max_age_days"], as_of=as_of.isoformat()
    )


_BUILDERS: dict[Kind, Callable[[Rule, date], Any]] = {
    Kind.COLUMNS: _columns,
    Kind.UNIQUE_KEY: _unique_key,
    Kind.REQUIRED: _required,
    Kind.TYPE: _type,
    Kind.STANDARD: _standard,
    Kind.VALUE_SET: _value_set,
    Kind.RANGE: _range,
    Kind.MAX_LENGTH: _max_length,
    Kind.FRESH_RECORDS: _fresh,
}


# Rules a chunk of a submission cannot decide alone: the primary key must be unique across every chunk.
WHOLE_SUBMISSION = (Kind.UNIQUE_KEY,)
# The row rules one contract checks in one pass; the runner names the rule a failing row broke. Freshness
# is one of them: as an expectation of its own it cost GX about 19 ms CPU per validation, in the contract
# about 1 ms (its results stay the freshness rule's, in the timeliness dimension, at warning severity).
ROW_RULES = (Kind.REQUIRED, Kind.TYPE, Kind.STANDARD, Kind.VALUE_SET, Kind.RANGE, Kind.MAX_LENGTH,
             Kind.FRESH_RECORDS)


def _row_contract(item: Item, rules: list[Rule], as_of: date) -> Any:
    return ExpectRowsToSatisfyContract(column_list=list(item.field_names), rules=contract_text([
        {"id": r.id, "kind": r.kind.value, "column": r.columns[0], **r.params, **_counted_from(r, as_of)}
        for r in rules]))


def _counted_from(rule: Rule, as_of: date) -> dict[str, str]:
    """A freshness rule counts its records' age back from the day validated."""
    return {"as_of": as_of.isoformat()} if rule.kind is Kind.FRESH_RECORDS else {}


def _meta(rules: list[Rule]) -> dict[str, Any]:
    return {"rule_ids": [r.id for r in rules], "dimension": rules[0].dimension.value,
            "severity": max((r.severity.value for r in rules), key=("warning", "error").index)}


def build_suite(item: Item, as_of: date) -> tuple[gx.ExpectationSuite, dict[str, Rule]]:
    """The item's suite: its columns, its key, one contract for every field's row rules and record freshness.
    Each expectation's meta carries the rule ids it checks, its dimension and severity."""
    expectations, by_id = _expectations(item, as_of)
    return gx.ExpectationSuite(name=f"{item.code}.contract", expectations=expectations), by_id


def _expectations(item: Item, as_of: date) -> tuple[list[Any], dict[str, Rule]]:
    by_id: dict[str, Rule] = {}
    expectations = []
    row_rules: list[Rule] = []
    for rule in rules_for(item):
        if rule.contextual:  # needs the ledger or the authoritative tables: pipelines.quality.context
            continue
        by_id[rule.id] = rule
        if rule.kind in ROW_RULES and len(item.field_names) > 1:  # GX's multicolumn domain needs two columns
            row_rules.append(rule)
            continue
        expectation = _BUILDERS[rule.kind](rule, as_of)
        expectation.meta = _meta([rule])
        expectations.append(expectation)
    if row_rules:
        contract = _row_contract(item, row_rules, as_of)
        contract.meta = _meta(row_rules)
        expectations.append(contract)
    return expectations, by_id


def build_split_suites(item: Item, as_of: date) -> tuple[gx.ExpectationSuite, gx.ExpectationSuite, dict[str, Rule]]:
    """The item's suite in two, for a submission validated a chunk at a time: the expectations of the
    WHOLE_SUBMISSION rules (checked once, on the key columns of every row), and all the others (checked on each
    chunk). Together they are exactly ``build_suite``'s expectations."""
    expectations, by_id = _expectations(item, as_of)
    whole = [e for e in expectations if _kinds(e, by_id) <= set(WHOLE_SUBMISSION)]
    per_chunk = [e for e in expectations if not _kinds(e, by_id) & set(WHOLE_SUBMISSION)]
    assert len(whole) + len(per_chunk) == len(expectations)  # no expectation mixes the two
    return (gx.ExpectationSuite(name=f"{item.code}.contract.whole", expectations=whole),
            gx.ExpectationSuite(name=f"{item.code}.contract.chunk", expectations=per_chunk), by_id)


def _kinds(expectation: Any, by_id: dict[str, Rule]) -> set[Kind]:
    return {by_id[rule_id].kind for rule_id in expectation.meta["rule_ids"]}
