"""The open-data files' cells from PostgreSQL's own text (``COPY (SELECT ...) TO STDOUT``), for a publication
from the store (``pipelines.opendata.stage_from_store``).

Read through ``pd.read_sql``, every cell became a Python object (a Decimal, a date) that pandas then wrote back
as text: on a large item that was most of the publication's time. PostgreSQL writes its text far faster, as CSV
that Arrow's reader turns into text columns without a Python object per cell; the publication's lines are
joined by Arrow's kernels. The files must stay byte for byte what the frame path writes, so each column becomes
exactly what that path writes of the value ``read_sql`` gives for it:

- text: as it is (the CSV's formula quote and the JSON's escapes as pandas writes them: ``json_strings``);
- decimal: the float ``read_sql`` coerces it to (``coerce_float``), formatted by numpy and pandas themselves;
- integer: as it is, or that float in a chunk with a missing value (``read_sql``'s column is float there);
- date: its ISO text, which is ``str(date)``; in the JSON pandas' ISO of a date, midnight in milliseconds.

Types it does not know (boolean, datetime) keep the frame path, and so does SQLite (``copies``).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines.arrow_text import text_bytes
from pipelines.catalogue.models import FieldType, ItemField

COPIED_TYPES = frozenset({FieldType.STRING, FieldType.DECIMAL, FieldType.INTEGER, FieldType.DATE})
# Between two JSON texts in json.dumps' output: a control character json.dumps escapes inside a string.
_TOKEN_SEPARATOR = "\x1e"


def copies(fields: Sequence[ItemField], key_fields: Sequence[ItemField], dialect: str) -> bool:
    """Whether the published ``fields`` can come from PostgreSQL's text. Not if a key is free text: the frame
    path sorts each chunk again after scrubbing, and a scrubbed key may sort otherwise than the database did."""
    free_key = any(f.type is FieldType.STRING and f.standard is None for f in key_fields)
    return dialect == "postgresql" and not free_key and all(f.type in COPIED_TYPES for f in fields)


def copied_tables(conn: Any, query: str, names: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    """The query's rows in tables of ``chunk_rows`` rows (as ``read_sql``'s chunks), each column Arrow text, null
    for NULL: COPY's CSV (in UTF-8, whatever the client's encoding) read by Arrow's reader, so no cell becomes a
    Python object. ``conn`` is a SQLAlchemy connection to PostgreSQL; its transaction sets the date style COPY
    writes in, and ends (rolled back) with the connection."""
    cursor = conn.connection.cursor()
    cursor.execute("SET LOCAL DateStyle TO 'ISO, YMD'")  # dates as str(date) writes them, whatever the server's
    # a real file, not a SpooledTemporaryFile: COPY writes a row a call, and the spool's write is Python's
    with tempfile.TemporaryFile() as spool:
        # CSV, not COPY's text format: a NULL is an unquoted empty cell, an empty text a quoted one
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')", spool)
        if not spool.tell():
            return
        spool.seek(0)
        reader = pa_csv.open_csv(spool, read_options=pa_csv.ReadOptions(column_names=names, block_size=SPOOL_BLOCK),
                                 parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                                 convert_options=pa_csv.ConvertOptions(
                                     column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                                     null_values=[""], quoted_strings_can_be_null=False))
        yield from _rechunked(reader, chunk_rows)


SPOOL_BLOCK = 4 << 20  # bytes of COPY's text Arrow reads at a time (a record may hold line ends: quoted)


def _rechunked(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The batches' rows as tables of ``rows`` rows, the last one shorter."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(held)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(held)


def distinct_texts(cells: pa.Array) -> list[str]:
    """The column's distinct present texts, as Python strings."""
    return [text for text in pc.unique(cells).to_pylist() if text is not None]


def mapped(cells: pa.Array, texts: dict[str, str]) -> pa.Array:
    """Each cell that is a key of ``texts`` replaced by its value, the others (and nulls) as they are."""
    keys = pa.array(list(texts), pa.string())
    found = pc.take(pa.array(list(texts.values()), pa.string()), pc.index_in(cells, value_set=keys))
    return pc.coalesce(found, cells)


def wrapped(cells: pa.Array, before: str, after: str) -> pa.Array:
    """Each present cell between ``before`` and ``after``; a null stays null."""
    return pc.binary_join_element_wise(before, cells, after, "")


def joined_rows(columns: Sequence[pa.Array | str], between: str, row_end: str) -> bytes:
    """Row by row, the columns' cells (a text: the same in every row) joined by ``between``, each row ended by
    ``row_end``: one UTF-8 text, the bytes of Arrow's buffer of the joined rows (written to the file as they are:
    made a Python text and encoded again, a million rows' CSV and JSON cost about 1.5 s CPU more)."""
    pieces = [piece for column in columns for piece in (column, between)][:-1] if between else list(columns)
    return text_bytes(pc.binary_join_element_wise(*pieces, row_end, "")).tobytes()


def column_floats(f: ItemField, cells: pa.Array) -> np.ndarray | None:
    """The column as read_sql's float64 when read_sql's column is one: a decimal's, an integer's with a missing
    value (all missing: an object column of None, written as a float column's NaN would be); else None. Made
    once per column and chunk: the CSV, the JSON and the scan all write it (Arrow's parse of the text rounds as
    float() of its Decimal does: to the nearest double)."""
    if f.type is FieldType.DECIMAL or (f.type is FieldType.INTEGER and cells.null_count):
        return pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False)
    return None


def float_texts(floats: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A float column's cells as pandas' to_csv writes them (numpy's text, what ``get_values_for_csv`` does) and
    its missing ones: the same texts as the frame path's scan reads (``astype(str)``, Python's repr)."""
    return floats.astype(str).tolist(), np.isnan(floats)


def json_floats(floats: np.ndarray) -> list[str]:
    """A float column as pandas' to_json writes it, one JSON text a cell."""
    return pd.Series(floats).to_json(orient="values")[1:-1].split(",") if len(floats) else []


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
