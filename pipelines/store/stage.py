"""Stage data in the shared store: each submission's intake and validated rows, reachable from any worker.

A run's steps may execute on different machines (Dagster's Celery executor), which share nothing but the
Dagster instance, the broker and the shared store. So what intake leaves for validation, and validation
for convergence, lives in the store's ``platform_stage`` table rather than in local files: per
(submission, kind), the rows in chunks of ``CHUNK_ROWS`` rows, each an Arrow IPC stream of text columns
(zstd-compressed buffers, missing cells null). A chunk reads on its own, one column without the others, and
without a text parser: Arrow's buffers become the frame's cells directly. COPY is given each chunk as CSV,
written by Arrow's CSV writer. Chunks written before this format (zlib-compressed CSV) still read. On PostgreSQL a
chunk travels both ways by COPY's binary format, its bytes as they are stored.
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
from sqlalchemy import Connection, Engine, Table, delete, insert, select

from pipelines.catalogue.models import Item
from pipelines.outputs import CSV_LINE_END
from pipelines.overlap import read_ahead
from pipelines.store.postgres import copy_binary_in, copy_binary_value

# What converges: a stage stream or any open CSV text file (header + rows).
TextStream = IO[str] | io.TextIOBase
T = TypeVar("T")
CHUNK_ROWS = 100_000
# zstd's fastest level, on Arrow's buffers: per 1,000,000 rows of the large demo item, 0.8 s to write and 1.4 s to
# read back, against 2.6 s and 4.4 s for the zlib-compressed CSV the stage held before (its text joined, then
# parsed by pandas), in 65 MB against 50 MB; a key column alone reads in 0.3 s against 1.7 s
_IPC_OPTIONS = pa_ipc.IpcWriteOptions(compression=pa.Codec("zstd", compression_level=1))
# A smaller chunk is stored as it is: zstd's fixed cost per buffer (0.5 ms to write and 0.4 ms to read a 100-row
# chunk of twelve columns, against 0.01 ms each uncompressed) outweighs the bytes it saves (8.6 KB against 22 KB)
_COMPRESSED_FROM_BYTES = 1_000_000
_PLAIN_IPC = pa_ipc.IpcWriteOptions()
# how COPY and the SQLite load are given a chunk: RFC 4180 line ends, every text quoted (Arrow's writer
# quotes each string), a missing cell the empty text in quotes: never a blank line, which readers drop
_COPY_CSV = pa_csv.WriteOptions(eol=CSV_LINE_END)
_ZLIB_FIRST_BYTE = 0x78  # a chunk written before Arrow: zlib's header (deflate, 32 KB window) starts with it
INTAKE = "intake"
VALID = "valid"
_CHUNK_COLUMNS = ("submission_id", "kind", "chunk_no", "rows", "data")


class StageMissing(LookupError):
    """No stage data for that submission and kind: it was never written, or was deleted."""


def chunk_rows_setting() -> int:
    """Rows per chunk: ``GOVDATA_STAGE_CHUNK_ROWS`` when set (tests make it small to cross chunk seams),
    else CHUNK_ROWS. Read when a stage store is made, never at import."""
    return int(os.environ.get("GOVDATA_STAGE_CHUNK_ROWS") or CHUNK_ROWS)


@dataclass(frozen=True)
class Packed:
    """One chunk of stage data ready to store: its rows and its Arrow IPC stream (``_encoded``)."""

    rows: int
    data: bytes


@dataclass(frozen=True)
class StageStore:
    engine: Engine
    table: Table
    chunk_rows: int = field(default_factory=chunk_rows_setting)

    def write(self, submission_id: str, kind: str, frame: pd.DataFrame | Iterable[pd.DataFrame | Packed],
              conn: Connection | None = None) -> int:
        """Replace the stage data of (submission, kind) with ``frame``, or with the frames an iterable of
        them yields one at a time (``pipelines.intake.Chunks``: a large submission is never whole in memory),
        or with chunks ``pack`` made beforehand; one transaction (``conn``'s, when given: the ledger change the
        data belongs to commits with it). Returns the rows."""
        if conn is None:
            with self.engine.begin() as own:
                return self.write(submission_id, kind, frame, own)
        t = self.table
        conn.execute(delete(t).where(t.c.submission_id == submission_id, t.c.kind == kind))
        packed: Iterator[Packed] = (p for whole in ([frame] if isinstance(frame, pd.DataFrame) else frame)
                                    for p in ([whole] if isinstance(whole, Packed) else self.pack(whole)))
        if self._several(frame):  # each next chunk read, cleaned and compressed beside the insert of this one
            packed = read_ahead(packed)
        rows = 0
        for chunk_no, part in enumerate(packed):
            self._insert(conn, (submission_id, kind, chunk_no, part.rows, part.data))
            rows += part.rows
        return rows

    def _insert(self, conn: Connection, chunk: tuple[str, str, int, int, bytes]) -> None:
        """One chunk's row: on PostgreSQL by COPY's binary format, its bytes sent as they are (an INSERT's
        parameter is hex text the server decodes: a million rows' chunks written in half the time)."""
        if conn.dialect.name == "postgresql":
            copy_binary_in(conn, self.table, _CHUNK_COLUMNS, [chunk])
        else:
            conn.execute(insert(self.table).values(dict(zip(_CHUNK_COLUMNS, chunk, strict=True))))

    def _several(self, frame: pd.DataFrame | Iterable[pd.DataFrame | Packed]) -> bool:
        """Whether ``write`` may get more than one chunk (an iterable of frames, as intake's, may)."""
        if isinstance(frame, pd.DataFrame):
            return len(frame) > self.chunk_rows
        return not isinstance(frame, Sequence) or len(frame) > 1

    def pack(self, frame: pd.DataFrame) -> list[Packed]:
        """``frame`` as the chunks ``write`` stores, encoded now (outside the transaction that writes them)."""
        return [Packed(len(part), _encoded(part)) for part in _chunks(frame, self.chunk_rows)]

    def chunk_sizes(self, submission_id: str, kind: str) -> list[int]:
        """The rows of each stored chunk of (submission, kind), in order."""
        t = self.table
        query = select(t.c.rows).where(t.c.submission_id == submission_id, t.c.kind == kind).order_by(t.c.chunk_no)
        with self.engine.connect() as conn:
            sizes = [int(n) for n in conn.execute(query).scalars()]
        if not sizes:
            raise StageMissing(f"no {kind} stage data for {submission_id}")
        return sizes

    def read_chunks(self, submission_id: str, kind: str, item: Item,
                    columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """``read`` one stored chunk at a time (each frame indexed from 0), the next one fetched and decoded beside
        the caller's work on this one."""
        yield from self._chunks_made(submission_id, kind, lambda data: _chunk_frame(data, item, columns))

    def read(self, submission_id: str, kind: str, item: Item, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows as the intake wrote them: all catalogued columns in catalogue order (empty text as null),
        or only ``columns``. What was written is canonical text already (or, for a cell that did not parse,
        its cleaned text), and the value model is idempotent on both, so nothing is parsed again: on a
        million-row submission that second pass cost as much as the first."""
        parts = list(self._chunks_made(submission_id, kind, lambda data: _chunk_frame(data, item, columns)))
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def open_text(self, submission_id: str, kind: str) -> StageText:
        """A text stream of the CSV (one header, then every row), written out one chunk at a time, the next one
        beside the reading of this one (COPY sending it to the database)."""
        return StageText(self._chunks_made(submission_id, kind, _chunk_csv))

    def rows(self, submission_id: str, kind: str) -> int:
        t = self.table
        query = select(t.c.rows).where(t.c.submission_id == submission_id, t.c.kind == kind)
        with self.engine.connect() as conn:
            counts = list(conn.execute(query).scalars())
        if not counts:
            raise StageMissing(f"no {kind} stage data for {submission_id}")
        return sum(counts)

    def delete(self, submission_id: str, conn: Connection | None = None) -> int:
        """Drop every kind of stage data of the submission (in ``conn``'s transaction, when given); returns the
        chunks deleted."""
        if conn is None:
            with self.engine.begin() as own:
                return self.delete(submission_id, own)
        return int(conn.execute(delete(self.table).where(self.table.c.submission_id == submission_id)).rowcount)

    def _chunks_made(self, submission_id: str, kind: str, made: Callable[[bytes], T]) -> Iterator[T]:
        """What ``made`` makes of each stored chunk, in order; the chunk numbers are read first, then one chunk
        per query, so no connection is held while the caller consumes a chunk (COPY runs on another connection
        meanwhile). Of more than one chunk, the next is fetched and made beside the caller's work on this one."""
        t = self.table
        where = (t.c.submission_id == submission_id, t.c.kind == kind)
        with self.engine.connect() as conn:
            numbers = list(conn.execute(select(t.c.chunk_no).where(*where).order_by(t.c.chunk_no)).scalars())
        if not numbers:
            raise StageMissing(f"no {kind} stage data for {submission_id}")
        chunks = (made(self._fetch(submission_id, kind, number)) for number in numbers)
        return read_ahead(chunks) if len(numbers) > 1 else chunks  # one chunk: nothing to overlap, no thread

    def _fetch(self, submission_id: str, kind: str, chunk_no: int) -> bytes:
        """One chunk's bytes, on a connection of its own: on PostgreSQL by COPY's binary format, as they are
        stored (a SELECT sends hex text for the driver to decode: a million rows' chunks read in a quarter of
        the time)."""
        t = self.table
        query = select(t.c.data).where(t.c.submission_id == submission_id, t.c.kind == kind, t.c.chunk_no == chunk_no)
        with self.engine.connect() as conn:
            data = (copy_binary_value(conn, query) if conn.dialect.name == "postgresql" else
                    conn.execute(query).scalar())
        if data is None:  # deleted since its number was read
            raise StageMissing(f"no {kind} stage data for {submission_id} (chunk {chunk_no})")
        return bytes(data)


class StageText(io.TextIOBase):
    """The chunks read as one CSV: the first chunk whole, the later ones without their header line.

    One chunk's text is held at a time, read from a position: COPY reads 8 KB at a time, and cutting the
    read part off the front of the chunk instead would copy the rest of it on every read."""

    def __init__(self, texts: Iterator[str]):
        super().__init__()
        self._texts = texts
        self._chunk = ""
        self._pos = 0
        self._started = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> str:
        want = -1 if size is None or size < 0 else size
        pieces = []
        while want != 0 and self._available():
            end = len(self._chunk) if want < 0 else min(len(self._chunk), self._pos + want)
            pieces.append(self._chunk[self._pos:end])
            want = want if want < 0 else want - (end - self._pos)
            self._pos = end
        return "".join(pieces)

    # typeshed types IOBase.readline as bytes; a text stream returns str (whole lines: callers read the header)
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        pieces = []
        while self._available():
            newline = self._chunk.find("\n", self._pos)
            end = len(self._chunk) if newline < 0 else newline + 1
            pieces.append(self._chunk[self._pos:end])
            self._pos = end
            if newline >= 0:
                break
        return "".join(pieces)

    def header(self) -> list[str]:
        """Consume the header line and return its column names (the stream then holds only rows)."""
        return next(csv.reader([self.readline()]), [])

    def _available(self) -> bool:
        """Whether text is left, moving on to the next chunk when this one is read."""
        while self._pos >= len(self._chunk):
            text = next(self._texts, None)
            if text is None:
                return False
            # every chunk repeats the header: the later ones are read from after it
            self._chunk, self._pos = text, (text.find("\n") + 1 if self._started else 0)
            self._started = True
        return True


def _csv_frame(text: str, usecols: list[str]) -> pd.DataFrame:
    """A chunk's CSV text (as the stage held it before Arrow) as a frame of ``usecols``: empty text and absent
    columns None."""
    if len(text) >= SMALL_CHUNK or read_otherwise(text):
        return _pandas_frame(text, usecols)
    rows = stage_rows(text, usecols) if set(usecols) & set(_header(text)) else []  # pandas reads no row when
    return pd.DataFrame(rows, columns=usecols, dtype=object)                      # it reads no column


# Below this many characters (a thousand rows of ten columns) a chunk is read with the csv module: pandas'
# reader and the clean-up after it cost about 2 ms a chunk whatever its size (a tenth of that for 100 rows
# with the csv module), and per cell less than the csv module from a few hundred thousand characters on.
SMALL_CHUNK = 100_000


def read_otherwise(text: str) -> bool:
    """Whether the csv module would read the text otherwise than pandas did: a NUL (pandas' C reader ends a cell
    there); a text of one column, whose line of spaces pandas takes for a blank line (no row). A carriage return
    in a cell is no longer one: the writers quote it."""
    return "\x00" in text or "," not in text.partition("\n")[0]


def stage_rows(text: str, columns: Sequence[str]) -> list[list[str | None]]:
    """The rows of one chunk's CSV as lists of ``columns``' cells (empty text and absent columns as None), as
    pandas reads a text ``read_otherwise`` does not leave to it."""
    records = csv.reader(io.StringIO(text, newline=""))
    header = next(records, [])
    positions = {name: n for n, name in reversed(list(enumerate(header)))}  # the first of a repeated name
    wanted = [positions.get(name) for name in columns]
    # an empty line is no row to pandas either (the writer puts a lone empty cell in quotes)
    return [[(row[n] or None) if n is not None else None for n in wanted] for row in records if row]


def _header(text: str) -> list[str]:
    return next(csv.reader([text.partition("\n")[0]]), [])


def _pandas_frame(text: str, usecols: list[str]) -> pd.DataFrame:
    # the empty text (quoted or not) read as missing by the reader itself, where comparing every cell with ""
    # afterwards cost a fifth of the read; no other text is missing (keep_default_na=False: "NA" is a text)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""],
                        usecols=lambda c: c in usecols,
                        # pandas' C reader ends a cell at a NUL: a value the value model must refuse
                        # whole would come back cut short, and pass
                        engine="python" if "\x00" in text else "c")
    frame = frame.reindex(columns=usecols).astype(object)
    return frame.where(frame.notna(), None).reset_index(drop=True)


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    yield frame.iloc[:size]  # always one chunk: an empty submission keeps its header
    for start in range(size, len(frame), size):
        yield frame.iloc[start:start + size]


def _encoded(part: pd.DataFrame) -> bytes:
    """One chunk as the stage stores it: an Arrow IPC stream of its text columns, each missing cell (None, NaN,
    NA, the empty text) null; compressed from ``_COMPRESSED_FROM_BYTES`` on."""
    table = _text_table(part)
    sink = pa.BufferOutputStream()
    options = _IPC_OPTIONS if table.nbytes >= _COMPRESSED_FROM_BYTES else _PLAIN_IPC
    with pa_ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _text_table(part: pd.DataFrame) -> pa.Table:
    """The chunk's columns as Arrow text, the empty text null; of a repeated name, the first column (the one
    every reader of the stage took). Any other cell than a text or a missing one (a number, a truth value) is
    its text as pandas' CSV writer wrote it when the stage held CSV (``str``)."""
    names = [str(name) for name in part.columns]
    if len(set(names)) < len(names):
        first = _unique(names)
        return _text_table(part.iloc[:, [names.index(name) for name in first]].set_axis(first, axis=1))
    columns = _arrow_texts(part)
    if columns is None:
        return _text_table(part.astype(object).map(_as_text))
    nulled = [pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column) for column in columns]
    return pa.Table.from_arrays(nulled, schema=pa.schema([(name, pa.string()) for name in names]))


def _chunk_table(data: bytes) -> pa.Table:
    if data[:1] == bytes([_ZLIB_FIRST_BYTE]):  # written before Arrow: zlib-compressed CSV
        text = zlib.decompress(data).decode("utf-8")
        return _text_table(_csv_frame(text, _unique(_header(text))))
    return pa_ipc.open_stream(data).read_all()


def _as_text(cell: object) -> str | None:
    return None if pd.api.types.is_scalar(cell) and pd.isna(cell) else cell if isinstance(cell, str) else str(cell)


def _arrow_texts(part: pd.DataFrame) -> list[pa.Array | pa.ChunkedArray] | None:
    """Each column as an Arrow text array (an Arrow-backed one as it is: intake's), or None when a cell is not
    text or missing (or a column is neither Arrow text nor of objects: Arrow would cast numbers its own way)."""
    columns = []
    for n in range(part.shape[1]):
        column = part.iloc[:, n]
        if isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_string(column.dtype.pyarrow_dtype):
            columns.append(pa.array(column.array))
        elif not pd.api.types.is_object_dtype(column.dtype):
            return None
        else:
            try:
                columns.append(pa.array(column, type=pa.string(), from_pandas=True))
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                return None
    return columns


def _unique(names: list[str]) -> list[str]:
    """A CSV's column names, a repeated one once: its readers take the first column of a name."""
    return list(dict.fromkeys(names))


def _chunk_frame(data: bytes, item: Item, columns: Sequence[str] | None) -> pd.DataFrame:
    """A stored chunk as a frame of ``columns`` (all catalogued ones, in catalogue order, when None): text cells,
    None where missing, a column the chunk lacks all None."""
    table = _chunk_table(data)
    usecols = list(columns) if columns is not None else list(item.field_names)
    stored = set(table.column_names)  # each once (``_text_table``)
    arrays = [table.column(name) if name in stored else pa.nulls(table.num_rows, pa.string()) for name in usecols]
    return pa.Table.from_arrays(arrays, names=usecols).to_pandas()


def _chunk_csv(data: bytes) -> str:
    """A stored chunk as CSV text for COPY (and the SQLite load): its header, then a line per row."""
    table = _chunk_table(data)
    filled = pa.Table.from_arrays([pc.fill_null(column, "") for column in table.columns],
                                  names=table.column_names)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(filled, sink, _COPY_CSV)
    return sink.getvalue().to_pybytes().decode("utf-8")
