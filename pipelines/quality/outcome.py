"""What a validation found, as plain data the pipeline, the ledger and the reports share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from pipelines.catalogue.models import Severity
from pipelines.quality.rules import Dimension, Rule

SAMPLE_SIZE = 5  # failing rows' samples a result keeps (the GX runner's and the contextual rules' alike)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    success: bool
    element_count: int
    unexpected_count: int
    failing_rows: tuple[int, ...] = ()
    sample: tuple[str, ...] = ()
    observed: str = ""

    @property
    def unexpected_percent(self) -> float:
        return 100.0 * self.unexpected_count / self.element_count if self.element_count else 0.0

    @property
    def pass_rate(self) -> float:
        return 1.0 - self.unexpected_count / self.element_count if self.element_count else 1.0


@dataclass(frozen=True)
class ValidationOutcome:
    item: str
    rows: int
    results: tuple[RuleResult, ...]
    docs: str = ""  # the GX Data Docs page of this validation, when one was built

    def extended(self, results: tuple[RuleResult, ...]) -> ValidationOutcome:
        """The same outcome with the rules evaluated outside GX (ledger, authoritative tables) added."""
        return replace(self, results=self.results + results)

    def row_reasons(self) -> dict[int, list[str]]:
        """Row position -> reasons, for every row an error-severity row rule failed on."""
        reasons: dict[int, list[str]] = defaultdict(list)
        for result in self.results:
            if result.rule.holds_back_rows:
                for row in result.failing_rows:
                    reasons[row].append(f"{result.rule.id}: {result.rule.description}")
        return dict(reasons)

    def warned_rows(self) -> set[int]:
        return {row for r in self.results if r.rule.row_level and r.rule.severity is Severity.WARNING
                for row in r.failing_rows}

    @property
    def blocking_failures(self) -> tuple[RuleResult, ...]:
        """Failed error-severity table rules: they stop the whole item from converging."""
        return tuple(r for r in self.results
                     if not r.success and not r.rule.row_level and r.rule.severity is Severity.ERROR)

    def in_dimension(self, dimension: Dimension) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.rule.dimension is dimension)


def merge_results(rows: int, parts: list[tuple[RuleResult, ...]]) -> tuple[RuleResult, ...]:
    """Per rule (first seen first), the results of several parts of one submission as one: a row rule's counts
    summed and failing rows joined (each part's numbered from the submission's first row), its first samples;
    a table rule passes when it passed on every part (each part carries every catalogued column)."""
    by_rule: dict[str, list[RuleResult]] = {}
    for part in parts:
        for result in part:
            by_rule.setdefault(result.rule.id, []).append(result)
    return tuple(_merged(rows, results) for results in by_rule.values())


def _merged(rows: int, results: list[RuleResult]) -> RuleResult:
    first = results[0]
    success = all(r.success for r in results)
    if first.rule.row_level:
        failing = tuple(i for r in results for i in r.failing_rows)
        sample = tuple(s for r in results for s in r.sample)[:SAMPLE_SIZE]
        return RuleResult(rule=first.rule, success=success, element_count=rows, unexpected_count=len(failing),
                          failing_rows=failing, sample=sample, observed=first.observed)
    observed = next((r.observed for r in results if not r.success), first.observed)
    return RuleResult(rule=first.rule, success=success, element_count=rows, unexpected_count=0 if success else 1,
                      observed=observed)
