"""Identifier standards' identities: python-stdnum and the GB/T 2260 division table.

python-stdnum is the authority for the unified social credit code (GB 32100-2015) and the citizen
identity number (GB 11643-1999, including that its region existed in the birth year). Division
codes (GB/T 2260) come from the same division table stdnum ships, restricted to codes in use today.

What a valid value of a type or standard is, and its canonical text, is decided in one place,
``pipelines.values``; the predicates here answer through it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from pipelines.catalogue.models import FieldType, Standard


@cache
def divisions_in_use() -> frozenset[str]:
    from stdnum import numdb

    codes: set[str] = set()
    db = numdb.get("cn/loc")
    for prefix, props in _walk(db.prefixes):
        if len(prefix) == 6 and _in_use(props.get("county", "")):
            codes.add(prefix)
    return frozenset(codes)


_divisions_in_use = divisions_in_use  # the demo generator's name for it


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


def division_name(code: str) -> str | None:
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    county = info.get("county")
    return county.split("]")[-1] if county else None


def conforms(standard: Standard, value: str) -> bool:
    """A value (not an empty one) of the standard, in any form its canonical text is made from."""
    from pipelines.values import InvalidValue, standard_text

    try:
        return standard_text(standard, value) is not None
    except InvalidValue:
        return False


def parses_as(field_type: FieldType, value: str) -> bool:
    from pipelines.values import InvalidValue, type_text

    try:
        return type_text(field_type, value) is not None
    except InvalidValue:
        return False


def _conforms_to(standard: Standard) -> Callable[[str], bool]:
    return lambda value: conforms(standard, value)


def _parses_as(field_type: FieldType) -> Callable[[str], bool]:
    return lambda value: parses_as(field_type, value)


def is_uscc(value: str) -> bool:
    return conforms(Standard.USCC, value)


def is_ric(value: str) -> bool:
    return conforms(Standard.RIC, value)


def is_adcode(value: str) -> bool:
    return conforms(Standard.ADCODE, value)


def is_phone(value: str) -> bool:
    return conforms(Standard.PHONE, value)


def is_postcode(value: str) -> bool:
    return conforms(Standard.POSTCODE, value)


def is_email(value: str) -> bool:
    return conforms(Standard.EMAIL, value)


STANDARD_CHECKS: dict[Standard, Callable[[str], bool]] = {s: _conforms_to(s) for s in Standard}
TYPE_CHECKS: dict[FieldType, Callable[[str], bool]] = {t: _parses_as(t) for t in FieldType}
