"""Files people open in a spreadsheet: no cell the platform writes runs as a formula (OWASP CSV injection).

The rule, for every CSV and XLSX the platform writes (correction lists, open data, evaluation reports):
- a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed gets a leading single
  quote (``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``), so Excel and LibreOffice show it as text;
- except a number: in a column the catalogue types as integer or decimal, a cell the platform's own parser
  reads as a plain number (``-5``, ``+3``, ``-2.5e3``, no surrounding space) is written as typed. ``-5`` in an
  integer column is not a formula, and it must round-trip; ``-2+3`` in the same column is no number and
  is quoted like any other text;
- a text that already starts with quotes before such a character gets one more (``'=x`` -> ``''=x``), so the
  quote can be taken off again exactly;
- values that are not text (numbers, dates, empty cells) are written as what they are: a writer never
  turns them into formulas.
XLSX cells are also written as strings (openpyxl data_type ``s``), never formulas, whatever the text.

JSON needs no quote: a JSON reader does not evaluate what it reads, and the quote would change the data.

The quote is the platform's, not the unit's: a correction resubmission (``<item>__correction….csv``) is
read with it taken off again (``unquoted``), so a corrected file carries what the unit typed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.catalogue.models import FieldType, Item
from pipelines.factorize import factorize_texts
from pipelines.values import InvalidValue, stripped, type_value

# OWASP's list, and a line feed: XML (so XLSX) reads a carriage return back as one, and Excel skips both.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
QUOTE = "'"
NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.DECIMAL})
# RFC 4180 line ends for pandas' to_csv: with its default "\n" a cell holding a bare "\r" is written unquoted,
# and every reader then splits the row there.
CSV_LINE_END = "\r\n"


def numeric_columns(item: Item) -> frozenset[str]:
    """The item's columns whose cells may be negative or signed numbers."""
    return frozenset(f.name for f in item.fields if f.type in NUMERIC_TYPES)


def reads_as_number(text: str) -> bool:
    """A plain number as the platform's decimal parser reads it, typed without surrounding space."""
    if stripped(text) != text:
        return False
    try:
        return type_value(FieldType.DECIMAL, text) is not None
    except InvalidValue:
        return False


def _formula_like(text: str) -> bool:
    """Starts like a formula, or is one behind quotes: ``'=x`` typed by a unit is quoted again (``''=x``), so
    that taking one quote off a correction resubmission gives back exactly what was sent."""
    return text.lstrip(QUOTE).startswith(FORMULA_STARTS)


def neutralised(value: Any, numeric: bool = False) -> Any:
    """The cell as a spreadsheet may safely read it (the module's rule)."""
    if not isinstance(value, str) or not _formula_like(value):
        return value
    if numeric and reads_as_number(value):
        return value
    return QUOTE + value


def unquoted(value: Any) -> Any:
    """The inverse of ``neutralised`` for a file the platform wrote: the quote only where the platform puts one."""
    if isinstance(value, str) and value.startswith(QUOTE) and _formula_like(value[1:]):
        return value[1:]
    return value


def safe_frame(frame: pd.DataFrame, numeric_columns: Collection[str] = ()) -> pd.DataFrame:
    """A copy of the frame for CSV and XLSX writers: every text cell neutralised, numbers in numeric columns kept."""
    return _text_cells_read(frame, lambda column: partial(neutralised, numeric=column in numeric_columns))


def _text_cells_read(frame: pd.DataFrame, reader: Callable[[str], Callable[[Any], Any]]) -> pd.DataFrame:
    """A copy of the frame with ``reader(column)`` applied to each cell of every column that may hold text.
    Made as one new frame, not a copy with each column replaced: a correction list is a few rows, and replacing
    a column cost more than reading its cells (2 ms a frame of fifteen columns, now a fifth of that)."""
    columns: dict[int, Any] = {}
    for position, (name, cells) in enumerate(frame.items()):  # by position: a name may be repeated
        if _may_hold_text(cells):
            # element by element: a tuple stays one value
            columns[position] = np.fromiter(per_distinct(cells, reader(name)), dtype=object, count=len(cells))
        else:
            columns[position] = cells.array  # as it is, its dtype too
    out = pd.DataFrame(columns, index=frame.index)
    out.columns = frame.columns
    return out.__finalize__(frame, method="copy")  # what copy() keeps: attrs and flags


def per_distinct(cells: Iterable[Any], read: Callable[[Any], Any]) -> list[Any]:
    """``read`` of every cell, called once per distinct cell (a column of a million rows holds far fewer values;
    keyed by type too, so 1, 1.0 and True stay apart). A long column of text is factorized (one C hash per cell)
    instead of looked up cell by cell in Python."""
    if isinstance(cells, pd.Series) and len(cells) >= _FACTORIZE_AT and pd.api.types.infer_dtype(
            cells, skipna=True) == "string":
        return _per_distinct_text(cells, read)
    memo: dict[tuple[type, Any], Any] = {}
    out = []
    for cell in cells:
        key = (type(cell), cell)
        if key not in memo:
            memo[key] = read(cell)
        out.append(memo[key])
    return out


_FACTORIZE_AT = 1000  # below this, the loop is as fast as factorizing


def _per_distinct_text(cells: pd.Series, read: Callable[[Any], Any]) -> list[Any]:
    """``per_distinct`` of a column of text and missing cells: the texts factorized, each distinct text read once;
    the missing cells (None, NaN: one code for all of them) through the loop, each kind read once."""
    codes, distinct = factorize_texts(cells.to_numpy(dtype=object))
    table = np.empty(len(distinct) + 1, dtype=object)  # element by element: a tuple stays one value
    for n, text in enumerate(distinct):
        table[n] = read(text)
    out = table[codes]
    missing = np.flatnonzero(codes == -1)
    for position, value in zip(missing, per_distinct(cells.iloc[missing].tolist(), read), strict=True):
        out[position] = value
    return list(out)


def _may_hold_text(column: pd.Series) -> bool:
    kind = column.dtype
    return not (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_datetime64_any_dtype(kind))


def safe_record(record: Mapping[str, Any], numeric_columns: Collection[str] = ()) -> dict[str, Any]:
    """One row for ``csv.DictWriter``, neutralised the same way."""
    return {key: neutralised(value, key in numeric_columns) for key, value in record.items()}


def unquoted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A resubmitted correction file as the unit meant it: the platform's quotes taken off."""
    restored = frame.copy()
    for column in restored.columns:
        restored[column] = pd.Series([unquoted(v) for v in restored[column]], index=restored.index, dtype=object)
    return restored


def workbook_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as an XLSX sheet can hold it: a control character XML 1.0 forbids (a NUL a unit sent, and the
    row was held back for it) shown as U+FFFD in the workbook; the CSV beside it keeps the exact value."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def shown(value: Any) -> Any:
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value

    return _text_cells_read(frame, lambda _column: shown)


def write_workbook(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """An XLSX file with a sheet per frame (``workbook_frame``'s cells), written row by row by openpyxl's
    write-only workbook: pandas' writer built every cell as an object first, then saved them (12,500 held rows
    of the large demo item: 3.9-4.0 s CPU, now 2.05 s). The header as pandas styled it; every text a string,
    a text starting with ``=`` too (openpyxl would make a formula of it), a missing cell empty."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(name)
        sheet.append([_header_cell(sheet, column) for column in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_sheet_cell(sheet, value) for value in row])
    workbook.save(path)


def _header_cell(sheet: Any, name: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side

    cell = WriteOnlyCell(sheet, value=str(name))
    cell.data_type = "s"
    thin = Side(style="thin")
    cell.font, cell.border = Font(bold=True), Border(left=thin, right=thin, top=thin, bottom=thin)
    cell.alignment = Alignment(horizontal="center", vertical="top")
    return cell


def _sheet_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        if not value.startswith("="):
            return value
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return None if pd.api.types.is_scalar(value) and pd.isna(value) else value
