"""Evaluation of the technical service units (contractors) that operate units' pipelines (art. 7, 8).

From plain inputs: the run records (``platform_runs``) and, per contractor, the units it is entrusted
with in the period. Per contractor: runs, run success rate, incidents (failed and refused runs), and the
timeliness (mean on-time rate) and quality (mean pass rate) of its units' scorecards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.catalogue.models import Contractor, Entrustment
from pipelines.evaluation.periods import Period
from pipelines.evaluation.records import RunRecord
from pipelines.evaluation.scorecard import Scorecard, mean

SUCCEEDED, FAILED, REFUSED = "succeeded", "failed", "refused"


@dataclass(frozen=True)
class Incident:
    run_id: str
    unit: str
    status: str
    started_at: str
    reason: str | None


@dataclass(frozen=True)
class ContractorEvaluation:
    contractor: str
    period: str
    units: tuple[str, ...]
    runs: int
    succeeded: int
    failed: int
    refused: int
    run_success_rate: float | None
    timeliness: float | None
    quality: float | None
    incidents: tuple[Incident, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def entrusted_units(contractors: Iterable[Contractor], period: Period) -> dict[str, set[str]]:
    """Contractor code -> units whose entrustment overlaps the period (``Catalogue.contractors``)."""
    return {c.code: {e.unit for e in c.entrustments if _overlaps(e, period)} for c in contractors}


def _overlaps(entrustment: Entrustment, period: Period) -> bool:
    return bool(entrustment.valid_from <= period.last_day and entrustment.valid_until >= period.start)


def evaluate_contractors(runs: Sequence[RunRecord], entrusted: Mapping[str, set[str]],
                         scorecards: Sequence[Scorecard], period: Period) -> list[ContractorEvaluation]:
    """One evaluation per contractor that is entrusted in the period or ran something in it."""
    in_period = [r for r in runs if r.contractor is not None and period.contains(r.started_at)]
    codes = sorted(set(entrusted) | {r.contractor for r in in_period if r.contractor})
    cards = {s.unit: s for s in scorecards}
    return [_evaluate(code, [r for r in in_period if r.contractor == code], sorted(entrusted.get(code, set())),
                      cards, period) for code in codes]


def _evaluate(code: str, runs: list[RunRecord], units: list[str], cards: Mapping[str, Scorecard],
              period: Period) -> ContractorEvaluation:
    counts = {status: sum(1 for r in runs if r.status == status) for status in (SUCCEEDED, FAILED, REFUSED)}
    incidents = tuple(Incident(r.run_id, r.unit, r.status, r.started_at.isoformat(), r.reason)
                      for r in sorted(runs, key=lambda r: (r.started_at, r.run_id)) if r.status != SUCCEEDED)
    mine = [cards[u] for u in units if u in cards]
    return ContractorEvaluation(
        contractor=code, period=period.label, units=tuple(units), runs=len(runs), succeeded=counts[SUCCEEDED],
        failed=counts[FAILED], refused=counts[REFUSED],
        run_success_rate=round(counts[SUCCEEDED] / len(runs), 6) if runs else None,
        timeliness=mean(s.on_time_rate for s in mine), quality=mean(s.pass_rate for s in mine),
        incidents=incidents,
    )

