"""The column readers (pipelines.column_values) against the scalar value model, cell by cell: same canonical
text, same reason, for every field type and standard, on the forms units type and the noise around them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import column_values
from pipelines.canonical_columns import canonical_cells
from pipelines.catalogue.models import FieldType, ItemField, Standard
from pipelines.column_values import (
    canonical_array,
    canonical_series,
    days,
    decimal_reading,
    decimals,
    standard_valid,
    type_valid,
)
from pipelines.values import canonical_column, standard_reason, type_reason, type_value
from tests import value_strategies as vs

COLUMNS = settings(max_examples=80, deadline=None)
TYPED_FIELDS = [vs.field(t) for t in FieldType] + [vs.field(standard=s) for s in Standard] + [
    ItemField(name="v", label="值", type=FieldType.DATE, date_format="excel_serial"),
    ItemField(name="v", label="值", type=FieldType.INTEGER, standard=Standard.POSTCODE)]
# What units send and what must be refused, beside each type's own forms (vs.texts_for): the forms the
# column readers take (ISO days, compact days, slashes) next to the ones only the scalar reader reads.
EDGE = st.sampled_from([
    "2026/11/01", "20261101", "2026-11-01", "2026-1-5", "2026-02-30", "2026-W44-1", "2026-305", "1600-02-29",
    "2026年11月1日", "2026-11-01T07:05", "2026-11-01 07:05:03.25", "2026-11-01T24:00", "2026-11-01T07:05+08:00",
    "45231", "45231.5", "0", "-0", "+0.0", "007", "1e3", ".5", "5.", "1" * 19, "9" * 18, "-" + "9" * 18,
    "１２３", "２０２６－１１－０１", " 12 ", "\u300012\u3000", "1\x002", "\x00", "\x85", "12\x1f", "true", "YES",
    "是", "否", "ｙ", "x", "X", "11010519491231002x", "11010519491231002X", "91450000198230017w",
    "a@Example.CN", "a@b", "13800138000", "0771-1234567", "530000", "450102", "000000", "",
])
CELLS = st.one_of(EDGE, st.sampled_from(list(FieldType)).flatmap(vs.texts_for),
                  st.one_of(vs.rics, vs.usccs).flatmap(vs.identifier_forms), st.none())
NON_TEXT_CELLS = st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=False),
                           st.booleans(), st.dates(min_value=date(1900, 1, 1)),
                           st.datetimes(min_value=datetime(1900, 1, 1)))


@pytest.fixture(autouse=True, scope="module")
def _column_readers_on_short_columns() -> Iterator[None]:
    """The column readers themselves are what these tests hold to the scalar reader: short columns, which the
    platform reads with the scalar reader (``column_values.SCALAR_BELOW``), go through them here too."""
    kept, column_values.SCALAR_BELOW = column_values.SCALAR_BELOW, 0
    yield
    column_values.SCALAR_BELOW = kept


def _scalar(field: ItemField, cells: list[object]) -> tuple[list[str | None], list[str | None]]:
    texts, reasons = canonical_column(field, cells)
    return texts, [reasons.get(row) for row in range(len(cells))]


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f"{f.type}-{f.standard}-{f.date_format}")
@COLUMNS
@given(cells=st.lists(CELLS, max_size=40))
def test_the_column_reader_gives_the_scalar_verdict_of_every_cell(field: ItemField, cells: list[object]) -> None:
    texts, reasons = canonical_series(field, pd.Series(cells, dtype=object))
    assert (texts.tolist(), reasons.tolist()) == _scalar(field, cells)


@pytest.mark.parametrize("field", TYPED_FIELDS[:6], ids=lambda f: str(f.type))
@settings(max_examples=60, deadline=None)
@given(cells=st.lists(st.one_of(NON_TEXT_CELLS, CELLS), max_size=20))
def test_cells_that_are_not_text_are_read_as_the_scalar_reader_reads_them(field: ItemField,
                                                                          cells: list[object]) -> None:
    texts, reasons = canonical_series(field, pd.Series(cells, dtype=object))
    assert (texts.tolist(), reasons.tolist()) == _scalar(field, cells)


@pytest.mark.parametrize("field_type", list(FieldType), ids=str)
@COLUMNS
@given(cells=st.lists(CELLS, max_size=30))
def test_type_verdicts_of_a_column_are_type_reason(field_type: FieldType, cells: list[object]) -> None:
    assert type_valid(field_type, pd.Series(cells, dtype=object)).tolist() == [
        type_reason(field_type, c) is None for c in cells]


@pytest.mark.parametrize("standard", list(Standard), ids=str)
@COLUMNS
@given(cells=st.lists(CELLS, max_size=30))
def test_standard_verdicts_of_a_column_are_standard_reason(standard: Standard, cells: list[object]) -> None:
    assert standard_valid(standard, pd.Series(cells, dtype=object)).tolist() == [
        standard_reason(standard, c) is None for c in cells]


@COLUMNS
@given(cells=st.lists(CELLS, max_size=30))
def test_the_numbers_and_days_read_fast_are_the_scalar_values(cells: list[object]) -> None:
    numbers, taken = decimals(pd.Series(cells, dtype=object))
    for cell, number, fast in zip(cells, numbers, taken, strict=True):
        if fast:
            assert number == float(type_value(FieldType.DECIMAL, cell))
    moments, taken = days(pd.Series(cells, dtype=object))
    for cell, moment, fast in zip(cells, moments, taken, strict=True):
        if fast:
            assert moment.date() == type_value(FieldType.DATETIME, cell).date()


# Texts that are their own canonical text or miss it by a character: what the whole-column shapes
# (pipelines.canonical_columns) must tell apart, beside the noise of CELLS.
NEAR_CANONICAL = st.sampled_from([
    "2024-02-29", "2026-02-29", "1900-02-29", "2000-02-29", "0000-01-01", "0001-01-01", "9999-12-31", "2026-13-01",
    "2026-00-10", "2026-04-31", "2026-04-00", "-0", "-0.5", "0.000001", "0.0000001", "1.10", "10", "-10", "01",
    "9" * 18 + ".5", "1" * 19, "-0.0", "true", "false", "True", "a１", "１", "张 三", " a", "a ", "\u3000a",
    "a\u3000b", "ａ", "（注）", "a\u200b", "\ufeffa", "a\nb", "\n", "450102", "450103", "999999", "13800138000",
    "0771-1234567", "07711234567", "530000", "030000", "91450000198230017W", "91450000198230017X",
    "91450000198230017w", "9145000019823001I7", "x"])
TEXT_CELLS = st.one_of(NEAR_CANONICAL, EDGE, st.sampled_from(list(FieldType)).flatmap(vs.texts_for),
                       st.one_of(vs.rics, vs.usccs).flatmap(vs.identifier_forms), vs.usccs)


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f"{f.type}-{f.standard}-{f.date_format}")
@settings(max_examples=120, deadline=None)
@given(cells=st.lists(TEXT_CELLS, max_size=40))
def test_a_column_of_texts_gives_the_scalar_verdict_of_every_cell(field: ItemField, cells: list[str]) -> None:
    """A CSV's column (texts only, no missing cell): the cells told canonical by their shape, the others read."""
    texts, reasons = canonical_series(field, pd.Series(cells, dtype=object))
    assert (texts.tolist(), reasons.tolist()) == _scalar(field, cells)


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f"{f.type}-{f.standard}-{f.date_format}")
@settings(max_examples=120, deadline=None)
@given(cells=st.lists(TEXT_CELLS, max_size=40))
def test_an_arrow_column_of_texts_gets_the_scalar_canonical_texts(field: ItemField, cells: list[str]) -> None:
    """Intake's Arrow columns (``canonical_array``): the texts canonical_series gives, kept as Arrow text."""
    try:
        column = pa.array(cells, type=pa.string())
    except UnicodeEncodeError:  # a lone surrogate: Arrow cannot hold it; intake reads such a span otherwise
        return
    assert canonical_array(field, column).to_pylist() == _scalar(field, cells)[0]


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(TEXT_CELLS, max_size=40))
def test_a_decimal_column_s_reading_is_the_scalar_reading(cells: list[str]) -> None:
    """What a decimal's type and range rules read (``decimal_reading``): each cell's reason the scalar model's, and
    a canonical text, where one is given, the scalar model's canonical text."""
    field = vs.field(FieldType.DECIMAL)
    canonical, reasons = decimal_reading(pd.Series(cells, dtype=object))
    texts, _ = _scalar(field, cells)
    assert reasons.tolist() == [type_reason(FieldType.DECIMAL, c) for c in cells]
    assert all(text is None or text == scalar for text, scalar in zip(canonical, texts, strict=True))


def test_the_texts_told_canonical_are_those_the_value_model_keeps() -> None:
    field = vs.field(FieldType.DATE)
    told = canonical_cells(field, pd.Series(["2026-04-22", "2026-02-29", "", "2026/4/22"], dtype=object))
    assert told is not None
    assert [e.item() for e in told[0]] == [False, False, True, False]
    assert [c.item() for c in told[1]] == [True, False, False, False]
    assert canonical_cells(field, pd.Series(["2026-04-22", None], dtype=object)) is None


def test_a_large_column_is_read_by_the_fast_readers_with_the_same_result() -> None:
    cells = [f"{n:04d}-{1 + n % 12:02d}-{1 + n % 28:02d}" for n in range(1000, 3000)] + ["2026-02-30", None, ""]
    field = vs.field(FieldType.DATE)
    texts, reasons = canonical_series(field, pd.Series(cells, dtype=object))
    assert (texts.tolist(), reasons.tolist()) == _scalar(field, cells)
    assert reasons.notna().sum() == 1


def test_a_large_column_of_codes_is_told_valid_by_its_shape_with_the_scalar_verdicts() -> None:
    """Validation's columns are canonical already: the standards' and types' verdicts of a long column come from
    one shape match over it (``canonical_columns``), the cells it does not mark read one by one; the verdicts
    are the scalar value model's, cell for cell."""
    from tests.conftest import make_uscc

    good = [make_uscc(n) for n in range(2500)]
    wrong = [good[0][:-1] + ("0" if good[0][-1] != "0" else "1"), good[1].lower(), f" {good[2]}", "９" + good[3][1:],
             "", "9145010", good[4] + "X"]
    cells = good + wrong
    assert standard_valid(Standard.USCC, pd.Series(cells, dtype=object)).tolist() == [
        standard_reason(Standard.USCC, c) is None for c in cells]
    days = [f"{2000 + n % 26}-{1 + n % 12:02d}-{1 + n % 28:02d}" for n in range(2500)] + [
        "2026-02-29", "2024-02-29", "2026-13-01", "2026-4-1", " 2026-04-01", ""]
    assert type_valid(FieldType.DATE, pd.Series(days, dtype=object)).tolist() == [
        type_reason(FieldType.DATE, c) is None for c in days]


RULES = [{"kind": "required"}, {"kind": "type", "field_type": "integer"}, {"kind": "type", "field_type": "datetime"},
         {"kind": "type", "field_type": "decimal"}, {"kind": "standard", "standard": "uscc"},
         {"kind": "standard", "standard": "ric"}, {"kind": "standard", "standard": "phone"},
         {"kind": "value_set", "value_set": ["是", "否", "2026-11-01", "0"]}, {"kind": "max_length", "max_length": 5},
         {"kind": "range", "min_value": 0, "max_value": 100000},
         {"kind": "range", "min_value": -0.5, "max_value": None},
         {"kind": "range", "min_value": None, "max_value": 1e-6}]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: "-".join(str(v) for v in r.values())[:40])
@COLUMNS
@given(cells=st.lists(st.one_of(CELLS, st.sampled_from(["100000", "100000.000001", "-0.5", "-0.500001",
                                                         "0.000001", "0.0000010", "99999.999999"])), max_size=30))
def test_a_contract_rule_on_a_column_is_the_rule_on_each_cell(rule: dict[str, object], cells: list[object]) -> None:
    from expectations.custom import contract_rules, contract_text, rule_mask, rule_passes

    [params] = contract_rules(contract_text([{"id": "r", "column": "v", **rule}]))
    column = pd.Series(cells, dtype=object, index=range(7, 7 + len(cells)))  # an index that is not positional
    assert rule_mask(params, column).tolist() == [rule_passes(params, c) for c in cells]


@COLUMNS
@given(cells=st.lists(st.one_of(CELLS, NON_TEXT_CELLS,
                                st.sampled_from(["100000", "-0.500001", "0.0000010", "甲乙丙丁戊己"])), max_size=30),
       picked=st.lists(st.sampled_from(RULES), min_size=1, max_size=6))
def test_a_columns_rules_read_together_give_each_rules_own_mask(cells: list[object],
                                                                picked: list[dict[str, object]]) -> None:
    """The contract reads a column once for all of its rules (``column_masks``: the missing cells, the present
    values, a decimal's reading shared by its type and range rules): each rule's mask is still ``rule_mask``'s."""
    from expectations.custom import column_masks, contract_rules, contract_text, rule_mask

    params = contract_rules(contract_text([{"id": f"r{n}", "column": "v", **rule} for n, rule in enumerate(picked)]))
    column = pd.Series(cells, dtype=object, index=range(3, 3 + len(cells)))
    together = column_masks(params, column)
    assert [m.tolist() for m in together] == [rule_mask(p, column).tolist() for p in params]


@COLUMNS
@given(cells=st.lists(CELLS, max_size=30), max_age=st.integers(0, 20000))
def test_the_freshness_of_a_column_is_the_freshness_of_each_cell(cells: list[object], max_age: int) -> None:
    from datetime import timedelta

    from expectations.custom import _recent, recent_mask

    oldest = date(2026, 12, 1) - timedelta(days=max_age)
    assert recent_mask(pd.Series(cells, dtype=object), oldest).tolist() == [
        c is None or _recent(c, oldest) for c in cells]


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f"{f.type}-{f.standard}-{f.date_format}")
@settings(max_examples=15, deadline=None)
@given(distinct=st.lists(st.one_of(EDGE, st.sampled_from(list(FieldType)).flatmap(vs.texts_for), st.none()),
                         min_size=1, max_size=12), picks=st.lists(st.integers(0, 11), min_size=1200, max_size=1300))
def test_a_long_column_of_few_distinct_texts_is_read_as_cell_by_cell(field: ItemField, distinct: list[object],
                                                                     picks: list[int]) -> None:
    """A column long enough and repetitive enough to be read once per distinct text (column_values._DISTINCT_AT)
    gives every cell the scalar verdict."""
    cells = [distinct[p % len(distinct)] for p in picks]
    texts, reasons = canonical_series(field, pd.Series(cells, dtype=object))
    memo = {c: _scalar(field, [c]) for c in distinct}
    assert (texts.tolist(), reasons.tolist()) == ([memo[c][0][0] for c in cells], [memo[c][1][0] for c in cells])


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f"{f.type}-{f.standard}-{f.date_format}")
@settings(max_examples=30, deadline=None)
@given(cells=st.lists(st.one_of(CELLS, NON_TEXT_CELLS), max_size=40))
def test_a_short_column_read_by_the_scalar_reader_has_the_column_readers_verdicts(field: ItemField,
                                                                                  cells: list[object]) -> None:
    """Below SCALAR_BELOW cells the platform reads a column cell by cell: the same texts, reasons and verdicts
    (ranges and freshness included) as the column readers give it (which the tests above hold to the scalar
    reader)."""
    from expectations.custom import recent_mask, within_mask

    column = pd.Series(cells, dtype=object)
    oldest = date(2020, 1, 1)

    def verdicts() -> tuple[list[object], ...]:
        texts, reasons = canonical_series(field, column)
        return (texts.tolist(), reasons.tolist(), type_valid(field.type, column).tolist(),
                standard_valid(field.standard, column).tolist() if field.standard else [],
                within_mask(column, -1.5, 1e6).tolist(), recent_mask(column, oldest).tolist())

    column_values.SCALAR_BELOW = len(cells) + 1
    try:
        short = verdicts()
    finally:
        column_values.SCALAR_BELOW = 0
    assert short == verdicts()
