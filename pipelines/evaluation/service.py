"""One evaluation of a period: read the records, settle the violations, score every unit, evaluate the
contractors and judge compliance, as of the period's end; a period that has ended is published once and
then read back, never computed again unless re-issued with a reason (``publication``). The CLI and the
Dagster assets both call this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.catalogue.models import Catalogue
from pipelines.evaluation import publication
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.contractors import ContractorEvaluation, entrusted_units, evaluate_contractors
from pipelines.evaluation.periods import Period, periods_between, utc
from pipelines.evaluation.publication import Content, Publication, PublicationError
from pipelines.evaluation.records import Records, merged, read_records
from pipelines.evaluation.scorecard import Scorecard, first_check_day, pass_rate_trend, scorecards
from pipelines.evaluation.verdicts import Verdict, judge_all
from pipelines.evaluation.violations import Violation, sync_violations

REPORTS = "reports"  # under the data directory: reports/<period>/


@dataclass(frozen=True)
class Evaluation:
    period: Period
    generated_at: datetime
    scorecards: list[Scorecard]
    contractors: list[ContractorEvaluation]
    violations: list[Violation]
    verdicts: list[Verdict]
    trend_periods: list[str] = field(default_factory=list)
    trend: dict[str, list[float | None]] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)  # violations opened/rectified/escalated by this run
    publication: Publication | None = None  # None: provisional, the period is still running

    @property
    def status(self) -> str:
        if self.publication is None:
            return "provisional"
        current = self.publication.current
        return "published" if current.revision == 1 else f"re-issued (revision {current.revision})"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        moment = now or self.generated_at
        return {
            "period": self.period.label, "start": self.period.start.isoformat(),
            "end": self.period.last_day.isoformat(), "generated_at": self.generated_at.isoformat(),
            "scorecards": [s.as_dict() for s in self.scorecards],
            "contractors": [c.as_dict() for c in self.contractors],
            "violations": [violation_dict(v, moment) for v in self.violations],
            "verdicts": [v.as_dict() for v in self.verdicts],
            "trend": {"periods": self.trend_periods, "pass_rate": self.trend},
            "status": self.status, "publication": self.publication.as_dict() if self.publication else None,
        }


def violation_dict(v: Violation, now: datetime) -> dict[str, Any]:
    return {"kind": v.kind, "unit": v.unit, "item": v.item, "subject": v.subject, "detail": v.detail,
            "opened_at": v.opened_at.isoformat(), "deadline": v.deadline.isoformat(), "status": v.status,
            "closed_at": v.closed_at.isoformat() if v.closed_at else None, "closed_by": v.closed_by,
            "days_overdue": v.days_overdue(now) if v.status == "overdue" else 0}


def evaluate_records(catalogue: Catalogue, records: Records, violations: Sequence[Violation], period: Period,
                     config: EvaluationConfig, now: datetime,
                     entrusted: Mapping[str, set[str]] | None = None) -> Evaluation:
    """Pure: the evaluation of a period from plain records and the settled violations."""
    cards = scorecards(catalogue, records, violations, period, config, now)
    if entrusted is None:
        entrusted = entrusted_units(catalogue.contractors, period)
    first = first_check_day(records.checks)
    periods = periods_between(first, period) if first else [period]
    units = [s.unit for s in cards]
    return Evaluation(
        period=period, generated_at=now, scorecards=cards,
        contractors=evaluate_contractors(records.runs, entrusted, cards, period),
        violations=list(violations), verdicts=judge_all(cards, config.thresholds),
        trend_periods=[p.label for p in periods], trend=pass_rate_trend(records.checks, units, periods),
    )


def evaluate(catalogue: Catalogue, store: Any, data_dir: Path, period: Period, config: EvaluationConfig,
             now: datetime, reissue: str | None = None, linked: Sequence[Records] = ()) -> Evaluation:
    """Read the store (and take the city platforms' ``linked`` records, read through their links with
    ``PlatformLink.records``), settle and save the
    violations in the store, then the period's evaluation: the published one when the period has ended and was
    published, else computed (and published, in the province's store, when the period has ended).
    ``reissue``: the reason to compute and publish an ended period again (PublicationError otherwise)."""
    records = merged([read_records(store, data_dir), *linked])
    violations, changes = sync_violations(store, records, config.deadlines, config.correction_days, now)
    ended = period.end_at <= utc(now)
    if reissue is not None and not ended:
        raise PublicationError(f"period {period.label} has not ended (it ends {period.last_day}): nothing to "
                               "re-issue; its evaluation is provisional")
    published = publication.load(store, period) if ended else None
    if published and reissue is None:
        return _from_publication(period, now, violations, changes, *published)
    evaluation = replace(evaluate_records(catalogue, records, violations, period, config, now), changes=changes)
    if not ended:
        return evaluation
    reason = publication.reissue_reason(reissue) if reissue is not None else None
    kept = publication.publish(store, period, content(evaluation), now, reason, published)
    return _from_publication(period, now, violations, changes, *kept)


def content(evaluation: Evaluation) -> Content:
    return Content(tuple(evaluation.scorecards), tuple(evaluation.contractors), tuple(evaluation.verdicts),
                   tuple(evaluation.trend_periods), evaluation.trend)


def _from_publication(period: Period, now: datetime, violations: Sequence[Violation], changes: dict[str, int],
                      published: Publication, kept: Content) -> Evaluation:
    """The published scorecards and verdicts; the violations list is today's (it is what units act on)."""
    return Evaluation(period=period, generated_at=now, scorecards=list(kept.scorecards),
                      contractors=list(kept.contractors), violations=list(violations), verdicts=list(kept.verdicts),
                      trend_periods=list(kept.trend_periods), trend=kept.trend, changes=changes,
                      publication=published)


def reports_dir(data_dir: Path, period: Period) -> Path:
    return Path(data_dir) / REPORTS / period.label
