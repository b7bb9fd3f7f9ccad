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

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipelines.catalogue.models import FieldType, Standard  # noqa: E402
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
