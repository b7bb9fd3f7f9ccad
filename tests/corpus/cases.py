"""The corpus as data: each case a builder, its exact verdict at the intake, and its exact verdict at the end of
the pipeline (rows converged, rows held back with their rule, or the file refused with its reason, and what the
shared table holds for the cells the case is about).

Every case runs against the corpus catalogue (tests/corpus/catalogue.py): the mini catalogue (tests/fixtures/mini:
unit ``amr`` with item ``enterprise`` (credit_code, name, region, capital, status, updated_at) and unit
``nn_water`` with ``water_account``) plus the items ``registry``, ``licence``, ``permit`` and ``inspection``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from pipelines import intake
from pipelines.catalogue.models import Catalogue
from tests.conftest import make_ric, make_uscc
from tests.corpus.builders import (
    DAY,
    HEADER,
    LABELS,
    Builder,
    csv_file,
    delimited,
    fifo,
    folder,
    outside_file,
    outside_folder,
    row,
    rows,
    symlink,
    workbook,
    write,
)

TODAY = date(2026, 11, 30)
Cells = tuple[str | None, ...]


@dataclass(frozen=True)
class Accepted:
    rows: int
    frame: tuple[Cells, ...] | None = None  # the exact text frame, in catalogue column order, when given
    note: str = ""  # how the file was read (sheets concatenated), as the ledger's source says


@dataclass(frozen=True)
class Refused:
    reason: str  # a substring of the reason
    received: int  # rows counted as received (and held back) in the ledger


Verdict = Accepted | Refused
Stored = tuple[str, str, object]  # (primary key as text, column, the value the shared table holds)


@dataclass(frozen=True)
class Converged:
    """Taken in and validated: ``rows`` converge, each held-back row (1-based, as in the file) with its rule ids
    (several joined by ", ", in the order the reasons list them), and values the shared table then holds."""

    rows: int
    held: tuple[tuple[int, str], ...] = ()
    values: tuple[Stored, ...] = ()


@dataclass(frozen=True)
class Rejected:
    reason: str  # a substring of the ledger's reason; every row counted received and held back


Final = Converged | Rejected


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    intake: Verdict
    final: Final


def intake_verdict(intake_dir: Path, path: Path, catalogue: Catalogue) -> tuple[Verdict, pd.DataFrame | None]:
    """What the intake makes of the entry: discovery's refusal, or reading's refusal, or the frame."""
    accepted, refused = intake.discover(intake_dir, catalogue, TODAY)
    refusal = next((r for r in refused if r.path == path), None)
    if refusal is not None:
        return Refused(refusal.reason, intake.count_rows(path)), None
    [submission] = [s for s in accepted if s.path == path]
    try:
        frame = intake.read_submission(path, catalogue.item(submission.item))
    except intake.SubmissionError as exc:
        return Refused(str(exc), intake.count_rows(path)), None
    return Accepted(len(frame), note=frame.attrs.get(intake.INTAKE_NOTE, "")), frame


def text_rows(*values: list[str] | list[str | None]) -> tuple[Cells, ...]:
    return tuple(tuple(v) for v in values)


E = "amr/enterprise"
ROWS3 = rows(3)
U1, U2 = make_uscc(1), make_uscc(2)
RIC_X = next(make_ric(i) for i in range(1000) if make_ric(i).endswith("X"))  # a citizen ID ending in X
UTF8_ROWS = text_rows(*[list(r) for r in ROWS3])
WORKBOOK_ROW = [U1, "企业1", "450103", 1000, "存续", datetime(2026, 11, 1)]
NAMES3 = tuple((make_uscc(i), "name", f"企业{i}") for i in (1, 2, 3))  # decoded as written
LAST_CELLS3 = ((U1, "name", "企业1"), (make_uscc(3), "updated_at", date(2026, 11, 1)))  # split at the right place
EXCEL_DAY_ZERO = date(1899, 12, 30)  # Excel's serial 0, counting its phantom 1900-02-29
NESTED = [dict(zip(HEADER, row(1), strict=True)), {**dict(zip(HEADER, row(2), strict=True)), "status": ["存续"]}]


def _json(document: object, relative: str = f"{E}__api.json") -> Builder:
    import json

    return write(relative, json.dumps(document, ensure_ascii=False))


def _ragged(n: int) -> list[list[str]]:
    body = rows(n + 2)
    for i in range(n):
        body[i + 1] = body[i + 1][:-1]  # lines 3.. n+2 are one cell short
    return body


ENCODINGS = [
    Case("utf8", csv_file(f"{E}.csv", ROWS3), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=NAMES3)),
    Case("utf8_bom", csv_file(f"{E}__bom.csv", ROWS3, encoding="utf-8-sig"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=((U1, "credit_code", U1), *NAMES3))),
    Case("gbk_labels", csv_file(f"{E}__gbk.csv", ROWS3, header=LABELS, encoding="gbk"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=NAMES3)),
    Case("gb18030_outside_gbk", csv_file(f"{E}__gb18030.csv", [row(1, name="㐀企业")], encoding="gb18030"),
         Accepted(1, text_rows([U1, "㐀企业", "450103", "1000", "存续", DAY])),
         final=Converged(1, values=((U1, "name", "㐀企业"),))),
    Case("utf16_le_bom", write(f"{E}__u16le.csv", codecs.BOM_UTF16_LE + delimited(HEADER, ROWS3).encode("utf-16-le")),
         Accepted(3, UTF8_ROWS),
         final=Converged(3, values=NAMES3)),
    Case("utf16_be_bom", write(f"{E}__u16be.csv", codecs.BOM_UTF16_BE + delimited(HEADER, ROWS3).encode("utf-16-be")),
         Accepted(3, UTF8_ROWS),
         final=Converged(3, values=NAMES3)),
    Case("utf16_without_bom", write(f"{E}__u16.csv", delimited(HEADER, ROWS3).encode("utf-16-le")),
         Refused("UTF-16 without a byte-order mark", 3),
         final=Rejected("UTF-16 without a byte-order mark")),
    Case("invalid_bytes", write(f"{E}__bad.csv", delimited(HEADER, rows(2)).encode() + b"x,\xff\xfe\x80,,,,\n"),
         Refused("neither UTF-8 (with or without BOM), UTF-16 with BOM nor GBK/GB18030", 3),
         final=Rejected("neither UTF-8 (with or without BOM), UTF-16 with BOM nor GBK/GB18030")),
    Case("bom_then_invalid_bytes", write(f"{E}__badbom.csv", codecs.BOM_UTF8 + b"credit_code\n\xff\n"),
         Refused("starts with a UTF-8 byte-order mark but byte 15 is not UTF-8", 1),
         final=Rejected("starts with a UTF-8 byte-order mark but byte 15 is not UTF-8")),
]

DELIMITERS = [
    Case("semicolon", csv_file(f"{E}__semi.csv", ROWS3, delimiter=";"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=LAST_CELLS3)),
    Case("tab", csv_file(f"{E}__tab.csv", ROWS3, delimiter="\t"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=LAST_CELLS3)),
    Case("quoted_comma_and_newline", write(f"{E}__quoted.csv", delimited(HEADER, [row(1)])
                                           + f'{U2},"甲,乙公司","450103",1000,存续,{DAY}\n'
                                           + f'{make_uscc(3)},"第一行\n第二行",450103,1000,存续,{DAY}\n'),
         Accepted(3, text_rows(list(row(1)), [U2, "甲,乙公司", "450103", "1000", "存续", DAY],
                               [make_uscc(3), "第一行\n第二行", "450103", "1000", "存续", DAY])),
         final=Converged(2, held=((3, "type:name"),), values=((U2, "name", "甲,乙公司"),))),
    Case("semicolon_header_comma_rows", write(f"{E}__mixed.csv", ";".join(HEADER) + "\n" + delimited(HEADER, ROWS3)
                                              .split("\n", 1)[1]),
         Refused("3 row(s) do not have the header's 6 cells: line 2 (1), line 3 (1), line 4 (1);", 3),
         final=Rejected("3 row(s) do not have the header's 6 cells")),
    Case("crlf", csv_file(f"{E}__crlf.csv", ROWS3, newline="\r\n"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=LAST_CELLS3)),
    Case("cr_only", csv_file(f"{E}__cr.csv", ROWS3, newline="\r"), Accepted(3, UTF8_ROWS),
         final=Converged(3, values=LAST_CELLS3)),
]

RAGGED = [
    Case("one_row_short", csv_file(f"{E}__short.csv", [row(1), row(2)[:5], row(3)]),
         Refused("1 row(s) do not have the header's 6 cells: line 3 (5); no value is moved", 3),
         final=Rejected("1 row(s) do not have the header's 6 cells: line 3 (5)")),
    Case("one_row_long", csv_file(f"{E}__long.csv", [row(1), row(2), [*row(3), "多"]]),
         Refused("1 row(s) do not have the header's 6 cells: line 4 (7);", 3),
         final=Rejected("1 row(s) do not have the header's 6 cells: line 4 (7)")),
    Case("every_row_one_longer", csv_file(f"{E}__shift.csv", [[str(i), *row(i)] for i in range(1, 4)]),
         Refused("3 row(s) do not have the header's 6 cells: line 2 (7), line 3 (7), line 4 (7);", 3),
         final=Rejected("3 row(s) do not have the header's 6 cells")),
    Case("twelve_ragged_rows", csv_file(f"{E}__many.csv", _ragged(12)),
         Refused("12 row(s) do not have the header's 6 cells: line 3 (5), line 4 (5), line 5 (5), line 6 (5), "
                 "line 7 (5), line 8 (5), line 9 (5), line 10 (5), line 11 (5), line 12 (5) and 2 more;", 14),
         final=Rejected("12 row(s) do not have the header's 6 cells")),
    Case("blank_lines_are_no_rows", write(f"{E}__blank.csv", delimited(HEADER, ROWS3).replace("\n", "\n\n", 2)),
         Accepted(3, UTF8_ROWS),
         final=Converged(3, values=LAST_CELLS3)),
    Case("header_with_trailing_delimiter", write(f"{E}__trail.csv", ",".join(HEADER) + ",\n" + ",".join(row(1))
                                                 + ",\n"),
         Refused("column(s) 7 have no header", 1),
         final=Rejected("column(s) 7 have no header")),
    Case("header_only", csv_file(f"{E}__empty.csv", []), Accepted(0, ()),
         final=Converged(0)),
    Case("empty_file", write(f"{E}__nothing.csv", b""), Refused("holds no header row and no records", 0),
         final=Rejected("holds no header row and no records")),
]

CONTROL = [
    Case("nul_in_value", csv_file(f"{E}__nul.csv", [row(1, name="企\x00业1"), row(2)]),
         Accepted(2, text_rows([U1, "企\x00业1", "450103", "1000", "存续", DAY], list(row(2)))),
         final=Converged(1, held=((1, "type:name"),), values=((U2, "name", "企业2"),))),
    Case("bell_and_escape", csv_file(f"{E}__bell.csv", [row(1, name="企\x07业\x1b1")]),
         Accepted(1, text_rows([U1, "企\x07业\x1b1", "450103", "1000", "存续", DAY])),
         final=Converged(0, held=((1, "type:name"),))),
]

NUMBERS_DATES_IDS = [
    Case("numbers_as_text", write(f"{E}__numbers.csv", delimited(HEADER, [
        row(1, capital="1e3"), row(2, capital="１０００"), row(3, capital=" 1000 ")])
                                  + f'{make_uscc(4)},企业4,450103,"1,000",存续,{DAY}\n'),
         # taken in as canonical text (pipelines.values); "1,000" is no decimal and stays as sent, for validation
         Accepted(4, text_rows([U1, "企业1", "450103", "1000", "存续", DAY],
                               [U2, "企业2", "450103", "1000", "存续", DAY],
                               list(row(3)), [make_uscc(4), "企业4", "450103", "1,000", "存续", DAY])),
         final=Converged(3, held=((4, "type:capital"),),
                         values=tuple((make_uscc(i), "capital", Decimal(1000)) for i in (1, 2, 3)))),
    Case("dates_as_text", csv_file(f"{E}__dates.csv", [row(1, updated_at="2026/11/01"), row(2, updated_at="20261101"),
                                                       row(3, updated_at="2026年11月1日")]),
         Accepted(3, text_rows([U1, "企业1", "450103", "1000", "存续", "2026-11-01"],  # canonical dates
                               [U2, "企业2", "450103", "1000", "存续", "2026-11-01"],
                               [make_uscc(3), "企业3", "450103", "1000", "存续", "2026-11-01"])),
         final=Converged(3, values=tuple((make_uscc(i), "updated_at", date(2026, 11, 1)) for i in (1, 2, 3)))),
    Case("lower_case_x_id", csv_file("nn_water/water_account.csv", [["W1", RIC_X.lower(), ""]],
                                     header=["account_no", "holder_id", "phone"]),
         Accepted(1, text_rows(["W1", RIC_X, None])),  # canonical: upper case, one person one key
         final=Converged(1, values=(("W1", "holder_id", RIC_X), ("W1", "phone", None)))),
    Case("full_width_digits_id", csv_file(f"{E}__fullwidth.csv", [row(1, credit_code="９１４５０１００")]),
         Accepted(1, text_rows(["９１４５０１００", "企业1", "450103", "1000", "存续", DAY])),
         final=Converged(0, held=((1, "standard:credit_code"),))),
    Case("padded_id", csv_file(f"{E}__padded.csv", [row(1, credit_code=f"  {U1}\t")]),
         Accepted(1, text_rows(list(row(1)))),
         final=Converged(1, values=((U1, "credit_code", U1),))),
]

XLSX = [
    Case("xlsx_number_and_date_cells", workbook(f"{E}__cells.xlsx", {"企业": [
        HEADER, WORKBOOK_ROW, [U2, "企业2", 450103, 12.5, "存续", datetime(2026, 11, 1, 8, 30)],
        [make_uscc(3), True, "0045", 1e3, "存续", date(2026, 11, 2)]]}),
         Accepted(3, text_rows([U1, "企业1", "450103", "1000", "存续", DAY],
                               [U2, "企业2", "450103", "12.5", "存续", "2026-11-01T08:30:00"],
                               [make_uscc(3), "true", "0045", "1000", "存续", "2026-11-02"])),
         final=Converged(1, held=((2, "type:updated_at"), (3, "standard:region")),
                         values=((U1, "region", "450103"), (U1, "capital", Decimal(1000)),
                                 (U1, "updated_at", date(2026, 11, 1))))),
    Case("xlsx_two_sheets_same_header", workbook(f"{E}__two.xlsx", {"一月": [HEADER, *rows(2)],
                                                                   "二月": [HEADER, *rows(4)[2:]]}),
         Accepted(4, note="sheets '一月' + '二月'"),
         final=Converged(4, values=((make_uscc(4), "name", "企业4"),))),
    Case("xlsx_two_sheets_different_headers", workbook(f"{E}__diff.xlsx", {"数据": [HEADER, *rows(2)],
                                                                          "说明": [["填表说明"], ["金额单位：万元"]]}),
         Refused("the sheets have different headers: '数据' (6 columns), '说明' (1 columns)", 3),
         final=Rejected("the sheets have different headers")),
    Case("xlsx_empty_second_sheet", workbook(f"{E}__emptysheet.xlsx", {"数据": [HEADER, *rows(2)], "Sheet2": []}),
         Accepted(2),
         final=Converged(2)),
    Case("xlsx_every_sheet_empty", workbook(f"{E}__nothing.xlsx", {"Sheet1": [], "Sheet2": [[None, " "]]}),
         Refused("the workbook holds no table: every sheet is empty", 0),
         final=Rejected("the workbook holds no table: every sheet is empty")),
    Case("xlsx_merged_header", workbook(f"{E}__merged.xlsx", {"数据": [
        ["主体", None, "登记信息", None, None, None], HEADER, *rows(10)]},
        merged=[("数据", "A1:B1"), ("数据", "C1:F1")]),
         Refused("sheet '数据': merged header cells (A1:B1, C1:F1): the header must be one row", 10),
         final=Rejected("merged header cells (A1:B1, C1:F1)")),
    Case("xlsx_header_merged_down", workbook(f"{E}__mergeddown.xlsx", {"数据": [
        HEADER, [None, *LABELS[1:]], *rows(10)]}, merged=[("数据", "A1:A2")]),
         Refused("merged header cells (A1:A2)", 10),
         final=Rejected("merged header cells (A1:A2)")),
    Case("xlsx_merged_data_cells", workbook(f"{E}__mergeddata.xlsx", {"数据": [HEADER, *rows(3)]},
                                            merged=[("数据", "E2:E4")]),
         Refused("sheet '数据': merged cells (E2:E4): each value must be in its own cell", 3),
         final=Rejected("merged cells (E2:E4): each value must be in its own cell")),
    Case("xlsx_formula_without_saved_value", workbook(f"{E}__formula.xlsx", {"数据": [
        HEADER, [*row(1)[:3], "=500*2", *row(1)[4:]], row(2)]}),
         Refused("sheet '数据': formula cell(s) without a saved value: D2;", 2),
         final=Rejected("formula cell(s) without a saved value: D2")),
    Case("xlsx_formula_with_saved_value", workbook(f"{E}__cached.xlsx", {"数据": [
        HEADER, [*row(1)[:3], "=500*2", *row(1)[4:]]]}, cached={"D2": ("1000", "n")}),
         Accepted(1, text_rows(list(row(1)))),
         final=Converged(1, values=((U1, "capital", Decimal(1000)),))),
    Case("xlsx_formula_error", workbook(f"{E}__error.xlsx", {"数据": [
        HEADER, [*row(1)[:3], "=1/0", *row(1)[4:]]]}, cached={"D2": ("#DIV/0!", "e")}),
         Refused("sheet '数据': formula error value(s) in D2", 1),
         final=Rejected("formula error value(s) in D2")),
    Case("xlsx_values_without_header", workbook(f"{E}__noheader.xlsx", {"数据": [
        HEADER, [*row(1), "备注"], row(2)]}),
         Refused("sheet '数据': column(s) 7 have no header", 2),
         final=Rejected("column(s) 7 have no header")),
    Case("xlsx_leading_empty_rows", workbook(f"{E}__lead.xlsx", {"数据": [[], [None], HEADER, *rows(2)]}),
         Accepted(2, text_rows(*[list(r) for r in rows(2)])),
         final=Converged(2, values=((U2, "name", "企业2"),))),
    Case("xlsx_not_a_workbook", write(f"{E}__broken.xlsx", b"not a workbook"),
         Refused("cannot be parsed as XLSX", 0),
         final=Rejected("cannot be parsed as XLSX")),
]

JSON = [
    Case("json_list", _json([dict(zip(HEADER, [U1, "企业1", 450103, 1000, "存续", DAY], strict=True)),
                             dict(zip(HEADER, [U2, "企业2", "450103", 12.0, None, DAY], strict=True))]),
         Accepted(2, text_rows([U1, "企业1", "450103", "1000", "存续", DAY],
                               [U2, "企业2", "450103", "12", None, DAY])),
         final=Converged(2, values=((U1, "region", "450103"), (U1, "capital", Decimal(1000)),
                                            (U2, "capital", Decimal(12)), (U2, "status", None)))),
    Case("json_records_object", _json({"records": [dict(zip(HEADER, row(1), strict=True))], "total": 1}),
         Accepted(1, text_rows(list(row(1)))),
         final=Converged(1, values=((U1, "name", "企业1"),))),
    Case("json_missing_keys_and_bool", _json([{"credit_code": U1, "name": True, "region": "450103",
                                               "updated_at": DAY}]),
         Accepted(1, text_rows([U1, "true", "450103", None, None, DAY])),
         final=Converged(1, values=((U1, "name", "true"), (U1, "capital", None), (U1, "status", None)))),
    Case("json_nested_value", _json(NESTED), Refused("nested value(s) (a list or an object) in record 2 field "
                                                     "'status': submit flat records", 2),
         final=Rejected("nested value(s) (a list or an object) in record 2 field 'status'")),
    Case("json_scalar_top_level", _json(42), Refused("JSON must be a list of records or {\"records\": [...]}", 0),
         final=Rejected("JSON must be a list of records")),
    Case("json_empty_list", _json([]), Accepted(0, ()),
         final=Converged(0)),
    Case("json_invalid_syntax", write(f"{E}__api.json", '[{"credit_code": "x",'),
         Refused("cannot be parsed as JSON", 0),
         final=Rejected("cannot be parsed as JSON")),
]

NAMES = [
    Case("long_name", csv_file(f"{E}__{'a' * 230}.csv", rows(2)), Accepted(2),
         final=Converged(2)),  # 246 characters: 255 bytes at most
    Case("long_chinese_name", csv_file(f"{E}__{'很长的文件名' * 13}.csv", rows(2)), Accepted(2),
         final=Converged(2)),
    Case("long_uncatalogued_name", csv_file(f"amr/{'x' * 250}.csv", rows(2)),
         Refused(f"item '{'x' * 40}…' is not in the catalogue", 2),
         final=Rejected("is not in the catalogue")),
    Case("spaces_in_name", csv_file(f"{E}__ 2026 11 月 .csv", rows(2)), Accepted(2),
         final=Converged(2)),
    Case("chinese_name", csv_file(f"{E}__十一月报送.csv", rows(2)), Accepted(2),
         final=Converged(2)),
    Case("dot_file", csv_file("amr/.enterprise.csv", rows(2)), Refused("a hidden file (its name starts with '.')", 2),
         final=Rejected("a hidden file (its name starts with '.')")),
    Case("no_extension", csv_file("amr/enterprise", rows(2)), Refused("unsupported file type ''", 2),
         final=Rejected("unsupported file type ''")),
    Case("txt_extension", csv_file("amr/enterprise.txt", rows(2)), Refused("unsupported file type '.txt'", 2),
         final=Rejected("unsupported file type '.txt'")),
    Case("upper_case_extension", csv_file("amr/enterprise.CSV", rows(2)), Accepted(2),
         final=Converged(2)),
]

KINDS = [
    Case("symlink_to_outside_file", symlink(f"{E}.csv", outside_file),
         Refused("a symbolic link: links are not followed out of the intake window", 0),
         final=Rejected("a symbolic link: links are not followed out of the intake window")),
    Case("symlink_to_etc_passwd", symlink(f"{E}__passwd.csv", lambda _: Path("/etc/passwd")),
         Refused("a symbolic link", 0),
         final=Rejected("a symbolic link")),
    Case("broken_symlink", symlink(f"{E}__gone.csv", lambda outside: outside / "gone.csv"),
         Refused("a symbolic link", 0),
         final=Rejected("a symbolic link")),
    Case("symlinked_unit_folder", symlink("amr_link", outside_folder), Refused("a symbolic link", 0),
         final=Rejected("a symbolic link")),
    Case("fifo", fifo(f"{E}__pipe.csv"), Refused("not a regular file (a pipe, socket or device)", 0),
         final=Rejected("not a regular file (a pipe, socket or device)")),
    Case("sub_folder", folder("amr/2026-11"), Refused("a folder: submit the files themselves", 0),
         final=Rejected("a folder: submit the files themselves")),
    Case("unknown_unit_folder", csv_file("nobody/enterprise.csv", rows(2)),
         Refused("folder 'nobody' is not a catalogued unit: no collection outside the catalogue (art. 12)", 2),
         final=Rejected("folder 'nobody' is not a catalogued unit")),
    # 4 rows, unlike nobody/enterprise.csv (2) and amr/enterprise.csv (3): a refusal's ledger id is item/name/digest
    # without the folder, so the same bytes under one name in two folders would be recorded once (told to the lead)
    Case("file_outside_unit_folders", csv_file("enterprise.csv", rows(4)), Refused("not in a unit's folder", 4),
         final=Rejected("not in a unit's folder")),
    Case("uncatalogued_item", csv_file("amr/secret_list.csv", rows(1)),
         Refused("item 'secret_list' is not in the catalogue: no collection outside the catalogue (art. 12)", 1),
         final=Rejected("item 'secret_list' is not in the catalogue")),
    Case("other_units_item", csv_file("amr/water_account.csv", [["W1", make_ric(1), ""]],
                                      header=["account_no", "holder_id", "phone"]),
         Refused("item 'water_account' belongs to unit 'nn_water', not 'amr'", 1),
         final=Rejected("item 'water_account' belongs to unit 'nn_water', not 'amr'")),
    Case("uncatalogued_column", csv_file(f"{E}__extra.csv", [[*row(1), "备注"]], header=[*HEADER, "remark"]),
         Refused("uncatalogued column(s) remark", 1),
         final=Rejected("uncatalogued column(s) remark")),
]


# The value model end to end: forms a field's type or standard folds, and forms it holds back, on the items the
# corpus catalogue adds (an authority to match against, an integer key, a field of Excel serial days).
REGISTRY, LICENCE = ["credit_code", "capital"], ["licence_no", "credit_code", "capital"]
PERMIT, INSPECTION = ["permit_no", "holder"], ["inspection_no", "inspected_on"]
U3, U9 = make_uscc(3), make_uscc(9)

VALUE_FORMS = [
    Case("iso_week_and_ordinal_dates", csv_file(f"{E}__isoweek.csv", [row(1, updated_at="2026-W44-1"),
                                                                       row(2, updated_at="2026-305"), row(3)]),
         # date.fromisoformat reads both, PostgreSQL's date cast does not: held back, never a failed load
         Accepted(3, text_rows([U1, "企业1", "450103", "1000", "存续", "2026-W44-1"],
                               [U2, "企业2", "450103", "1000", "存续", "2026-305"], list(row(3)))),
         final=Converged(1, held=((1, "type:updated_at"), (2, "type:updated_at")),
                         values=((U3, "updated_at", date(2026, 11, 1)),))),
    Case("full_width_decimal", csv_file(f"{E}__fwdecimal.csv", [row(1, capital="１２３４．５"),
                                                                row(2, capital="１０００.０")]),
         Accepted(2, text_rows([U1, "企业1", "450103", "1234.5", "存续", DAY], list(row(2)))),
         final=Converged(2, values=((U1, "capital", Decimal("1234.5")), (U2, "capital", Decimal(1000))))),
    Case("nul_in_key", csv_file(f"{E}__nulkey.csv", [row(1, credit_code=f"{U1[:9]}\x00{U1[9:]}"), row(2)]),
         Accepted(2, text_rows([f"{U1[:9]}\x00{U1[9:]}", "企业1", "450103", "1000", "存续", DAY], list(row(2)))),
         final=Converged(1, held=((1, "type:credit_code, standard:credit_code"),), values=((U2, "credit_code", U2),))),
    Case("xlsx_date_cells", workbook(f"{E}__datecells.xlsx", {"数据": [
        HEADER, [U1, "企业1", "450103", 1000, "存续", date(2026, 10, 15)],
        [U2, "企业2", "450103", 1000, "存续", datetime(2026, 10, 16)]]}),
         Accepted(2, text_rows([U1, "企业1", "450103", "1000", "存续", "2026-10-15"],
                               [U2, "企业2", "450103", "1000", "存续", "2026-10-16"])),
         final=Converged(2, values=((U1, "updated_at", date(2026, 10, 15)), (U2, "updated_at", date(2026, 10, 16))))),
    Case("name_of_255_bytes", csv_file(f"{E}__{'b' * 239}.csv", rows(2)),  # the longest name a filesystem allows:
         Accepted(2),  # its submission id is bounded to the 200 characters of the shared table's _submission_id
         final=Converged(2, values=((U2, "name", "企业2"),))),
    Case("authority_with_trailing_zero", csv_file("amr/registry.csv", [[U1, "1000.0"], [U2, "2500"]],
                                                  header=REGISTRY),
         Accepted(2, text_rows([U1, "1000"], [U2, "2500"])),
         final=Converged(2, values=((U1, "capital", Decimal(1000)), (U2, "capital", Decimal(2500))))),
    Case("matches_the_authority_canonically", csv_file("amr/licence.csv", [
        ["L1", U1, "1000"], ["L2", U2, "2500.00"], ["L3", U2, "999"], ["L4", U9, "1"]], header=LICENCE),
         # 1000 is the authority's 1000.0 and 2500.00 its 2500; 999 is not; U9 is not in the registry at all
         Accepted(4, text_rows(["L1", U1, "1000"], ["L2", U2, "2500"], ["L3", U2, "999"], ["L4", U9, "1"])),
         final=Converged(2, held=((3, "matches:capital"), (4, "references:credit_code")),
                         values=(("L1", "capital", Decimal(1000)), ("L2", "capital", Decimal(2500)),
                                 ("L2", "credit_code", U2)))),
    Case("integer_keys_7_and_07", csv_file("amr/permit.csv", [["7", "甲"], ["07", "乙"], ["8", "丙"]], header=PERMIT),
         Accepted(3, text_rows(["7", "甲"], ["7", "乙"], ["8", "丙"])),  # 07 is the integer 7: the same key
         final=Converged(1, held=((1, "unique_key"), (2, "unique_key")), values=(("8", "holder", "丙"),))),
    Case("excel_serial_days", csv_file("amr/inspection.csv", [
        ["I1", "46327"], ["I2", "2026-11-02"], ["I3", "46327.5"], ["I4", "45"], ["I5", " ４６３２８ "]],
        header=INSPECTION),
         # 46327.5 is noon, no day; 45 falls before Excel's phantom 1900-02-29, where serials are a day off
         Accepted(5, text_rows(["I1", "2026-11-01"], ["I2", "2026-11-02"], ["I3", "46327.5"], ["I4", "45"],
                               ["I5", "2026-11-02"])),
         final=Converged(3, held=((3, "type:inspected_on"), (4, "type:inspected_on")),
                         values=(("I1", "inspected_on", EXCEL_DAY_ZERO + timedelta(days=46327)),
                                 ("I2", "inspected_on", date(2026, 11, 2)),
                                 ("I5", "inspected_on", EXCEL_DAY_ZERO + timedelta(days=46328))))),
]

CASES: list[Case] = [*ENCODINGS, *DELIMITERS, *RAGGED, *CONTROL, *NUMBERS_DATES_IDS, *XLSX, *JSON, *NAMES, *KINDS,
                     *VALUE_FORMS]
