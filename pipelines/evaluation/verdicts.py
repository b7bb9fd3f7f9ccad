"""Compliance verdicts (art. 9): per unit pass or fail, with every reason, from ``evaluation.yaml``.

An indicator the period has no data for (no submission expected, no application made) is not judged and
is listed as such; a value exactly at its threshold passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.evaluation.config import Thresholds
from pipelines.evaluation.scorecard import Scorecard

PASS, FAIL = "pass", "fail"
# (indicator, label, minimum (True) or maximum (False), shown as a percentage)
_RULES = (
    ("catalogue_coverage", "catalogue coverage", True, True),
    ("directory_registration", "directory registration", True, True),
    ("on_time_rate", "on-time submission", True, True),
    ("pass_rate", "quality check pass rate", True, True),
    ("held_back_rate", "held-back rate", False, True),
    ("sharing_answered_in_time", "sharing applications answered in time", True, True),
    ("correction_turnaround_days", "median correction turnaround (days)", False, False),
)


@dataclass(frozen=True)
class Verdict:
    unit: str
    unit_name: str
    period: str
    verdict: str
    reasons: tuple[str, ...]  # why it failed; empty when it passed
    not_judged: tuple[str, ...]  # indicators without data in the period

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(scorecard: Scorecard, thresholds: Thresholds) -> Verdict:
    reasons: list[str] = []
    not_judged: list[str] = []
    for name, label, minimum, percent in _RULES:
        value = getattr(scorecard, name)
        limit = getattr(thresholds, name)
        if value is None:
            not_judged.append(label)
        elif (value < limit) if minimum else (value > limit):
            shown, bound = (f"{value:.2%}", f"{limit:.2%}") if percent else (f"{value:g}", f"{limit:g}")
            reasons.append(f"{label} {shown} is {'below the minimum' if minimum else 'above the maximum'} {bound}")
    if scorecard.violations_overdue > thresholds.overdue_violations:
        reasons.append(f"{scorecard.violations_overdue} overdue violation(s), more than the "
                       f"{thresholds.overdue_violations} allowed")
    return Verdict(scorecard.unit, scorecard.unit_name, scorecard.period, FAIL if reasons else PASS,
                   tuple(reasons), tuple(not_judged))


def judge_all(scorecards: Sequence[Scorecard], thresholds: Thresholds) -> list[Verdict]:
    return [judge(s, thresholds) for s in scorecards]
