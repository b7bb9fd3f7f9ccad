"""A unit's scorecard for a period (art. 8, 15): every indicator computed from what the platform recorded.

- catalogue coverage: share of the unit's items with an accepted submission received before the period ends;
- directory registration: share of its items whose directory entry is complete (has a publication date:
  the catalogue's, or the day the item first converged) by the period's last day;
- on-time submission: each item's update cycle cuts time into windows (day, ISO week, month, quarter,
  half-year, year; realtime counts as daily) of Shanghai days (``periods.REPORTING_TZ``); a window whose
  last day falls in the period is expected once it has ended or already has a submission, and it is on
  time when an accepted submission was received inside it. Windows that ended before the platform's first
  recorded submission are not expected: nothing could be submitted to a platform not yet running;
- pass rate per quality dimension: mean ``pass_rate`` of the unit's check results recorded in the period;
- held-back rate: rows held back / rows received over the submissions received in the period (refused
  files count whole);
- correction turnaround: median hours from hold-back to release, over rows released in the period;
- sharing applications answered in time: applications for the unit's items that fell due in the period
  (decided, or reached the answer deadline undecided, whichever came first), in time when decided within
  the deadline: each application counts once, in a period whose end already knows its outcome;
- shared data used: of the unit's items the sharing service serves (shared, by interface or file), the share
  another unit was served at least once in the period (a read, query, verification or file extract);
- violations opened in the period, per kind, and those open or overdue at the period's end (by their
  opened, deadline and closed times, not their status today).

Every indicator is computed as of the period's end (``as_of``: the end, or now while the period runs), so a
period that has ended scores the same whenever it is evaluated: October evaluated on 1 November and on
31 December gives one verdict (art. 9). Publishing keeps it (``pipelines.evaluation.publication``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from pipelines.catalogue.models import Catalogue, Item, SharingType, UpdateCycle
from pipelines.directory import entries, first_converged
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.periods import Period, at_midnight, month_of, reporting_day, utc, week_of
from pipelines.evaluation.records import CheckResult, Records, SharingApplication, Submission
from pipelines.evaluation.violations import Violation, open_at, overdue_at
from pipelines.quality.rules import Dimension

DIMENSIONS = tuple(d.value for d in Dimension)


@dataclass(frozen=True)
class Scorecard:
    unit: str
    unit_name: str
    period: str
    items: int
    items_submitted: int
    items_registered: int
    expected_submissions: int
    on_time_submissions: int
    checks: int
    checks_failed: int
    pass_rates: dict[str, float | None]
    pass_rate: float | None
    rows_received: int
    rows_held_back: int
    corrections_released: int
    correction_turnaround_hours: float | None
    applications_due: int
    applications_in_time: int
    violations_opened: dict[str, int] = field(default_factory=dict)
    violations_open: int = 0
    violations_overdue: int = 0
    shared_items: int = 0
    shared_items_used: int = 0

    @property
    def catalogue_coverage(self) -> float | None:
        return ratio(self.items_submitted, self.items)

    @property
    def directory_registration(self) -> float | None:
        return ratio(self.items_registered, self.items)

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time_submissions, self.expected_submissions)

    @property
    def held_back_rate(self) -> float | None:
        return ratio(self.rows_held_back, self.rows_received)

    @property
    def correction_turnaround_days(self) -> float | None:
        hours = self.correction_turnaround_hours
        return None if hours is None else round(hours / 24, 4)

    @property
    def sharing_answered_in_time(self) -> float | None:
        return ratio(self.applications_in_time, self.applications_due)

    @property
    def shared_data_used(self) -> float | None:
        return ratio(self.shared_items_used, self.shared_items)

    def as_dict(self) -> dict[str, Any]:
        derived = ("catalogue_coverage", "directory_registration", "on_time_rate", "held_back_rate",
                   "correction_turnaround_days", "sharing_answered_in_time", "shared_data_used")
        return {**asdict(self), **{name: getattr(self, name) for name in derived}}


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


# --- update-cycle windows ----------------------------------------------------------------------------
def cycle_window(day: date, cycle: UpdateCycle) -> tuple[date, date]:
    """The half-open window of days holding ``day`` in which one submission is due."""
    if cycle in (UpdateCycle.REALTIME, UpdateCycle.DAILY):
        return day, day + timedelta(days=1)
    if cycle is UpdateCycle.WEEKLY:
        week = week_of(day)
        return week.start, week.end
    months = {UpdateCycle.MONTHLY: 1, UpdateCycle.QUARTERLY: 3, UpdateCycle.HALF_YEARLY: 6, UpdateCycle.YEARLY: 12}
    span = months[cycle]
    first = date(day.year, (day.month - 1) // span * span + 1, 1)
    last = first
    for _ in range(span - 1):
        last = month_of(last).end
    return first, month_of(last).end


def due_windows(item: Item, period: Period, now: datetime, received: Sequence[datetime],
                live_since: datetime | None = None) -> list[tuple[bool, bool]]:
    """Per window whose last day is in the period and that counts (ended, or already fulfilled, and not
    over before the platform went live): (expected, on time)."""
    windows = []
    start, end = cycle_window(period.start, item.update_cycle)
    while start < period.end:
        live = live_since is None or at_midnight(end) > utc(live_since)
        if period.start <= end - timedelta(days=1) < period.end and live and not _after_expiry(item, start):
            on_time = any(at_midnight(start) <= utc(moment) < at_midnight(end) for moment in received)
            if on_time or at_midnight(end) <= utc(now):
                windows.append((True, on_time))
        start, end = cycle_window(end, item.update_cycle)
    return windows


def _after_expiry(item: Item, window_start: date) -> bool:
    return item.temporary is not None and window_start > item.temporary.expires


# --- the scorecard -------------------------------------------------------------------------------------
def as_of(period: Period, now: datetime) -> datetime:
    """The moment a period is judged at: its end once it has ended, else now."""
    return min(utc(now), period.end_at)


def scorecards(catalogue: Catalogue, records: Records, violations: Sequence[Violation], period: Period,
               config: EvaluationConfig, now: datetime) -> list[Scorecard]:
    """One scorecard per unit with catalogued items, in catalogue order, as of the period's end."""
    now = as_of(period, now)
    registered = _registered(catalogue, records.submissions, period)
    accepted: dict[str, list[datetime]] = defaultdict(list)
    for s in records.submissions:
        if s.accepted:
            accepted[s.item].append(s.received_at)
    live_since = min((s.received_at for s in records.submissions), default=None)
    by_unit = _by_unit(catalogue, records, period, timedelta(days=config.sharing_answer_days))
    unit_violations: dict[str, list[Violation]] = defaultdict(list)
    for v in violations:
        unit_violations[v.unit].append(v)
    return [_scorecard(catalogue, unit.code, unit.name, by_unit.get(unit.code, Records()),
                       unit_violations[unit.code], period, config, now, (accepted, registered, live_since))
            for unit in catalogue.units if catalogue.items_of(unit.code)]


def _by_unit(catalogue: Catalogue, records: Records, period: Period, answer_in: timedelta) -> dict[str, Records]:
    """Each unit's records of the period, grouped in one pass (a province has thousands of items)."""
    grouped: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for s in records.submissions:
        if period.contains(s.received_at):
            grouped[s.unit]["submissions"].append(s)
    for r in records.held:
        if period.contains(r.released_at):
            grouped[r.unit]["held"].append(r)
    for c in records.checks:
        if period.contains(c.checked_at):
            grouped[c.unit]["checks"].append(c)
    for a in records.applications:
        item = catalogue.find_item(a.item)
        if item is not None and period.contains(fell_due(a, answer_in)):  # the owner of the item answers
            grouped[item.unit]["applications"].append(a)
    for read in records.reads:
        item = catalogue.find_item(read.item)
        if item is not None and period.contains(read.at):  # counted for the owner of the item read
            grouped[item.unit]["reads"].append(read)
    return {unit: Records(**lists) for unit, lists in grouped.items()}


def _scorecard(catalogue: Catalogue, unit: str, name: str, mine: Records, violations: Sequence[Violation],
               period: Period, config: EvaluationConfig, now: datetime,
               shared: tuple[dict[str, list[datetime]], set[str], datetime | None]) -> Scorecard:
    """``mine``: the unit's submissions received, rows released, checks and applications of the period."""
    accepted, registered, live_since = shared
    items = catalogue.items_of(unit)
    windows = [w for item in items for w in due_windows(item, period, now, accepted.get(item.code, []), live_since)]
    checks = mine.checks
    turnaround = [(utc(r.released_at) - r.held_at).total_seconds() / 3600 for r in mine.held if r.released_at]
    due, in_time = _applications(mine.applications, config.sharing_answer_days, now)
    return Scorecard(
        unit=unit, unit_name=name, period=period.label, items=len(items),
        items_submitted=sum(1 for i in items if any(utc(m) < period.end_at for m in accepted.get(i.code, []))),
        items_registered=sum(1 for i in items if i.code in registered),
        expected_submissions=len(windows), on_time_submissions=sum(1 for _, on_time in windows if on_time),
        checks=len(checks), checks_failed=sum(1 for c in checks if not c.passed),
        pass_rates={d: mean(c.pass_rate for c in checks if c.dimension == d) for d in DIMENSIONS},
        pass_rate=mean(c.pass_rate for c in checks),
        rows_received=sum(s.received for s in mine.submissions),
        rows_held_back=sum(s.held_back for s in mine.submissions),
        corrections_released=len(mine.held),
        correction_turnaround_hours=round(median(turnaround), 4) if turnaround else None,
        applications_due=due, applications_in_time=in_time,
        violations_opened=dict(sorted(Counter(v.kind for v in violations if period.contains(v.opened_at)).items())),
        violations_open=sum(1 for v in violations if open_at(v, now)),
        violations_overdue=sum(1 for v in violations if overdue_at(v, now)),
        shared_items=len(served := [i for i in items if served_by_service(i)]),
        shared_items_used=len({r.item for r in mine.reads if r.allowed and r.reader != unit}
                              & {i.code for i in served}),
    )


def served_by_service(item: Item) -> bool:
    """Shared, and by the sharing service (interface or file); database-mode reads are the database's."""
    return item.sharing.type is not SharingType.NOT_SHARED and item.sharing.mode in ("interface", "file")


def mean(values: Iterable[float | None]) -> float | None:
    """Rounded like every ratio here; values without data (None) are left out."""
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 6) if known else None


def _registered(catalogue: Catalogue, submissions: Sequence[Submission], period: Period) -> set[str]:
    first = first_converged({"item": s.item, "converged_at": s.converged_at} for s in submissions)
    return {e.item.code for e in entries(catalogue, first) if e.published is not None and e.published < period.end}


def fell_due(application: SharingApplication, answer_in: timedelta) -> datetime:
    """When the application's outcome was settled: its decision, or its deadline if that came first."""
    deadline = utc(application.applied_at) + answer_in
    decided = application.decided_at
    return deadline if decided is None else min(utc(decided), deadline)


def _applications(applications: Sequence[SharingApplication], days: int, now: datetime) -> tuple[int, int]:
    """The period's applications that fell due by ``now``; in time when decided within the deadline."""
    answer_in = timedelta(days=days)
    due = [a for a in applications if fell_due(a, answer_in) <= utc(now)]
    in_time = sum(1 for a in due if a.decided_at is not None and utc(a.decided_at) - utc(a.applied_at) <= answer_in)
    return len(due), in_time


def pass_rate_trend(checks: Sequence[CheckResult], units: Sequence[str],
                    periods: Sequence[Period]) -> dict[str, list[float | None]]:
    """Per unit, the mean pass rate of its check results in each period: the report's trend chart."""
    by_unit: dict[str, list[CheckResult]] = defaultdict(list)
    for c in checks:
        by_unit[c.unit].append(c)
    return {unit: [mean(c.pass_rate for c in by_unit[unit] if p.contains(c.checked_at)) for p in periods]
            for unit in units}


def first_check_day(checks: Sequence[CheckResult]) -> date | None:
    return min((reporting_day(c.checked_at) for c in checks), default=None)
