"""A CSV read in chunks (pipelines.intake.read_submission_chunks) is the CSV read whole: the same frame, the
same refusal; its lines are the lines the csv module reads from a StringIO."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import intake
from pipelines.catalogue import load_catalogue
from tests.conftest import MINI

TEXT = st.text(alphabet="ab,\"\r\n 企\x00", max_size=60)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_the_lines_are_the_lines_of_a_string_io(text: str) -> None:
    assert list(intake._text_lines(text)) == list(io.StringIO(text, newline=""))
    try:
        expected = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        with pytest.raises(csv.Error, match=str(exc)[:20]):
            list(csv.reader(intake._text_lines(text)))
        return
    assert list(csv.reader(intake._text_lines(text))) == expected


def _read(path: Path, chunk_rows: int) -> tuple[str, object]:
    item = load_catalogue(MINI).item("enterprise")
    try:
        whole = intake.read_submission(path, item)
    except intake.SubmissionError as exc:
        with pytest.raises(intake.SubmissionError) as chunked:
            intake.read_submission_chunks(path, item, chunk_rows)
        assert str(chunked.value) == str(exc)
        return "refused", str(exc)
    chunks = intake.read_submission_chunks(path, item, chunk_rows)
    frames = [_as_objects(frame) for frame in chunks]
    assert len(chunks) == len(whole) == sum(len(f) for f in frames)
    assert all(len(f) <= chunk_rows for f in frames) and len(frames) >= 1
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    return "read", len(whole)


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """A chunk's cells as a frame of objects, a missing one None: a clean span's chunk comes in Arrow-backed
    columns (``intake.normalise_table``), missing cells NA, and must hold the same texts."""
    return frame.astype(object).where(frame.notna(), None)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["91450100MA5KXXXX0X", " 91450000198230017W", "x", ""]),
                               st.sampled_from(["企业", "a\nb", "", "\u3000c"]),
                               st.sampled_from(["450103", "450000", "9"]), st.sampled_from(["1.50", "x", ""]),
                               st.sampled_from(["存续", "注销"]), st.sampled_from(["2026-10-01", "2026/10/1", ""])),
                     max_size=12),
       chunk_rows=st.integers(1, 5), ragged=st.booleans(), line_end=st.sampled_from(["\n", "\r\n"]))
def test_a_csv_read_in_chunks_is_the_csv_read_whole(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple],
                                                    chunk_rows: int, ragged: bool, line_end: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(["credit_code", "name", "region", "capital", "status", "updated_at"])
    writer.writerows(rows)
    if ragged:
        writer.writerow(["only", "three", "cells"])
    path = tmp_path_factory.mktemp("csv") / "enterprise.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    verdict, _ = _read(path, chunk_rows)
    assert verdict == ("refused" if ragged else "read")


# Characters a reader might take for something else than text: quotes, line ends, NUL, byte-order mark, the
# separators str.splitlines and str.strip know, a comment sign, an escape, the DOS end-of-file mark.
NASTY = "ab,;\t\"\r\n 企\x00\ufeff\x0b\x0c\x1a\x1c\x1d\x1e\x1f\x85\u2028\u3000#'\\"
CELL = st.text(alphabet=NASTY.replace('"', "").replace("\r", "").replace("\n", ""), max_size=4)


def _lines_of_cells(draw: st.DrawFn) -> str:
    """A text of records mostly plain (what pandas' reader is given), now and then a quoted, blank or short one."""
    delimiter = draw(st.sampled_from(intake.DELIMITERS))
    width = draw(st.integers(1, 4))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(st.lists(st.one_of(st.lists(CELL, min_size=width, max_size=width).map(delimiter.join),
                                   st.sampled_from(["", " ", delimiter * width, '"a' + line_end + 'b"', "x"])),
                         max_size=12))
    text = line_end.join([delimiter.join(f"h{n}" for n in range(width)), *rows])
    return text + draw(st.sampled_from(["", line_end]))


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    return _lines_of_cells(draw) if draw(st.booleans()) else draw(st.text(alphabet=NASTY, max_size=60))


def _oracle(text: str, delimiter: str) -> list[tuple[int, list[str]]] | str:
    try:
        return intake.csv_records(text, delimiter)
    except csv.Error as exc:
        return str(exc)


def _spans_read(text: str, delimiter: str) -> list[tuple[int, list[str]]] | str:
    try:
        return [(record[0], intake._record_cells(text, delimiter, record))
                for record in intake.record_spans(text, delimiter)]
    except csv.Error as exc:
        return str(exc)


@settings(max_examples=500, deadline=None)
@given(text=csv_texts(), delimiter=st.sampled_from(intake.DELIMITERS), longest=st.sampled_from([3, 131072]))
def test_the_records_of_one_pass_are_the_csv_modules(text: str, delimiter: str, longest: int) -> None:
    before = csv.field_size_limit(longest)  # a small limit: a field over it is refused as the csv module refuses it
    try:
        assert _spans_read(text, delimiter) == _oracle(text, delimiter)
    finally:
        csv.field_size_limit(before)


def _layout_read(text: str, delimiter: str, chunk_rows: int) -> tuple[str, object]:
    try:
        layout = intake.csv_layout(text, delimiter, chunk_rows)
    except (intake.SubmissionError, csv.Error) as exc:
        return "refused", str(exc)
    names = [f"c{n}" for n in range(len(layout.header))]
    frames = [intake.span_frame(text, delimiter, span, names) for span in layout.spans]
    for span, frame in zip(layout.spans, frames, strict=True):  # Arrow's reader, where it takes a span, agrees
        table = intake.span_table(text, delimiter, span, names)
        assert table is None or table.to_pandas().to_numpy(dtype=object).tolist() == frame.to_numpy().tolist()
    assert [len(f) for f in frames] == [span.rows for span in layout.spans] and len(frames) >= 1
    assert all(len(f) == chunk_rows for f in frames[:-1]) and len(frames[-1]) <= chunk_rows
    rows = pd.concat(frames, ignore_index=True).to_numpy(dtype=object).tolist() if layout.rows else []
    return "read", (layout.header, rows)


def _whole_read(text: str) -> tuple[str, object]:
    try:
        table = intake.csv_table(text)
    except intake.SubmissionError as exc:
        return "refused", str(exc)
    return "read", (table.header, [list(row) for row in table.rows])


@settings(max_examples=500, deadline=None)
@given(text=csv_texts(), chunk_rows=st.integers(1, 5))
def test_the_chunks_of_one_pass_are_the_csv_read_whole(text: str, chunk_rows: int) -> None:
    assert _layout_read(text, intake.sniff_delimiter(text), chunk_rows) == _whole_read(text)


def test_a_clean_span_is_read_by_pandas() -> None:
    text = "a,b\r\n1,2\r\n 3 ,\u3000\r\n"
    layout = intake.csv_layout(text, ",", 10)
    assert [span.clean for span in layout.spans] == [True]
    frame = intake.span_frame(text, ",", layout.spans[0], ["a", "b"])
    assert frame.to_numpy().tolist() == [["1", "2"], [" 3 ", "\u3000"]]


def test_a_large_clean_csv_is_read_by_arrow_into_the_frame_read_whole(tmp_path: Path) -> None:
    """Spans of plain lines are read by Arrow's reader, whose chunks hold Arrow text columns; their cells are
    those of the file read whole, the cells not canonical (spaces, a full-width digit, a slash date, a wrong
    code) read by the value model."""
    item = load_catalogue(MINI).item("enterprise")
    odd = ["91450000198230017W,企业 ,450103,1.50,存续,2026/10/1", ",\u3000c,450000,x,注销,",
           "91450100MA5KXXXX0X,企业,9,１,存续,2026-10-01"]
    lines = [f"91450000198230017W,企业{n},450103,{n}.5,存续,2026-10-01" if n % 50 else odd[n // 50 % 3]
             for n in range(6000)]
    path = tmp_path / "enterprise.csv"
    path.write_text("credit_code,name,region,capital,status,updated_at\n" + "\n".join(lines) + "\n", encoding="utf-8")
    chunks = intake.read_submission_chunks(path, item, 2500)
    frames = list(chunks)
    assert [len(f) for f in frames] == [2500, 2500, 1000]
    assert all(isinstance(dtype, pd.ArrowDtype) for f in frames for dtype in f.dtypes)
    pd.testing.assert_frame_equal(pd.concat([_as_objects(f) for f in frames], ignore_index=True),
                                  intake.read_submission(path, item))
