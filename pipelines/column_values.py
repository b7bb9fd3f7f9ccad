"""The value model over whole columns: the same verdicts as ``pipelines.values``, a column at a time.

``pipelines.values`` reads one cell at a time and stays the definition (and the tests' oracle). Here a
column is read in two parts: the cells in a form the column readers recognise (plain ASCII text, no
control or full-width character, in the type's or standard's usual shape) are parsed with pandas string
operations, ``pd.to_datetime(format=...)`` and numpy; every other cell (an unusual form, a value that
does not parse, a date outside pandas' range) goes through the scalar reader, once per distinct text.
So a million-row submission costs a few column operations, and a cell only the scalar reader
understands is still read by it: the property test ``tests/unit/test_column_values.py`` holds both
readers to the same canonical texts and reasons, cell by cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from pipelines.canonical_columns import canonical_cells, standard_cells, type_cells, uscc_checked
from pipelines.catalogue.models import FieldType, ItemField, Standard
from pipelines.factorize import factorize_texts
from pipelines.standards import divisions_in_use
from pipelines.values import (
    _CONTROL,
    _DATES,
    _DATETIME,
    _SPACE,
    FALSE_TEXTS,
    TRUE_TEXTS,
    _read,
    cell_text,
    standard_reason,
    type_reason,
)

# A cell the column readers may take: nothing the scalar reader would refuse or fold (control characters,
# full-width ASCII, the ideographic space), so what they see is what the scalar reader parses.
_UNPLAIN = r"[\x00-\x1f\x7f-\x9f\uff01-\uff5e\u3000]"
_UNPLAIN_TEXT = r"[\x00-\x1f\x7f-\x9f０-９Ａ-Ｚａ-ｚ]"  # plain text keeps full-width punctuation and spaces
_INTEGER = r"[+-]?[0-9]{1,18}"  # 18 digits always fit the store's bigint; longer ones are the scalar reader's
_DECIMAL = r"[+-]?[0-9]{1,18}(?:\.[0-9]{1,6})?"  # within numeric(24, 6) whatever the digits
_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)
_BOOLEAN = {text: "true" for text in TRUE_TEXTS} | {text: "false" for text in FALSE_TEXTS}
_RIC_WEIGHTS = np.array([pow(13, 16 - i, 11) for i in range(17)])  # int(body, 13) mod 11, digit by digit

Fast = Callable[[pd.Series], pd.Series]  # plain, stripped, non-empty texts -> canonical text, None: not taken


def _full(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:{pattern})\Z", re.ASCII)  # from the start to the very end: re.fullmatch's meaning


def _where(texts: pd.Series, taken: pd.Series, values: pd.Series) -> pd.Series:
    """``values`` (computed for the taken texts only) where taken, None elsewhere."""
    out = pd.Series(None, index=texts.index, dtype=object)
    out[taken.to_numpy()] = values.to_numpy(dtype=object)
    return out


def _none(texts: pd.Series) -> pd.Series:
    return pd.Series(None, index=texts.index, dtype=object)


def _matching(texts: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    return texts.str.match(pattern, na=False).astype(bool)


# --- types -----------------------------------------------------------------------------------------
def _string(texts: pd.Series) -> pd.Series:
    return texts


def _integer(texts: pd.Series) -> pd.Series:
    taken = _matching(texts, _full(_INTEGER))
    if not taken.any():
        return _none(texts)
    numbers = texts[taken].astype("int64").astype(str)
    return _where(texts, taken, numbers)


def _decimal_texts(texts: pd.Series) -> pd.Series:
    """Canonical decimal text of texts in the _DECIMAL shape: no sign for zero, no '+', no leading zeros
    before the units, no trailing zeros after the point, no point without decimals (Decimal's 'f' form)."""
    negative = texts.str.startswith("-")
    units, _, decimals = (part for _, part in texts.str.lstrip("+-").str.partition(".").items())
    units = units.str.lstrip("0").replace("", "0")
    decimals = decimals.str.rstrip("0")
    body = units.where(decimals == "", units + "." + decimals)
    return body.where(~negative | (body == "0"), "-" + body)


# A decimal text already in canonical form (what the intake stages, and what most units send): no '+', no
# leading zeros, no trailing zeros after the point, no point without decimals, no "-0".
_CANONICAL_DECIMAL = r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{0,5}[1-9])?"


def _decimal(texts: pd.Series) -> pd.Series:
    """Texts already canonical are their own canonical text (one match, where rewriting one costs eight string
    operations per cell); the others in the _DECIMAL shape are rewritten."""
    canonical = _matching(texts, _full(_CANONICAL_DECIMAL)) & (texts != "-0")
    taken = canonical | _matching(texts.where(~canonical, None), _full(_DECIMAL))
    if not taken.any():
        return _none(texts)
    rewrite = taken & ~canonical
    out = _where(texts, canonical, texts[canonical])
    if rewrite.any():
        out[rewrite.to_numpy()] = _decimal_texts(texts[rewrite]).to_numpy()
    return out


def _boolean(texts: pd.Series) -> pd.Series:
    return texts.str.lower().map(_BOOLEAN).astype(object).where(lambda s: s.notna(), None)


def _days(texts: pd.Series) -> pd.Series:
    """Each text in one of the value model's date forms as ISO date text; None where it is none of them, is
    no calendar day, or lies outside pandas' years (the scalar reader takes those)."""
    out = pd.Series(None, index=texts.index, dtype=object)
    iso = _matching(texts, _ISO_DAY)  # the usual form: checked as a calendar day without taking it apart
    if iso.any():
        valid = pd.to_datetime(texts[iso], format="%Y-%m-%d", errors="coerce").notna()
        out[valid[valid].index] = texts[valid[valid].index]
    for pattern in _DATES:
        left = out.isna() & texts.notna()
        if not left.any():
            break
        parts = texts[left].str.extract(_full(pattern.pattern))
        found = parts["y"].notna()
        if not found.any():
            continue
        parts = parts[found]
        iso = parts["y"] + "-" + parts["m"].str.zfill(2) + "-" + parts["d"].str.zfill(2)
        moments = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
        valid = moments.notna()
        out[valid[valid].index] = iso[valid]
    return out


def _date(texts: pd.Series) -> pd.Series:
    return _days(texts)


def _datetime(texts: pd.Series) -> pd.Series:
    """Datetimes without a zone (a zone's conversion is the scalar reader's); a bare date is its midnight."""
    if texts.empty:
        return _none(texts)
    out = _iso_midnights(texts)  # a column of bare days (what Excel and most units send) needs no more
    rest = out.isna()
    if rest.any():
        out[rest.to_numpy()] = _datetime_texts(texts[rest]).to_numpy()
    return out


def _iso_midnights(texts: pd.Series) -> pd.Series:
    iso = _matching(texts, _ISO_DAY)
    if not iso.any():
        return _none(texts)
    days = _days(texts[iso])
    out = _none(texts)
    out[iso.to_numpy()] = (days + "T00:00:00").where(days.notna(), None).to_numpy()
    return out


def _datetime_texts(texts: pd.Series) -> pd.Series:
    parts = texts.str.extract(_full(_DATETIME.pattern))
    found = (parts["y"].notna() & parts["z"].isna()).to_numpy()
    parts = parts[found]
    day = parts["y"] + "-" + parts["m"].str.zfill(2) + "-" + parts["d"].str.zfill(2)
    clock = (parts["H"].fillna("0").str.zfill(2) + ":" + parts["M"].fillna("00") + ":" + parts["S"].fillna("00")
             + "." + parts["f"].fillna("0").str.ljust(6, "0"))
    moments = pd.to_datetime(day + "T" + clock, format="%Y-%m-%dT%H:%M:%S.%f", errors="coerce")
    valid = moments.notna()
    moments = moments[valid]
    micro = moments.dt.microsecond
    text = moments.dt.strftime("%Y-%m-%dT%H:%M:%S").where(micro == 0, moments.dt.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    out = pd.Series(None, index=texts.index, dtype=object)
    out[text.index] = text
    return out.where(out.notna(), _datetime_of_days(texts, out))


def _datetime_of_days(texts: pd.Series, done: pd.Series) -> pd.Series:
    """The other date forms (20261101, 2026年11月1日) read as datetimes: their midnight."""
    left = done.isna()
    if not left.any():
        return _none(texts)
    days = _days(texts[left])
    return (days + "T00:00:00").reindex(texts.index)


_TYPES: dict[FieldType, Fast] = {
    FieldType.STRING: _string, FieldType.INTEGER: _integer, FieldType.DECIMAL: _decimal,
    FieldType.BOOLEAN: _boolean, FieldType.DATE: _date, FieldType.DATETIME: _datetime,
}


# --- standards -------------------------------------------------------------------------------------
def _codes(texts: pd.Series, alphabet: str) -> np.ndarray:
    """Each text of 18 ASCII characters as its characters' values in ``alphabet`` (an 18-column array)."""
    lookup = np.zeros(128, dtype=np.int64)
    for value, char in enumerate(alphabet):
        lookup[ord(char)] = value
    raw = np.frombuffer("".join(texts.tolist()).encode("ascii"), dtype=np.uint8)
    return lookup[raw.reshape(len(texts), 18)]


def _uscc(texts: pd.Series) -> pd.Series:
    """Compact upper-case codes with the right check character (stdnum.cn.uscc.validate's rules)."""
    taken = _matching(texts, _full(r"[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}"))
    shaped = texts[taken]
    if len(shaped):
        taken[shaped.index[~uscc_checked(shaped.tolist())]] = False
    return texts.where(taken, None)


def _ric(texts: pd.Series) -> pd.Series:
    """GB 11643 numbers (stdnum.cn.ric.validate's rules): check character, birth date, and a birth place known
    for the birth year (looked up once per distinct division and year)."""
    taken = _matching(texts, _full(r"[0-9]{17}[0-9X]"))
    shaped = texts[taken]
    if len(shaped):
        codes = _codes(shaped, "0123456789X")
        checksum = (1 - 2 * (codes[:, :17] * _RIC_WEIGHTS).sum(axis=1)) % 11
        born = pd.to_datetime(shaped.str.slice(6, 14), format="%Y%m%d", errors="coerce")
        places = shaped.str.slice(0, 10)
        known = {p: _birth_place_known(p) for p in places.unique()}
        ok = (checksum == codes[:, 17]) & born.notna().to_numpy() & places.map(known).to_numpy(dtype=bool)
        taken[shaped.index[~ok]] = False
    return texts.where(taken, None)


def _birth_place_known(division_and_year: str) -> bool:
    try:
        ric.get_birth_place(division_and_year + "0101" + "0000")  # only the division and the year are read
    except (ValidationError, KeyError):
        return False
    return True


def _adcode(texts: pd.Series) -> pd.Series:
    return texts.where(texts.isin(divisions_in_use()), None)


def _shaped(pattern: str) -> Fast:
    compiled = _full(pattern)
    return lambda texts: texts.where(_matching(texts, compiled), None)


def _email(texts: pd.Series) -> pd.Series:
    taken = _matching(texts, _full(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"))
    if not taken.any():
        return _none(texts)
    local, _, domain = (part for _, part in texts[taken].str.rpartition("@").items())
    return _where(texts, taken, local + "@" + domain.str.lower())


_STANDARDS: dict[Standard, Fast] = {
    Standard.USCC: _uscc, Standard.RIC: _ric, Standard.ADCODE: _adcode,
    Standard.PHONE: _shaped(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}"),
    Standard.POSTCODE: _shaped(r"[1-8][0-9]{5}"),
    Standard.EMAIL: _email, Standard.DATE: _days,
}


# --- a column ------------------------------------------------------------------------------------
def _texts(cells: pd.Series) -> pd.Series:
    """The cells as text (None when empty), positionally indexed; str cells as they are."""
    cells = pd.Series(cells, dtype=object).reset_index(drop=True)
    if pd.api.types.infer_dtype(cells, skipna=True) not in ("string", "empty"):
        return cells.map(cell_text, na_action=None).astype(object)
    return cells.where(cells.notna(), None)


def _read_column(cells: pd.Series, fast: Fast | None, read_one: Callable[[object], tuple[str | None, str | None]],
                 unplain: str = _UNPLAIN, scalar_below: int = 0) -> tuple[pd.Series, pd.Series]:
    """(canonical texts, reasons) of a column: the fast reader's where it takes a cell, ``read_one`` (the scalar
    value model) for every other cell, once per distinct cell. A column of text with few distinct values (a
    value set, a division code, a day) is read once per distinct text and spread back: pandas' string methods
    cost a Python call per cell, factorizing a hash per cell. A column shorter than ``scalar_below`` is read by
    ``read_one`` alone (it must read every cell itself, empty ones included, or mark it not taken)."""
    cells = pd.Series(cells, dtype=object).reset_index(drop=True)
    if len(cells) < scalar_below:
        return _read_each(cells, read_one)
    if (len(cells) >= _DISTINCT_AT and pd.api.types.infer_dtype(cells, skipna=True) == "string"
            and _few_distinct_likely(cells)):
        codes, distinct = factorize_texts(cells)  # exact: pandas' own takes a NUL for a text's end
        if len(distinct) * _DISTINCT_SHARE <= len(cells):
            canonical, reasons = _read_cells(pd.Series(distinct, dtype=object), fast, read_one, unplain)
            return _spread(canonical, codes), _spread(reasons, codes)
    return _read_cells(cells, fast, read_one, unplain)


def _few_distinct_likely(cells: pd.Series) -> bool:
    """Whether cells spread over the column are few distinct texts: a column of codes, amounts or names (all
    distinct) is not factorized only to be read cell by cell after all (a hash per cell, about 15 ms per
    100,000). Only which path reads the column depends on it, not what it reads."""
    sample = cells.to_numpy()[:: max(1, len(cells) // _SAMPLE)].tolist()
    return len(set(sample)) * _DISTINCT_SHARE <= len(sample) * 2  # twice the share: a sample sees fewer repeats


_SAMPLE = 500
_DISTINCT_AT = 1000  # below this, a column is read cell by cell: factorizing would cost more than it saves
# Below this many cells the scalar reader alone is cheaper: the column readers' dozen pandas calls cost about
# 5 ms whatever the length, the scalar reader about 5 us a distinct cell (benchmarks/column_readers.py). A
# run of many small submissions reads every column of every one of them, several times (intake, the row
# contract, the rules' attribution).
SCALAR_BELOW = 2000


def _read_each(cells: pd.Series, read_one: Callable[[object], tuple[str | None, str | None]]) -> tuple[pd.Series,
                                                                                                     pd.Series]:
    """``read_one`` of every cell, once per distinct cell (``pipelines.values.canonical_column``'s loop)."""
    memo: dict[object, tuple[str | None, str | None]] = {}
    read = [memo[k] if k in memo else memo.setdefault(k, read_one(c))
            for k, c in zip(_memo_keys(cells), cells, strict=True)]
    return (pd.Series([text for text, _ in read], dtype=object),
            pd.Series([why for _, why in read], dtype=object))
_DISTINCT_SHARE = 4  # read distinct values when there are at most a quarter as many as cells


def _spread(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """Per cell the value of its distinct text (code -1: a missing cell, None)."""
    table = np.empty(len(values) + 1, dtype=object)  # the last entry stays None: code -1 takes it
    table[:-1] = values.to_numpy(dtype=object)
    return pd.Series(table[codes], dtype=object)


def _read_cells(cells: pd.Series, fast: Fast | None, read_one: Callable[[object], tuple[str | None, str | None]],
                unplain: str) -> tuple[pd.Series, pd.Series]:
    texts = _texts(cells)
    stripped = _stripped(texts)
    empty = stripped.isna() | (stripped == "")
    canonical = pd.Series(None, index=texts.index, dtype=object)
    if fast is not None:
        plain = ~empty & ~_holding(stripped, unplain)
        if plain.any():
            canonical[plain.to_numpy()] = fast(stripped[plain]).to_numpy()
    reasons = pd.Series(None, index=texts.index, dtype=object)
    rest = (canonical.isna() & ~empty).to_numpy()
    if rest.any():
        original = pd.Series(cells, dtype=object).reset_index(drop=True)[rest]
        memo: dict[object, tuple[str | None, str | None]] = {}
        read = [memo[k] if k in memo else memo.setdefault(k, read_one(v))
                for k, v in zip(_memo_keys(original), original, strict=True)]
        canonical[rest] = np.array([text for text, _ in read], dtype=object)
        reasons[rest] = np.array([why for _, why in read], dtype=object)
    return _nones(canonical), _nones(reasons)


# Most columns hold no surrounding space and no character the column readers leave to the scalar reader: one
# search over all of a column's texts tells, where stripping and matching each cost a Python call per cell.
_SPACE_CHARACTER = re.compile("[" + re.escape(_SPACE) + "]")


def _joined(texts: pd.Series) -> str:
    """Every present text of the column, end to end (a character class finds a character in it exactly when
    it finds it in one of the texts)."""
    return "".join(texts[texts.notna()].tolist())


def _stripped(texts: pd.Series) -> pd.Series:
    """``texts.str.strip(_SPACE)``: texts without any space character are their own."""
    if _SPACE_CHARACTER.search(_joined(texts)) is None:
        return texts
    return texts.str.strip(_SPACE)


def _holding(texts: pd.Series, pattern: str) -> pd.Series:
    """Per text whether ``pattern`` (a character class) finds a character in it; missing texts count as holding
    one (the caller takes only present texts)."""
    if re.search(pattern, _joined(texts)) is None:
        return texts.isna()
    return texts.str.contains(pattern, regex=True, na=True).astype(bool)


def _nones(column: pd.Series) -> pd.Series:
    """Missing as None, the value model's empty (pandas puts NaN where None was assigned)."""
    return column.astype(object).where(column.notna(), None)


def _memo_keys(cells: pd.Series) -> list[object]:
    return [c if isinstance(c, str) or c is None else repr(c) for c in cells]


def _field_reader(field: ItemField) -> Fast | None:
    if field.date_format == "excel_serial":
        return None  # serial day numbers are rare and read cell by cell
    read_type, read_standard = _TYPES.get(field.type), _STANDARDS.get(field.standard) if field.standard else None
    if read_type is None or field.standard is None:
        return read_type  # a type without a column reader is read cell by cell
    if read_standard is None:
        return None

    def both(texts: pd.Series) -> pd.Series:
        typed = read_type(texts)
        present = typed.notna()
        out = pd.Series(None, index=texts.index, dtype=object)
        out[present.to_numpy()] = read_standard(typed[present]).to_numpy()
        return out
    return both


def canonical_series(field: ItemField, cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A column's canonical texts (for a cell that does not parse, its text without surrounding space) and per
    row its reason or None: ``pipelines.values._read`` of every cell."""
    column = pd.Series(cells, dtype=object).reset_index(drop=True)
    told = canonical_cells(field, column) if len(column) >= SCALAR_BELOW else None
    if told is None:
        return _canonical_read(field, column)
    empty, same = told
    return _read_the_rest(column, same, empty, lambda rest: _canonical_read(field, rest))


def _read_the_rest(column: pd.Series, same: np.ndarray, empty: np.ndarray,
                   read: Callable[[pd.Series], tuple[pd.Series, pd.Series]]) -> tuple[pd.Series, pd.Series]:
    """(texts, reasons) of a column whose ``same`` cells are their own canonical text with no reason and whose
    ``empty`` ones are None with none: ``read`` of the other cells alone (the column readers')."""
    texts = column.to_numpy(dtype=object).copy()
    texts[empty] = None
    reasons = np.full(len(column), None, dtype=object)
    rest = ~(empty | same)
    if rest.any():
        got, why = read(column[rest])
        texts[rest], reasons[rest] = got.to_numpy(dtype=object), why.to_numpy(dtype=object)
    return pd.Series(texts, dtype=object), pd.Series(reasons, dtype=object)


def canonical_array(field: ItemField, cells: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``canonical_series``' texts of an Arrow column of texts (a CSV span's: no cell missing), as an Arrow
    column: the cells told canonical by their shape stay in Arrow's buffers; only the others become Python
    strings, for the column readers (reasons are validation's, which reads the stage again)."""
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    told = canonical_cells(field, cells) if len(cells) >= SCALAR_BELOW else None
    if told is None:
        texts, _ = canonical_series(field, pd.Series(cells.to_pylist(), dtype=object))
        return pa.array(texts.to_numpy(dtype=object), type=pa.string())
    empty, same = told
    replaced = ~same  # an empty cell becomes missing, any other not canonical its reader's text
    if not replaced.any():
        return cells
    rest = ~(empty | same)
    texts = np.full(int(replaced.sum()), None, dtype=object)
    if rest.any():
        read, _ = _canonical_read(field, pd.Series(cells.filter(pa.array(rest)).to_pylist(), dtype=object))
        texts[rest[replaced]] = read.to_numpy(dtype=object)
    return pc.replace_with_mask(cells, pa.array(replaced), pa.array(texts, type=pa.string()))


def _canonical_read(field: ItemField, cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    plain_text = field.type is FieldType.STRING and field.standard is None
    return _read_column(cells, _field_reader(field), lambda v: _read(field, v),
                        _UNPLAIN_TEXT if plain_text else _UNPLAIN, SCALAR_BELOW)


def type_valid(field_type: FieldType, cells: pd.Series) -> pd.Series:
    """Per cell whether ``pipelines.values.type_reason`` finds nothing (an empty cell is valid)."""
    if field_type is FieldType.STRING and (every := _texts_without_control(cells)) is not None:
        return every
    return _shaped_first(cells, lambda column: type_cells(field_type, column), lambda rest: _valid(_read_column(
        rest, _TYPES.get(field_type), lambda v: (None, type_reason(field_type, v)),
        _UNPLAIN_TEXT if field_type is FieldType.STRING else _UNPLAIN, SCALAR_BELOW)[1]))


def _texts_without_control(cells: pd.Series) -> pd.Series | None:
    """``type_valid`` of a text field's column of texts none of which holds a control character, the one thing a
    text's type refuses: every cell valid, told by one search over them all (the row contract checks the type of
    every text field of every row). None: the column must be read."""
    column = pd.Series(cells, dtype=object).reset_index(drop=True)
    if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
        return None
    if _CONTROL.search(_joined(column)) is not None:
        return None
    return pd.Series(True, index=column.index)


def standard_valid(standard: Standard, cells: pd.Series) -> pd.Series:
    """Per cell whether ``pipelines.values.standard_reason`` finds nothing (an empty cell is valid)."""
    return _shaped_first(cells, lambda column: standard_cells(standard, column), lambda rest: _valid(_read_column(
        rest, _STANDARDS.get(standard), lambda v: (None, standard_reason(standard, v)), _UNPLAIN, SCALAR_BELOW)[1]))


def _shaped_first(cells: pd.Series, told: Callable[[pd.Series], tuple[np.ndarray, np.ndarray] | None],
                  read: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Per cell a rule's verdict: valid where ``told`` (``canonical_columns``' whole-column shape match) marks the
    cell empty or canonical, ``read`` of the other cells alone. Validation reads stage text the intake made
    canonical, so nearly every cell is told valid by one match over its column; ``read`` of all of them cost
    most of the row contract (1,000,000 rows of the large demo item: the standards' readers 2.6 s)."""
    column = pd.Series(cells, dtype=object).reset_index(drop=True)
    shaped = told(column) if len(column) >= SCALAR_BELOW else None
    if shaped is None:
        return read(column)
    empty, same = shaped
    valid = empty | same
    rest = ~valid
    if rest.any():
        valid[rest] = read(column[rest]).to_numpy(dtype=bool)
    return pd.Series(valid)


def _valid(reasons: pd.Series) -> pd.Series:
    return reasons.isna()


def decimal_reading(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(canonical text where the decimal's shape or the fast decimal reader took the cell, else None; ``type_reason``
    of each cell): what a decimal field's type rule and its range rule both read, read once
    (``decimals(reading=...)``). Validation's cells are canonical already: a cell of the canonical shape is its own
    canonical text with no reason, told by one match over the column; only the others are read."""
    column = pd.Series(cells, dtype=object).reset_index(drop=True)
    shaped = type_cells(FieldType.DECIMAL, column) if len(column) >= SCALAR_BELOW else None
    if shaped is None:
        return _decimal_read(column)
    nothing = np.zeros(len(column), dtype=bool)  # an empty text is read: the fast reader's verdict on it stands
    return _read_the_rest(column, shaped[1], nothing, _decimal_read)


def _decimal_read(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _read_column(cells, _decimal, lambda v: (None, type_reason(FieldType.DECIMAL, v)), _UNPLAIN, SCALAR_BELOW)


def decimals(cells: pd.Series, reading: tuple[pd.Series, pd.Series] | None = None) -> tuple[pd.Series, pd.Series]:
    """(float value or NaN, taken) of cells the fast decimal reader takes; the others (every cell of a column
    shorter than SCALAR_BELOW) are the caller's to read. ``reading``: ``decimal_reading`` of these cells, made
    already (its canonical texts are the fast reader's, whatever the scalar reader says of the rest)."""
    canonical, _ = reading if reading is not None else _read_column(cells, _decimal, lambda v: (None, "not taken"),
                                                                    _UNPLAIN, SCALAR_BELOW)
    taken = canonical.notna()
    return canonical.where(taken, np.nan).astype(float), taken  # float(text): correctly rounded


def _day_or_datetime(texts: pd.Series) -> pd.Series:
    """The day of a datetime text, its first ten characters: a date read as a date (no moment made for it)."""
    out = _days(texts)
    rest = out.isna()
    if rest.any():
        out[rest.to_numpy()] = _datetime(texts[rest]).to_numpy()
    return out


def days(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(day as datetime64 or NaT, taken) of cells the fast datetime reader takes (none of a column shorter than
    SCALAR_BELOW: the caller reads those)."""
    canonical, _ = _read_column(cells, _day_or_datetime, lambda v: (None, "not taken"), _UNPLAIN, SCALAR_BELOW)
    taken = canonical.notna()
    moments = pd.to_datetime(canonical.where(taken, None).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return moments, taken


__all__ = ["canonical_series", "days", "decimal_reading", "decimals", "standard_valid", "type_valid"]
