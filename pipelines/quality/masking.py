"""Personal information masking for anything a person reads outside the store (reports, metadata)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import pandas as pd
from stdnum.cn import ric

from pipelines.catalogue.models import ItemField, Standard
from pipelines.clock import Clock
from pipelines.values import canonical_or_cleaned

MISSING = "∅"  # how a missing value is shown wherever masked values are: never masked into "*"


def is_missing(value: Any) -> bool:
    """No value: None, a NaN/NA/NaT cell, blank text, or the missing mark a caller already put in."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and (not value.strip() or value == MISSING)


def mask(value: Any, field: ItemField | None) -> str:
    """The value as a report may show it; masked in its canonical text, so one person's number masks alike
    however it was typed. A missing value shows as missing (``MISSING``): masked, it would read like a value."""
    if is_missing(value):
        return MISSING
    text = str(value)
    if field is None:
        return text
    text = canonical_or_cleaned(field, text) or ""
    if not text:  # a value that cleans away to nothing (only spaces and separators) is missing too
        return MISSING
    if field.standard is Standard.RIC:
        return _keep_ends(text, 6, 4)
    if field.standard is Standard.PHONE:
        return _keep_ends(text, 3, 4)
    if field.personal:
        return _keep_ends(text, 1, 0)
    return text


def _keep_ends(value: str, head: int, tail: int) -> str:
    text = str(value)
    if len(text) <= head + tail:
        return "*" * len(text)
    hidden = len(text) - head - tail
    return text[:head] + "*" * hidden + (text[-tail:] if tail else "")


# --- personal data written into free text --------------------------------------------------------
# Redaction matches Unicode digits (\d) on purpose, unlike validation (pipelines.values, ASCII only): a number
# typed in full-width digits in free text is still a leak.
# Shaped like a citizen ID: the region part is deliberately not checked, because python-stdnum only
# knows a region in the years it existed, and a leak is a leak whatever region it names.
CITIZEN_ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{6}(\d{8})\d{3}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


# Every citizen ID and mobile number above is a run of at least eleven digits, and every e-mail address holds an
# "@": a text with neither holds none of them. Looking for that first is one cheap pass instead of three patterns.
_ELEVEN_DIGITS = re.compile(r"\d{11}")
_ASCII_DIGITS = bytes(48 if 48 <= b <= 57 else 46 for b in range(256))  # bytes.translate: 0-9 to "0", others "."


def may_hold_numbers(text: str) -> bool:
    """False only when no citizen ID, mobile number or e-mail address can be in the text. ASCII text (whose only
    digits are 0-9) is read as bytes, digits marked "0", and searched for eleven of them: far faster than \\d."""
    if "@" in text:
        return True
    if text.isascii():
        return b"00000000000" in text.encode("ascii").translate(_ASCII_DIGITS)
    return _ELEVEN_DIGITS.search(text) is not None


def looks_like_citizen_id(match: re.Match[str]) -> bool:
    """A plausible birth date (digits 7-14) and a GB 11643 check digit that fits."""
    number = match.group(0).upper()
    try:
        born = datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return False
    return 1900 <= born.year <= Clock().today().year and ric.calc_check_digit(number[:17] + "0") == number[17]


def personal_numbers(text: str) -> list[tuple[str, str]]:
    """(kind, value) of every citizen ID, mobile number and e-mail address written in the text."""
    found = [("citizen_id", m.group(0)) for m in CITIZEN_ID_SHAPED.finditer(text) if looks_like_citizen_id(m)]
    found += [("mobile", m.group(0)) for m in MOBILE.finditer(text)]
    return found + [("email", m.group(0)) for m in EMAIL.finditer(text)]


def redact(text: str) -> tuple[str, int]:
    """Blot out citizen IDs, mobile numbers and e-mail addresses in free text; returns the count."""
    if not may_hold_numbers(text):
        return text, 0
    found = 0

    def blot(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        return "*" * len(match.group(0))

    text = CITIZEN_ID_SHAPED.sub(lambda m: blot(m) if looks_like_citizen_id(m) else m.group(0), text)
    text = MOBILE.sub(blot, text)
    return EMAIL.sub(blot, text), found


def redacted(text: str) -> str:
    return redact(text)[0]
