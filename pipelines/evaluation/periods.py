"""Reporting periods: ISO weeks (``2026-W48``) for supervision, calendar months (``2026-11``) for evaluation.

A period is a half-open span of days ``[start, end)`` of the reporting timezone, Asia/Shanghai: the
province's working day, and the zone its schedules run in. Moments are recorded in UTC (SQLite hands
them back without a zone); each is converted to Shanghai time before it is placed in a period or an
update-cycle window, so a submission at Monday 01:00 Shanghai (Sunday 17:00 UTC) belongs to that
Monday's week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pipelines.clock import PROVINCE_TZ, province_day
from pipelines.store.store import as_utc as utc

REPORTING_TZ = PROVINCE_TZ  # periods and update-cycle windows start at Shanghai midnight (pipelines.clock)
WEEK, MONTH = "week", "month"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period label that is neither ``YYYY-Www`` nor ``YYYY-MM``."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # exclusive: the first day after the period
    kind: str

    @property
    def label(self) -> str:
        if self.kind == WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def start_at(self) -> datetime:
        return at_midnight(self.start)

    @property
    def end_at(self) -> datetime:
        return at_midnight(self.end)

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start_at <= utc(moment) < self.end_at

    def previous(self) -> Period:
        return period_of(self.start - timedelta(days=1), self.kind)

    def __str__(self) -> str:
        return self.label


def at_midnight(day: date) -> datetime:
    """The moment ``day`` begins in the reporting timezone."""
    return datetime.combine(day, time.min, tzinfo=REPORTING_TZ)


def reporting_day(moment: datetime) -> date:
    """The Shanghai day a recorded moment falls on."""
    return province_day(moment)


def current_period(now: datetime, kind: str) -> Period:
    """The period holding ``now`` in Shanghai: at Monday 01:00 Shanghai it is already the new week."""
    return period_of(reporting_day(now), kind)


def just_ended(now: datetime, kind: str) -> Period:
    """The last period wholly over at ``now`` in Shanghai (what a Monday or 1st-of-month schedule reports)."""
    return current_period(now, kind).previous()


def week_of(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=7), WEEK)


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return Period(start, following, MONTH)


def period_of(day: date, kind: str) -> Period:
    return week_of(day) if kind == WEEK else month_of(day)


def parse_period(label: str) -> Period:
    week = _WEEK.match(label)
    if week:
        try:
            return week_of(date.fromisocalendar(int(week[1]), int(week[2]), 1))
        except ValueError as exc:
            raise PeriodError(f"period {label!r}: {exc}") from None
    month = _MONTH.match(label)
    if month and 1 <= int(month[2]) <= 12:
        return month_of(date(int(month[1]), int(month[2]), 1))
    raise PeriodError(f"period {label!r} is neither an ISO week (2026-W48) nor a month (2026-11)")


def periods_between(first: date, period: Period) -> list[Period]:
    """Every period of the same kind from the one holding ``first`` up to and including ``period``."""
    found = []
    current = period_of(min(first, period.start), period.kind)
    while current.start <= period.start:
        found.append(current)
        current = period_of(current.end, period.kind)
    return found
