"""The one-window intake (art. 12, 14): find submissions, read them, refuse what is not catalogued.

Layout: ``<intake>/<unit>/<item>[__<tag>].(csv|xlsx|json)``. Files the platform is done with move
to ``_archive/``; refused files move to ``_rejected/`` with a ``.reason.txt`` beside them. Nothing
is deleted, so no row is ever lost silently.

The window trusts nothing it finds: links are never followed, pipes never opened, every entry that is
not a regular visible file of a catalogued unit is refused with a reason, and a file is taken in only
when every one of its rows can be read as its header says (no row shifted, cut or dropped).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item
from pipelines.clock import shown_time
from pipelines.outputs import unquoted_frame
from pipelines.quality.context import is_correction
from pipelines.quality.masking import redacted
from pipelines.values import canonical_frame, cell_text

SUPPORTED = (".csv", ".xlsx", ".json")
ARCHIVE = "_archive"
REJECTED = "_rejected"
KEPT_FOLDERS = (ARCHIVE, REJECTED)
# Entries lying directly in the intake window, outside every unit's folder, are recorded under this unit.
NO_UNIT = "_window"
# Chinese government files come as UTF-8 (often with a BOM) or GBK/GB18030; GB18030 is a superset of GBK.
ENCODINGS = ("utf-8", "gb18030")
BOMS = ((codecs.BOM_UTF8, "utf-8", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"))
DELIMITERS = (",", "\t", ";")  # in order of preference when the header holds as many of each
# Ledger column lengths (pipelines/store/schema.py): item and unit String(64); _submission_id String(200).
CODE_LENGTH = 64
NAME_LENGTH = 120  # 64 + 1 + 120 + 1 + 12 = 198 characters of submission id
LISTED = 10  # line numbers, records or cells named in a reason


class SubmissionError(ValueError):
    """A submission that cannot be taken in as it is; the message is the reason file's text."""


def bounded(text: str, longest: int) -> str:
    """The text cut to fit a column, with a hash of the whole so two long names stay apart."""
    if len(text) <= longest:
        return text
    return f"{text[:longest - 9]}~{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def submission_id(item: str, name: str, digest: str) -> str:
    """Fits the ledger's and the lineage's columns whatever the file's name; the full name stays in source."""
    return f"{bounded(item, CODE_LENGTH)}/{bounded(name, NAME_LENGTH)}/{digest[:12]}"


@dataclass(frozen=True)
class Submission:
    unit: str
    item: str
    path: Path
    digest: str

    @property
    def id(self) -> str:
        return submission_id(self.item, self.path.name, self.digest)


@dataclass(frozen=True)
class Refusal:
    unit: str
    path: Path
    reason: str
    item: str | None = None


@dataclass(frozen=True)
class Table:
    """A file's table as read: its header and its rows as text, in the file's order."""

    header: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]
    note: str = ""  # how it was read, when not plainly (several sheets concatenated)


# --- what lies in the window -------------------------------------------------------------------
def _mode(path: Path) -> int:
    return path.lstat().st_mode  # lstat: a link is judged as a link, never as what it points to


def is_regular(path: Path) -> bool:
    return stat.S_ISREG(_mode(path))


def _is_folder(path: Path) -> bool:
    return stat.S_ISDIR(_mode(path))


def kind_problem(path: Path) -> str:
    """Why an entry of the window cannot be a submission at all; empty for a regular visible file."""
    mode = _mode(path)
    if stat.S_ISLNK(mode):
        return "a symbolic link: links are not followed out of the intake window; submit the file itself"
    if stat.S_ISDIR(mode):
        return "a folder: submit the files themselves, directly in the unit's folder"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device): submit a file"
    if path.name.startswith("."):
        return "a hidden file (its name starts with '.'): submit it under a visible name"
    return ""


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _kept(path: Path) -> bool:
    return path.name in KEPT_FOLDERS and _is_folder(path)


def window_entries(intake_dir: Path, listed: Callable[[str], bool] | None = None) -> list[tuple[str, Path]]:
    """(folder, entry) for everything waiting in the window, files of unit folders and strays alike; with
    ``listed``, only the entries of the folders it accepts (the strays' folder being NO_UNIT)."""
    if not intake_dir.is_dir():
        return []
    entries: list[tuple[str, Path]] = []
    for top in _listing(intake_dir):
        if _kept(top):
            continue
        if _is_unit_folder(top):
            if listed is None or listed(top.name):
                entries += _folder_entries(top)
        elif listed is None or listed(NO_UNIT):
            entries.append((NO_UNIT, top))
    return entries


def folder_entries(intake_dir: Path, folder: str) -> list[tuple[str, Path]]:
    """``window_entries``' entries of one folder (NO_UNIT: the strays), the other folders not listed: a step
    judges only its own unit's, and listing the whole window for each of a province's items made intake
    quadratic."""
    if folder == NO_UNIT:
        return window_entries(intake_dir, lambda name: name == NO_UNIT)
    top = intake_dir / folder
    try:
        return _folder_entries(top) if not _kept(top) and _is_unit_folder(top) else []
    except (FileNotFoundError, NotADirectoryError):  # no folder of that unit (or no window) waits
        return []


def _is_unit_folder(top: Path) -> bool:
    return _is_folder(top) and not top.name.startswith(".")


def _folder_entries(top: Path) -> list[tuple[str, Path]]:
    return [(top.name, p) for p in _listing(top) if not _kept(p)]


def window_steward(catalogue: Catalogue) -> str | None:
    """The unit whose run also sets aside what lies outside every unit's folder: the first with items (the
    first with an asset), so each stray is recorded exactly once."""
    return next((u.code for u in catalogue.units if catalogue.items_of(u.code)), None)


def units_to_run(intake_dir: Path, catalogue: Catalogue) -> set[str]:
    """Units whose run is needed to judge every entry waiting, links, pipes and strays included."""
    units = {u.code for u in catalogue.units}
    steward = window_steward(catalogue)
    wanted = {folder if folder in units else steward for folder, _ in window_entries(intake_dir)}
    return {u for u in wanted if u is not None}


def file_digest(path: Path) -> str:
    """The content's hash; for what is not a regular file, a hash of what it is (nothing is read through it)."""
    if not is_regular(path):
        target = os.readlink(path) if path.is_symlink() else ""
        return hashlib.sha256(f"{stat.filemode(_mode(path))}|{path.name}|{target}".encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def item_code_of(path: Path) -> str:
    return path.stem.split("__", 1)[0]


def pending_files(intake_dir: Path, unit: str | None = None) -> list[Path]:
    """Every regular file waiting in the window (what discover refuses included), or in one unit's folder;
    links and pipes are left out here because callers stat them (the sensor's signature), but discover
    refuses them."""
    entries = window_entries(intake_dir) if unit is None else folder_entries(intake_dir, unit)
    return [p for _, p in entries if is_regular(p)]


def discover(intake_dir: Path, catalogue: Catalogue, today: date | None = None, unit: str | None = None,
             item: str | None = None) -> tuple[list[Submission], list[Refusal]]:
    """Today (the province's calendar day, ``pipelines.clock.province_day``) is when temporary collections are
    judged; without it (no clock) none has expired. With ``unit`` only that unit's folder is judged (and, for
    the window's steward, what lies outside every unit's), with ``item`` only that item's files: each accepted
    file is hashed, and hashing every file of the window for every item made a run quadratic."""
    accepted: list[Submission] = []
    refused: list[Refusal] = []
    units = {u.code for u in catalogue.units}
    owners = {u.code for u in catalogue.units if catalogue.items_of(u.code)}  # units that have a step
    for folder, path in _judged_by(intake_dir, unit, window_steward(catalogue), owners):
        if item is not None and item_code_of(path) != item:
            continue
        reason, code = _entry_reason(path, folder, units, catalogue, today)
        bounded_unit = bounded(folder, CODE_LENGTH)  # a stray folder's name may be longer than the column
        if reason:
            refused.append(Refusal(bounded_unit, path, reason, code))
        else:
            accepted.append(Submission(bounded_unit, item_code_of(path), path, file_digest(path)))
    return accepted, refused


def _judged_by(intake_dir: Path, unit: str | None, steward: str | None, owners: set[str]) -> list[tuple[str, Path]]:
    """The entries ``unit``'s step judges (every entry without a unit): its folder's and, for the window's
    steward, what no unit with a step owns; another unit's folder is judged by its own step, never this one."""
    if unit is None:
        return window_entries(intake_dir)
    if unit != steward:
        return folder_entries(intake_dir, unit)
    return window_entries(intake_dir, lambda folder: folder == unit or folder not in owners)


def _entry_reason(path: Path, folder: str, units: set[str], catalogue: Catalogue, today: date | None
                  ) -> tuple[str, str | None]:
    if folder == NO_UNIT:
        return kind_problem(path) or "not in a unit's folder: submit files in <intake>/<unit>/", None
    if folder not in units:
        return (f"folder '{_shown_header(folder)}' is not a catalogued unit: no collection outside the "
                "catalogue (art. 12)"), None
    problem = kind_problem(path)
    if problem:
        item = catalogue.find_item(item_code_of(path))
        return problem, item.code if item is not None and item.unit == folder else None
    return _catalogue_reason(path, folder, catalogue, today)


def _catalogue_reason(path: Path, unit: str, catalogue: Catalogue, today: date | None = None
                      ) -> tuple[str, str | None]:
    code = item_code_of(path)
    item = catalogue.find_item(code)
    if path.suffix.lower() not in SUPPORTED:
        return f"unsupported file type {path.suffix!r}: submit CSV, XLSX or JSON", item.code if item else None
    if item is None:
        return (f"item '{_shown_header(code)}' is not in the catalogue: no collection outside the catalogue "
                "(art. 12)"), None
    if item.unit != unit:
        return f"item '{code}' belongs to unit '{item.unit}', not '{unit}'", code
    if isinstance(item.collection, DatabaseCollection):
        return f"item '{code}' is collected from the unit's database, not by submission", code
    if item.temporary is not None and today is not None and item.temporary.expired(today):
        return expired_reason(item), code
    if item.temporary is not None and today is not None and not item.temporary.started(today):
        return not_started_reason(item), code
    return "", code


def expired_reason(item: Item) -> str:
    temporary = item.temporary
    assert temporary is not None
    return (f"temporary collection of item '{item.code}' expired on {temporary.expires.isoformat()} "
            f"(approved by {temporary.approver} for: {temporary.reason}): "
            "no collection outside the catalogue (art. 12)")


def not_started_reason(item: Item) -> str:
    temporary = item.temporary
    assert temporary is not None and temporary.starts is not None
    return (f"temporary collection of item '{item.code}' starts on {temporary.starts.isoformat()} "
            f"(approved by {temporary.approver} for: {temporary.reason}): "
            "no collection outside the catalogue (art. 12)")


# --- reading a submission ----------------------------------------------------------------------
INTAKE_NOTE = "intake_note"  # frame.attrs key: how the file was read, for the ledger's source


def read_submission(path: Path, item: Item) -> pd.DataFrame:
    """The submission as text columns named as catalogued; raises SubmissionError with the reason."""
    table = read_table(path)
    if not table.header and not table.rows:  # an empty JSON list: nothing submitted, nothing to name
        frame = pd.DataFrame(columns=list(item.field_names), dtype=object)
    else:
        frame = pd.DataFrame(list(table.rows), columns=list(table.header), dtype=object)
    frame = _rename_labels(frame, item)
    _check_columns(frame, item)
    if is_correction(path.name):  # the platform quoted formula-like cells of the correction list it sent
        frame = unquoted_frame(frame)
    result = normalise(frame, item)
    result.attrs[INTAKE_NOTE] = table.note
    return result


@dataclass(frozen=True)
class Chunks:
    """A submission read in chunks of rows, each chunk a frame as ``read_submission`` makes them (canonical
    text, catalogue order), made when iterated: a large CSV is held as its text and one chunk, not as a whole
    frame of cells. Iterating again reads the text again; there is always at least one (maybe empty) chunk."""

    rows: int
    make: Callable[[], Iterator[pd.DataFrame]]
    attrs: dict[str, str]
    count: int  # how many chunks iterating makes

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self.make()


def read_submission_chunks(path: Path, item: Item, chunk_rows: int) -> pd.DataFrame | Chunks:
    """The submission as ``read_submission`` reads it; a CSV in chunks of ``chunk_rows`` rows. Every reason to
    refuse the file (its encoding, its structure, its header) is found before the first chunk is made."""
    if path.suffix.lower() != ".csv":
        return read_submission(path, item)
    if not is_regular(path):
        raise SubmissionError(kind_problem(path))
    try:
        text = decode(path.read_bytes())
        delimiter = sniff_delimiter(text)
        layout = csv_layout(text, delimiter, chunk_rows)
    except SubmissionError:
        raise
    except Exception as exc:  # as read_table: a parser failure is a refusal reason
        raise SubmissionError(f"cannot be parsed as CSV: {_shown_error(exc)}") from exc
    names = _field_names(layout.header, item)
    _check_names(names, item)
    correction = is_correction(path.name)

    def make() -> Iterator[pd.DataFrame]:
        for span in layout.spans:
            table = None if correction else span_table(text, delimiter, span, names)
            if table is not None:
                yield normalise_table(table, item)
                continue
            frame = span_frame(text, delimiter, span, names)
            yield normalise(unquoted_frame(frame) if correction else frame, item)
    return Chunks(layout.rows, make, {INTAKE_NOTE: ""}, len(layout.spans))


@dataclass(frozen=True)
class Span:
    """One chunk's records: the text from ``start`` to ``end`` holds them (and maybe blank lines between them)."""

    start: int
    end: int
    rows: int
    clean: bool  # every line of the span is one plain record: pandas' C reader may read the span as it is


@dataclass(frozen=True)
class CsvLayout:
    """What one pass over a CSV's text finds: its header, its records, where each chunk's records lie."""

    header: tuple[str, ...]
    rows: int
    spans: tuple[Span, ...]  # at least one (an empty one when the file holds no record)


def csv_layout(text: str, delimiter: str, chunk_rows: int) -> CsvLayout:
    """The header, the number of records and the chunks' spans, after read_csv's checks (no records, ragged
    rows, blank headers): every reason to refuse the file is found here, before any chunk is made, and only
    offsets are kept (the cells are made again per chunk, by a faster reader where a span allows it)."""
    records = record_spans(text, delimiter)
    first = next(records, None)
    if first is None:
        raise SubmissionError("the file holds no header row and no records")
    header = _record_cells(text, delimiter, first)
    width, rows, ragged = len(header), 0, []
    lone = _lone_carriage_return(text)  # pandas' reader is given only \n or \r\n line ends
    spans: list[Span] = []
    start = end = first[2]
    clean = not lone
    for line, begin, after, cells in records:
        if rows % chunk_rows == 0:  # the first record of a chunk
            if rows:
                spans.append(Span(start, end, chunk_rows, clean))
            start = end = begin
            clean = not lone
        count = text.count(delimiter, begin, after) + 1 if cells is None else len(cells)
        if count != width:
            ragged.append((line, count))
        clean = clean and cells is None and begin == end  # a plain record, no blank line before it
        end = after
        rows += 1
    if ragged:
        raise SubmissionError(ragged_reason(width, ragged))
    spans.append(Span(start, end, rows - chunk_rows * len(spans), clean))
    return CsvLayout(_header(header), rows, tuple(spans))


Record = tuple[int, int, int, list[str] | None]  # line, start, end (after the line end), cells (None: plain)
# What the csv module reads otherwise than a split at the delimiter (a quote), or pandas' C reader otherwise than
# the csv module (it ends a cell at a NUL, drops a byte-order mark starting its text): such a record is read by
# the csv module.
_UNPLAIN_LINE = re.compile('["\x00\ufeff]')


def record_spans(text: str, delimiter: str, start: int = 0, stop: int | None = None) -> Iterator[Record]:
    """``iter_csv_records`` from ``start`` (a line's start) to ``stop`` (a line's end), with where each record lies:
    (line where the record starts counted from ``start``, its start, its end after its line end, its cells). A
    plain record (one line, no quote, no NUL, no field over the csv module's limit) is not split here: its cells
    are None, ``_record_cells`` makes them (a split at the delimiter, what the csv module makes of such a line)."""
    stop = len(text) if stop is None else stop
    lone = _lone_carriage_return(text, start, stop)
    solid = re.compile(r"[^\s" + re.escape(delimiter) + "]")  # \s is str.isspace: a blank record's test
    longest = csv.field_size_limit()
    quoted = _UNPLAIN_LINE.search(text, start, stop) is not None  # most files: no line to look into for one
    find, solid_at = text.find, solid.search
    line, pos = 1, start
    while pos < stop:
        if lone:
            after = _line_end(text, pos)
        else:
            newline = find("\n", pos, stop)
            after = stop if newline < 0 else newline + 1
        if after - pos > longest or (quoted and _UNPLAIN_LINE.search(text, pos, after)):
            feed = _LineFeed(text, pos)
            reader = csv.reader(feed, delimiter=delimiter)
            cells = next(reader)
            if "".join(cells).strip():
                yield line, pos, feed.end, cells
            line, pos = line + reader.line_num, feed.end
            continue
        if solid_at(text, pos, after):
            yield line, pos, after, None
        line, pos = line + 1, after


def _line_end(text: str, pos: int) -> int:
    """Where the line starting at ``pos`` ends, its line end included, in a text with lone carriage returns."""
    match = _LINE.match(text, pos)
    assert match is not None
    return match.end()


def _lone_carriage_return(text: str, start: int = 0, stop: int | None = None) -> bool:
    """Whether a line ends with a carriage return alone (not \r\n): lines are then found by ``_LINE``."""
    stop = len(text) if stop is None else stop
    return text.count("\r", start, stop) != text.count("\r\n", start, stop)


class _LineFeed:
    """The lines of ``text`` from ``pos`` for the csv module, remembering where the last line it was given ends: the
    csv module reads no line beyond the record it returns."""

    def __init__(self, text: str, pos: int):
        self._lines = _LINE.finditer(text, pos)
        self.end = pos

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        match = next(self._lines)
        self.end = match.end()
        return match.group(0)


def _record_cells(text: str, delimiter: str, record: Record) -> list[str]:
    _, start, end, cells = record
    return cells if cells is not None else text[start:end].rstrip("\r\n").split(delimiter)


def span_frame(text: str, delimiter: str, span: Span, names: list[str]) -> pd.DataFrame:
    """A chunk's records as a frame of text cells named ``names``: a clean span read by pandas' C reader (its
    cells come out column by column, which later column operations read several times faster than cells made
    row by row), any other span record by record as ``iter_csv_records`` reads it."""
    if span.rows == 0:
        return pd.DataFrame(columns=names, dtype=object)
    if span.clean:
        frame = _plain_frame(text[span.start:span.end], delimiter, len(names))
        if frame.shape == (span.rows, len(names)):  # always, for a clean span; else read it record by record
            return frame.set_axis(names, axis=1)
    rows = [_record_cells(text, delimiter, r) for r in record_spans(text, delimiter, span.start, span.end)]
    return pd.DataFrame(rows, columns=names, dtype=object)


# Arrow's CSV reader splits a clean span's lines at the delimiter, in C++ and on every core, into Arrow text
# columns: no Python string is made for a cell. Blocks of this many bytes are parsed in parallel; a record longer
# than one (a cell of a megabyte) fails the read, and the span is read by ``span_frame``.
_ARROW_BLOCK_BYTES = 1 << 20


def span_table(text: str, delimiter: str, span: Span, names: list[str]) -> pa.Table | None:
    """A clean span's records as ``span_frame`` reads them (every cell the text between two delimiters, none
    missing), as an Arrow table of text columns named ``names``; None when the span is not clean or Arrow's
    reader cannot take it as such (a non-ASCII delimiter, a text no UTF-8 can hold, an overlong record)."""
    if not span.clean or span.rows == 0 or not delimiter.isascii():
        return None
    try:
        data = text[span.start:span.end].encode("utf-8")
        table = pa_csv.read_csv(io.BytesIO(data), read_options=pa_csv.ReadOptions(
            column_names=names, block_size=_ARROW_BLOCK_BYTES), parse_options=pa_csv.ParseOptions(
            delimiter=delimiter, quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False,
            ignore_empty_lines=False), convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
            quoted_strings_can_be_null=False))
    except (UnicodeEncodeError, pa.ArrowException):
        return None
    return table if table.shape == (span.rows, len(names)) else None


def normalise_table(table: pa.Table, item: Item) -> pd.DataFrame:
    """``normalise`` of a span read by Arrow: the same canonical texts, in Arrow-backed text columns (missing
    cells NA), so that the stage stores Arrow's buffers as they are. Only cells not already canonical become
    Python strings, for the column readers."""
    from pipelines.column_values import canonical_array  # held to canonical_series' texts

    columns = {f.name: canonical_array(f, table.column(f.name)) if f.name in table.column_names else
               pa.nulls(table.num_rows, pa.string()) for f in item.fields}
    return pd.DataFrame({name: pd.arrays.ArrowExtensionArray(column) for name, column in columns.items()},
                        index=range(table.num_rows))


def _plain_frame(text: str, delimiter: str, width: int) -> pd.DataFrame:
    """Lines without a quote, a NUL or a byte-order mark, each a record of ``width`` cells, split at the delimiter
    (no quoting, no missing value, no blank line dropped: every cell the text between two delimiters)."""
    return pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=list(range(width)), index_col=False,
                       dtype=str, na_filter=False, keep_default_na=False, quoting=csv.QUOTE_NONE,
                       skip_blank_lines=False, engine="c").astype(object)


def source_of(path: Path, frame: pd.DataFrame | Chunks) -> str:
    """The ledger's source: the file's full name, and how it was read when not plainly."""
    note = frame.attrs.get(INTAKE_NOTE, "")
    return f"{path.name} ({note})" if note else path.name


def read_table(path: Path) -> Table:
    suffix = path.suffix.lower()
    if not is_regular(path):
        raise SubmissionError(kind_problem(path))
    try:
        if suffix == ".csv":
            return read_csv(path.read_bytes())
        if suffix == ".xlsx":
            return read_xlsx(path)
        return read_json(path.read_bytes())
    except SubmissionError:
        raise
    except Exception as exc:  # any parser failure is a refusal reason, never a crash of the run
        raise SubmissionError(f"cannot be parsed as {suffix[1:].upper()}: {_shown_error(exc)}") from exc


def _shown_error(exc: Exception) -> str:
    return redacted(f"{type(exc).__name__}: {exc}")[:200]


def decode(raw: bytes) -> str:
    """UTF-8 with or without BOM, UTF-16 with BOM, else GB18030 (GBK); control characters are kept as they
    are: the value model refuses them per row, with the row."""
    for bom, encoding, name in BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise SubmissionError(f"text starts with a {name} byte-order mark but byte {exc.start + len(bom)} "
                                      f"is not {name}") from exc
    if raw.count(0) * 4 > len(raw) > 0:
        raise SubmissionError("text looks like UTF-16 without a byte-order mark: save it as UTF-8")
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SubmissionError("text is neither UTF-8 (with or without BOM), UTF-16 with BOM nor GBK/GB18030")


def _decode_loosely(raw: bytes) -> str:
    """Text good enough to count records in: UTF-16 without BOM guessed from where its NULs are."""
    try:
        return decode(raw)
    except SubmissionError:
        if raw.count(0) * 4 > len(raw):
            big_endian = raw[0::2].count(0) > raw[1::2].count(0)
            return raw.decode("utf-16-be" if big_endian else "utf-16-le", errors="replace")
        return raw.decode("utf-8", errors="replace")


# --- CSV ----------------------------------------------------------------------------------------
def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most: ',', tab or ';' (',' when it holds none)."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")  # a header, not the file
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals: the preferred
    return best if counts[best] else ","


def csv_records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells) of every record that holds anything; blank lines are not rows."""
    return list(iter_csv_records(text, delimiter))


def iter_csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``csv_records`` one record at a time: a large file's records are never all held at once."""
    reader = csv.reader(_text_lines(text), delimiter=delimiter)
    start = 1
    for cells in reader:
        if "".join(cells).strip():
            yield start, cells
        start = reader.line_num + 1


# A line as io.StringIO(text, newline="") gives it to the csv module: ended by \r\n, \r or \n, ending kept.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time: a StringIO would copy a large file's text (four bytes a character)."""
    for line in _LINE.finditer(text):
        yield line.group(0)


def read_csv(raw: bytes) -> Table:
    return csv_table(decode(raw))


def csv_table(text: str) -> Table:
    """The CSV's table, read whole: the definition ``csv_layout`` and ``span_frame`` are held to."""
    records = csv_records(text, sniff_delimiter(text))
    if not records:
        raise SubmissionError("the file holds no header row and no records")
    (_, header), body = records[0], records[1:]
    ragged = [(line, len(cells)) for line, cells in body if len(cells) != len(header)]
    if ragged:
        raise SubmissionError(ragged_reason(len(header), ragged))
    return Table(_header(header), tuple(tuple(cells) for _, cells in body))


def ragged_reason(width: int, ragged: Sequence[tuple[int, int]]) -> str:
    shown = ", ".join(f"line {line} ({cells})" for line, cells in ragged[:LISTED])
    more = f" and {len(ragged) - LISTED} more" if len(ragged) > LISTED else ""
    return (f"{len(ragged)} row(s) do not have the header's {width} cells: {shown}{more}; "
            "no value is moved to another column")


def _header(cells: Iterable[Any]) -> tuple[str, ...]:
    header = tuple(str(c).strip() if c is not None else "" for c in cells)
    blank = [str(n) for n, name in enumerate(header, 1) if not name]
    if blank:
        raise SubmissionError(f"column(s) {', '.join(blank)} have no header: every column must be named")
    return header


# --- XLSX ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sheet:
    name: str
    rows: tuple[tuple[int, tuple[Any, ...]], ...]  # (row number, cell values) of rows holding anything
    header_rows: int  # rows the header spans (more than one when merged cells reach below row one)


def read_xlsx(path: Path) -> Table:
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=True)  # formulas as the values Excel saved with them
    sheets = [s for s in (_sheet(ws) for ws in book.worksheets) if s.rows]
    if not sheets:
        raise SubmissionError("the workbook holds no table: every sheet is empty")
    _refuse_formulas_without_values(path, sheets)
    tables = [_sheet_table(s, book[s.name]) for s in sheets]
    headers = {t.header for t in tables}
    if len(headers) > 1:
        named = ", ".join(f"'{_shown_header(s.name)}' ({len(t.header)} columns)" for s, t in zip(sheets, tables,
                                                                                               strict=True))
        raise SubmissionError(f"the sheets have different headers: {named}; submit one table per file, or the "
                              "same header on every sheet")
    rows = tuple(row for t in tables for row in t.rows)
    note = "sheets " + " + ".join(f"'{s.name}'" for s in sheets) if len(sheets) > 1 else ""
    return Table(tables[0].header, rows, note)


def _sheet(ws: Any) -> Sheet:
    rows = tuple((n, values) for n, values in enumerate(ws.iter_rows(values_only=True), 1)
                 if any(_filled(v) for v in values))
    return Sheet(ws.title, rows, _header_rows(ws, rows[0][0] if rows else 1))


def _header_rows(ws: Any, first: int) -> int:
    """Rows the header spans: as far down as its merged cells reach, and one row more under cells merged
    across (a group title over the column names)."""
    merged = [r for r in ws.merged_cells.ranges if r.min_row <= first <= r.max_row]
    last = max((r.max_row for r in merged), default=first)
    grouped = any(r.min_col != r.max_col and r.max_row == last for r in merged)
    return last - first + 1 + (1 if grouped else 0)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _sheet_table(sheet: Sheet, ws: Any) -> Table:
    name = _shown_header(sheet.name)
    merged = [str(r) for r in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col))]
    if sheet.header_rows > 1 or any(r.min_row == sheet.rows[0][0] for r in ws.merged_cells.ranges):
        raise SubmissionError(f"sheet '{name}': merged header cells ({', '.join(merged[:LISTED])}): the header "
                              "must be one row naming each column once")
    if merged:
        raise SubmissionError(f"sheet '{name}': merged cells ({', '.join(merged[:LISTED])}): each value must be in "
                              "its own cell")
    width = max(max((i + 1 for i, v in enumerate(values) if _filled(v)), default=0) for _, values in sheet.rows)
    (_, header_values), body = sheet.rows[0], sheet.rows[1:]
    try:
        header = _header(cell_text(v) for v in _padded(header_values, width))
    except SubmissionError as exc:
        raise SubmissionError(f"sheet '{name}': {exc}") from exc
    errors = [f"{_column(i)}{n}" for n, values in body for i, v in enumerate(values) if v in EXCEL_ERRORS]
    if errors:
        raise SubmissionError(f"sheet '{name}': formula error value(s) in {', '.join(errors[:LISTED])}")
    return Table(header, tuple(tuple(cell_text(v) for v in _padded(values, width)) for _, values in body))


# What Excel saves for a formula that failed (openpyxl.cell.cell.ERROR_CODES, and the dynamic-array ones).
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#SPILL!", "#CALC!"})


def _padded(values: tuple[Any, ...], width: int) -> tuple[Any, ...]:
    return (tuple(values) + (None,) * width)[:width]


def _column(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _refuse_formulas_without_values(path: Path, sheets: list[Sheet]) -> None:
    """A formula Excel never calculated (a generated workbook) has no saved value: it is not read as empty."""
    if not any(v is None for s in sheets for _, values in s.rows for v in values):
        return  # no empty cell: no formula without a value; the workbook is not loaded a second time
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=False)
    for sheet in sheets:
        ws = book[sheet.name]
        missing = [f"{_column(i)}{n}" for n, values in sheet.rows for i, v in enumerate(values)
                   if v is None and ws.cell(n, i + 1).data_type == "f"]
        if missing:
            raise SubmissionError(f"sheet '{_shown_header(sheet.name)}': formula cell(s) without a saved value: "
                                  f"{', '.join(missing[:LISTED])}; open the workbook in Excel and save it again")


# --- JSON ---------------------------------------------------------------------------------------
def json_records(document: Any) -> list[Any]:
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SubmissionError("JSON must be a list of records or {\"records\": [...]}")
    return records


def read_json(raw: bytes) -> Table:
    records = json_records(json.loads(decode(raw)))
    nested = [(n, key) for n, record in enumerate(records, 1) for key, value in record.items()
              if isinstance(value, (list, dict))]
    if nested:
        shown = ", ".join(f"record {n} field '{_shown_header(key)}'" for n, key in nested[:LISTED])
        more = f" and {len(nested) - LISTED} more" if len(nested) > LISTED else ""
        raise SubmissionError(f"nested value(s) (a list or an object) in {shown}{more}: submit flat records")
    header = tuple(dict.fromkeys(key for record in records for key in record))
    return Table(_header(header) if header else (),
                 tuple(tuple(cell_text(record.get(key)) for key in header) for record in records))


# --- counting what a refused file holds -------------------------------------------------------
def count_rows(path: Path) -> int:
    """Rows a refused file holds, counted by its own structure even when it cannot be read as a submission,
    so the ledger never says 0 received for rows that exist. Nothing is read through a link or a pipe."""
    if not is_regular(path):
        return 0
    try:
        return _count_by_structure(path)
    except Exception:  # not even its structure can be read (not a workbook, not JSON): no rows to count
        return 0


def _count_by_structure(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, data_only=True)
        sheets = [s for s in (_sheet(ws) for ws in book.worksheets) if s.rows]
        return sum(len(s.rows) - min(s.header_rows, len(s.rows)) for s in sheets)
    raw = path.read_bytes()
    if suffix == ".json":
        return len(json_records(json.loads(_decode_loosely(raw))))
    return count_text_records(_decode_loosely(raw))


def count_text_records(text: str) -> int:
    """Records of a delimited text minus its header; lines minus header when even a tolerant reader fails."""
    try:
        records = len(csv_records(text, sniff_delimiter(text)))
    except csv.Error:
        records = sum(1 for line in text.splitlines() if line.strip())
    return max(records - 1, 0)


# --- naming columns -----------------------------------------------------------------------------
def _rename_labels(frame: pd.DataFrame, item: Item) -> pd.DataFrame:
    """Units often head their columns with the Chinese labels; map them to the field names."""
    return frame.set_axis(_field_names(frame.columns, item), axis=1)


def _field_names(headers: Iterable[object], item: Item) -> list[str]:
    by_label = {f.label: f.name for f in item.fields}
    columns = [str(c).strip() for c in headers]
    return [by_label.get(c, c) for c in columns]


def _check_columns(frame: pd.DataFrame, item: Item) -> None:
    _check_names(list(frame.columns), item)


def _check_names(columns: list[str], item: Item) -> None:
    extra = [c for c in columns if c not in item.field_names]
    if extra and len(extra) == len(columns):
        # Not one known header: most likely the header row is missing and the first record was read as
        # one. Its values are not echoed: the reason reaches reports, and they may be personal data.
        raise SubmissionError(f"none of the {len(columns)} column headers is a catalogued field or label: "
                              "is the header row missing?")
    if extra:
        named = ", ".join(_shown_header(c) for c in extra)
        raise SubmissionError(f"uncatalogued column(s) {named}: no collection outside the catalogue (art. 12)")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SubmissionError(f"column(s) given twice: {', '.join(repeated)}")
    missing = [f.name for f in item.fields if f.not_null and f.name not in columns]
    if missing:
        raise SubmissionError(f"required column(s) missing: {', '.join(missing)}")


def _shown_header(header: str, longest: int = 40) -> str:
    text = redacted(str(header))
    return text if len(text) <= longest else text[:longest] + "…"


def normalise(frame: pd.DataFrame, item: Item) -> pd.DataFrame:
    """Catalogue column order, each cell in its canonical text (pipelines.values), empty as null; a cell that
    does not parse keeps its text without surrounding space, for validation to report."""
    try:
        return canonical_frame(item, frame)[0]
    except ValueError as exc:  # a nested JSON value: no cell of any field
        raise SubmissionError(str(exc)) from exc


def read_database(item: Item) -> pd.DataFrame:
    """Pull an item from the unit's business database; the URL is read from the environment now."""
    from sqlalchemy import create_engine, text

    assert isinstance(item.collection, DatabaseCollection)
    url = os.environ.get(item.collection.url_env)
    if not url:
        raise SubmissionError(f"environment variable {item.collection.url_env} (database URL) is not set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Object columns keep the driver's values: pandas would turn NULL into "None" (dtype=str)
            # or an integer column with a NULL into floats ("1.0").
            result = conn.execute(text(item.collection.query))
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()), dtype=object)
    except Exception as exc:
        raise SubmissionError(f"database pull failed: {exc}") from exc
    finally:
        engine.dispose()
    _check_columns(frame, item)
    return normalise(frame, item)


def frame_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def move_aside(path: Path, reason: str, when: datetime) -> Path:
    """Into the folder's _rejected/; a link moves as the link (os.rename), never as what it points to.
    The reason file is read by the unit: ``refused at`` is the province's time with its offset."""
    target_dir = path.parent / REJECTED
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir / path.name)
    shutil.move(str(path), target)  # a rename within the folder: a link moves as the link, a pipe is not opened
    target.with_name(fitted_name(target.name, ".reason.txt")).write_text(
        f"file: {path.name}\nrefused at: {shown_time(when)}\nreason: {reason}\n", encoding="utf-8"
    )
    return target


def archive(path: Path) -> Path:
    target_dir = path.parent / ARCHIVE
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir / path.name)
    shutil.move(str(path), target)
    return target


NAME_BYTES = 255  # the longest file name ext4, xfs and tmpfs hold


def fitted_name(name: str, tail: str) -> str:
    """``name + tail`` as a file name: a name already at the filesystem's limit (a unit may send one) is cut, with a
    hash of the whole so two long names stay apart; the reason file keeps the full name."""
    if len((name + tail).encode()) <= NAME_BYTES:
        return name + tail
    mark = f"~{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    room = NAME_BYTES - len((mark + tail).encode())
    return name.encode()[:room].decode(errors="ignore") + mark + tail


def _free_name(target: Path) -> Path:
    n = 1
    candidate = target
    while candidate.exists() or candidate.is_symlink():
        candidate = target.with_name(fitted_name(target.stem, f".{n}{target.suffix}"))
        n += 1
    return candidate
