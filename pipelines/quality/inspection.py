"""Regular inspection (art. 15): every shared table checked again in all four dimensions, and a
quality summary per unit and per dimension read from the quality history.

The shared table is read back as text so the item's own GX suite runs on it unchanged.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import pandas as pd

from pipelines.catalogue.models import Catalogue, Item, Severity
from pipelines.clock import province_day
from pipelines.quality.checks import (
    INSPECTION,
    CheckOutcome,
    RuleLine,
    availability_check,
    dimension_check,
    reconciliation_check,
    with_lines,
)
from pipelines.quality.context import StoreAuthority, contextual_results
from pipelines.quality.rules import Dimension
from pipelines.store import as_utc

FRESH_SUBMISSION = "fresh_submission"  # rule id; the catalogue may set its severity like any other


def shared_text_frame(store: Any, item: Item) -> pd.DataFrame:
    """The shared table's catalogued columns as text, the way submissions are validated."""
    table = store.shared.read_table(item)[list(item.field_names)]
    return pd.DataFrame({name: [_as_text(v) for v in table[name]] for name in item.field_names},
                        index=range(len(table)), dtype=object)


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def inspect_item(platform: Any, item: Item) -> list[CheckOutcome]:
    """Accuracy, timeliness, integrity and availability of one shared table, as inspection checks."""
    store = platform.store
    availability = dataclasses.replace(availability_check(item, store), stage=INSPECTION)
    ledger = store.ledger.submissions(item.code)
    now = platform.clock()
    freshness = submission_freshness(item, ledger, now)
    exists = availability.lines[0].success  # its first line: the table exists (one reflection, not two)
    # Against what the table holds (rows per submission id), as after each convergence.
    reconciliation = reconciliation_check(item, ledger, store.shared.rows_by_submission(item) if exists else None,
                                          now).lines
    if not exists:
        missing = availability.lines[0]
        return [_table_only(item, Dimension.ACCURACY, [missing]),
                _table_only(item, Dimension.TIMELINESS, [missing, freshness]),
                _table_only(item, Dimension.INTEGRITY, [missing, *reconciliation]), availability]
    frame = shared_text_frame(store, item)
    outcome = platform.validator.validate(item, frame, province_day(now)).extended(
        contextual_results(item, frame, StoreAuthority(store, getattr(platform, "authority", None))))
    return [
        dimension_check(item, [outcome], Dimension.ACCURACY, INSPECTION),
        with_lines(dimension_check(item, [outcome], Dimension.TIMELINESS, INSPECTION), [freshness],
                   count_lines=False),
        with_lines(dimension_check(item, [outcome], Dimension.INTEGRITY, INSPECTION), reconciliation,
                   count_lines=False),
        availability,
    ]


def submission_freshness(item: Item, ledger: list[dict[str, Any]], now: datetime) -> RuleLine:
    """The newest accepted submission is no older than the item's update cycle allows."""
    severity = item.quality.severity.get(FRESH_SUBMISSION, Severity.WARNING).value
    cycle = item.update_cycle
    description = f"last submission within {cycle.max_age.days} days ({cycle.value} update cycle)"
    times = [as_utc(e["received_at"]) for e in ledger if e["status"] != "rejected"]
    if not times:
        return RuleLine(FRESH_SUBMISSION, description, severity, False, 1, 1, ("no submission yet",))
    age = as_utc(now) - max(times)
    fresh = age <= cycle.max_age
    return RuleLine(FRESH_SUBMISSION, description, severity, fresh, 1, 0 if fresh else 1,
                    (f"last submission {age.days} day(s) ago",))


def _table_only(item: Item, dimension: Dimension, lines: list[RuleLine]) -> CheckOutcome:
    empty = CheckOutcome(item=item.code, stage=INSPECTION, dimension=dimension, passed=True,
                         severity=Severity.WARNING, rows_checked=0, rows_failed=0)
    return with_lines(empty, lines, count_lines=False)


# --- the quality summary ---------------------------------------------------------------------
def quality_summary(catalogue: Catalogue, latest_checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per unit and dimension, from each check's newest result: checks passed and failed, the mean
    pass rate, and the items with a failed check."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for check in latest_checks:
        groups[(check["unit"], check["dimension"])].append(check)
    order = {d.value: n for n, d in enumerate(Dimension)}
    rows = []
    for (unit, dimension), checks in sorted(groups.items(), key=lambda g: (g[0][0], order.get(g[0][1], 9))):
        failed = sorted({c["item"] for c in checks if not c["passed"]})
        failing = sum(not c["passed"] for c in checks)
        rows.append({"unit": unit, "unit_name": _unit_name(catalogue, unit), "dimension": dimension,
                     "checks": len(checks), "passed": len(checks) - failing, "failed": failing,
                     "pass_rate": round(sum(c["pass_rate"] for c in checks) / len(checks), 4),
                     "failed_items": failed})
    return rows


def _unit_name(catalogue: Catalogue, code: str) -> str:
    return next((u.name for u in catalogue.units if u.code == code), code)


# What each figure measures: a check fails on any failing rule line, table-level lines (freshness, reconciliation)
# included, while its pass rate counts rows only. "1 failed, pass rate 100.00%" read as a contradiction.
SUMMARY_COLUMNS = ("unit", "dimension", "checks", "checks passed", "checks failed", "rows passing (mean)",
                   "items with a failed check")


def summary_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no checks recorded yet"
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|---|---|---:|---:|---:|---:|---|"]
    lines += [f"| {r['unit_name']} (`{r['unit']}`) | {r['dimension']} | {r['checks']} | {r['passed']} | "
              f"{r['failed']} | {r['pass_rate']:.2%} | {', '.join(r['failed_items']) or '—'} |" for r in rows]
    return "\n".join(lines)


def dimension_pass_rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Province-wide mean pass rate per dimension, weighted by checks: numbers the UI plots over time."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        totals[r["dimension"]][0] += r["pass_rate"] * r["checks"]
        totals[r["dimension"]][1] += r["checks"]
    return {d: round(s / n, 6) for d, (s, n) in totals.items() if n}
