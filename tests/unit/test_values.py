"""The value model: cells to text, text to canonical text, and the properties that keep them one."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from pipelines.values import cell_text


@pytest.mark.parametrize(("cell", "text"), [
    (None, None), (float("nan"), None), (pd.NA, None), (pd.NaT, None), (np.nan, None),
    ("  a ", "  a "), ("", ""),
    (True, "true"), (False, "false"), (np.bool_(True), "true"),
    (7, "7"), (np.int64(-12), "-12"), (7.0, "7"), (-0.0, "0"), (1e3, "1000"), (np.float64(2.0), "2"),
    (0.1, "0.1"), (1234.5, "1234.5"), (Decimal("1.50"), "1.50"),
    (datetime(2020, 1, 1), "2020-01-01"), (pd.Timestamp("2020-01-01"), "2020-01-01"),
    (datetime(2020, 1, 1, 8, 30), "2020-01-01T08:30:00"),
    (datetime(2020, 1, 1, tzinfo=UTC), "2020-01-01T00:00:00+00:00"),
    (date(2026, 11, 1), "2026-11-01"), (time(8, 30), "08:30:00"),
])
def test_cell_text(cell: object, text: str | None) -> None:
    assert cell_text(cell) == text


@pytest.mark.parametrize("cell", [[1, 2], {"a": 1}, ()])
def test_nested_cells_are_refused(cell: object) -> None:
    with pytest.raises(ValueError, match="nested"):
        cell_text(cell)


# --- the value model: properties ------------------------------------------------------------------
import unicodedata  # noqa: E402
from datetime import timedelta, timezone  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipelines.catalogue.models import FieldType, Item, ItemField, Standard  # noqa: E402
from pipelines.values import (  # noqa: E402
    InvalidValue,
    canonical,
    fold_width,
    reason,
    standard_reason,
    type_reason,
)
from tests import value_strategies as vs  # noqa: E402

FAST = settings(max_examples=150, deadline=None)
TYPES = list(FieldType)
TYPED_FIELDS = [vs.field(t) for t in FieldType] + [vs.field(standard=s) for s in Standard]


def _accepted(field: object, text: str) -> str | None:
    try:
        return canonical(field, text)  # type: ignore[arg-type]
    except InvalidValue:
        return None


@pytest.mark.parametrize("field_type", TYPES, ids=str)
@FAST
@given(data=st.data())
def test_accepted_text_has_a_canonical_text_that_parses_back_to_itself(field_type: FieldType, data: st.DataObject
                                                                     ) -> None:
    field = vs.field(field_type)
    text = data.draw(vs.texts_for(field_type))
    accepted = _accepted(field, text)
    assert (accepted is None) == (reason(field, text) is not None or not text.strip(vs_space()))
    if accepted is not None:
        assert canonical(field, accepted) == accepted
        assert type_reason(field_type, accepted) is None  # what the GX type expectation asks
        if field_type is not FieldType.STRING:
            assert accepted.isascii()  # what the store's casts read


def vs_space() -> str:
    from pipelines.values import _SPACE

    return _SPACE


@pytest.mark.parametrize("standard", list(Standard), ids=str)
@FAST
@given(data=st.data())
def test_standards_are_idempotent_too(standard: Standard, data: st.DataObject) -> None:
    field = vs.field(standard=standard)
    text = data.draw(st.one_of(vs.rics.flatmap(vs.identifier_forms), vs.usccs.flatmap(vs.identifier_forms),
                               vs.dates.flatmap(vs.date_forms), vs.NOISE, st.sampled_from(
                                   ["450123", "530000", "13807710000", "0771-5551234", "Li@Example.GOV.cn"])))
    accepted = _accepted(field, text)
    if accepted is not None:
        assert canonical(field, accepted) == accepted and standard_reason(standard, accepted) is None


@FAST
@given(n=vs.integers, data=st.data())
def test_integer_forms_are_one_key(n: int, data: st.DataObject) -> None:
    assert canonical(vs.field(FieldType.INTEGER), data.draw(vs.integer_forms(n).flatmap(vs.typed))) == str(n)


@FAST
@given(d=vs.decimals, data=st.data())
def test_decimal_forms_are_one_value(d: Decimal, data: st.DataObject) -> None:
    text = canonical(vs.field(FieldType.DECIMAL), data.draw(vs.decimal_forms(d).flatmap(vs.typed)))
    assert text is not None and Decimal(text) == d  # the stdlib's reading is the oracle
    assert "e" not in text.lower() and not (("." in text) and text.endswith(("0", "."))) and text != "-0"


@FAST
@given(d=vs.dates, data=st.data())
def test_date_forms_are_one_day(d: date, data: st.DataObject) -> None:
    assert canonical(vs.field(FieldType.DATE), data.draw(vs.date_forms(d).flatmap(vs.typed))) == d.isoformat()
    assert canonical(vs.field(FieldType.DATETIME), d.isoformat()) == datetime.combine(d, time(0)).isoformat()


@FAST
@given(moment=vs.datetimes, zone=st.none() | vs.offsets, data=st.data())
def test_datetime_forms_are_one_moment_in_province_time(moment: datetime, zone: timezone | None,
                                                        data: st.DataObject) -> None:
    text = moment.replace(tzinfo=zone).isoformat() if zone else data.draw(vs.datetime_forms(moment))
    # the stdlib's reading of the ISO text is the oracle (a timespec may have cut the microseconds)
    expected = datetime.fromisoformat(text).astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None) \
        if zone else datetime.fromisoformat(text)
    assert canonical(vs.field(FieldType.DATETIME), data.draw(vs.typed(text))) == expected.isoformat()


@FAST
@given(d=vs.dates)
def test_iso_week_and_ordinal_dates_never_pass(d: date) -> None:
    assert date.fromisoformat(vs.iso_week(d)) == d  # Python accepts a week date; PostgreSQL's date input does not
    for text in (vs.iso_week(d), vs.ordinal(d), vs.iso_week(d).replace("-", "")):
        for field_type in (FieldType.DATE, FieldType.DATETIME):
            assert type_reason(field_type, text) is not None
        assert standard_reason(Standard.DATE, text) is not None


@FAST
@given(text=vs.NOISE.filter(lambda t: any(c in vs.OTHER_DIGITS for c in t)))
def test_other_scripts_digits_never_pass_as_numbers_or_dates(text: str) -> None:
    for field_type in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME):
        assert type_reason(field_type, text) is not None


@FAST
@given(text=st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20))
def test_full_width_letters_and_digits_fold_to_ascii(text: str) -> None:
    assert fold_width(vs.full_width(text)) == text == fold_width(vs.full_width(text), alnum_only=True)


def test_full_width_folding_is_what_nfkc_does_to_that_block() -> None:
    for code in [*range(0xFF01, 0xFF5F), 0x3000]:
        assert fold_width(chr(code)) == unicodedata.normalize("NFKC", chr(code)), hex(code)


@pytest.mark.parametrize("field", TYPED_FIELDS, ids=lambda f: f.standard or f.type)
@FAST
@given(head=st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), max_size=5),
       control=st.characters(categories=["Cc"]),
       tail=st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), max_size=5))
def test_control_characters_are_refused_with_a_reason(field: object, head: str, control: str, tail: str) -> None:
    # inside the value (between the two "a"), so no strip of surrounding space can remove it
    assert reason(field, head + "a" + control + "a" + tail) == (  # type: ignore[arg-type]
        f"type:v: 值 holds the control character U+{ord(control):04X}")


@FAST
@given(code=st.one_of(vs.rics, vs.usccs), data=st.data())
def test_identifiers_typed_any_way_are_one_key(code: str, data: st.DataObject) -> None:
    standard = Standard.RIC if len(code) == 18 and code[:2] != "91" else Standard.USCC
    assert canonical(vs.field(standard=standard), data.draw(vs.identifier_forms(code))) == code


# --- the probe's cases, exactly -------------------------------------------------------------------
def test_the_probe_cases() -> None:
    from tests.conftest import make_ric, make_uscc

    ric_x = make_ric(3)
    assert ric_x.endswith("X")
    assert canonical(vs.field(standard=Standard.RIC), ric_x.lower()) == ric_x
    code = make_uscc(5)
    assert canonical(vs.field(standard=Standard.USCC), vs.full_width(code[:3]) + code[3:]) == code
    integer, decimal = vs.field(FieldType.INTEGER), vs.field(FieldType.DECIMAL)
    assert canonical(integer, "07") == canonical(integer, "7") == "7"
    assert canonical(decimal, "1000") == canonical(decimal, "1000.0") == canonical(decimal, "1e3") == "1000"
    assert canonical(vs.field(FieldType.DATE), "2020-01-01 00:00:00") == "2020-01-01"
    assert reason(vs.field(FieldType.DATE), "2026-W44-1") == "type:v: 值 is not a date (YYYY-MM-DD)"
    assert reason(decimal, "１２.５") is None and canonical(decimal, "１２.５") == "12.5"
    assert reason(decimal, "٣") == "type:v: 值 is not a decimal number"
    assert reason(vs.field(), "a\x00b") == "type:v: 值 holds the control character U+0000"
    assert reason(decimal, "0.1234567") == "type:v: 值 has more than 6 decimal places"
    assert reason(integer, str(2**63)) == "type:v: 值 is outside the store's integer range"


def test_canonical_frame_gives_canonical_text_and_reasons_per_row() -> None:
    from pipelines.catalogue.models import Item
    from pipelines.values import canonical_frame

    item = Item(code="t", name="t", abstract="t", unit="u", obtained="duty", level="province", region="450000",
                update_cycle="daily", sharing={"type": "unconditional"},
                fields=[{"name": "k", "label": "键", "type": "integer", "primary_key": True},
                        {"name": "d", "label": "日期", "type": "date"}, {"name": "s", "label": "名称"}])
    frame = pd.DataFrame({"k": ["07", " 7", "x", None], "d": ["2026/11/1", "2026-W44-1", None, "20261101"]},
                         dtype=object)
    out, reasons = canonical_frame(item, frame)
    assert out.to_dict(orient="list") == {"k": ["7", "7", "x", None],
                                          "d": ["2026-11-01", "2026-W44-1", None, "2026-11-01"],
                                          "s": [None, None, None, None]}
    assert reasons == {1: ["type:d: 日期 is not a date (YYYY-MM-DD)"], 2: ["type:k: 键 is not an integer"]}


@FAST
@given(cell=st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f.is_integer() and
                                                                            abs(f) < 2**63),
                      vs.datetimes.map(lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0))))
def test_excel_cells_become_texts_their_type_accepts(cell: float | datetime) -> None:
    field_type = FieldType.DATE if isinstance(cell, datetime) else FieldType.INTEGER
    assert type_reason(field_type, cell_text(cell)) is None


# --- SQLite as the oracle: what the validator accepts loads and reads back as its canonical value ----------
@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> object:
    from pipelines.store import Store
    from tests.value_oracle import catalogue

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('values')}/store.db", catalogue())
    store.ensure_tables()
    yield store
    store.dispose()


@pytest.mark.parametrize("field_type", TYPES, ids=str)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_accepted_text_loads_into_sqlite_and_reads_back_canonical(sqlite_store: object, field_type: FieldType,
                                                                 data: st.DataObject) -> None:
    from tests.value_oracle import expected, load_and_read

    texts = data.draw(st.lists(vs.texts_for(field_type), max_size=12))
    if field_type is FieldType.DECIMAL:  # SQLite keeps decimals as REAL: 15 significant digits are exact
        texts = [t for t in texts if _real_exact(t)]
    for text, back in load_and_read(sqlite_store, field_type, texts):  # type: ignore[arg-type]
        want = expected(field_type, text)
        assert (Decimal(repr(back)) if field_type is FieldType.DECIMAL else back) == want, (text, back)


def _real_exact(text: str) -> bool:
    try:
        value = canonical(vs.field(FieldType.DECIMAL), text)
    except InvalidValue:
        return True  # refused: never loaded
    return value is None or len(Decimal(value).as_tuple().digits) <= 15


# --- the consumers use the canonical value ----------------------------------------------------------
def _item(fields: list[dict[str, object]], **extra: object) -> Item:
    return Item(code="t", name="t", abstract="t", unit="u", obtained="duty", level="province", region="450000",
                update_cycle="daily", sharing={"type": "unconditional"}, fields=fields, **extra)  # type: ignore[arg-type]


def test_integer_keys_7_and_07_are_one_key_for_the_uniqueness_rule() -> None:
    from expectations.runner import GxValidator
    from pipelines.intake import normalise

    item = _item([{"name": "k", "label": "键", "type": "integer", "primary_key": True}])
    frame = normalise(pd.DataFrame({"k": ["7", "07", "+8", "9"]}, dtype=object), item)
    outcome = GxValidator().validate(item, frame, date(2026, 11, 1))
    assert outcome.row_reasons() == {0: ["unique_key: primary key (k) is unique"],
                                     1: ["unique_key: primary key (k) is unique"]}


def test_comparison_with_the_authority_is_canonical_equality() -> None:
    from pipelines.catalogue.models import FieldRef
    from pipelines.intake import normalise
    from pipelines.quality.context import contextual_results
    from tests.conftest import make_uscc

    class Registry:  # PostgreSQL hands numeric(24, 6) back as 1000.000000
        def keys(self, ref: FieldRef) -> set[str]:
            return {make_uscc(1)}

        def values(self, key: FieldRef, value: FieldRef) -> dict[str, str | None]:
            return {make_uscc(1): "1000.000000"}

    ref = FieldRef(item="enterprise", field="credit_code")
    item = _item([{"name": "no", "label": "编号", "primary_key": True},
                  {"name": "code", "label": "代码", "standard": "uscc", "references": ref},
                  {"name": "capital", "label": "资本", "type": "decimal",
                   "matches": FieldRef(item="enterprise", field="capital")}])
    frame = normalise(pd.DataFrame({"no": ["a", "b", "c"], "code": [make_uscc(1).lower()] * 3,
                                    "capital": ["1000", "1000.0", "1e3 "]}, dtype=object), item)
    matches, resolvable = sorted(contextual_results(item, frame, Registry()),  # type: ignore[arg-type]
                                 key=lambda r: r.rule.id)
    assert (matches.rule.id, matches.success, matches.failing_rows) == ("matches:capital", True, ())
    assert (resolvable.rule.id, resolvable.success, resolvable.failing_rows) == ("resolvable_reference:code", True, ())


def test_every_field_has_a_type_rule_no_catalogue_can_relax() -> None:
    from pipelines.catalogue.models import QualityPolicy, Severity
    from pipelines.quality.rules import rules_for

    item = _item([{"name": "k", "label": "键", "primary_key": True}, {"name": "n", "label": "数", "type": "integer"}],
                 quality=QualityPolicy(severity={"type:n": Severity.WARNING, "type:k": Severity.WARNING}))
    rules = {r.id: r for r in rules_for(item)}
    assert rules["type:k"].description == "键 is text without control characters"
    assert rules["type:n"].description == "数 is a valid integer"
    assert rules["type:k"].severity is rules["type:n"].severity is Severity.ERROR


@FAST
@given(serial=st.integers(61, 2958465), data=st.data())
def test_excel_serials_where_a_field_declares_them_are_the_days_openpyxl_reads(serial: int, data: st.DataObject
                                                                              ) -> None:
    from openpyxl.utils.datetime import from_excel  # an independent reading of Excel serials

    day = ItemField(name="v", label="值", type=FieldType.DATE, date_format="excel_serial")
    moment = ItemField(name="v", label="值", type=FieldType.DATETIME, date_format="excel_serial")
    text = data.draw(st.sampled_from([str(serial), f"{serial}.0", f" {serial} ", vs.full_width(str(serial))]))
    assert canonical(day, text) == from_excel(serial).date().isoformat()
    if serial < 2958465:
        assert canonical(moment, f"{serial}.5") == from_excel(serial + 0.5).isoformat()
    # without the declaration a serial is no date (serials have at most 7 digits, compact dates 8)
    assert reason(vs.field(FieldType.DATE), str(serial)) == "type:v: 值 is not a date (YYYY-MM-DD)"


def test_excel_serials_outside_their_true_range_are_refused() -> None:
    day = ItemField(name="v", label="值", type=FieldType.DATE, date_format="excel_serial")
    assert reason(day, "60") == "type:v: 值 is an Excel serial number outside 1900-03-01..9999-12-31"
    assert canonical(day, "2026-11-01") == "2026-11-01"  # dates still read as dates
    with pytest.raises(ValueError, match="date_format needs type date or datetime"):
        ItemField(name="v", label="值", date_format="excel_serial")
