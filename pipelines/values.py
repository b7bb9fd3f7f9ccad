"""One value model for every catalogue field type and standard.

A submitted cell (CSV text, an XLSX cell as openpyxl gives it, a JSON scalar) becomes text once
(``cell_text``), and that text becomes its canonical text or a named reason (``canonical``). Every
place that compares, keys, checks or loads values uses the canonical text, so validation, online
verification, comparison with the authority and the store's casts agree on what a value is.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Numeric, Text
from sqlalchemy.types import TypeEngine
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from pipelines.catalogue.models import FieldType, Item, ItemField, Standard
from pipelines.standards import divisions_in_use


def cell_text(value: Any) -> str | None:
    """A reader's cell as text before canonicalisation; None for an empty cell.

    Excel stores dates as datetimes at midnight and integers as floats: both come back as the text a
    unit typed (``2020-01-01``, ``7``). Nested JSON (lists, objects) is no cell value: ValueError.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, datetime):  # before date: a datetime is a date
        return _datetime_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        return None if value.is_nan() else format(value, "f")
    if isinstance(value, numbers.Real):
        return _float_text(float(value))
    if isinstance(value, list | tuple | dict | set):
        raise ValueError(f"a nested {type(value).__name__} is not a cell value")
    return str(value)


def _datetime_text(moment: datetime) -> str:
    if pd.isna(moment):
        return None  # type: ignore[return-value]  # NaT is a datetime subclass
    if moment.tzinfo is None and moment.time() == time(0):
        return moment.date().isoformat()
    return moment.isoformat()


def _float_text(number: float) -> str | None:
    if math.isnan(number):
        return None
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return repr(number)  # the shortest text that reads back as the same float ("0.1", not "0.1000000000000000055")


# --- reasons ---------------------------------------------------------------------------------------
class InvalidValue(ValueError):
    """A cell that is not a valid value of its type or standard; the message is the held-back reason."""


# --- text every field shares -----------------------------------------------------------------------
# Surrounding whitespace: ASCII and Unicode spaces (U+3000 is the ideographic space of Chinese input),
# the zero-width space and a stray BOM. Not str.strip(): it would silently eat the C0 separators
# U+001C..U+001F and C1's U+0085, which are refused instead.
_SPACE = " \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
         "\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Full-width ASCII (U+FF01..U+FF5E) is what a Chinese input method types for digits, letters and signs;
# NFKC maps exactly this block (and U+3000) onto ASCII, so folding it is the safe part of NFKC. The
# rest of NFKC ("①" -> "1", "²" -> "2", compatibility ideographs) would change what was meant.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Plain text keeps full-width punctuation (（）：，are the Chinese convention); only letters and digits fold.
_FULL_WIDTH_ALNUM = {code: to for code, to in _FULL_WIDTH.items() if chr(to).isalnum()}


def _cleaned(text: str) -> str:
    control = _CONTROL.search(text)
    if control:
        raise InvalidValue(f"holds the control character U+{ord(control.group(0)):04X}")
    return text


def stripped(text: str) -> str:
    return text.strip(_SPACE)


def fold_width(text: str, alnum_only: bool = False) -> str:
    return text.translate(_FULL_WIDTH_ALNUM if alnum_only else _FULL_WIDTH)


# --- types -----------------------------------------------------------------------------------------
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?", re.ASCII)
BIGINT = (-(2**63), 2**63 - 1)
# The store's decimal column: numeric(24, 6) on PostgreSQL, so at most 18 digits before the point and 6 after.
DECIMAL_PRECISION, DECIMAL_SCALE = 24, 6
TRUE_TEXTS = frozenset({"true", "1", "yes", "y", "t", "是"})
FALSE_TEXTS = frozenset({"false", "0", "no", "n", "f", "否"})
# Timestamps are stored without a zone, in province time (China keeps UTC+8 all year): a submitted offset
# is converted, not dropped.
PROVINCE_TIME = timezone(timedelta(hours=8))

_DAY = r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
_COMPACT_DAY = r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"
_CHINESE_DAY = r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日"
_MIDNIGHT = r"(?:[T ]0{1,2}:00(?::00(?:\.0{1,6})?)?)?"
# Only these forms: never ISO week (2026-W44-1) or ordinal (2026-305) dates, which date.fromisoformat
# accepts and PostgreSQL does not.
_DATES = tuple(re.compile(p, re.ASCII) for p in (_DAY + _MIDNIGHT, _COMPACT_DAY, _CHINESE_DAY))
_DATETIME = re.compile(
    _DAY + r"(?:[T ](?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
    r" ?(?P<z>Z|[+-][0-9]{2}:?[0-9]{2})?)?", re.ASCII)


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise InvalidValue("is not an integer")
    if len(text.lstrip("+-").lstrip("0")) > 19:
        raise InvalidValue("is outside the store's integer range")
    number = int(text)
    if not BIGINT[0] <= number <= BIGINT[1]:
        raise InvalidValue("is outside the store's integer range")
    return number


def _decimal(text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise InvalidValue("is not a decimal number")
    number = Decimal(text)
    if number.is_zero():
        return Decimal(0)
    if number.adjusted() >= DECIMAL_PRECISION - DECIMAL_SCALE:
        raise InvalidValue(f"has more than {DECIMAL_PRECISION - DECIMAL_SCALE} digits before the decimal point")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    while digits[-1] == 0:  # trailing zeros say nothing: 1000.0 is 1000
        digits, exponent = digits[:-1], exponent + 1
    if exponent < -DECIMAL_SCALE:
        raise InvalidValue(f"has more than {DECIMAL_SCALE} decimal places")
    return Decimal((sign, digits, exponent))


def _decimal_text(number: Decimal) -> str:
    return format(number, "f")  # never an exponent: 1e3 is "1000"


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in TRUE_TEXTS:
        return True
    if lowered in FALSE_TEXTS:
        return False
    raise InvalidValue("is not a yes/no value")


def _day(match: re.Match[str]) -> date:
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise InvalidValue("is not a calendar date") from None


def _date(text: str) -> date:
    for pattern in _DATES:
        match = pattern.fullmatch(text)
        if match:
            return _day(match)
    raise InvalidValue("is not a date (YYYY-MM-DD)")


def _datetime(text: str) -> datetime:
    match = _DATETIME.fullmatch(text)
    if match is None:
        try:
            return datetime.combine(_date(text), time(0))  # a bare date is its midnight (Excel cells are)
        except InvalidValue:
            raise InvalidValue("is not a date and time (YYYY-MM-DDTHH:MM:SS)") from None
    day = _day(match)
    try:
        moment = datetime.combine(day, time(int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0),
                                            int((match["f"] or "0").ljust(6, "0"))))
        zone = match["z"]
        if zone:
            moment = moment.replace(tzinfo=_zone(zone)).astimezone(PROVINCE_TIME).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise InvalidValue("is not a valid time of day") from None
    return moment


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)


def _datetime_canonical(moment: datetime) -> str:
    return moment.isoformat()


@dataclass(frozen=True)
class TypeModel:
    """Everything a field type means: its parse, canonical text, SQL column and load cast, check wording."""

    type: FieldType
    parse: Callable[[str], Any]  # stripped, width-folded text -> Python value, or InvalidValue
    text: Callable[[Any], str]  # Python value -> canonical text
    column: Callable[[], TypeEngine[Any]]  # the store's column type (made on call: no work at import)
    pg_cast: str  # the PostgreSQL cast of staged canonical text, {v} being the text expression
    noun: str


def _decimal_column() -> TypeEngine[Any]:
    return Numeric(DECIMAL_PRECISION, DECIMAL_SCALE).with_variant(Float(), "sqlite")


TYPES: dict[FieldType, TypeModel] = {
    FieldType.STRING: TypeModel(FieldType.STRING, str, str, Text, "{v}", "text"),
    FieldType.INTEGER: TypeModel(FieldType.INTEGER, _integer, str, BigInteger, "{v}::bigint", "integer"),
    FieldType.DECIMAL: TypeModel(FieldType.DECIMAL, _decimal, _decimal_text, _decimal_column, "{v}::numeric",
                                 "decimal"),
    FieldType.BOOLEAN: TypeModel(FieldType.BOOLEAN, _boolean, lambda b: "true" if b else "false", Boolean,
                                 "{v}::boolean", "boolean"),
    FieldType.DATE: TypeModel(FieldType.DATE, _date, date.isoformat, Date, "{v}::date", "date"),
    FieldType.DATETIME: TypeModel(FieldType.DATETIME, _datetime, _datetime_canonical, DateTime, "{v}::timestamp",
                                  "datetime"),
}


def column_type(field_type: FieldType) -> TypeEngine[Any]:
    return TYPES[field_type].column()


def pg_cast(field_type: FieldType, expression: str) -> str:
    return TYPES[field_type].pg_cast.format(v=expression)


# --- standards -------------------------------------------------------------------------------------
def _stdnum(module: Any, text: str) -> str:
    try:
        return str(module.validate(text))  # validate() returns the compact form: upper case, no separators
    except (ValidationError, KeyError):  # stdnum raises KeyError for some division codes it cannot place
        raise InvalidValue("fails its format or check digit") from None


# Check digits are the dearest part of reading a submission, and each identifier is read at intake, again by
# validation (the stage file and the GX standard check) and by the SQLite load: remember the recent ones.
@lru_cache(maxsize=2**17)
def _uscc(text: str) -> str:
    return _stdnum(uscc, text)


@lru_cache(maxsize=2**17)
def _ric(text: str) -> str:
    return _stdnum(ric, text)


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern, re.ASCII)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            raise InvalidValue(f"is not {what}")
        return text
    return check


def _adcode(text: str) -> str:
    if not (len(text) == 6 and text in divisions_in_use()):
        raise InvalidValue("is not a division code in use (GB/T 2260)")
    return text


def _email(text: str) -> str:
    local, _, domain = _matching(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", "an e-mail address")(text).rpartition("@")
    return f"{local}@{domain.lower()}"  # the domain is case-insensitive, the local part is the owner's


@dataclass(frozen=True)
class StandardModel:
    standard: Standard
    canonical: Callable[[str], str]  # stripped, width-folded text -> canonical text, or InvalidValue
    shape: str  # the canonical text's shape as a POSIX regex: the shared table's SQL check


STANDARDS: dict[Standard, StandardModel] = {
    Standard.USCC: StandardModel(Standard.USCC, _uscc, r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
    Standard.RIC: StandardModel(Standard.RIC, _ric, r"^[1-8][0-9]{16}[0-9X]$"),
    Standard.ADCODE: StandardModel(Standard.ADCODE, _adcode, r"^[1-8][0-9]{5}$"),
    Standard.PHONE: StandardModel(Standard.PHONE, _matching(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}",
                                                            "a phone number"),
                                  r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"),
    Standard.POSTCODE: StandardModel(Standard.POSTCODE, _matching(r"[1-8][0-9]{5}", "a postcode"),
                                     r"^[1-8][0-9]{5}$"),
    Standard.EMAIL: StandardModel(Standard.EMAIL, _email, r"^[^@[:space:]]+@[^@[:space:]]+\.[A-Za-z]{2,}$"),
    Standard.DATE: StandardModel(Standard.DATE, lambda t: _date(t).isoformat(), r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
}


# --- one cell --------------------------------------------------------------------------------------
def _prepared(text: str, plain: bool) -> str | None:
    """Surrounding space removed, control characters refused, full-width folded; None when empty."""
    text = _cleaned(stripped(text))
    return fold_width(text, alnum_only=plain) or None


def type_value(field_type: FieldType, value: object) -> Any:
    """The Python value of a cell of this type (None when empty), or InvalidValue."""
    text = cell_text(value)
    prepared = None if text is None else _prepared(text, plain=field_type is FieldType.STRING)
    return None if prepared is None else TYPES[field_type].parse(prepared)


def type_text(field_type: FieldType, value: object) -> str | None:
    parsed = type_value(field_type, value)
    return None if parsed is None else TYPES[field_type].text(parsed)


def standard_text(standard: Standard, value: object) -> str | None:
    text = cell_text(value)
    prepared = None if text is None else _prepared(text, plain=False)
    return None if prepared is None else STANDARDS[standard].canonical(prepared)


_SERIAL = re.compile(r"[0-9]{2,7}(\.[0-9]+)?", re.ASCII)
EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 1 is 1900-01-01, counted through Excel's fictitious 1900-02-29
FIRST_TRUE_SERIAL = 61  # 1900-03-01: serials before Excel's phantom leap day are a day off


def _from_excel_serial(field: ItemField, value: object) -> object:
    """A serial day number as the ISO text it stands for, when the field declares its unit sends them."""
    if field.date_format != "excel_serial":
        return value
    text = cell_text(value)
    prepared = None if text is None else _prepared(text, plain=False)
    if prepared is None or not _SERIAL.fullmatch(prepared):
        return value
    serial = Decimal(prepared)
    if not FIRST_TRUE_SERIAL <= serial < 2958466:  # up to 9999-12-31
        raise InvalidValue("is an Excel serial number outside 1900-03-01..9999-12-31")
    moment = EXCEL_EPOCH + timedelta(days=int(serial), microseconds=round((serial % 1) * 86_400_000_000))
    return moment.isoformat()


def canonical(field: ItemField, value: object) -> str | None:
    """The canonical text of a cell of this field (None when empty), or InvalidValue with the reason."""
    text = type_text(field.type, _from_excel_serial(field, value))
    if text is None or field.standard is None:
        return text
    return standard_text(field.standard, text)


def reason(field: ItemField, value: object) -> str | None:
    """Why the cell is not a valid value of the field, named after the rule that holds it back (``type:<field>``
    or ``standard:<field>``); None when it is valid or empty."""
    return _read(field, value)[1]


def _read(field: ItemField, value: object) -> tuple[str | None, str | None]:
    """(canonical text, None) of a valid cell, or (its text without surrounding space, the reason)."""
    try:
        text = type_text(field.type, _from_excel_serial(field, value))
    except InvalidValue as exc:
        return _as_sent(value), f"type:{field.name}: {field.label} {exc}"
    if text is None or field.standard is None:
        return text, None
    try:
        return standard_text(field.standard, text), None
    except InvalidValue as exc:
        return _as_sent(value), f"standard:{field.name}: {field.label} {exc}"


def _as_sent(value: object) -> str | None:
    text = cell_text(value)
    return None if text is None else stripped(text) or None


def type_reason(field_type: FieldType, value: object) -> str | None:
    try:
        type_text(field_type, value)
    except InvalidValue as exc:
        return str(exc)
    return None


def standard_reason(standard: Standard, value: object) -> str | None:
    try:
        standard_text(standard, value)
    except InvalidValue as exc:
        return str(exc)
    return None


def canonical_or_cleaned(field: ItemField, value: object) -> str | None:
    """The canonical text, or for a cell that does not parse the submitted text without surrounding space
    (so validation reports it as it was sent)."""
    return _read(field, value)[0]


def python_value(field: ItemField, text: str | None) -> Any:
    """The value the store holds for a canonical (or any valid) text: what the SQLite load binds."""
    parsed = type_value(field.type, canonical(field, text))
    return float(parsed) if isinstance(parsed, Decimal) else parsed  # SQLite keeps decimals as REAL


def stored_text(field: ItemField, value: object) -> str | None:
    """The canonical text of a value read back from the store (authoritative keys and compared values):
    a numeric 1000.000000 is "1000", a timestamp's ISO text has its "T". Values that no longer parse (a
    column loaded before the value model) keep their text."""
    if isinstance(value, float) and field.type is FieldType.DECIMAL:
        value = repr(value)
    return canonical_or_cleaned(field, value)


def same(field: ItemField, left: object, right: object) -> bool:
    """Canonical equality: what comparison with an authority means."""
    return stored_text(field, left) == stored_text(field, right)


# --- one submission --------------------------------------------------------------------------------
def canonical_column(field: ItemField, cells: Iterable[object]) -> tuple[list[str | None], dict[int, str]]:
    """A column's canonical texts (cleaned text where a cell does not parse) and row -> reason."""
    memo: dict[object, tuple[str | None, str | None]] = {}
    texts: list[str | None] = []
    reasons: dict[int, str] = {}
    for row, cell in enumerate(cells):
        key = cell if isinstance(cell, str) or cell is None else repr(cell)
        if key not in memo:
            memo[key] = _read(field, cell)
        text, why = memo[key]
        texts.append(text)
        if why is not None:
            reasons[row] = why
    return texts, reasons


def canonical_frame(item: Item, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """The intake's text frame in canonical text, and per row position the reasons of cells that do not parse.

    Columns absent from ``frame`` come back empty; the result has the item's columns in catalogue order.
    """
    from pipelines.column_values import canonical_series  # column readers, held to canonical_column's verdicts

    columns: dict[str, Any] = {}
    reasons: dict[int, list[str]] = {}
    for f in item.fields:
        if f.name not in frame.columns:
            columns[f.name] = [None] * len(frame)
            continue
        texts, why = canonical_series(f, frame[f.name])
        columns[f.name] = texts.to_numpy(dtype=object)
        for row, text in why[why.notna()].items():
            reasons.setdefault(int(row), []).append(text)
    out = pd.DataFrame(columns, index=range(len(frame)), dtype=object)
    return out, {row: reasons[row] for row in sorted(reasons)}
