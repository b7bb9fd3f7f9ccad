"""What a validation found, as plain data the pipeline, the ledger and the reports share."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from pipelines.catalogue.models import Severity
from pipelines.quality.rules import Dimension, Rule


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
