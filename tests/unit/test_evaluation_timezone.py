"""Periods and update-cycle windows are cut in Shanghai days (UTC+8): moments recorded in UTC are placed by
their Shanghai time, and a schedule at 07:00 Shanghai finds the period it reports over."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pipelines.catalogue.models import Item
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.periods import (
    MONTH,
    REPORTING_TZ,
    WEEK,
    current_period,
    just_ended,
    parse_period,
    reporting_day,
)
from pipelines.evaluation.records import Records, Submission
from pipelines.evaluation.scorecard import due_windows, scorecards
from tests.unit.evaluation_fixtures import catalogue, moment

MONDAY_1AM_SHANGHAI = moment(29, 17)  # Sunday 29 November 17:00 UTC = Monday 30 November 01:00 Shanghai, W49
MONDAY_7AM_SHANGHAI = moment(29, 23)  # the weekly schedule: Monday 30 November 07:00 Shanghai
DECEMBER_1ST_7AM_SHANGHAI = moment(30, 23)  # the monthly schedule: 1 December 07:00 Shanghai


def _item(code: str) -> Item:
    found = catalogue().find_item(code)
    assert found is not None
    return found


def test_periods_begin_at_shanghai_midnight() -> None:
    w49 = parse_period("2026-W49")
    assert w49.start_at == datetime(2026, 11, 30, tzinfo=REPORTING_TZ)
    assert w49.start_at.astimezone(UTC) == moment(29, 16)
    assert (w49.contains(MONDAY_1AM_SHANGHAI), parse_period("2026-W48").contains(MONDAY_1AM_SHANGHAI)) == (True, False)
    # SQLite hands the moment back without a zone: it is UTC, still Monday in Shanghai
    assert w49.contains(datetime(2026, 11, 29, 17)) and reporting_day(datetime(2026, 11, 29, 17)) == date(2026, 11, 30)
    assert current_period(MONDAY_1AM_SHANGHAI, WEEK).label == "2026-W49"
    assert current_period(DECEMBER_1ST_7AM_SHANGHAI, MONTH).label == "2026-12"
    assert (just_ended(MONDAY_7AM_SHANGHAI, WEEK).label, just_ended(DECEMBER_1ST_7AM_SHANGHAI, MONTH).label) == (
        "2026-W48", "2026-11")


def test_a_submission_on_monday_morning_in_shanghai_counts_in_the_new_week() -> None:
    first = Submission("daily_log/s1", "daily_log", "amr", "converged", moment(16), 100, 0, None, moment(16))
    monday = Submission("weekly_report/w49", "weekly_report", "amr", "validated", MONDAY_1AM_SHANGHAI, 50, 5)
    data, now = Records([first, monday]), moment(30, 23)  # Tuesday 07:00 Shanghai
    w48, w49 = (scorecards(catalogue(), data, [], parse_period(p), EvaluationConfig(), now)[0]
                for p in ("2026-W48", "2026-W49"))
    assert (w48.rows_received, w48.rows_held_back, w49.rows_received, w49.rows_held_back) == (0, 0, 50, 5)
    weekly, received = _item("weekly_report"), [MONDAY_1AM_SHANGHAI]
    assert due_windows(weekly, parse_period("2026-W48"), now, received, moment(16)) == [(True, False)]
    assert due_windows(weekly, parse_period("2026-W49"), now, received, moment(16)) == [(True, True)]


def test_the_monthly_run_on_the_1st_in_shanghai_expects_the_whole_month() -> None:
    november = parse_period("2026-11")
    # daily_log came every day but the 30th; the 29th's at 23:00 Shanghai (15:00 UTC) is still the 29th
    daily = [moment(day, 2) for day in range(1, 29)] + [moment(29, 15)]
    windows = due_windows(_item("daily_log"), november, DECEMBER_1ST_7AM_SHANGHAI, daily, moment(1, 2))
    assert (len(windows), sum(on_time for _, on_time in windows), windows[-1]) == (30, 29, (True, False))
    monthly = due_windows(_item("monthly_stat"), november, DECEMBER_1ST_7AM_SHANGHAI, [moment(10)], moment(1, 2))
    assert monthly == [(True, True)]
    missed = due_windows(_item("monthly_stat"), november, DECEMBER_1ST_7AM_SHANGHAI, [], moment(1, 2))
    assert missed == [(True, False)]


def test_a_weekly_item_that_missed_its_week_is_due_at_monday_7am_shanghai() -> None:
    first = Submission("daily_log/s1", "daily_log", "amr", "converged", moment(16), 100, 0, None, moment(16))
    assert due_windows(_item("weekly_report"), parse_period("2026-W48"), MONDAY_7AM_SHANGHAI, [], moment(16)) == [
        (True, False)]
    amr = scorecards(catalogue(), Records([first]), [], parse_period("2026-W48"), EvaluationConfig(),
                     MONDAY_7AM_SHANGHAI)[0]
    # daily_log: the seven days of W48 have all ended, none submitted; weekly_report: expected 1, on time 0
    assert (amr.expected_submissions, amr.on_time_submissions) == (8, 0)
