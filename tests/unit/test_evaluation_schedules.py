"""The weekly supervision and monthly evaluation schedules ask for the period that just ended."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from assets.supervision import supervision_jobs_and_schedules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _request(name: str, when: datetime) -> dg.RunRequest:
    _, schedules = supervision_jobs_and_schedules()
    schedule = next(s for s in schedules if s.name == name)
    result = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
    [request] = result.run_requests or []
    return request


def test_monday_morning_reports_the_week_that_just_ended() -> None:
    request = _request("supervision_weekly_schedule", datetime(2026, 11, 30, 7, tzinfo=SHANGHAI))
    assert request.run_key == "2026-W48"
    assert request.run_config == {"ops": {"supervision__weekly_report": {"config": {"period": "2026-W48"}}}}


def test_the_first_of_the_month_evaluates_the_month_that_just_ended() -> None:
    request = _request("evaluation_monthly_schedule", datetime(2026, 12, 1, 7, tzinfo=SHANGHAI))
    assert request.run_key == "2026-11"
    # the scorecards evaluate the month; contractors and verdicts take that evaluation as their input
    assert request.run_config == {"ops": {"evaluation__unit_scorecards": {"config": {"period": "2026-11"}}}}
    _, schedules = supervision_jobs_and_schedules()
    assert {(s.name, s.cron_schedule, s.execution_timezone) for s in schedules} == {
        ("supervision_weekly_schedule", "0 7 * * 1", "Asia/Shanghai"),
        ("evaluation_monthly_schedule", "0 7 1 * *", "Asia/Shanghai")}


def test_the_schedules_read_their_tick_in_shanghai_time_whatever_zone_it_comes_in() -> None:
    # Monday 07:00 Shanghai is still Sunday in UTC, and 1 December 07:00 Shanghai still 30 November
    assert _request("supervision_weekly_schedule", datetime(2026, 11, 29, 23, tzinfo=UTC)).run_key == "2026-W48"
    assert _request("evaluation_monthly_schedule", datetime(2026, 11, 30, 23, tzinfo=UTC)).run_key == "2026-11"
