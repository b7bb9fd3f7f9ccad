"""Which cells of a column of text are already their own canonical text, told by a few whole-column operations.

Most cells a unit sends are already canonical (``2026-04-22``, ``7984.36``, ``530000``, a name): the value model
would hand them back unchanged, with no reason. For a column of texts (what a CSV gives) none of which holds a
control character, a field's canonical shape is matched against all its texts at once: the texts are joined
by line ends, a multi-line pattern marks the lines it matches whole, and a few numpy operations finish what a
pattern cannot tell (a calendar day, a check character, a division in use). Only the other cells, empty ones
aside, are left to ``pipelines.column_values``' readers. ``tests/unit/test_column_values.py`` holds the result
to the scalar value model cell by cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from pipelines.catalogue.models import FieldType, ItemField, Standard
from pipelines.standards import divisions_in_use
from pipelines.values import _SPACE

# A control character other than the line end that joins the texts; a text holding a line end is found by
# counting them.
_CONTROL_NOT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# No text holds it (no control character): it stands for a line the pattern matched whole. Not NUL: numpy drops
# a trailing NUL when it compares texts.
_MARK = "\x01"
_SPACES = "[" + re.escape(_SPACE) + "]"
_FOLDED = "０-９Ａ-Ｚａ-ｚ"  # the full-width letters and digits the value model folds in plain text
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_MONTH_DAYS = np.array((0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31))

# Each text matched whole (a line of the joined texts), non-empty. Plain text: no surrounding space, no
# full-width letter or digit (which the value model folds); its full-width punctuation and inner spaces stay.
_TEXT = rf"(?!{_SPACES})[^{_FOLDED}\n]*[^{re.escape(_SPACE)}{_FOLDED}]"
_TYPE_SHAPES: dict[FieldType, str] = {
    FieldType.STRING: _TEXT,
    FieldType.INTEGER: r"(?:0|-?[1-9][0-9]{0,17})",  # str(int(text)): no '+', no leading zero, no "-0"
    # format(Decimal, "f") after the value model's trimming: no '+', no leading or trailing zero, at most six
    # decimals and eighteen digits before the point, no "-0"
    FieldType.DECIMAL: r"(?!-0$)-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{0,5}[1-9])?",
    FieldType.BOOLEAN: r"(?:true|false)",
    FieldType.DATE: r"[0-9]{4}-[0-9]{2}-[0-9]{2}",  # and a calendar day (_calendar_days)
}
# Apart from the types': the enumerations are text, so Standard.DATE would find FieldType.DATE's shape.
_STANDARD_SHAPES: dict[Standard, str] = {
    Standard.USCC: r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}",  # and its check character (uscc_checked)
    Standard.ADCODE: r"[0-9]{6}",  # and a division in use
    Standard.PHONE: r"(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})",
    Standard.POSTCODE: r"[1-8][0-9]{5}",
}
Check = Callable[[list[str]], np.ndarray]  # texts the shape matched -> which of them are canonical


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile(rf"^{shape}$", re.MULTILINE)


def canonical_cells(field: ItemField, cells: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(empty, canonical) per cell: the empty text (the value model's None), and texts that are their own canonical
    text with no reason; None when the column is not one of plain texts or the field has no shape here (every
    cell is then the column readers')."""
    return _shaped_cells(*_shape_of(field), cells)


def standard_cells(standard: Standard, cells: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``canonical_cells`` of a text field of that standard: a text it marks canonical meets the standard."""
    return _shaped_cells(_STANDARD_SHAPES.get(standard), _STANDARD_CHECKS.get(standard), cells)


def type_cells(field_type: FieldType, cells: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``canonical_cells`` of a field of that type and no standard: a text it marks canonical is of the type."""
    return _shaped_cells(_TYPE_SHAPES.get(field_type), _TYPE_CHECKS.get(field_type), cells)


def _shaped_cells(shape: str | None, check: Check | None, cells: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    if shape is None:
        return None
    values = cells.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None  # a missing cell or a value that is no text: the column readers read the column
    joined = "\n".join(values.tolist())
    if joined.count("\n") != len(values) - 1 or _CONTROL_NOT_NEWLINE.search(joined):
        return None
    matched = np.array(_pattern(shape).sub(_MARK, joined).split("\n"), dtype=object) == _MARK
    if check is not None and matched.any():
        matched[matched] = check(values[matched].tolist())
    return values == "", matched


def _shape_of(field: ItemField) -> tuple[str | None, Check | None]:
    if field.date_format == "excel_serial":
        return None, None
    if field.standard is None:
        return _TYPE_SHAPES.get(field.type), _TYPE_CHECKS.get(field.type)
    if field.type is not FieldType.STRING:
        return None, None
    return _STANDARD_SHAPES.get(field.standard), _STANDARD_CHECKS.get(field.standard)


def _digits(texts: list[str], width: int) -> np.ndarray:
    """Texts of ``width`` ASCII characters as a (texts, width) array of their characters' codes."""
    return np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), width).astype(np.int64)


def _calendar_days(texts: list[str]) -> np.ndarray:
    """Which YYYY-MM-DD texts name a day of the calendar ``datetime.date`` knows (years 1 to 9999)."""
    codes = _digits(texts, 10) - ord("0")
    year = codes[:, 0] * 1000 + codes[:, 1] * 100 + codes[:, 2] * 10 + codes[:, 3]
    month = codes[:, 5] * 10 + codes[:, 6]
    day = codes[:, 8] * 10 + codes[:, 9]
    valid_month = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    longest = _MONTH_DAYS[np.where(valid_month, month, 0)] + ((month == 2) & leap)
    return valid_month & (year >= 1) & (day >= 1) & (day <= longest)


def uscc_checked(texts: list[str]) -> np.ndarray:
    """Which codes of the USCC shape carry their check character (stdnum.cn.uscc's calculation; the column
    readers' too)."""
    lookup = np.zeros(128, dtype=np.int64)
    for value, char in enumerate(_USCC_ALPHABET):
        lookup[ord(char)] = value
    codes = lookup[_digits(texts, 18)]
    check = (31 - (codes[:, :17] * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    return np.asarray(check == codes[:, 17])


def _in_use(texts: list[str]) -> np.ndarray:
    known = divisions_in_use()
    return np.array([text in known for text in texts], dtype=bool)


# What a shape cannot tell, told of the texts it matched
_TYPE_CHECKS: dict[FieldType, Check] = {FieldType.DATE: _calendar_days}
_STANDARD_CHECKS: dict[Standard, Check] = {Standard.USCC: uscc_checked, Standard.ADCODE: _in_use}
