"""Open data for society (art. 10): items whose opening type is ``open`` are published as CSV and JSON
files, personal information removed.

Personal information is removed twice over, because an open file cannot be recalled once downloaded:
1. whole fields: every field marked ``personal`` and every field whose standard identifies a person
   (citizen ID, phone, e-mail) is left out;
2. inside the remaining text: identity numbers that pass GB 11643, mobile numbers and e-mail addresses
   written into free text (an address, a remark) are blotted out.
``stage`` writes the files and scans what they were written from, once: both files are rendered from the
same table (an ``Edition``), so one linear pass over its cells decides for the CSV and the JSON alike.
Known personal values (the source rows' names and numbers) are matched with one Aho-Corasick automaton,
not one substring search per value. ``find_personal_data`` runs the same scanner over a file on disk.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import ahocorasick
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from pipelines import opendata_text, progress
from pipelines.catalogue.models import Catalogue, FieldType, Item, ItemField, OpeningType, Standard
from pipelines.outputs import (
    CSV_LINE_END,
    FORMULA_STARTS,
    QUOTE,
    neutralised,
    numeric_columns,
    per_distinct,
    safe_frame,
)
from pipelines.quality.masking import (
    CITIZEN_ID_SHAPED,
    EMAIL,
    MOBILE,
    looks_like_citizen_id,
    may_hold_numbers,
    personal_numbers,
    redact,
)

INDEX_NAME = "index.json"
STAGING = ".staging"  # files wait here until the personal-data scan passes
# Standards that identify a person whatever the field's `personal` flag says.
_PERSONAL_STANDARDS = {Standard.RIC, Standard.PHONE, Standard.EMAIL}
_SHORTEST_NAME = 2  # a one-character value would match everywhere


def is_open(item: Item) -> bool:
    return item.opening.type is OpeningType.OPEN


def open_items(catalogue: Catalogue) -> list[Item]:
    return [item for item in catalogue.items if is_open(item)]


def is_personal(f: ItemField) -> bool:
    return f.personal or f.standard in _PERSONAL_STANDARDS


def published_fields(item: Item) -> list[ItemField]:
    return [f for f in item.fields if not is_personal(f)]


def withheld_fields(item: Item) -> list[str]:
    return [f.name for f in item.fields if is_personal(f)]


def scrub(text: str) -> tuple[str, int]:
    """Blot out identity numbers, mobile numbers and e-mail addresses in free text; returns the count."""
    return redact(text)


def _free_text(f: ItemField) -> bool:
    """Text without a standard: a field with one (a credit code, a division code) holds nothing else."""
    return f.type is FieldType.STRING and f.standard is None


@dataclass(frozen=True)
class Publication:
    item: str
    unit: str
    rows: int
    csv: Path
    json: Path
    withheld: tuple[str, ...]
    scrubbed: int  # values blotted out inside published text
    published_at: datetime

    def as_index_entry(self) -> dict[str, Any]:
        return {"item": self.item, "unit": self.unit, "rows": self.rows, "csv": self.csv.name,
                "json": self.json.name, "withheld": list(self.withheld), "scrubbed": self.scrubbed,
                "published_at": self.published_at.isoformat(timespec="seconds")}


def empty_rows(item: Item) -> pd.DataFrame:
    return pd.DataFrame({f.name: pd.Series(dtype="object") for f in item.fields})


def open_table(item: Item, shared_rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows as published: catalogue fields only (no lineage), personal fields out, text scrubbed."""
    columns = [f.name for f in published_fields(item) if f.name in shared_rows.columns]
    table = shared_rows[columns].copy()
    scrubbed = 0
    for f in published_fields(item):
        if f.name in table.columns and _free_text(f):
            cleaned = per_distinct(table[f.name], lambda v: scrub(v) if isinstance(v, str) else (v, 0))
            table[f.name] = [value for value, _ in cleaned]
            scrubbed += sum(n for _, n in cleaned)
    order = [key for key in item.primary_key if key in table.columns] or columns[:1]
    return table.sort_values(order).reset_index(drop=True), scrubbed


@dataclass(frozen=True, eq=False)
class Edition:
    """What one publication writes: the CSV is ``table``, the JSON is ``document`` with ``table`` as records."""

    item: Item
    table: pd.DataFrame
    document: dict[str, Any]  # the JSON's metadata, without its records
    scrubbed: int


def edition(catalogue: Catalogue, item: Item, shared_rows: pd.DataFrame, now: datetime) -> Edition:
    table, scrubbed = open_table(item, shared_rows)
    fields = [{"name": f.name, "label": f.label, "type": f.type.value} for f in published_fields(item)]
    document = {"dataset": item.code, "title": item.name, "publisher": catalogue.unit(item.unit).name,
                "published_at": now.isoformat(timespec="seconds"), "fields": fields}
    return Edition(item, table, document, scrubbed)


def write_edition(staged: Edition, directory: Path, now: datetime) -> Publication:
    """Write ``<directory>/<item>.csv`` (UTF-8 with BOM, for spreadsheet users; formula-like cells quoted) and
    ``<item>.json``."""
    item, table = staged.item, staged.table
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = directory / f"{item.code}.csv", directory / f"{item.code}.json"
    safe_frame(table, numeric_columns(item)).to_csv(csv_path, index=False, encoding="utf-8-sig",
                                                    lineterminator=CSV_LINE_END)
    # The JSON carries the values as they are: a JSON reader evaluates nothing (pipelines.outputs).
    _write_json(json_path, staged.document, table)
    return Publication(item.code, item.unit, len(table), csv_path, json_path, tuple(withheld_fields(item)),
                       staged.scrubbed, now)


JSON_CHUNK_ROWS = 50_000


def _write_json(path: Path, document: dict[str, Any], table: pd.DataFrame) -> None:
    """The document with ``table`` as its records, written a chunk of rows at a time: pandas' JSON of each
    chunk as it is, never a million rows as Python dicts."""
    with path.open("w", encoding="utf-8") as out:
        out.write(_json_head(document))
        for start in range(0, len(table), JSON_CHUNK_ROWS):
            _write_records(out, table.iloc[start:start + JSON_CHUNK_ROWS], first=start == 0)
        out.write("]\n}\n")


def _json_head(document: dict[str, Any]) -> str:
    head = json.dumps(document, ensure_ascii=False, indent=1)
    return head[:-1].rstrip() + (',\n "records": [' if document else '"records": [')


def _write_records(out: Any, rows: pd.DataFrame, first: bool) -> None:
    if len(rows):
        records = rows.to_json(orient="records", force_ascii=False, date_format="iso")
        out.write(("" if first else ",") + "\n" + records[1:-1])


def publish(catalogue: Catalogue, item: Item, shared_rows: pd.DataFrame, directory: Path,
            now: datetime) -> Publication:
    return write_edition(edition(catalogue, item, shared_rows, now), directory, now)


def stage(catalogue: Catalogue, item: Item, shared_rows: pd.DataFrame, directory: Path,
          now: datetime) -> tuple[Publication, list[Finding]]:
    """Write the files to ``directory`` and scan the edition they were written from, once for both."""
    staged = edition(catalogue, item, shared_rows, now)
    publication = write_edition(staged, directory, now)
    scanner = PersonalScanner.of(personal_values(item, shared_rows))
    return publication, scan_edition(staged, publication, scanner)


STORE_CHUNK_ROWS = 100_000


def stage_from_store(catalogue: Catalogue, item: Item, store: Any, directory: Path, now: datetime,
                     chunk_rows: int = STORE_CHUNK_ROWS) -> tuple[Publication, list[Finding]]:
    """``stage`` of the item's shared table (``store``: the platform's ``Store``) read a chunk of rows at a time, in key
    order from the database, so a million-row table is never one frame: the same files, the same findings.
    An item whose key is withheld (personal) is published from the whole table: its order is pandas'.
    On PostgreSQL the cells come as the database's text (``pipelines.opendata_text``) when their types allow."""
    shared = store.shared
    table = shared.table(item)
    published = [f.name for f in published_fields(item) if f.name in table.c]
    if not set(item.primary_key) <= set(published) or not shared.exists(item):
        rows = shared.read_table(item) if shared.exists(item) else empty_rows(item)
        return stage(catalogue, item, rows, directory, now)
    fields = {f.name: f for f in item.fields}
    text_order = [table.c[k].collate("C") if store.dialect == "postgresql" and fields[k].type is FieldType.STRING
                  else table.c[k] for k in item.primary_key]  # code-point order, as pandas sorts text
    query = select(*(table.c[c] for c in published)).order_by(*text_order)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="personal-values") as helper, \
            store.engine.connect() as conn:
        scanner = _known_values_scanner(helper, item, store, table)
        columns = [fields[c] for c in published]
        if opendata_text.copies(columns, [fields[k] for k in item.primary_key], store.dialect):
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            parts = _text_parts(item, columns, opendata_text.copied_tables(conn, sql, published, chunk_rows))
        else:
            chunks = pd.read_sql(query, conn.execution_options(stream_results=True), chunksize=chunk_rows)
            parts = _frame_parts(item, chunks)
        parts = progress.reported(parts, f"{item.code}: open data", None, lambda part: part.rows)
        return _write_chunks(catalogue, item, parts, directory, now, scanner)


def _known_values_scanner(helper: ThreadPoolExecutor, item: Item, store: Any,
                          table: Any) -> Callable[[], PersonalScanner]:
    """The scanner of the table's personal values, asked for when the first rows are to be scanned. On
    PostgreSQL they are read on a connection of their own in ``helper``'s thread, beside the COPY of the rows
    (the server answers both at once; a million-row table's distinct phone numbers take about 2 s)."""
    if store.dialect != "postgresql":  # SQLite: one writer, and an in-memory database is one connection
        scanner = PersonalScanner.of(_stored_personal_values(item, store, table))
        return lambda: scanner
    reading = helper.submit(_stored_personal_values, item, store, table)
    return cache(lambda: PersonalScanner.of(reading.result()))


def _stored_personal_values(item: Item, store: Any, table: Any) -> set[str]:
    """``personal_values`` of the table, read as the distinct values of its personal columns."""
    values: set[str] = set()
    with store.engine.connect() as conn:
        for f in item.fields:
            if is_personal(f) and f.name in table.c:
                text = store.dialect == "postgresql" and f.type is FieldType.STRING
                found = _distinct_texts(conn, table.c[f.name]) if text else [
                    str(v) for v in conn.execute(select(table.c[f.name]).distinct()).scalars() if v is not None]
                values |= {v for v in found if len(v) >= _SHORTEST_NAME}
    return values


def _distinct_texts(conn: Any, column: Any) -> list[str]:
    """A PostgreSQL text column's distinct values, fetched by the DBAPI cursor: the same strings (nothing
    converts a text), without SQLAlchemy's rows, which cost more than the query (a million-row table has as
    many phone numbers)."""
    query = select(column).distinct().where(column.is_not(None))
    cursor = conn.connection.cursor()
    cursor.execute(str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
    return [value for (value,) in cursor.fetchall()]


@dataclass(frozen=True)
class _Part:
    """One chunk of the published rows as the files hold it: the CSV's lines (the header's too in the first part),
    the JSON's records (comma-separated, no brackets) and each column's non-null cells as text, for the scan,
    with its distinct texts joined (``_CELL_SEPARATOR``): what the scan needs of a column that repeats."""

    rows: int
    scrubbed: int
    header: list[str]
    csv: bytes  # UTF-8, as the files hold them
    records: bytes
    cells: list[list[str] | pa.Array]  # by column, in header order (an Arrow column's nulls are not scanned)
    distinct: list[str]  # by column: its distinct cells joined
    numbers: list[bool | None] | None = None  # by column: may_hold_numbers of those, where already looked at


def _frame_parts(item: Item, chunks: Iterable[pd.DataFrame]) -> Iterator[_Part]:
    """The parts of chunks read as frames (``open_table``, pandas' writers)."""
    for number, chunk in enumerate(_at_least_one(chunks, empty_rows(item))):
        part, blotted = open_table(item, chunk)
        csv_text = safe_frame(part, numeric_columns(item)).to_csv(header=number == 0, index=False,
                                                                  lineterminator=CSV_LINE_END)
        records = part.to_json(orient="records", force_ascii=False, date_format="iso")[1:-1] if len(part) else ""
        cells = [part[column].dropna().astype(str).tolist() for column in part.columns]
        yield _Part(len(part), blotted, [str(c) for c in part.columns], csv_text.encode(), records.encode(), cells,
                    [_CELL_SEPARATOR.join(set(column)) for column in cells])


@dataclass(frozen=True)
class _Column:
    """One column of a chunk of text cells as the files and the scan take it, in Arrow text arrays."""

    csv: pa.Array  # each cell as the CSV holds it: quoted where it must be, a missing one empty
    json: pa.Array  # what the records hold of each cell between the slot's two ends
    slot: tuple[str, str]  # nothing around a JSON text, or the quotes (and a date's time) around a plain text
    scan: pa.Array | list[str]  # the cells as the frame path scans them (an array's nulls are not scanned)
    distinct: str  # the distinct scanned cells joined
    scrubbed: int = 0
    numbers: bool | None = None  # may_hold_numbers(distinct), where the scrub looked already


def _text_parts(item: Item, fields: list[ItemField], chunks: Iterable[pa.Table]) -> Iterator[_Part]:
    """The parts of chunks of text cells (``opendata_text.copied_tables``): what ``_frame_parts`` gives of the same
    rows read by read_sql. The rows are in key order already: the database's is pandas' (``stage_from_store``).
    Each column's distinct texts are looked at once, for what the CSV, the JSON and the scan need of them; a cell
    changes (scrubbed, quoted, escaped) through its distinct text, and the CSV's lines and the JSON's records are
    joined by Arrow's kernels: a cell becomes a Python string only as one of its column's distinct texts."""
    header = [f.name for f in fields]
    keys = [opendata_text.json_key(name) for name in header]
    empty = pa.table({name: pa.array([], pa.string()) for name in header})
    for number, table in enumerate(_at_least_one(chunks, empty)):
        columns = [_column(f, table.column(n).combine_chunks()) for n, f in enumerate(fields)]
        csv_columns = [column.csv for column in columns]
        if len(csv_columns) == 1:  # csv.writer's row of one empty cell is "", so that the row is not empty
            csv_columns = [pc.if_else(pc.equal(csv_columns[0], ""), '""', csv_columns[0])]
        lines = opendata_text.joined_rows(csv_columns, ",", CSV_LINE_END) if table.num_rows else b""
        yield _Part(table.num_rows, sum(column.scrubbed for column in columns), header,
                    ((_csv_row(header) + CSV_LINE_END).encode() if number == 0 else b"") + lines,
                    opendata_text.joined_rows(_record_pieces(keys, columns), "", ",")[:-1] if table.num_rows else b"",
                    [column.scan for column in columns], [column.distinct for column in columns],
                    [column.numbers for column in columns])


def _column(f: ItemField, cells: pa.Array) -> _Column:
    if f.type is FieldType.STRING:
        return _text_column(f, cells)
    floats = opendata_text.column_floats(f, cells)
    if floats is not None:
        return _float_column(floats)
    distinct = _CELL_SEPARATOR.join(opendata_text.distinct_texts(cells))
    csv_cells = pc.fill_null(cells, "")
    if f.type is FieldType.DATE:
        if not cells.null_count:
            return _Column(csv_cells, cells, ('"', 'T00:00:00.000"'), cells, distinct)
        return _Column(csv_cells, pc.fill_null(opendata_text.wrapped(cells, '"', 'T00:00:00.000"'), "null"),
                       _JSON_TEXT, cells, distinct)
    return _Column(csv_cells, pc.fill_null(cells, "null"), _JSON_TEXT, cells, distinct)  # an integer, none missing


def _float_column(floats: Any) -> _Column:
    """A column read_sql gives as floats (``opendata_text.column_floats``): numpy's texts, a missing cell empty."""
    texts, missing = opendata_text.float_texts(floats)
    json = pa.array(opendata_text.json_floats(floats), pa.string())
    if not missing.any():
        return _Column(pa.array(texts, pa.string()), json, _JSON_TEXT, texts, _CELL_SEPARATOR.join(set(texts)))
    scan = [text for text, gone in zip(texts, missing, strict=True) if not gone]
    csv_cells = pa.array([text if not gone else "" for text, gone in zip(texts, missing, strict=True)], pa.string())
    return _Column(csv_cells, json, _JSON_TEXT, scan, _CELL_SEPARATOR.join(set(scan)))


def _text_column(f: ItemField, cells: pa.Array) -> _Column:
    """A text column: scrubbed (free text), formula-quoted and CSV-quoted, JSON-escaped, each only where one of
    its distinct texts needs it, which one look at them all tells."""
    present = opendata_text.distinct_texts(cells)
    missing = cells.null_count > 0
    joined = _CELL_SEPARATOR.join(present)
    scrubbed = 0
    numbers = may_hold_numbers(joined) if _free_text(f) else None
    if numbers:
        cells, scrubbed = _scrubbed_cells(cells, present)
        if scrubbed:
            present = opendata_text.distinct_texts(cells)
            joined = _CELL_SEPARATOR.join(present)
            numbers = None
    json_cells, slot = _json_cells(cells, present, missing, joined)
    return _Column(_csv_cells(cells, present, missing, joined), json_cells, slot, cells, joined, scrubbed, numbers)


def _scrubbed_cells(cells: pa.Array, present: list[str]) -> tuple[pa.Array, int]:
    """``open_table``'s scrub of a column of text cells: each distinct text once; the count is per cell."""
    done = {text: scrub(text) for text in present}
    blotted = {text: found for text, (_, found) in done.items() if found}
    if not blotted:
        return cells, 0
    counts = pc.value_counts(cells.filter(pc.is_in(cells, value_set=pa.array(list(blotted), pa.string()))))
    scrubbed = sum(blotted[entry["values"].as_py()] * entry["counts"].as_py() for entry in counts)
    return opendata_text.mapped(cells, {text: done[text][0] for text in blotted}), scrubbed


def _csv_cells(cells: pa.Array, present: list[str], missing: bool, joined: str) -> pa.Array:
    """``safe_frame``'s cells as ``csv.writer`` writes them: a text formula-quoted (``neutralised``; only text is
    ever quoted, and a text field is no numeric column), then in double quotes if it holds a comma, a double
    quote or a line end (QUOTE_MINIMAL with the CSV's line end), a missing cell empty."""
    # each text starts the joined texts or follows a separator
    starts = joined[:1] in _FORMULA_FIRST or _FORMULA_FIRST_AFTER_SEPARATOR.search(joined)
    changed = {text: neutralised(text) for text in present if text and text[0] in _FORMULA_FIRST} if starts else {}
    changed = {text: quoted for text, quoted in changed.items() if quoted is not text}
    if _CSV_QUOTED.search(joined):
        changed = {text: _csv_field(changed.get(text, text)) for text in present
                   if text in changed or _CSV_QUOTED.search(text)}
    quoted = opendata_text.mapped(cells, changed) if changed else cells
    return pc.fill_null(quoted, "") if missing else quoted


def _csv_field(text: str) -> str:
    return f'"{text.replace(QUOTE_MARK, QUOTE_MARK * 2)}"' if _CSV_QUOTED.search(text) else text


def _csv_row(cells: list[str]) -> str:
    return ",".join(map(_csv_field, cells)) if len(cells) != 1 or cells[0] else '""'


def _json_cells(cells: pa.Array, present: list[str], missing: bool, joined: str) -> tuple[pa.Array, tuple[str, str]]:
    """The column's JSON, as pandas' to_json writes read_sql's texts (``opendata_text.json_strings``): a column of
    texts none of which JSON escapes, and none missing, is its cells as they are, in quotes."""
    if not opendata_text.json_escapes(joined, len(present)):
        if not missing:
            return cells, ('"', '"')
        return pc.fill_null(opendata_text.wrapped(cells, '"', '"'), "null"), _JSON_TEXT
    texts = dict(zip(present, opendata_text.json_strings(present), strict=True))
    return pc.fill_null(opendata_text.mapped(cells, texts), "null"), _JSON_TEXT


_JSON_TEXT = ("", "")  # a slot for JSON texts: nothing around them


def _record_pieces(keys: list[str], columns: list[_Column]) -> list[pa.Array | str]:
    """A record's pieces in order: its constant text (a key, its slot's ends), each column's cells between."""
    pieces: list[pa.Array | str] = []
    between = "{"
    for key, column in zip(keys, columns, strict=True):
        before, after = column.slot
        pieces += [f"{between}{key}:{before}", column.json]
        between = after + ","
    return [*pieces, between[:-1] + "}"]


_FORMULA_FIRST = frozenset((*FORMULA_STARTS, QUOTE))  # a text neutralised changes starts with one of these
_FORMULA_FIRST_AFTER_SEPARATOR = re.compile("\x1f[" + re.escape("".join(sorted(_FORMULA_FIRST))) + "]")
QUOTE_MARK = '"'
_CSV_QUOTED = re.compile('[,"\r\n]')  # csv.writer's QUOTE_MINIMAL: the delimiter, the quote, the line end's


def _write_chunks(catalogue: Catalogue, item: Item, parts: Iterable[_Part], directory: Path, now: datetime,
                  scanner_of: Callable[[], PersonalScanner]) -> tuple[Publication, list[Finding]]:
    directory.mkdir(parents=True, exist_ok=True)
    document = edition(catalogue, item, empty_rows(item), now).document
    csv_path, json_path = directory / f"{item.code}.csv", directory / f"{item.code}.json"
    rows = scrubbed = 0
    found: dict[str, list[list[str]]] = {}  # column -> per kind's values, so findings come column by column
    known: set[str] = set()
    header: list[str] = []
    # the parts' UTF-8 bytes as they are (the CSV's BOM first, as write_edition's "utf-8-sig" writes it)
    with csv_path.open("wb") as csv_out, json_path.open("wb") as js:
        csv_out.write(codecs.BOM_UTF8)
        js.write(_json_head(document).encode())
        for part in parts:
            header = part.header
            csv_out.write(part.csv)
            if part.rows:
                js.write(b"\n" if rows == 0 else b",\n")
                js.write(part.records)
            looked = part.numbers or [None] * len(header)
            scanner = scanner_of()  # once the first rows are here: their COPY ran beside the known values' read
            for column, cells, distinct, may_hold in zip(header, part.cells, part.distinct, looked, strict=True):
                kinds = found.setdefault(column, [[] for _ in _NUMBER_KINDS])
                for kind, value in _shaped_numbers(cells, distinct, may_hold):
                    kinds[_NUMBER_KINDS.index(kind)].append(value)
                # a set of values: each distinct cell once is enough, unless a value could span two cells
                known |= scanner.known_in(_CELL_SEPARATOR.join(_listed(cells)) if scanner.spans_cells else distinct)
            rows, scrubbed = rows + part.rows, scrubbed + part.scrubbed
        js.write(b"]\n}\n")
    scanner = scanner_of()
    for kind, value in shaped_numbers(header):
        found.setdefault("", [[] for _ in _NUMBER_KINDS])[_NUMBER_KINDS.index(kind)].append(value)
    known |= scanner.known_in(_CELL_SEPARATOR.join(header))
    order = ["", *(c for c in found if c)]  # the column names first, as published_cells has them
    numbers = [(kind, value) for k, kind in enumerate(_NUMBER_KINDS) for c in order if c in found
               for value in found[c][k]]
    publication = Publication(item.code, item.unit, rows, csv_path, json_path, tuple(withheld_fields(item)),
                              scrubbed, now)
    return publication, _verdicts(publication, document, numbers, known, scanner)


def _at_least_one(chunks: Iterable[Any], empty: Any) -> Iterator[Any]:
    """The chunks, or one empty chunk when there are none: an empty table still has its header."""
    given = False
    for chunk in chunks:
        given = True
        yield chunk
    if not given:
        yield empty


def _verdicts(publication: Publication, document: dict[str, Any], numbers: list[tuple[str, str]], known: set[str],
              scanner: PersonalScanner) -> list[Finding]:
    """scan_edition's findings from the table's numbers and known values and the document's metadata."""
    metadata = _document_strings(document)
    json_numbers = sorted(shaped_numbers(metadata) + numbers, key=lambda n: _NUMBER_KINDS.index(n[0]))
    json_known = known | scanner.known_in(_CELL_SEPARATOR.join(metadata))
    return _findings(publication.csv.name, numbers, known) + _findings(publication.json.name, json_numbers, json_known)


def release(staged: Publication, directory: Path) -> Publication:
    """Move staged files into the published folder, replacing the previous edition."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = directory / staged.csv.name, directory / staged.json.name
    os.replace(staged.csv, csv_path)
    os.replace(staged.json, json_path)
    return replace(staged, csv=csv_path, json=json_path)


def discard(staged: Publication) -> None:
    """Delete staged files that failed the scan: they hold personal data."""
    staged.csv.unlink(missing_ok=True)
    staged.json.unlink(missing_ok=True)


def withdraw(directory: Path, item_code: str) -> None:
    """Take an item's files off the published folder."""
    for suffix in (".csv", ".json"):
        (directory / f"{item_code}{suffix}").unlink(missing_ok=True)


def write_index(directory: Path, released: Iterable[Publication], withdrawn: Iterable[str],
                still_open: set[str]) -> Path:
    """Merge released publications into ``index.json`` (a subset run keeps the other items' entries);
    drop withdrawn items and items no longer open, and take the latter's files down as well."""
    index = read_index(directory)
    index.update({p.item: p.as_index_entry() for p in released})
    for code in set(withdrawn) | (set(index) - still_open):
        index.pop(code, None)
        withdraw(directory, code)
    path = directory / INDEX_NAME
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(index.items())), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_index(directory: Path) -> dict[str, dict[str, Any]]:
    path = directory / INDEX_NAME
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str  # citizen_id | mobile | email | known_personal_value
    sample: str  # masked: the finding itself must not leak

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} {self.sample}"


def personal_values(item: Item, shared_rows: pd.DataFrame) -> set[str]:
    """The source rows' values of personal fields: names and numbers that must not appear in the file."""
    values: set[str] = set()
    for f in item.fields:
        if is_personal(f) and f.name in shared_rows.columns:
            values |= {str(v) for v in shared_rows[f.name].dropna() if len(str(v)) >= _SHORTEST_NAME}
    return values


# Cells are joined with a character no pattern matches (not a digit, letter, '.', '+', '-' or '@'), so no
# citizen ID, mobile number or known value is found across two cells; in the files a ',' or '"' separates them.
_CELL_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class PersonalScanner:
    """Finds every known personal value in one pass over a text, however many values there are.

    Values of ASCII digits alone (phone numbers, identity numbers: most of a large table's) are not put in the
    automaton, whose building cost a second for a table's 180,000 phone numbers: such a value can only occur
    inside a run of ASCII digits at least as long as it, so those runs' windows of each such value's length are
    looked up in a set. Published text seldom holds a run as long as a phone number."""

    automaton: Any  # ahocorasick.Automaton over the other known values, None when there are none
    numbers: frozenset[str] = frozenset()  # the known values of ASCII digits only
    lengths: tuple[int, ...] = ()  # their lengths, shortest first
    spans_cells: bool = False  # a known value holds the cells' separator: two cells side by side may spell it

    @classmethod
    def of(cls, known_values: Iterable[str]) -> PersonalScanner:
        values = set(known_values)  # in C where it can be: a large table's values are mostly phone numbers
        values.discard("")
        digits = set(filter(str.isdigit, values))
        numbers = frozenset(digits if "".join(digits).isascii() else (v for v in digits if v.isascii()))
        lengths = tuple(sorted(set(map(len, numbers))))
        words = values - numbers
        if not words:
            return cls(None, numbers, lengths)
        spans = any(_CELL_SEPARATOR in word for word in words)
        automaton = ahocorasick.Automaton()
        for value in words:
            automaton.add_word(value, value)
        automaton.make_automaton()
        return cls(automaton, numbers, lengths, spans)

    def known_in(self, text: str) -> set[str]:
        """The known values occurring anywhere in ``text`` (substring semantics, overlaps included)."""
        found = set() if self.automaton is None else {value for _end, value in self.automaton.iter(text)}
        if self.numbers and _has_digit_run(text, self.lengths[0]):
            runs = re.findall(f"(?<![0-9])[0-9]{{{self.lengths[0]},}}", text)
            found |= self._numbers_in(set(runs))
        return found

    def _numbers_in(self, runs: set[str]) -> set[str]:
        return {run[start:start + length] for run in runs for length in self.lengths
                for start in range(len(run) - length + 1) if run[start:start + length] in self.numbers}


def _has_digit_run(text: str, length: int) -> bool:
    """Whether ``text`` holds ``length`` ASCII digits in a row: its UTF-8 bytes, digits made "0", searched for
    them (a regular expression tries every digit; no byte of another character is an ASCII digit)."""
    return b"0" * length in text.encode("utf-8", "surrogatepass").translate(_ASCII_DIGITS_AS_ZERO)


_ASCII_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def find_personal_data(path: Path, known_values: Iterable[str] = ()) -> list[Finding]:
    """Scan a file on disk for citizen IDs, mobile numbers, e-mail addresses and known personal values."""
    text = path.read_text(encoding="utf-8-sig")
    return _findings(path.name, personal_numbers(text), PersonalScanner.of(known_values).known_in(text))


def scan_edition(staged: Edition, publication: Publication, scanner: PersonalScanner) -> list[Finding]:
    """One verdict for both files. Each cell's text is in the CSV and in the JSON alike (quoting and
    escaping only add characters around it), as are the column names: what is found there is in both
    files. The JSON's metadata (title, publisher, labels) is in the JSON only, and is scanned on its own.
    Findings come column by column, not in the files' row order."""
    metadata = _document_strings(staged.document)
    found: dict[str, list[str]] = {kind: [] for kind in _NUMBER_KINDS}
    known: set[str] = set()
    for cells in _published_columns(staged.table):  # a column at a time: no match spans two cells anyway
        for kind, value in shaped_numbers(cells):
            found[kind].append(value)
        known |= scanner.known_in(_CELL_SEPARATOR.join(cells))
    numbers = [(kind, value) for kind in _NUMBER_KINDS for value in found[kind]]  # personal_numbers' order
    json_numbers = sorted(shaped_numbers(metadata) + numbers, key=lambda n: _NUMBER_KINDS.index(n[0]))  # stable
    json_known = known | scanner.known_in(_CELL_SEPARATOR.join(metadata))
    return _findings(publication.csv.name, numbers, known) + _findings(publication.json.name, json_numbers, json_known)


_NUMBER_KINDS = ("citizen_id", "mobile", "email")  # the order personal_numbers reports them in


def shaped_numbers(cells: list[str]) -> list[tuple[str, str]]:
    """What ``personal_numbers`` finds in the cells joined. E-mail addresses are looked for only in cells
    holding an '@': the same matches (none spans two cells) without the e-mail pattern retrying at every
    character of every text (Chinese characters are word characters too), half the cost of the scan."""
    return _shaped_numbers(cells, _CELL_SEPARATOR.join(set(cells)))


def _shaped_numbers(cells: list[str] | pa.Array, distinct: str,
                    numbers: bool | None = None) -> list[tuple[str, str]]:
    """``shaped_numbers`` of the cells, given their distinct texts joined (and whether they may hold numbers)."""
    if not (may_hold_numbers(distinct) if numbers is None else numbers):  # the usual column: nothing of the kind
        return []
    cells = _listed(cells)
    text = _CELL_SEPARATOR.join(cells)
    found = [("citizen_id", m.group(0)) for m in CITIZEN_ID_SHAPED.finditer(text) if looks_like_citizen_id(m)]
    found += [("mobile", m.group(0)) for m in MOBILE.finditer(text)]
    with_at = _CELL_SEPARATOR.join(cell for cell in cells if "@" in cell)
    return found + [("email", m.group(0)) for m in EMAIL.finditer(with_at)]


def _listed(cells: list[str] | pa.Array) -> list[str]:
    """A column's scanned cells as texts: an Arrow column's present ones, made Python strings only when a scan
    must read them one by one."""
    return cells.drop_null().to_pylist() if isinstance(cells, pa.Array) else cells


def _findings(file: str, numbers: list[tuple[str, str]], known: set[str]) -> list[Finding]:
    return ([Finding(file, kind, _masked(value)) for kind, value in numbers]
            + [Finding(file, "known_personal_value", _masked(value)) for value in sorted(known)])


def published_cells(table: pd.DataFrame) -> list[str]:
    """The column names and every non-null cell as text, column by column."""
    return [cell for cells in _published_columns(table) for cell in cells]


def _published_columns(table: pd.DataFrame) -> Iterator[list[str]]:
    """``published_cells`` in parts: the column names, then each column's non-null cells as text."""
    yield [str(c) for c in table.columns]
    for column in table.columns:
        yield table[column].dropna().astype(str).tolist()


def rows_text(table: pd.DataFrame) -> str:
    """The published cells separated so that no match spans two cells."""
    return _CELL_SEPARATOR.join(published_cells(table))


def _document_strings(document: dict[str, Any]) -> list[str]:
    out = [str(v) for k, v in document.items() if k != "fields"]
    return out + [str(v) for f in document.get("fields", []) for v in f.values()]


def _masked(value: str) -> str:
    return value[0] + "*" * (len(value) - 1)
