"""Published periods (art. 9): a finance department acts on a verdict only if it does not move.

A period is evaluated as of its end (``scorecard.as_of``); once it has ended, its first evaluation is
published and kept in ``platform_evaluations`` as revision 1, and every later evaluation of that period
returns the publication instead of computing again. A correction is an explicit re-issue
(``python -m pipelines evaluate --period 2026-10 --reissue "<reason>"``): computed afresh from the records as
they now stand (a dismissed violation, a corrected ledger), kept as the next revision with its reason and the
verdicts it changed, all of which the reports show. A period still running is evaluated but not published:
its reports say provisional.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pipelines.evaluation.contractors import ContractorEvaluation, Incident
from pipelines.evaluation.periods import Period, utc
from pipelines.evaluation.scorecard import Scorecard
from pipelines.evaluation.verdicts import Verdict
from pipelines.store.schema import platform_schema

TABLE = "platform_evaluations"
REASON_LENGTH = 2000


class PublicationError(ValueError):
    """A re-issue the platform refuses: of a period still running, or without a reason."""


@dataclass(frozen=True)
class Revision:
    revision: int
    published_at: datetime
    reason: str | None  # None: the first publication
    changes: tuple[str, ...]  # "gx_amr: pass -> fail", against the previous revision


@dataclass(frozen=True)
class Content:
    """What a publication fixes: everything the verdicts rest on."""

    scorecards: tuple[Scorecard, ...]
    contractors: tuple[ContractorEvaluation, ...]
    verdicts: tuple[Verdict, ...]
    trend_periods: tuple[str, ...]
    trend: dict[str, list[float | None]]


@dataclass(frozen=True)
class Publication:
    period: str
    revisions: tuple[Revision, ...]  # oldest first; the last one stands

    @property
    def current(self) -> Revision:
        return self.revisions[-1]

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "revision": self.current.revision,
                "published_at": self.current.published_at.isoformat(),
                "revisions": [{"revision": r.revision, "published_at": r.published_at.isoformat(),
                               "reason": r.reason, "changes": list(r.changes)} for r in self.revisions]}


# --- content as JSON --------------------------------------------------------------------------------------
def content_json(content: Content) -> str:
    return json.dumps({
        "scorecards": [_fields(s) for s in content.scorecards],
        "contractors": [_fields(c) for c in content.contractors],
        "verdicts": [_fields(v) for v in content.verdicts],
        "trend_periods": list(content.trend_periods), "trend": content.trend,
    }, ensure_ascii=False, sort_keys=True)


def _fields(record: Any) -> dict[str, Any]:
    """The dataclass's own fields, not its derived properties (those are computed again when read)."""
    out = {f.name: getattr(record, f.name) for f in fields(record)}
    if isinstance(record, ContractorEvaluation):
        out["incidents"] = [_fields(i) for i in record.incidents]
    return out


def content_of(text: str) -> Content:
    data = json.loads(text)
    return Content(
        scorecards=tuple(Scorecard(**s) for s in data["scorecards"]),
        contractors=tuple(ContractorEvaluation(**{**c, "units": tuple(c["units"]), "incidents": tuple(
            Incident(**i) for i in c["incidents"])}) for c in data["contractors"]),
        verdicts=tuple(Verdict(**{**v, "reasons": tuple(v["reasons"]), "not_judged": tuple(v["not_judged"])})
                       for v in data["verdicts"]),
        trend_periods=tuple(data["trend_periods"]), trend=data["trend"],
    )


def verdict_changes(before: Sequence[Verdict], after: Sequence[Verdict]) -> tuple[str, ...]:
    """Per unit whose verdict or reasons differ: what it was and what it is now."""
    old = {v.unit: v for v in before}
    changed = []
    for v in after:
        was = old.get(v.unit)
        if was is None:
            changed.append(f"{v.unit}: (not judged) -> {v.verdict}")
        elif (was.verdict, was.reasons) != (v.verdict, v.reasons):
            changed.append(f"{v.unit}: {was.verdict} -> {v.verdict}" +
                           ("" if was.verdict != v.verdict else " (reasons changed)"))
    changed += [f"{unit}: {v.verdict} -> (not judged)" for unit, v in old.items()
                if unit not in {a.unit for a in after}]
    return tuple(changed)


# --- the platform_evaluations table -----------------------------------------------------------------------
def publications_table(store: Any) -> Table:
    schema = platform_schema(store.dialect)
    table: Table = store.metadata.tables[f"{schema}.{TABLE}" if schema else TABLE]
    return table


def load(store: Any, period: Period) -> tuple[Publication, Content] | None:
    """The period's publication with every revision, and the content of the one that stands."""
    table = publications_table(store)
    with store.engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.period == period.label).order_by(table.c.revision)).all()
    if not rows:
        return None
    revisions = tuple(Revision(r.revision, utc(r.published_at), r.reason, tuple(json.loads(r.changes)))
                      for r in rows)
    return Publication(period.label, revisions), content_of(rows[-1].content)


def publish(store: Any, period: Period, content: Content, now: datetime, reason: str | None = None,
            previous: tuple[Publication, Content] | None = None) -> tuple[Publication, Content]:
    """Keep ``content`` as the period's next revision. Two evaluations publishing at once (the weekly and the
    monthly schedule) both try revision n + 1: the first stands and the other returns it."""
    revision = previous[0].current.revision + 1 if previous else 1
    changes = verdict_changes(previous[1].verdicts, content.verdicts) if previous else ()
    table = publications_table(store)
    dialect_insert = postgresql_insert if store.dialect == "postgresql" else sqlite_insert
    with store.engine.begin() as conn:
        conn.execute(dialect_insert(table).values(
            period=period.label, revision=revision, published_at=now, reason=reason,
            changes=json.dumps(list(changes), ensure_ascii=False), content=content_json(content),
        ).on_conflict_do_nothing(index_elements=["period", "revision"]))
    stored = load(store, period)
    assert stored is not None
    return stored


def reissue_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise PublicationError("a re-issue needs its reason (--reissue \"...\")")
    return text[:REASON_LENGTH]
