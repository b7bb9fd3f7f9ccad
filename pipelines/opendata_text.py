"""The open-data files' cells from PostgreSQL's own text (``COPY (SELECT ...) TO STDOUT``), for a publication
from the store (``pipelines.opendata.stage_from_store``).

Read through ``pd.read_sql``, every cell became a Python object (a Decimal, a date) that pandas then wrote back
as text: on a large item that was most of the publication's time. PostgreSQL writes its text far faster. The
files must stay byte for byte what the frame path writes, so each column becomes exactly what that path writes
of the value ``read_sql`` gives for it:

- text: as it is (the CSV's formula quote and the JSON's escapes as pandas writes them: ``json_texts``);
- decimal: the float ``read_sql`` coerces it to (``coerce_float``), formatted by numpy and pandas themselves;
- integer: as it is, or that float in a chunk with a missing value (``read_sql``'s column is float there);
- date: its ISO text, which is ``str(date)``; in the JSON pandas' ISO of a date, midnight in milliseconds.

Types it does not know (boolean, datetime) keep the frame path, and so does SQLite (``copies``).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import IO, Any

import numpy as np
import pandas as pd

from pipelines.catalogue.models import FieldType, ItemField

COPIED_TYPES = frozenset({FieldType.STRING, FieldType.DECIMAL, FieldType.INTEGER, FieldType.DATE})
SPOOL_IN_MEMORY = 64 * 2**20  # a larger table's text waits in a temporary file, not in memory
# COPY's text format: one line a row, cells split by tabs; a cell's own tab, line end or backslash is escaped,
# and NULL is \N, so a row is one line and an empty text is told from a missing one.
_NULL = "\\N"
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
# Between two JSON texts in json.dumps' output: a control character json.dumps escapes inside a string.
_TOKEN_SEPARATOR = "\x1e"


def copies(fields: Sequence[ItemField], key_fields: Sequence[ItemField], dialect: str) -> bool:
    """Whether the published ``fields`` can come from PostgreSQL's text. Not if a key is free text: the frame
    path sorts each chunk again after scrubbing, and a scrubbed key may sort otherwise than the database did."""
    free_key = any(f.type is FieldType.STRING and f.standard is None for f in key_fields)
    return dialect == "postgresql" and not free_key and all(f.type in COPIED_TYPES for f in fields)


def copied_chunks(conn: Any, query: str, chunk_rows: int) -> Iterator[list[list[str | None]]]:
    """The query's rows in chunks of ``chunk_rows`` (as ``read_sql``'s chunks), each as its list of columns of
    text cells (None for NULL). ``conn`` is a SQLAlchemy connection to PostgreSQL; its transaction sets the
    date style COPY writes in, and ends (rolled back) with the connection."""
    from psycopg2.extensions import encodings

    raw = conn.connection
    cursor = raw.cursor()
    cursor.execute("SET LOCAL DateStyle TO 'ISO, YMD'")  # dates as str(date) writes them, whatever the server's
    # a real file, not a SpooledTemporaryFile: COPY writes a row a call, and the spool's write is Python's
    with tempfile.TemporaryFile() as spool:
        cursor.copy_expert(f"COPY ({query}) TO STDOUT", spool)
        spool.seek(0)
        yield from _chunks(spool, chunk_rows, encodings[raw.dbapi_connection.encoding])


def _chunks(spool: IO[bytes], chunk_rows: int, encoding: str) -> Iterator[list[list[str | None]]]:
    """Each chunk's lines split into one flat list of cells (a row has as many as any other: a cell's own tabs
    and line ends are escaped), then sliced into columns: no list per row, so no garbage collection passes over
    a chunk's worth of them."""
    while lines := list(islice(spool, chunk_rows)):
        text = b"".join(lines).decode(encoding)
        width = lines[0].count(b"\t") + 1
        cells: list[Any] = text[:-1].replace("\n", "\t").split("\t")
        escaped = "\\" in text  # else no column holds a NULL or an escape
        yield [_unescaped(cells[n::width]) if escaped else cells[n::width] for n in range(width)]


def _unescaped(cells: list[str]) -> list[str | None]:
    """A column of COPY text as values; most columns hold no backslash, so no NULL and no escape either."""
    if "\\" not in "".join(cells):
        return cells  # type: ignore[return-value]  # list is invariant: str cells are str | None ones
    return [None if cell == _NULL else _ESCAPED.sub(_unescape, cell) if "\\" in cell else cell for cell in cells]


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE.get(match.group(1), match.group(1))


def column_floats(f: ItemField, cells: list[str | None]) -> np.ndarray | None:
    """The column as read_sql's float64 when read_sql's column is one: a decimal's, an integer's with a missing
    value (all missing: an object column of None, written as a float column's NaN would be); else None. Made
    once per column and chunk: the CSV, the JSON and the scan all write it (float() of the text rounds as
    float() of its Decimal does)."""
    if f.type is FieldType.DECIMAL or (f.type is FieldType.INTEGER and None in cells):
        return np.array([float(c) if c is not None else np.nan for c in cells], dtype=np.float64)
    return None


def float_texts(floats: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A float column's cells as pandas' to_csv writes them (numpy's text, what ``get_values_for_csv`` does) and
    its missing ones: the same texts as the frame path's scan reads (``astype(str)``, Python's repr)."""
    return floats.astype(str).tolist(), np.isnan(floats)


def json_floats(floats: np.ndarray) -> list[str]:
    """A float column as pandas' to_json writes it, one JSON text a cell."""
    return pd.Series(floats).to_json(orient="values")[1:-1].split(",") if len(floats) else []


def json_texts(f: ItemField, cells: list[str | None], floats: np.ndarray | None) -> list[str]:
    """The cells as pandas' to_json writes read_sql's values (``orient="records"``, ``force_ascii=False``,
    ``date_format="iso"``): one JSON text each."""
    if floats is not None:
        return json_floats(floats)
    if f.type is FieldType.STRING:
        return json_strings(cells)
    if f.type is FieldType.DATE:
        return [f'"{c}T00:00:00.000"' if c is not None else "null" for c in cells]
    return [c if c is not None else "null" for c in cells]  # an integer column without a missing value


def json_strings(cells: Sequence[str | None]) -> list[str]:
    """JSON texts of the cells, as pandas' encoder writes them: json.dumps' escapes, and "/" as "\\/". The
    whole column in one json.dumps (a call per cell cost ten times as much), split where it put separators."""
    if not cells:
        return []
    text = json.dumps(list(cells), ensure_ascii=False, separators=(_TOKEN_SEPARATOR, ":"))
    return text[1:-1].replace("/", "\\/").split(_TOKEN_SEPARATOR)


def json_escapes(joined: str, texts: int) -> bool:
    """Whether any of ``texts`` texts joined by "\\x1f" (the scan's separator) is one ``json_strings`` writes
    otherwise than in plain quotes: one holding a control character (the separator too), a quote, a backslash
    or a "/"."""
    return _JSON_ESCAPED.search(joined) is not None or joined.count("\x1f") != max(texts - 1, 0)


_JSON_ESCAPED = re.compile('[\x00-\x1e"\\\\/]')


def json_key(name: str) -> str:
    return json_strings([name])[0]
