"""Safe outputs (OWASP CSV injection): every payload, through every writer the platform has, read back with
a real reader (openpyxl, csv); numbers in numeric columns unchanged; a correction file's round trip."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import intake, opendata
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue
from pipelines.evaluation.report import _write_csv
from pipelines.outputs import neutralised, safe_frame, unquoted
from pipelines.quality.corrections import META_COLUMNS, correction_frames, write_correction_files
from tests.conftest import MINI, make_uscc

PAYLOADS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=1+2", "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "\n=1+1", "-", "+", "'=typed with a quote"]
NUMBERS = ["-5", "+3", "-2.5", "-1e3", "0", "12"]  # what a numeric column may hold and must keep
NOW = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(MINI)


def _rows(payloads: list[str], capitals: list[str]) -> list[dict[str, object]]:
    """Quarantine rows of `enterprise`: the payload in the text column `name`, numbers in the decimal `capital`."""
    return [{"item": "enterprise", "reasons": "name: bad", "submission_id": "enterprise/s1", "row_no": n + 1,
             "record": json.dumps({"credit_code": make_uscc(n), "name": payload, "region": "450103",
                                   "capital": capital, "status": "存续", "updated_at": "2026-03-01"})}
            for n, (payload, capital) in enumerate(zip(payloads, capitals, strict=True))]


def _capitals(n: int) -> list[str]:
    return [NUMBERS[i % len(NUMBERS)] for i in range(n)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_is_quoted_as_owasp_says(payload: str) -> None:
    assert neutralised(payload) == "'" + payload
    assert unquoted(neutralised(payload)) == payload


@pytest.mark.parametrize("text", ["plain", "中文", "1-2", " =spaced", "'quoted", "it's", ""])
def test_text_that_starts_otherwise_is_written_as_it_is(text: str) -> None:
    assert neutralised(text) == text and unquoted(text) == text


@pytest.mark.parametrize("text", ["'=1+2", "''-3", "'@x"])
def test_a_quote_the_unit_typed_before_a_formula_gets_one_more_and_comes_back(text: str) -> None:
    assert neutralised(text) == "'" + text and unquoted(neutralised(text)) == text


@pytest.mark.parametrize("number", NUMBERS)
def test_a_number_in_a_numeric_column_stays_a_number(number: str) -> None:
    assert neutralised(number, numeric=True) == number


@pytest.mark.parametrize("text", ["-2+3", "-5 ", "\t-5", "-", "+cmd", "=5", "-５"])
def test_what_is_no_plain_number_is_quoted_even_in_a_numeric_column(text: str) -> None:
    expected = text if text == "-５" else "'" + text  # "-５" (full-width 5) is read as -5 by the platform
    assert neutralised(text, numeric=True) == expected


def test_values_that_are_not_text_are_left_alone() -> None:
    frame = pd.DataFrame({"n": [-5, 3], "x": [-2.5, None], "t": ["-5", "=1"]})
    safe = safe_frame(frame, {"n", "x"})
    assert safe["n"].tolist() == [-5, 3] and safe["x"].iloc[0] == -2.5 and pd.isna(safe["x"].iloc[1])
    assert safe["t"].tolist() == ["'-5", "'=1"] and frame["t"].tolist() == ["-5", "=1"]  # a copy


def test_correction_xlsx_holds_no_formula_and_the_quoted_text(tmp_path: Path, catalogue: Catalogue) -> None:
    frames = correction_frames(catalogue, _rows(PAYLOADS, _capitals(len(PAYLOADS))))
    paths = write_correction_files(tmp_path, "amr", frames)
    sheet = openpyxl.load_workbook(paths["xlsx"])["enterprise"]
    header = [c.value for c in sheet[1]]
    name, capital = header.index("name") + 1, header.index("capital") + 1
    cells = [sheet.cell(row=r, column=name) for r in range(2, len(PAYLOADS) + 2)]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    # XML reads a carriage return back as a line feed (end-of-line handling); the quote stays in front of it
    assert [c.value for c in cells] == ["'" + p.replace("\r", "\n") for p in PAYLOADS]
    assert {c.data_type for c in cells} == {"s"}
    assert [sheet.cell(row=r, column=capital).value for r in range(2, len(PAYLOADS) + 2)] == \
        _capitals(len(PAYLOADS))


def test_a_held_value_with_a_control_character_is_shown_in_the_workbook_and_kept_in_the_csv(
        tmp_path: Path, catalogue: Catalogue) -> None:
    """XLSX (XML 1.0) cannot hold a NUL: the workbook shows U+FFFD where the unit's file had it, the CSV to
    correct and resubmit keeps the value exactly."""
    names = ["企\x00业1", "a\x1fb"]
    frames = correction_frames(catalogue, _rows(names, _capitals(len(names))))
    paths = write_correction_files(tmp_path, "amr", frames)
    sheet = openpyxl.load_workbook(paths["xlsx"])["enterprise"]
    column = [c.value for c in sheet[1]].index("name") + 1
    assert [sheet.cell(row=r, column=column).value for r in (2, 3)] == ["企\ufffd业1", "a\ufffdb"]
    with paths["enterprise"].open(encoding="utf-8-sig", newline="") as handle:
        assert [r["name"] for r in csv.DictReader(handle)] == names


def test_correction_csv_starts_each_payload_with_a_quote(tmp_path: Path, catalogue: Catalogue) -> None:
    frames = correction_frames(catalogue, _rows(PAYLOADS, _capitals(len(PAYLOADS))))
    paths = write_correction_files(tmp_path, "amr", frames)
    with paths["enterprise"].open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["name"] for r in read] == ["'" + p for p in PAYLOADS]
    assert [r["capital"] for r in read] == _capitals(len(PAYLOADS))


def test_a_header_that_looks_like_a_formula_is_a_string_in_the_workbook(tmp_path: Path) -> None:
    frame = pd.DataFrame({"=1+1": ["x"]})
    paths = write_correction_files(tmp_path, "amr", {"weird": frame})
    cell = openpyxl.load_workbook(paths["xlsx"])["weird"]["A1"]
    assert cell.data_type == "s" and cell.value == "=1+1"


_sheet_cells = st.one_of(st.none(), st.just(float("nan")), st.just(pd.NA), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=False, allow_infinity=False, width=32),
                         st.sampled_from(["=1+1", "'=x", "", " ", "-", "企业"]), st.text(max_size=5))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_sheet_cells, _sheet_cells), max_size=6),
       names=st.sampled_from([["a", "b"], ["=1+1", "name"], ["a", "a"]]))
def test_the_workbook_holds_what_pandas_writer_wrote(tmp_path_factory: pytest.TempPathFactory,
                                                     rows: list[tuple[object, object]], names: list[str]) -> None:
    """The oracle is the writer the workbook had before: pandas' to_excel on openpyxl, its formula cells made
    strings again. The same values and kinds of cell, the header bold, for any texts, numbers and missing cells."""
    from pipelines.outputs import workbook_frame, write_workbook

    frame = workbook_frame(pd.DataFrame(rows, columns=names, dtype=object))  # as the correction files give it
    folder = tmp_path_factory.mktemp("book")
    write_workbook(folder / "new.xlsx", {"s": frame})
    with pd.ExcelWriter(folder / "old.xlsx", engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="s", index=False)
        for row in writer.sheets["s"].iter_rows():
            for cell in row:
                cell.data_type = "s" if cell.data_type == "f" else cell.data_type
    new, old = (openpyxl.load_workbook(folder / f"{name}.xlsx")["s"] for name in ("new", "old"))
    assert _sheet_values(new) == _sheet_values(old)
    assert all(c.font.bold for c in new[1]) and not any(c.data_type == "f" for r in new.iter_rows() for c in r)


def _sheet_values(sheet: Any) -> list[list[tuple[object, str | None]]]:
    """Each row's cells as a reader takes them: the value and, for a value, its kind (text, number); the empty
    rows at the end left out (pandas' writer kept a row of empty texts, openpyxl's write-only one writes none)."""
    rows = [[(c.value, c.data_type if c.value is not None else None) for c in r] for r in sheet.iter_rows()]
    while rows and all(value is None for value, _ in rows[-1]):
        rows.pop()
    return rows


def test_open_data_csv_is_quoted_and_its_json_is_not(tmp_path: Path, catalogue: Catalogue) -> None:
    item = catalogue.item("enterprise")
    n = len(PAYLOADS)
    shared = pd.DataFrame({"credit_code": [make_uscc(i) for i in range(n)], "name": PAYLOADS,
                           "region": ["450103"] * n, "capital": [-5.0] * n, "status": ["存续"] * n,
                           "updated_at": ["2026-03-01"] * n})
    publication = opendata.publish(catalogue, item, shared, tmp_path, NOW)
    with publication.csv.open(encoding="utf-8-sig", newline="") as handle:
        read = {r["credit_code"]: r for r in csv.DictReader(handle)}
    records = {r["credit_code"]: r for r in json.loads(publication.json.read_text(encoding="utf-8"))["records"]}
    for i, payload in enumerate(PAYLOADS):
        assert read[make_uscc(i)]["name"] == "'" + payload and read[make_uscc(i)]["capital"] == "-5.0"
        assert records[make_uscc(i)]["name"] == payload  # JSON: no reader evaluates it


def test_report_csv_quotes_text_people_typed(tmp_path: Path) -> None:
    path = tmp_path / "violations.csv"
    rows = [{"subject": p, "days_overdue": -3, "detail": "ok"} for p in PAYLOADS]
    _write_csv(path, ("subject", "days_overdue", "detail"), rows)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["subject"] for r in read] == ["'" + p for p in PAYLOADS]
    assert {r["days_overdue"] for r in read} == {"-3"}  # a number written by the platform stays a number


def _resubmitted_csv(correction: Path, target: Path) -> Path:
    """What the unit does: delete the three meta columns, correct nothing else, save, resubmit."""
    frame = pd.read_csv(correction, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.drop(columns=list(META_COLUMNS)).to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return target


def _original_csv(rows: list[dict[str, object]], target: Path) -> Path:
    pd.DataFrame([json.loads(str(r["record"])) for r in rows]).to_csv(target, index=False, encoding="utf-8-sig",
                                                                      lineterminator="\r\n")
    return target


def test_a_resubmitted_correction_csv_carries_what_the_unit_typed(tmp_path: Path, catalogue: Catalogue) -> None:
    item = catalogue.item("enterprise")
    rows = _rows(PAYLOADS, _capitals(len(PAYLOADS)))
    paths = write_correction_files(tmp_path / "out", "amr", correction_frames(catalogue, rows))
    back = intake.read_submission(_resubmitted_csv(paths["enterprise"], tmp_path / "enterprise__correction1.csv"),
                                  item)
    original = intake.read_submission(_original_csv(rows, tmp_path / "enterprise.csv"), item)
    pd.testing.assert_frame_equal(back, original)  # the oracle: the same rows submitted the first time


def test_a_resubmitted_correction_xlsx_carries_what_the_unit_typed(tmp_path: Path, catalogue: Catalogue) -> None:
    item = catalogue.item("enterprise")
    rows = _rows(PAYLOADS, _capitals(len(PAYLOADS)))
    paths = write_correction_files(tmp_path / "out", "amr", correction_frames(catalogue, rows))
    book = openpyxl.load_workbook(paths["xlsx"])
    book["enterprise"].delete_cols(1, len(META_COLUMNS))
    book.save(tmp_path / "enterprise__correction2.xlsx")
    back = intake.read_submission(tmp_path / "enterprise__correction2.xlsx", item)
    original = intake.read_submission(_original_csv(rows, tmp_path / "enterprise.csv"), item)
    pd.testing.assert_frame_equal(back, original)


def test_a_first_submission_keeps_a_quote_the_unit_typed(tmp_path: Path, catalogue: Catalogue) -> None:
    """Only the platform's own correction list is unquoted: elsewhere the quote is the unit's data."""
    rows = _rows(["'=1+2"], ["1"])
    back = intake.read_submission(_original_csv(rows, tmp_path / "enterprise.csv"), catalogue.item("enterprise"))
    assert back["name"].tolist() == ["'=1+2"]


def test_per_distinct_of_a_long_text_column_reads_each_distinct_cell_once_as_the_loop_does() -> None:
    import numpy as np

    from pipelines.outputs import per_distinct

    cells = pd.Series(["=a", "b", None, "b", np.nan, "", "=a"] * 300, dtype=object)  # long enough to factorize
    calls: list[object] = []

    def read(value: object) -> tuple[str, int]:
        calls.append(value)
        return (f"'{value}" if isinstance(value, str) and value.startswith("=") else repr(value)), len(calls)

    fast = per_distinct(cells, read)
    assert sorted(map(repr, calls)) == sorted(map(repr, ["=a", "b", "", None, np.nan]))  # once each
    calls.clear()
    assert [text for text, _ in fast] == [text for text, _ in per_distinct(list(cells), read)]
    assert fast[:7] == [("'=a", 1), ("'b'", 2), ("None", 4), ("'b'", 2), ("nan", 5), ("''", 3), ("'=a", 1)]


_CELL = st.one_of(st.none(), st.sampled_from([*PAYLOADS, *NUMBERS, "text", "", "\x01x", (1, 2)]),
                  st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=False))


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.tuples(_CELL, _CELL, st.integers(0, 9)), max_size=6),
       names=st.sampled_from([["name", "capital", "row_no"], ["name", "name", "row_no"]]), numbers=st.booleans(),
       index=st.sampled_from(["range", "shifted", "repeated"]))
def test_a_safe_frame_is_the_frame_with_each_text_cell_neutralised(
        cells: list[tuple[object, object, int]], names: list[str], numbers: bool, index: str) -> None:
    """The oracle: the frame copied, then every cell of a column that may hold text replaced one at a time;
    the other columns (the integers), the index, repeated names and attrs come through as they were."""
    frame = pd.DataFrame(cells, columns=names)
    frame.index = {"range": frame.index, "shifted": frame.index + 5, "repeated": [0] * len(frame)}[index]
    frame.attrs["numeric_columns"] = {"capital"}
    numeric = {"capital"} if numbers else set()
    expected = frame.copy()
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            expected.isetitem(position, pd.Series([neutralised(v, name in numeric) for v in column],
                                                  index=frame.index, dtype=object))
    pd.testing.assert_frame_equal(safe_frame(frame, numeric), expected)
    assert safe_frame(frame, numeric).attrs == frame.attrs
