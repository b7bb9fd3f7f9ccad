"""Hypothesis strategies for what units really send: a value in the forms it is typed, and noise around it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from pipelines.catalogue.models import FieldType, ItemField, Standard
from tests.conftest import make_ric, make_uscc

BIGINT = (-(2**63), 2**63 - 1)
PAD = st.sampled_from(["", " ", "\u3000", "\t", " \u3000 "])
# Digits of other scripts are Unicode digits (Python's \d matches them, int() reads them); the store does not.
OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९๐๑๒๓๔๕๖๗๘๙"
NOISE = st.text(alphabet="0123456789０１２３４５６７８９" + OTHER_DIGITS + "+-.eE /:TWZ年月日xX是否aA"
                "\u3000\x00\x1f\x85", max_size=24)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def typed(draw: st.DrawFn, text: str) -> str:
    """The same text as a unit might type it: padded, perhaps in full-width characters."""
    if draw(st.booleans()):
        text = full_width(text)
    return draw(PAD) + text + draw(PAD)


def field(field_type: FieldType = FieldType.STRING, standard: Standard | None = None) -> ItemField:
    return ItemField(name="v", label="值", type=field_type, standard=standard)


integers = st.integers(*BIGINT)
decimals = st.decimals(min_value=Decimal(-(10**18)) + Decimal("0.000001"), max_value=Decimal(10**18) - 1,
                       places=6, allow_nan=False, allow_infinity=False)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
datetimes = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def integer_forms(draw: st.DrawFn, n: int) -> str:
    sign = "-" if n < 0 else draw(st.sampled_from(["", "+"]))
    return sign + "0" * draw(st.integers(0, 3)) + str(abs(n))


@st.composite
def decimal_forms(draw: st.DrawFn, d: Decimal) -> str:
    form = draw(st.sampled_from(["f", "zeros", "e", "E"]))
    if form == "f":
        return format(d, "f")
    if form == "zeros":
        return format(d, "f") + ("" if "." in format(d, "f") else ".") + "0" * draw(st.integers(0, 3))
    return format(d, "e" if form == "e" else "E")  # 1.000000e+3: the exponent form a spreadsheet exports


@st.composite
def date_forms(draw: st.DrawFn, d: date) -> str:
    y, m, day = f"{d.year:04d}", d.month, d.day
    short = draw(st.booleans())
    mm, dd = (str(m), str(day)) if short else (f"{m:02d}", f"{day:02d}")
    return draw(st.sampled_from([f"{y}-{mm}-{dd}", f"{y}/{mm}/{dd}", f"{y}.{mm}.{dd}", f"{y}{m:02d}{day:02d}",
                                 f"{y}年{mm}月{dd}日", f"{y}-{m:02d}-{day:02d} 00:00:00",
                                 f"{y}-{m:02d}-{day:02d}T00:00"]))


@st.composite
def datetime_forms(draw: st.DrawFn, moment: datetime) -> str:
    sep = draw(st.sampled_from(["T", " "]))
    spec = draw(st.sampled_from(["auto", "seconds", "microseconds"] + (["minutes"] if not moment.second and
                                                                      not moment.microsecond else [])))
    return moment.isoformat(sep=sep, timespec=spec)


def iso_week(d: date) -> str:
    year, week, weekday = d.isocalendar()
    return f"{year:04d}-W{week:02d}-{weekday}"


def ordinal(d: date) -> str:
    return f"{d.year:04d}-{d.timetuple().tm_yday:03d}"


booleans = st.sampled_from(["true", "TRUE", "True", "1", "yes", "Y", "t", "是", "false", "False", "0", "no", "N",
                            "f", "否"])
rics = st.integers(0, 999).map(make_ric)
usccs = st.integers(0, 9_999_999).map(make_uscc)


@st.composite
def identifier_forms(draw: st.DrawFn, code: str) -> str:
    """A credit code or citizen ID as typed: lower case, full-width characters, padding."""
    if draw(st.booleans()):
        code = code.lower()
    return draw(typed(code))


def texts_for(field_type: FieldType) -> st.SearchStrategy[str]:
    """Candidate cells of a type: its real forms as typed, the forms that must be refused, and noise."""
    valid = {
        FieldType.STRING: st.text(max_size=30),
        FieldType.INTEGER: integers.flatmap(integer_forms),
        FieldType.DECIMAL: decimals.flatmap(decimal_forms),
        FieldType.BOOLEAN: booleans,
        FieldType.DATE: dates.flatmap(date_forms),
        FieldType.DATETIME: st.one_of(datetimes.flatmap(datetime_forms),
                                      st.tuples(datetimes, offsets).map(lambda p: p[0].replace(tzinfo=p[1])
                                                                        .isoformat())),
    }[field_type]
    refused = st.one_of(dates.map(iso_week), dates.map(ordinal), st.integers(2**63, 2**80).map(str),
                        st.decimals(min_value=0, max_value=1, places=9).map(lambda d: format(d, "f")))
    return st.one_of(valid.flatmap(typed), refused, NOISE)
