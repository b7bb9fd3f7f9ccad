"""Who operates a unit's run, and whether they may (art. 7, 8).

A run names its operator with the run tag ``govdata/contractor=<code>``. A named technical service
unit must hold an entrustment in force for the unit and the work on the run date, or the run is
refused for that unit before anything is touched. An untagged run is operated by the contractor
entrusted with the work that day, if any, else by the unit itself (no contractor).

Every work type is judged this way, not only collection: a run's validation, convergence and sharing
steps are each operated by the tagged contractor (or, untagged, by the contractor entrusted with that
work, else the unit), so a contractor entrusted with collection alone is refused at validation: the
step does not run for that unit and the refusal is recorded as an incident of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipelines.catalogue.models import Catalogue, Contractor, Entrustment, Work
from pipelines.clock import province_day

CONTRACTOR_TAG = "govdata/contractor"
RUN_DATE_TAG = "govdata/run-date"  # judge entrustments on this day (YYYY-MM-DD) instead of today
UNIT_RUN_WORK = Work.COLLECTION  # a unit run starts by collecting: the work its operator must be entrusted with
ALLOW_RUN_DATE_ENV = "GOVDATA_ALLOW_RUN_DATE"
CODE_LENGTH = 64  # platform_runs.contractor


def local_day(moment: datetime) -> date:
    """Entrustments run from and until calendar days of the province, not of UTC."""
    return province_day(moment)


@dataclass(frozen=True)
class Operator:
    unit: str
    contractor: str | None  # None: the unit operates its own run
    day: date | None  # the day the entrustment was judged on (None: the run date tag was unreadable)
    refusal: str | None = None  # why the run is refused for this unit, when it is
    work: Work = UNIT_RUN_WORK  # the work this operator was judged for


class NotEntrusted(RuntimeError):
    """A step of a unit's run whose operator holds no entrustment in force for its work (art. 7)."""

    def __init__(self, operator: Operator):
        self.operator = operator
        super().__init__(f"{operator.work.value} refused: {operator.refusal}")


def require_entrusted(operator: Operator | None, work: Work) -> None:
    """Raise NotEntrusted unless ``operator`` (judged for ``work``; None: the caller judged nothing, as the
    regular inspection does) may perform it."""
    if operator is None:
        return
    if operator.work is not work:
        raise ValueError(f"operator of {operator.work.value} work passed to a {work.value} step")
    if operator.refusal:
        raise NotEntrusted(operator)


def operator_of_run(catalogue: Catalogue, unit: str, tags: Mapping[str, str], today: date,
                    run_date_allowed: bool = False, work: Work = UNIT_RUN_WORK) -> Operator:
    """The operator of ``work`` named by the run's tags, judged today, or on the run date tag where the
    platform allows it: anyone launching a run can set a tag, and an expired contractor must not pick a day
    on which its entrustment was still in force."""
    tagged = (tags.get(CONTRACTOR_TAG) or "")[:CODE_LENGTH] or None
    day, refusal = _judging_day(tags, today, run_date_allowed)
    if refusal:
        return Operator(unit, tagged, day, refusal, work)
    assert day is not None
    return operator_for(catalogue, unit, tagged, day, work)


def _judging_day(tags: Mapping[str, str], today: date, run_date_allowed: bool) -> tuple[date | None, str | None]:
    value = tags.get(RUN_DATE_TAG)
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        return None, f"run tag {RUN_DATE_TAG}={value!r} is not a date (YYYY-MM-DD)"
    if day != today and not run_date_allowed:
        return today, (f"run tag {RUN_DATE_TAG}={value} would judge entrustments on {day}, not today ({today}); "
                       f"only test and demo platforms allow it ({ALLOW_RUN_DATE_ENV}=1)")
    return day, None


def run_operators(catalogue: Catalogue, unit: str, tags: Mapping[str, str], today: date,
                  run_date_allowed: bool = False) -> dict[Work, Operator]:
    """The run's operator of each work type for the unit, all judged on the same day."""
    return {work: operator_of_run(catalogue, unit, tags, today, run_date_allowed, work) for work in Work}


def operator_for(catalogue: Catalogue, unit: str, tagged: str | None, day: date,
                 work: Work = UNIT_RUN_WORK) -> Operator:
    if not tagged:
        holder = entrusted_contractor(catalogue, unit, work, day)
        return Operator(unit, holder.code if holder else None, day, work=work)
    contractor = catalogue.contractor(tagged)
    why = "unknown contractor (not in contractors.yaml)" if contractor is None else \
        why_not_entrusted(contractor, unit, work, day)
    if why is None:
        return Operator(unit, tagged, day, work=work)
    return Operator(unit, tagged, day, f"contractor {tagged} has no valid entrustment for unit {unit} on {day}: {why}",
                    work)


def entrusted_contractor(catalogue: Catalogue, unit: str, work: Work, day: date) -> Contractor | None:
    """The loader allows one holder per unit, work and day, so the first found is the only one."""
    return next((c for c in catalogue.contractors if why_not_entrusted(c, unit, work, day) is None), None)


def why_not_entrusted(contractor: Contractor, unit: str, work: Work, day: date) -> str | None:
    """None when an entrustment is in force; else the nearest reason a supervisor can act on."""
    relevant = [e for e in contractor.entrustments if e.covers(unit, work)]
    if any(e.valid_on(day) for e in relevant):
        return None
    ended = [e for e in relevant if e.valid_until < day]
    if ended:
        last = max(ended, key=lambda e: e.valid_until)
        return f"expired on {last.valid_until} ({last.reference})"
    if relevant:
        first = min(relevant, key=lambda e: e.valid_from)
        return f"not yet in force, valid from {first.valid_from} ({first.reference})"
    other = sorted({w.value for e in contractor.entrustments if e.unit == unit for w in e.work})
    return f"not entrusted with {work.value} (only {', '.join(other)})" if other else "not entrusted"


def status_on(entrustment: Entrustment, day: date) -> str:
    if entrustment.valid_on(day):
        return "valid"
    return "expired" if entrustment.valid_until < day else "not yet valid"


def contractor_listing(catalogue: Catalogue, day: date) -> list[dict[str, Any]]:
    """Every contractor with its entrustments and whether each is in force on the day."""
    return [
        {"code": c.code, "name": c.name, "credit_code": c.credit_code, "entrustments": [
            {"unit": e.unit, "work": [w.value for w in e.work], "valid_from": e.valid_from.isoformat(),
             "valid_until": e.valid_until.isoformat(), "reference": e.reference, "status": status_on(e, day)}
            for e in c.entrustments]}
        for c in catalogue.contractors
    ]


def render_listing(listing: list[dict[str, Any]], day: date) -> str:
    if not listing:
        return "no technical service units in the catalogue (contractors.yaml): every unit operates its own runs"
    lines = [f"technical service units and their entrustments on {day}:"]
    for contractor in listing:
        lines.append(f"\n{contractor['code']}  {contractor['name']}  {contractor['credit_code']}")
        for e in contractor["entrustments"]:
            lines.append(f"  {e['unit']:<16} {', '.join(e['work']):<36} {e['valid_from']} .. {e['valid_until']}  "
                         f"{e['status']:<13} {e['reference']}")
        if not contractor["entrustments"]:
            lines.append("  (no entrustments)")
    return "\n".join(lines)
