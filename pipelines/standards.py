"""Identifier and format standards, one function per standard, value by value.

python-stdnum is the authority for the unified social credit code (GB 32100-2015) and the citizen
identity number (GB 11643-1999, including that its region existed in the birth year). Division
codes (GB/T 2260) come from the same division table stdnum ships, restricted to codes in use today.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache

from stdnum.cn import ric, uscc

from pipelines.catalogue.models import FieldType, Standard

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_POSTCODE = re.compile(r"^[1-8]\d{5}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
TRUE_TEXTS = frozenset({"true", "1", "yes", "y", "t", "是"})  # PostgreSQL loads cast with the same set
FALSE_TEXTS = frozenset({"false", "0", "no", "n", "f", "否"})


def is_uscc(value: str) -> bool:
    return uscc.is_valid(value)


def is_ric(value: str) -> bool:
    try:
        return ric.is_valid(value)
    except KeyError:  # stdnum looks up some division codes whose county list it lacks, and raises
        return False


@cache
def _divisions_in_use() -> frozenset[str]:
    from stdnum import numdb

    codes: set[str] = set()
    db = numdb.get("cn/loc")
    for prefix, props in _walk(db.prefixes):
        if len(prefix) == 6 and _in_use(props.get("county", "")):
            codes.add(prefix)
    return frozenset(codes)


def _walk(prefixes: list, prefix: str = ""):  # type: ignore[type-arg]
    for _length, low, high, props, children in prefixes:
        if low != high:
            continue
        code = prefix + low
        yield code, props
        yield from _walk(children, code)


def _in_use(county: str) -> bool:
    """A division is in use if one of its names has no end year: '[2004-]x' or plain 'x'."""
    for name in county.split(","):
        if not name.startswith("["):
            return True
        years = name[1 : name.index("]")]
        if years.endswith("-"):
            return True
    return False


def is_adcode(value: str) -> bool:
    return len(value) == 6 and value in _divisions_in_use()


def division_name(code: str) -> str | None:
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    county = info.get("county")
    return county.split("]")[-1] if county else None


def is_phone(value: str) -> bool:
    return bool(_PHONE.match(value))


def is_postcode(value: str) -> bool:
    return bool(_POSTCODE.match(value))


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def is_date(value: str) -> bool:
    return len(value) == 10 and parse_date(value) is not None


def is_datetime(value: str) -> bool:
    return parse_datetime(value) is not None


def is_integer(value: str) -> bool:
    return bool(_INTEGER.match(value))


def is_decimal(value: str) -> bool:
    return bool(_DECIMAL.match(value))


def is_boolean(value: str) -> bool:
    return value.strip().lower() in TRUE_TEXTS | FALSE_TEXTS


def to_boolean(value: str) -> bool:
    return value.strip().lower() in TRUE_TEXTS


STANDARD_CHECKS: dict[Standard, Callable[[str], bool]] = {
    Standard.USCC: is_uscc,
    Standard.RIC: is_ric,
    Standard.ADCODE: is_adcode,
    Standard.PHONE: is_phone,
    Standard.POSTCODE: is_postcode,
    Standard.DATE: is_date,
    Standard.EMAIL: is_email,
}

TYPE_CHECKS: dict[FieldType, Callable[[str], bool]] = {
    FieldType.STRING: lambda _v: True,
    FieldType.INTEGER: is_integer,
    FieldType.DECIMAL: is_decimal,
    FieldType.BOOLEAN: is_boolean,
    FieldType.DATE: is_date,
    FieldType.DATETIME: is_datetime,
}
