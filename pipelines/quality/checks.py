"""Per stage and dimension, the check outcomes a quality officer reads (art. 15, 16).

Turns stage reports into ``CheckOutcome`` values; the Dagster layer only renders them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pipelines.catalogue.models import Item, Severity
from pipelines.quality.outcome import RuleResult, ValidationOutcome
from pipelines.quality.rules import Dimension
from pipelines.store.store import as_utc

INTAKE, VALIDATED, SHARED = "intake", "validated", "shared"
STAGES = (INTAKE, VALIDATED, SHARED)
# Regular inspection of the shared tables; its checks sit on the shared assets, named inspection_<item>_<dim>.
INSPECTION = "inspection"
INSPECTION_DIMENSIONS = (Dimension.ACCURACY, Dimension.TIMELINESS, Dimension.INTEGRITY, Dimension.AVAILABILITY)
QUERY_BOUND_MS = 2000.0
DATA_DOCS = "data_docs"  # the fact naming a validation's Data Docs page


def check_plan(item: Item) -> list[tuple[str, Dimension]]:
    """Which (stage, dimension) checks an item has."""
    plan = [(INTAKE, Dimension.INTEGRITY), (VALIDATED, Dimension.ACCURACY), (VALIDATED, Dimension.INTEGRITY)]
    if item.timestamp_field:
        plan.append((VALIDATED, Dimension.TIMELINESS))
    plan += [(SHARED, Dimension.AVAILABILITY), (SHARED, Dimension.INTEGRITY)]
    return plan


def check_name(stage: str, item: str, dimension: Dimension | str) -> str:
    """One dimension's outcome at one stage, as the quality history records it."""
    return f"{stage}_{item}_{Dimension(dimension).value}"


def stage_check_name(stage: str, item: str) -> str:
    """The one check a stage has in the asset graph; its result carries the stage's dimensions."""
    return f"{stage}_{item}"


@dataclass(frozen=True)
class RuleLine:
    rule: str
    description: str
    severity: str
    success: bool
    checked: int
    unexpected: int
    sample: tuple[str, ...] = ()

    @property
    def unexpected_percent(self) -> float:
        return round(100.0 * self.unexpected / self.checked, 2) if self.checked else 0.0


@dataclass(frozen=True)
class CheckOutcome:
    item: str
    stage: str
    dimension: Dimension
    passed: bool
    severity: Severity
    rows_checked: int
    rows_failed: int
    lines: tuple[RuleLine, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return check_name(self.stage, self.item, self.dimension)

    @property
    def pass_rate(self) -> float:
        return 1.0 - self.rows_failed / self.rows_checked if self.rows_checked else 1.0


def _severity(lines: list[RuleLine]) -> Severity:
    failed_errors = any(not line.success and line.severity == Severity.ERROR.value for line in lines)
    return Severity.ERROR if failed_errors else Severity.WARNING


def validation_checks(item: Item, outcomes: list[ValidationOutcome]) -> list[CheckOutcome]:
    dims = [d for stage, d in check_plan(item) if stage == VALIDATED]
    return [dimension_check(item, outcomes, d) for d in dims]


def dimension_check(item: Item, outcomes: list[ValidationOutcome], dimension: Dimension,
                     stage: str = VALIDATED) -> CheckOutcome:
    per_rule: dict[str, list[RuleResult]] = defaultdict(list)
    failed_rows = 0
    for outcome in outcomes:
        results = outcome.in_dimension(dimension)
        for result in results:
            per_rule[result.rule.id].append(result)
        failed_rows += len({row for r in results for row in r.failing_rows} |
                           ({0} if any(not r.success and not r.rule.row_level for r in results) else set()))
    lines = [_rule_line(results) for results in per_rule.values()]
    rows = sum(o.rows for o in outcomes)
    return CheckOutcome(
        item=item.code, stage=stage, dimension=dimension, passed=all(line.success for line in lines),
        severity=_severity(lines), rows_checked=rows, rows_failed=min(failed_rows, rows), lines=tuple(lines),
        facts=_validation_facts(outcomes),
    )


def _validation_facts(outcomes: list[ValidationOutcome]) -> dict[str, Any]:
    facts: dict[str, Any] = {"submissions": len(outcomes)}
    docs = [o.docs for o in outcomes if o.docs]
    if docs:
        facts[DATA_DOCS] = docs[-1]
    return facts


def _rule_line(results: list[RuleResult]) -> RuleLine:
    rule = results[0].rule
    samples = tuple(s for r in results for s in r.sample)[:5]
    if not rule.row_level:
        samples = tuple(r.observed for r in results if not r.success)[:2]
    return RuleLine(
        rule=rule.id, description=rule.description, severity=rule.severity.value,
        success=all(r.success for r in results), checked=sum(r.element_count for r in results),
        unexpected=sum(r.unexpected_count for r in results), sample=samples,
    )


def intake_check(item: Item, accepted_rows: int, refused: list[tuple[str, str]], refused_rows: int,
                 submissions: int) -> CheckOutcome:
    lines = [
        RuleLine(rule=f"submission:{name}", description=reason, severity=Severity.ERROR.value, success=False,
                 checked=1, unexpected=1)
        for name, reason in refused
    ] or [  # a passing check says what passed, not "no rules apply"
        RuleLine(rule="submissions_taken_in", description="every file was read and matches the catalogue",
                 severity=Severity.ERROR.value, success=True, checked=submissions, unexpected=0)
    ]
    return CheckOutcome(
        item=item.code, stage=INTAKE, dimension=Dimension.INTEGRITY, passed=not refused,
        severity=Severity.WARNING, rows_checked=accepted_rows + refused_rows, rows_failed=refused_rows,
        lines=tuple(lines), facts={"submissions": submissions, "refused": len(refused)},
    )


def availability_check(item: Item, store: Any) -> CheckOutcome:
    """The shared table exists, has the registered columns and answers a count within the bound."""
    exists = store.shared.exists(item)
    lines = [RuleLine("table_exists", "the shared table exists", "error", exists, 1, 0 if exists else 1)]
    facts: dict[str, Any] = {}
    if exists:
        expected = [c.name for c in store.tables.shared(item).columns]
        actual = store.shared.column_names(item)
        same = expected == actual
        lines.append(RuleLine("schema_registered", "columns match the registered schema", "error", same, 1,
                              0 if same else 1, () if same else (f"expected {expected}, found {actual}",)))
        started = time.perf_counter()
        facts["table_rows"] = store.shared.count_rows(item)
        elapsed = (time.perf_counter() - started) * 1000
        fast = elapsed <= QUERY_BOUND_MS
        lines.append(RuleLine("answers_query", f"a count query answers within {QUERY_BOUND_MS:.0f} ms",
                              "error", fast, 1, 0 if fast else 1))
        facts["query_ms"] = round(elapsed, 2)
    return _table_check(item, SHARED, Dimension.AVAILABILITY, lines, facts)


def reconciliation_check(item: Item, ledger_rows: list[dict[str, Any]], table_rows: Mapping[str, int] | None = None,
                         now: datetime | None = None) -> CheckOutcome:
    """The ledger against itself and against the data (art. 17).

    Always: received = converged + held back for every finished submission, and no submission failed.
    With ``now``: none stuck in progress (received or validated before ``now``). With ``table_rows`` (the shared
    table's rows per ``_submission_id``): the ledger's converged counts are what the database wrote (inserted +
    updated), no submission holds more table rows than it wrote, the newest one still holds all of them (no
    later write overwrote it), and the table holds every row the merges inserted (rows are never deleted)."""
    done = [r for r in ledger_rows if r["status"] in ("converged", "rejected")]
    broken = [r for r in done if r["received"] != r["converged"] + r["held_back"]]
    received = sum(r["received"] for r in done)
    lines = [RuleLine("received_equals_converged_plus_held_back", "rows in = rows converged + rows held back",
                      "error", not broken, len(done), len(broken),
                      tuple(f"{r['submission_id']}: {r['received']} != {r['converged']} + {r['held_back']}"
                            for r in broken[:5])),
             _failed_line(ledger_rows)]
    facts: dict[str, Any] = {"received": received, "converged": sum(r["converged"] for r in done),
                             "held_back": sum(r["held_back"] for r in done), "submissions": len(done),
                             "failed": sum(1 for r in ledger_rows if r["status"] == "failed")}
    if now is not None:
        lines.append(_stuck_line(ledger_rows, now))
    if table_rows is not None:
        converged = [r for r in ledger_rows if r["status"] == "converged"]
        lines += [_written_line(converged), _attributed_line(converged, table_rows),
                  _table_total_line(converged, table_rows)]
        facts["table_rows"] = sum(table_rows.values())
    return _table_check(item, SHARED, Dimension.INTEGRITY, lines, facts)


def _failed_line(ledger_rows: list[dict[str, Any]]) -> RuleLine:
    failed = [r for r in ledger_rows if r["status"] == "failed"]
    return RuleLine("no_failed_submission", "no submission failed validation or convergence", "error", not failed,
                    len(ledger_rows), len(failed), tuple(f"{r['submission_id']}: {r['reason']}" for r in failed[:5]))


def _stuck_line(ledger_rows: list[dict[str, Any]], now: datetime) -> RuleLine:
    stuck = [r for r in ledger_rows
             if r["status"] in ("received", "validated") and as_utc(r["received_at"]) < as_utc(now)]
    return RuleLine("no_stuck_submission", "no submission left received or validated by an earlier run", "error",
                    not stuck, len(ledger_rows), len(stuck),
                    tuple(f"{r['submission_id']}: still {r['status']} since {as_utc(r['received_at']).isoformat()}"
                          for r in stuck[:5]))


def _written_line(converged: list[dict[str, Any]]) -> RuleLine:
    """Converged counts recorded before the write counts were (NULL) are not judged."""
    recorded = [r for r in converged if r["inserted"] is not None and r["updated"] is not None]
    wrong = [r for r in recorded if r["converged"] != r["inserted"] + r["updated"]]
    return RuleLine("converged_as_written", "rows converged = rows the database inserted + updated", "error",
                    not wrong, len(recorded), len(wrong),
                    tuple(f"{r['submission_id']}: {r['converged']} != {r['inserted']} + {r['updated']}"
                          for r in wrong[:5]))


def _attributed_line(converged: list[dict[str, Any]], table_rows: Mapping[str, int]) -> RuleLine:
    """Each submission holds at most the rows it wrote, the newest all of them; rows of no converged submission
    are not accounted for at all."""
    wrote = {r["submission_id"]: r["converged"] for r in converged}
    problems = [f"{sid}: {n} table row(s), converged by no submission" for sid, n in table_rows.items()
                if sid not in wrote]
    problems += [f"{sid}: {table_rows[sid]} table row(s) > {n} converged" for sid, n in wrote.items()
                 if table_rows.get(sid, 0) > n]
    newest = max(converged, default=None, key=lambda r: (
        as_utc(r["converged_at"] or r["received_at"]), as_utc(r["received_at"]), r["submission_id"]))
    if newest is not None and table_rows.get(newest["submission_id"], 0) != newest["converged"]:
        problems.append(f"{newest['submission_id']} (newest): {table_rows.get(newest['submission_id'], 0)} table "
                        f"row(s) != {newest['converged']} converged")
    return RuleLine("table_rows_by_submission", "the table holds per submission the rows it converged, at most",
                    "error", not problems, len(wrote) + 1, len(problems), tuple(problems[:5]))


def _table_total_line(converged: list[dict[str, Any]], table_rows: Mapping[str, int]) -> RuleLine:
    """Unjudged while any converged submission predates the insert counts."""
    if any(r["inserted"] is None for r in converged):
        return RuleLine("table_holds_every_insert", "table rows = rows the merges inserted (not recorded for "
                        "older submissions)", "error", True, 0, 0)
    expected, held = sum(r["inserted"] for r in converged), sum(table_rows.values())
    return RuleLine("table_holds_every_insert", "table rows = rows the merges inserted", "error", expected == held,
                    1, 0 if expected == held else 1, () if expected == held else
                    (f"the table holds {held} row(s), the merges inserted {expected}",))


def _table_check(item: Item, stage: str, dimension: Dimension, lines: list[RuleLine],
                 facts: dict[str, Any]) -> CheckOutcome:
    failed = sum(1 for line in lines if not line.success)
    return CheckOutcome(
        item=item.code, stage=stage, dimension=dimension, passed=failed == 0, severity=_severity(lines),
        rows_checked=len(lines), rows_failed=failed, lines=tuple(lines), facts=facts,
    )


def with_lines(outcome: CheckOutcome, lines: Sequence[RuleLine], count_lines: bool = True) -> CheckOutcome:
    """The same check with more rule lines, e.g. the ones PostgreSQL answered (expectations/sql.py).
    ``count_lines`` False: a row-level check keeps its row counts, the added table lines only judge it."""
    if not lines:
        return outcome
    every = [*outcome.lines, *lines]
    failed = sum(1 for line in every if not line.success)
    judged = replace(outcome, passed=failed == 0, severity=_severity(every), lines=tuple(every))
    return replace(judged, rows_checked=len(every), rows_failed=failed) if count_lines else judged
