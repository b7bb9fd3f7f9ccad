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
    frames = list(chunks)
    assert len(chunks) == len(whole) == sum(len(f) for f in frames)
    assert all(len(f) <= chunk_rows for f in frames) and len(frames) >= 1
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    return "read", len(whole)


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
