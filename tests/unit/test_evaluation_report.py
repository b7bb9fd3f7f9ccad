"""The report files: markdown tables, inline SVG charts, CSV and JSON, from a hand-built evaluation."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.report import report_html, report_markdown, svg_trend, write_reports
from pipelines.evaluation.service import evaluate_records
from pipelines.evaluation.violations import detect, settle
from tests.unit.evaluation_fixtures import catalogue
from tests.unit.test_evaluation_scorecard import NOW, WEEK, records


def _evaluation():  # type: ignore[no-untyped-def]
    config = EvaluationConfig()
    data = records()
    violations = settle(detect(data, config.correction_days, NOW), [], config.deadlines, NOW)
    return evaluate_records(catalogue(), data, violations, WEEK, config, NOW, entrusted={"techco": {"amr"}})


def test_a_period_without_checks_leaves_a_gap_in_the_trend() -> None:
    svg = svg_trend(["W1", "W2", "W3", "W4"], {"amr": [0.5, None, 0.7, 0.8]})
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert "<title>amr W3: 70.00%</title>" in svg


def test_report_files_carry_every_unit_the_violations_and_the_contractors(tmp_path: Path) -> None:
    evaluation = _evaluation()
    assert evaluation.trend_periods == ["2026-W46", "2026-W47"]
    assert evaluation.trend == {"amr": [None, 0.825], "nn": [0.9, None]}
    paths = write_reports(evaluation, tmp_path / "2026-W47", pass_threshold=0.9)
    with paths["verdicts.csv"].open(encoding="utf-8-sig") as handle:
        verdicts = [(r["unit"], r["verdict"]) for r in csv.DictReader(handle)]
    assert verdicts == [("amr", "fail"), ("nn", "fail")]
    with paths["violations.csv"].open(encoding="utf-8-sig") as handle:
        assert [(r["kind"], r["status"]) for r in csv.DictReader(handle)] == [
            ("overdue_correction", "rectified"), ("out_of_catalogue", "open"), ("overdue_correction", "open")]
    document = json.loads(paths["evaluation.json"].read_text(encoding="utf-8"))
    assert [c["contractor"] for c in document["contractors"]] == ["techco"]
    assert document["contractors"][0]["quality"] == 0.825
    html = paths["report.html"].read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "市场监管局 (amr)" in html and "水务局 (nn)" in html
    markdown = md_rows(report_markdown(evaluation))
    assert ["市场监管局 (`amr`)", "**FAIL**", "catalogue coverage 66.67% is below the minimum 90.00%; directory "
            "registration 33.33% is below the minimum 90.00%; on-time submission 50.00% is below the minimum 80.00%; "
            "quality check pass rate 82.50% is below the minimum 90.00%; held-back rate 10.81% is above the maximum "
            "10.00%", "—"] in markdown
    assert ["`techco`", "amr", "0", "—", "0", "0", "50.00%", "82.50%"] in markdown


def md_rows(markdown: str) -> list[list[str]]:
    """The cells of every markdown table row (separator rows left out), split on unescaped pipes."""
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|:- "):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


class _Cells(HTMLParser):
    """Every table row of an HTML page as its cells' text: what a reader of report.html sees."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_markdown_and_html_tables_carry_the_same_verdicts_and_contractors(tmp_path: Path) -> None:
    evaluation = _evaluation()
    markdown = md_rows(report_markdown(evaluation))
    page = _Cells()
    page.feed(write_reports(evaluation, tmp_path)["report.html"].read_text(encoding="utf-8"))
    html_verdicts = [r for r in page.rows if len(r) == 4 and r[1] in ("FAIL", "PASS")]
    md_verdicts = [r for r in markdown if len(r) == 4 and r[1] in ("**FAIL**", "**PASS**")]
    assert [[r[0], r[1], r[2]] for r in html_verdicts] == [
        [r[0].replace("`", ""), r[1].strip("*"), r[2]] for r in md_verdicts]
    assert ["techco", "amr", "0", "—", "0", "0", "50.00%", "82.50%", "—"] in page.rows


def test_a_pipe_or_markup_in_a_reason_stays_text(tmp_path: Path) -> None:
    evaluation = _evaluation()
    verdict = replace(evaluation.verdicts[0], reasons=("a | b", "<script>alert(1)</script>"))
    evaluation = replace(evaluation, verdicts=[verdict, *evaluation.verdicts[1:]])
    assert [verdict.unit_name + " (`amr`)", "**FAIL**", "a | b; <script>alert(1)</script>", "—"] in md_rows(
        report_markdown(evaluation))
    html = report_html(evaluation)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
