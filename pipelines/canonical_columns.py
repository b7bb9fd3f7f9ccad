"""Which cells of a column of text are already their own canonical text, told by a few whole-column operations.

Most cells a unit sends are already canonical (``2026-04-22``, ``7984.36``, ``530000``, a name): the value model
would hand them back unchanged, with no reason. For a column of texts, a field's canonical shape is matched
against every text at once by Arrow's regular-expression kernel (RE2, in C++: no Python string is made for a
cell), and a few numpy operations over the matched texts' bytes finish what a pattern cannot tell (a calendar
day, a check character, a division in use). Only the other cells, empty ones aside, are left to
``pipelines.column_values``' readers. ``tests/unit/test_column_values.py`` holds the result to the scalar value
model cell by cell.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.arrow_text import text_bytes
from pipelines.catalogue.models import FieldType, ItemField, Standard
from pipelines.standards import divisions_in_use
from pipelines.values import _SPACE

TextArray: TypeAlias = pa.Array | pa.ChunkedArray  # of Arrow strings


def _chars(text: str) -> str:
    """The characters as members of an RE2 character class, each by its code point."""
    return "".join(f"\\x{{{ord(char):x}}}" for char in text)


_SPACES = _chars(_SPACE)
_CONTROLS = r"\x00-\x1f\x7f-\x9f"  # what the value model refuses in any text (values._CONTROL)
_FOLDED = "０-９Ａ-Ｚａ-ｚ"  # the full-width letters and digits the value model folds in plain text
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_MONTH_DAYS = np.array((0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31))

# Each text matched whole, non-empty. RE2 has no lookahead, so each shape says what it means in classes alone.
# Plain text: no surrounding space, no control character, no full-width letter or digit (which the value model
# folds); its full-width punctuation and inner spaces stay.
_TEXT = rf"[^{_SPACES}{_FOLDED}{_CONTROLS}](?:[^{_FOLDED}{_CONTROLS}]*[^{_SPACES}{_FOLDED}{_CONTROLS}])?"
_TYPE_SHAPES: dict[FieldType, str] = {
    FieldType.STRING: _TEXT,
    FieldType.INTEGER: r"0|-?[1-9][0-9]{0,17}",  # str(int(text)): no '+', no leading zero, no "-0"
    # format(Decimal, "f") after the value model's trimming: no '+', no leading or trailing zero, at most six
    # decimals and eighteen digits before the point, no "-0" (a zero is "0", or has decimals)
    FieldType.DECIMAL: r"0|-?0\.[0-9]{0,5}[1-9]|-?[1-9][0-9]{0,17}(?:\.[0-9]{0,5}[1-9])?",
    FieldType.BOOLEAN: r"true|false",
    FieldType.DATE: r"[0-9]{4}-[0-9]{2}-[0-9]{2}",  # and a calendar day (_calendar_days)
}
# Apart from the types': the enumerations are text, so Standard.DATE would find FieldType.DATE's shape.
_STANDARD_SHAPES: dict[Standard, str] = {
    Standard.USCC: r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}",  # and its check character (uscc_checked)
    Standard.ADCODE: r"[0-9]{6}",  # and a division in use
    Standard.PHONE: r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}",
    Standard.POSTCODE: r"[1-8][0-9]{5}",
}
Check = Callable[[pa.Array], np.ndarray]  # texts the shape matched -> which of them are canonical


def _whole(shape: str) -> str:
    return f"^(?:{shape})$"  # RE2 without multi-line mode: from the text's start to its very end


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


def _shaped_cells(shape: str | None, check: Check | None,
                 cells: pd.Series | TextArray) -> tuple[np.ndarray, np.ndarray] | None:
    if shape is None:
        return None
    texts = _text_array(cells)
    if texts is None:
        return None
    matched = _flags(pc.match_substring_regex(texts, _whole(shape)))
    if check is not None and matched.any():
        matched[matched] = check(texts.filter(pa.array(matched)))
    return _flags(pc.equal(texts, "")), matched


def _text_array(cells: pd.Series | TextArray) -> pa.Array | None:
    """The column as one Arrow text array; None when a cell is missing or no text (the column readers read the
    column) or a text cannot be UTF-8 (a lone surrogate, which only the scalar reader refuses properly)."""
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    if isinstance(cells, pa.Array):
        return cells if pa.types.is_string(cells.type) and cells.null_count == 0 else None
    values = cells.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def _flags(mask: TextArray) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _shape_of(field: ItemField) -> tuple[str | None, Check | None]:
    if field.date_format == "excel_serial":
        return None, None
    if field.standard is None:
        return _TYPE_SHAPES.get(field.type), _TYPE_CHECKS.get(field.type)
    if field.type is not FieldType.STRING:
        return None, None
    return _STANDARD_SHAPES.get(field.standard), _STANDARD_CHECKS.get(field.standard)


def _digits(texts: list[str] | pa.Array, width: int) -> np.ndarray:
    """Texts of ``width`` ASCII characters as a (texts, width) array of their characters' codes: an Arrow array's
    bytes as they lie in its buffer (its texts back to back), a list's joined."""
    data = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8) if isinstance(texts, list) else \
        text_bytes(texts)
    return data.reshape(len(texts), width).astype(np.int64)


def _calendar_days(texts: pa.Array) -> np.ndarray:
    """Which YYYY-MM-DD texts name a day of the calendar ``datetime.date`` knows (years 1 to 9999)."""
    codes = _digits(texts, 10) - ord("0")
    year = codes[:, 0] * 1000 + codes[:, 1] * 100 + codes[:, 2] * 10 + codes[:, 3]
    month = codes[:, 5] * 10 + codes[:, 6]
    day = codes[:, 8] * 10 + codes[:, 9]
    valid_month = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    longest = _MONTH_DAYS[np.where(valid_month, month, 0)] + ((month == 2) & leap)
    return valid_month & (year >= 1) & (day >= 1) & (day <= longest)


def uscc_checked(texts: list[str] | pa.Array) -> np.ndarray:
    """Which codes of the USCC shape carry their check character (stdnum.cn.uscc's calculation; the column
    readers' too)."""
    lookup = np.zeros(128, dtype=np.int64)
    for value, char in enumerate(_USCC_ALPHABET):
        lookup[ord(char)] = value
    codes = lookup[_digits(texts, 18)]
    check = (31 - (codes[:, :17] * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    return np.asarray(check == codes[:, 17])


@cache
def _divisions() -> pa.Array:
    return pa.array(sorted(divisions_in_use()), type=pa.string())


def _in_use(texts: pa.Array) -> np.ndarray:
    return _flags(pc.is_in(texts, value_set=_divisions()))


# What a shape cannot tell, told of the texts it matched
_TYPE_CHECKS: dict[FieldType, Check] = {FieldType.DATE: _calendar_days}
_STANDARD_CHECKS: dict[Standard, Check] = {Standard.USCC: uscc_checked, Standard.ADCODE: _in_use}
