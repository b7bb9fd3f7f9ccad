"""Building the corpus's inputs at test time: bytes, workbooks written with openpyxl, and entries of every
kind a folder can hold (links, pipes, folders). Nothing binary is kept in git."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import make_uscc

HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]
LABELS = ["统一社会信用代码", "企业名称", "行政区划", "注册资本", "登记状态", "更新日期"]
DAY = "2026-11-01"

Builder = Callable[[Path], Path]  # given the intake folder, writes one entry and returns its path


def row(i: int, **changes: str) -> list[str]:
    values = dict(zip(HEADER, [make_uscc(i), f"企业{i}", "450103", "1000", "存续", DAY], strict=True))
    values.update(changes)
    return list(values.values())


def rows(n: int) -> list[list[str]]:
    return [row(i) for i in range(1, n + 1)]


def delimited(header: Sequence[str], body: Sequence[Sequence[str]], delimiter: str = ",",
              newline: str = "\n") -> str:
    """Plain joined lines (values here never need quoting), so each case's bytes are exactly what it says."""
    return "".join(delimiter.join(cells) + newline for cells in [header, *body])


def write(relative: str, content: bytes | str, encoding: str = "utf-8") -> Builder:
    def build(intake: Path) -> Path:
        path = intake / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return build


def csv_file(relative: str, body: Sequence[Sequence[str]], header: Sequence[str] = HEADER, delimiter: str = ",",
             encoding: str = "utf-8", newline: str = "\n") -> Builder:
    return write(relative, delimited(header, body, delimiter, newline), encoding)


Sheets = dict[str, list[list[Any]]]


def workbook(relative: str, sheets: Sheets, merged: Sequence[tuple[str, str]] = (),
             cached: dict[str, tuple[str, str]] | None = None) -> Builder:
    """An XLSX of the given sheets (rows of cell values, '=...' a formula); merged: (sheet, range);
    cached: cell -> (saved value, cell type) patched into the first sheet's XML, as Excel saves it."""

    def build(intake: Path) -> Path:
        import openpyxl

        path = intake / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        book = openpyxl.Workbook()
        book.remove(book.active)
        for title, cells in sheets.items():
            ws = book.create_sheet(title)
            for values in cells:
                ws.append(values)
        for title, cells_range in merged:
            book[title].merge_cells(cells_range)
        book.save(path)
        if cached:
            _save_cached_values(path, cached)
        return path

    return build


def _save_cached_values(path: Path, cached: dict[str, tuple[str, str]]) -> None:
    """openpyxl writes formulas without the value Excel would save with them; add it as Excel does."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = parts[sheet].decode()
    for cell, (value, kind) in cached.items():
        pattern = re.compile(rf'<c r="{cell}"([^>]*)><f>(.*?)</f>(<v\s*/>|<v></v>)?</c>')
        xml, replaced = pattern.subn(_with_value(cell, value, kind), xml)
        assert replaced == 1, f"formula cell {cell} not found in {sheet}"
    parts[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def _with_value(cell: str, value: str, kind: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return f'<c r="{cell}"{_typed(match.group(1), kind)}><f>{match.group(2)}</f><v>{value}</v></c>'

    return replace


def _typed(attributes: str, kind: str) -> str:
    attributes = re.sub(r'\s+t="[^"]*"', "", attributes)
    return f'{attributes} t="{kind}"' if kind != "n" else attributes


def symlink(relative: str, target: Callable[[Path], Path]) -> Builder:
    """A link in the window to something outside it (built next to the intake folder)."""

    def build(intake: Path) -> Path:
        path = intake / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target(intake.parent))
        return path

    return build


def outside_file(outside: Path) -> Path:
    path = outside / "outside" / "enterprise.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(delimited(HEADER, rows(2)), encoding="utf-8")
    return path


def outside_folder(outside: Path) -> Path:
    return outside_file(outside).parent


def fifo(relative: str) -> Builder:
    def build(intake: Path) -> Path:
        path = intake / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        return path

    return build


def folder(relative: str, inner: str = "enterprise.csv") -> Builder:
    def build(intake: Path) -> Path:
        path = intake / relative
        csv_file(f"{relative}/{inner}", rows(2))(intake)
        return path

    return build
