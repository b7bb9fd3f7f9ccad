"""The quality summary says what it measures: checks fail on table-level rules (a stale last submission, a
reconciliation line) while every row passes, so "checks failed" stands beside the share of "rows passing"."""

from __future__ import annotations

from pipelines.catalogue import load_catalogue
from pipelines.quality.inspection import quality_summary, summary_markdown
from pipelines.summary import render_text
from tests.conftest import MINI

# the freshness line failed (table-level), every row passed: the check fails at a 100% row pass rate
STALE_BUT_EVERY_ROW_PASSES = [
    {"unit": "nn_water", "item": "water_account", "dimension": "timeliness", "passed": False, "pass_rate": 1.0},
    {"unit": "nn_water", "item": "water_account", "dimension": "accuracy", "passed": True, "pass_rate": 0.95},
]


def rows() -> list[dict]:
    return quality_summary(load_catalogue(MINI), STALE_BUT_EVERY_ROW_PASSES)


def test_the_inspection_summary_table_names_checks_and_rows_apart() -> None:
    assert summary_markdown(rows()).splitlines() == [
        "| unit | dimension | checks | checks passed | checks failed | rows passing (mean) "
        "| items with a failed check |",
        "|---|---|---:|---:|---:|---:|---|",
        "| 南宁市自来水公司 (`nn_water`) | accuracy | 1 | 1 | 0 | 95.00% | — |",
        "| 南宁市自来水公司 (`nn_water`) | timeliness | 1 | 0 | 1 | 100.00% | water_account |",
    ]


def test_the_cli_summary_says_rows_passing_beside_checks_failed() -> None:
    totals = {"received": 0, "valid": 0, "held_back": 0, "converged": 0, "stale": 0, "checks_passed": 1,
              "checks_failed": 1, "all_reconciled": True}
    text = render_text({"items": {}, "checks": [], "refused_outside_catalogue": [], "quality": rows(),
                        "totals": totals})
    assert text.splitlines()[-4:] == [
        "quality per unit and dimension (newest result of each check; checks passed and failed, and the mean share "
        "of rows passing them):",
        "unit             dimension     checks passed failed rows passing  items with a failed check",
        "nn_water         accuracy           1      1      0       95.00%  -",
        "nn_water         timeliness         1      0      1      100.00%  water_account",
    ]
