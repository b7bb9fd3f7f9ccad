"""GxValidator's outcomes against two independent oracles, on planted-fault frames of a realistic item.

1. GX with one standard or custom expectation per rule (the suite before the row contract): each rule's
   failing rows are that expectation's own, so the contract's attribution (``rule_passes`` cell by cell on a
   few failing rows, ``rule_mask`` on many) and the freshness rule checked inside the contract must agree.
2. The suite's shape before freshness joined the contract (freshness its own GX expectation, results in GX's
   order): the same outcome, result for result, samples and order included.
And a submission validated a chunk at a time gives what the whole gives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import great_expectations as gx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expectations import custom, runner, suites
from expectations.runner import GxValidator
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.demo import large_item
from pipelines.quality.outcome import RuleResult
from pipelines.quality.rules import Kind, rules_for

AS_OF = date(2026, 12, 1)  # the day large_item's rows are made for
VALIDATOR = GxValidator()  # one GX context for every example, as one run has
# A wrong check character, a missing value, a value outside its set or range, the wrong type, too long, stale,
# a duplicated key: every row rule of the item, the key and freshness.
FAULTS = {
    "bad_check": lambda v, other: v[:-1] + ("0" if v[-1:] != "0" else "1"),  # v[-1:]: an empty cell too
    "missing": lambda v, other: None,
    "outside_set": lambda v, other: "歇业",
    "negative": lambda v, other: "-5",
    "not_a_number": lambda v, other: "many",
    "too_long": lambda v, other: v * 40,
    "stale": lambda v, other: "2020-01-01",
    "copied": lambda v, other: other,
}


@pytest.fixture(scope="module")
def item(tmp_path_factory: pytest.TempPathFactory) -> Item:
    catalogue = load_catalogue(large_item.write_catalogue(tmp_path_factory.mktemp("gx") / "catalogue"))
    found = catalogue.item(large_item.ITEM)
    assert found.timestamp_field and len(found.field_names) > 1  # freshness goes into the contract
    return found


@st.composite
def planted(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=8, max_value=150))
    frame, _ = large_item.make_rows(n, seed=draw(st.integers(0, 2**16)))
    frame = frame.astype(object)
    columns = list(frame.columns)
    many = n > 2 * runner.CELL_BY_CELL and draw(st.booleans())  # failing rows for the column-at-a-time path
    for _ in range(draw(st.integers(2 * runner.CELL_BY_CELL, 3 * n) if many else st.integers(0, 15))):
        row, other = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        column = draw(st.sampled_from(columns))
        fault = FAULTS[draw(st.sampled_from(sorted(FAULTS)))]
        value = frame.at[row, column]
        frame.at[row, column] = fault(value if isinstance(value, str) else "1", frame.at[other, column])
    return frame


def _per_rule_suite(item: Item) -> gx.ExpectationSuite:
    """Every rule of the item as its own expectation, built by the suite's own per-rule builders."""
    expectations = []
    for rule in rules_for(item):
        if rule.contextual:
            continue
        expectation = suites._BUILDERS[rule.kind](rule, AS_OF)
        expectation.meta = suites._meta([rule])
        expectations.append(expectation)
    return gx.ExpectationSuite(name=f"{item.code}.per_rule", expectations=expectations)


def _per_rule_failures(item: Item, frame: pd.DataFrame) -> dict[str, tuple[bool, tuple[int, ...]]]:
    VALIDATOR._suite(item, AS_OF)  # the GX context first
    result = VALIDATOR._run(_per_rule_suite(item), frame)
    out = {}
    for evr in result.results:
        [rule_id] = evr.expectation_config.meta["rule_ids"]
        rows = tuple(sorted(int(i) for i in (evr.result or {}).get("unexpected_index_list") or ()))
        out[rule_id] = (bool(evr.success), rows)
    return out


def _freshness_on_its_own(item: Item, frame: pd.DataFrame) -> tuple[RuleResult, ...]:
    """The outcome as the suite gave it with freshness as its own GX expectation, in GX's order."""
    own = tuple(k for k in suites.ROW_RULES if k is not Kind.FRESH_RECORDS)
    with mock.patch.object(suites, "ROW_RULES", own):
        suite, rules = suites.build_suite(item, AS_OF)
    assert "expect_column_values_to_be_recent" in {e.expectation_type for e in suite.expectations}
    result = VALIDATOR._run(suite, frame)
    return tuple(rr for r in result.results for rr in runner._rule_results(r, rules, item, frame))


def _chunked(item: Item, frame: pd.DataFrame, chunk_rows: int) -> tuple[RuleResult, ...]:
    validation = VALIDATOR.chunked(item, AS_OF, len(frame))
    validation.keys(frame[list(item.primary_key)])
    for offset in range(0, len(frame), chunk_rows):
        validation.chunk(frame.iloc[offset:offset + chunk_rows], offset)
    return validation.outcome().results


@pytest.mark.slow  # fifteen frames through GX three ways, about 19 s
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(frame=planted(), chunk_share=st.integers(2, 6))
def test_the_outcome_is_each_rules_own_expectation_and_the_suite_before_and_the_chunks(
        item: Item, frame: pd.DataFrame, chunk_share: int) -> None:
    outcome = VALIDATOR.validate(item, frame, AS_OF)
    by_rule = {r.rule.id: r for r in outcome.results}
    oracle = _per_rule_failures(item, frame)
    assert by_rule.keys() == oracle.keys()
    for rule_id, (success, rows) in oracle.items():
        mine = by_rule[rule_id]
        if mine.rule.row_level:
            assert (mine.success, tuple(sorted(mine.failing_rows)), mine.unexpected_count) == (success, rows, len(rows))
        else:
            assert mine.success == success
    assert by_rule[f"fresh_records:{item.timestamp_field}"].rule.dimension.value == "timeliness"
    assert outcome.results == _freshness_on_its_own(item, frame)
    assert _chunked(item, frame, -(-len(frame) // chunk_share)) == outcome.results


def _failed(item: Item, frame: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    return {r.rule.id: r.failing_rows for r in VALIDATOR.validate(item, frame, AS_OF).results if not r.success}


def test_planted_faults_fail_their_rules_cell_by_cell_and_column_at_a_time(item: Item) -> None:
    """Both attributions are reached, and a stale record fails freshness only, at warning severity."""
    frame, _ = large_item.make_rows(100, seed=3)
    frame = frame.astype(object)
    frame["updated_at"] = AS_OF.isoformat()
    before = _failed(item, frame)
    assert "fresh_records:updated_at" not in before
    stale = frame.copy()
    stale.loc[[4, 9], "updated_at"] = "2020-01-01"
    assert _failed(item, stale) == {**before, "fresh_records:updated_at": (4, 9)}
    outcome = VALIDATOR.validate(item, stale, AS_OF)
    assert {4, 9} <= outcome.warned_rows() and not {4, 9} & outcome.row_reasons().keys() - {
        r for rows in before.values() for r in rows}
    wrecked = frame.copy()
    wrecked["status"] = "歇业"  # every row outside the set: more failing rows than CELL_BY_CELL
    wrecked.loc[range(0, 100, 3), "registered_capital"] = "-5"
    assert _failed(item, wrecked) == {**before, "value_set:status": tuple(range(100)),
                                      "range:registered_capital": tuple(range(0, 100, 3))}


def test_freshness_is_checked_in_the_contract_not_as_an_expectation_of_its_own(item: Item) -> None:
    suite, _ = suites.build_suite(item, AS_OF)
    [contract] = [e for e in suite.expectations if isinstance(e, suites.ExpectRowsToSatisfyContract)]
    [fresh] = [r for r in custom.contract_rules(contract.rules) if r["kind"] == "fresh_records"]
    assert fresh["as_of"] == AS_OF.isoformat() and fresh["column"] == item.timestamp_field
    assert "expect_column_values_to_be_recent" not in {e.expectation_type for e in suite.expectations}
    _, per_chunk, _ = suites.build_split_suites(item, AS_OF)
    assert contract.configuration in [e.configuration for e in per_chunk.expectations]


def test_a_single_field_item_keeps_its_rules_as_expectations_of_their_own(tmp_path: Path) -> None:
    """GX's multicolumn domain needs two columns: a one-field item's rules stay one expectation each."""
    catalogue = load_catalogue(large_item.write_catalogue(tmp_path / "catalogue"))
    wide = catalogue.item(large_item.ITEM)
    narrow = wide.model_copy(update={"fields": [f for f in wide.fields if f.name == "uscc"], "timestamp_field": None})
    assert narrow.field_names == ("uscc",)
    frame = pd.DataFrame({"uscc": ["91450512M88548440A", None, "91450512M88548440A", "bad"]}, dtype=object)
    results = {r.rule.id: r for r in GxValidator().validate(narrow, frame, AS_OF).results}  # its own suites
    assert results["required:uscc"].failing_rows == (1,)
    assert results["standard:uscc"].failing_rows == (3,)
    assert sorted(results["unique_key"].failing_rows) == [0, 2]


def _contract_rules(item: Item) -> list[dict[str, Any]]:
    suite, _ = suites.build_suite(item, AS_OF)
    [contract] = [e for e in suite.expectations if isinstance(e, suites.ExpectRowsToSatisfyContract)]
    return custom.contract_rules(contract.rules)


OTHER_CELLS = st.one_of(st.none(), st.just(float("nan")), st.text(max_size=20), st.sampled_from(
    [True, 1, 1.0, "1", "true", "2020-01-01", "歇业", "-5"]))


@pytest.mark.slow  # twenty frames through GX, about 11 s
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(frame=planted(), data=st.data())
def test_the_contracts_masks_are_reused_only_on_the_very_cells_they_were_made_of(
        item: Item, frame: pd.DataFrame, data: st.DataObject) -> None:
    """The runner tells which rule a failing row broke from the masks GX's evaluation of the contract made
    (``remembered_mask``): on the same cells they are the rules' own masks; on other cells none is given
    (or, for a missing cell of another kind, the same mask the rule makes)."""
    VALIDATOR.validate(item, frame, AS_OF)
    for rule in _contract_rules(item):
        column = frame[rule["column"]].reset_index(drop=True)
        remembered = custom.remembered_mask(rule, column)
        assert remembered is not None and remembered.tolist() == custom.rule_mask(rule, column).tolist()
        changed = column.copy()
        row, cell = data.draw(st.integers(0, len(column) - 1)), data.draw(OTHER_CELLS)
        changed[row] = cell
        got = custom.remembered_mask(rule, changed)
        assert got is None or got.tolist() == custom.rule_mask(rule, changed).tolist()
        both_missing = pd.isna(cell) and pd.isna(column[row])
        if not (type(cell) is str and cell == column[row]) and not both_missing:
            assert got is None
        assert custom.remembered_mask({**rule, "id": rule["id"] + "-other"}, column) is None
