"""One clock for the platform: moments in UTC, days in the province.

Every moment the platform records (ledger, quarantine, runs) is UTC. Every rule that is judged on a day
(a temporary collection's expiry, an entrustment's validity, a record's freshness, a reporting period) is
judged on the province's calendar day, Asia/Shanghai: a temporary collection that expired on 31 March is
refused from 1 April 00:00 Beijing time, which is 31 March 16:00 UTC. Times shown to people carry the
province's time and offset (``2026-04-01 03:00 +08:00``).

This is the one module that reads the wall clock; everything else takes a ``Clock`` or a moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")  # no daylight saving: the offset is +08:00 all year


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the platform writes them in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def province_time(moment: datetime) -> datetime:
    return _aware(moment).astimezone(PROVINCE_TZ)


def province_day(moment: datetime) -> date:
    """The province's calendar day a moment falls on (a zoneless moment is read as UTC)."""
    return province_time(moment).date()


def shown_time(moment: datetime) -> str:
    """A moment for people to read: the province's wall time with its offset, ``2026-04-01 03:00 +08:00``."""
    local = province_time(moment)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


@dataclass(frozen=True)
class Clock:
    """Injectable: ``clock()`` (or ``clock.now()``) is the moment in UTC, ``clock.today()`` the province's day.
    Calling it keeps it a drop-in for the plain ``Callable[[], datetime]`` the platform has always taken."""

    source: Callable[[], datetime] = utc_now

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        return _aware(self.source()).astimezone(UTC)

    def today(self) -> date:
        return province_day(self.now())

    @classmethod
    def fixed(cls, moment: datetime) -> Clock:
        """A clock stopped at ``moment`` (tests, replays)."""
        return cls(lambda: moment)
