"""Scorecard indicators against a ledger, a quarantine, a check history and applications built by hand."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.catalogue.models import UpdateCycle
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.periods import PeriodError, parse_period, periods_between, week_of
from pipelines.evaluation.records import CheckResult, QuarantinedRow, Records, SharingApplication, Submission
from pipelines.evaluation.scorecard import cycle_window, pass_rate_trend, scorecards
from pipelines.evaluation.violations import detect, settle
from tests.unit.evaluation_fixtures import catalogue, moment

WEEK = parse_period("2026-W47")  # Monday 16 to Sunday 22 November 2026
NOW = moment(1, month=12)


def test_periods_parse_with_start_and_end() -> None:
    week, month = parse_period("2026-W48"), parse_period("2026-11")
    assert (week.start, week.last_day, week.end, week.label) == (
        date(2026, 11, 23), date(2026, 11, 29), date(2026, 11, 30), "2026-W48")
    assert (month.start, month.last_day, month.label) == (date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    assert parse_period("2026-12").end == date(2027, 1, 1)
    assert [p.label for p in periods_between(date(2026, 11, 10), week)] == ["2026-W46", "2026-W47", "2026-W48"]
    with pytest.raises(PeriodError, match=r"period '2026-13' is neither an ISO week \(2026-W48\) nor a month"):
        parse_period("2026-13")


def test_cycle_windows() -> None:
    assert cycle_window(date(2026, 11, 18), UpdateCycle.WEEKLY) == (date(2026, 11, 16), date(2026, 11, 23))
    assert cycle_window(date(2026, 11, 18), UpdateCycle.QUARTERLY) == (date(2026, 10, 1), date(2027, 1, 1))
    assert cycle_window(date(2026, 5, 2), UpdateCycle.HALF_YEARLY) == (date(2026, 1, 1), date(2026, 7, 1))
    assert cycle_window(date(2026, 11, 18), UpdateCycle.REALTIME) == (date(2026, 11, 18), date(2026, 11, 19))


def _submission(sid: str, item: str, day: int, status: str = "converged", received: int = 100, held: int = 0,
                unit: str = "amr", reason: str | None = None, hour: int = 9):
    converged = moment(day, hour) if status == "converged" else None
    return Submission(sid, item, unit, status, moment(day, hour), received, held, reason, converged)


def records() -> Records:
    submissions = [
        _submission("daily_log/s1", "daily_log", 16, held=10),
        _submission("daily_log/s2", "daily_log", 17),
        _submission("daily_log/s3", "daily_log", 19, held=5),
        _submission("daily_log/s4", "daily_log", 23),  # next week
        _submission("weekly_report/w1", "weekly_report", 20, status="validated", received=50, held=5),
        _submission("ghost/x.csv/abc", "ghost", 18, status="rejected", received=20, held=20,
                    reason="item 'ghost' is not in the catalogue: no collection outside the catalogue (art. 12)"),
    ]
    held = [
        QuarantinedRow("daily_log/s1", "daily_log", "amr", moment(16), moment(17), "daily_log/s2"),  # 24 h
        QuarantinedRow("daily_log/s1", "daily_log", "amr", moment(16), moment(18, 12), "daily_log/s3"),  # 60 h
        QuarantinedRow("daily_log/s0", "daily_log", "amr", moment(10), moment(20), "daily_log/s3"),  # 240 h
        QuarantinedRow("daily_log/s1", "daily_log", "amr", moment(16)),  # never corrected
    ]
    checks = [
        CheckResult("daily_log", "amr", "accuracy", True, 1.0, moment(16, 10)),
        CheckResult("daily_log", "amr", "accuracy", False, 0.5, moment(17, 10)),
        CheckResult("daily_log", "amr", "integrity", True, 1.0, moment(17, 10)),
        CheckResult("weekly_report", "amr", "timeliness", False, 0.8, moment(22, 15)),  # Sunday 23:00 Shanghai
        CheckResult("daily_log", "amr", "accuracy", False, 0.0, moment(23, 1)),  # next week
        CheckResult("water", "nn", "accuracy", True, 0.9, moment(9, 1)),  # the week before
    ]
    applications = [
        SharingApplication(1, "nn", "daily_log", "approved", moment(16), moment(20)),  # 4 days: in time, due in W47
        SharingApplication(2, "nn", "daily_log", "approved", moment(17), moment(28)),  # 11 days: late, due 27th (W48)
        SharingApplication(3, "nn", "weekly_report", "pending", moment(18)),  # unanswered at its deadline, 28th (W48)
        SharingApplication(4, "nn", "daily_log", "pending", moment(22, 12)),  # deadline 2 December: not yet due
        SharingApplication(5, "amr", "water", "pending", moment(16)),  # nn's item: not amr's to answer
    ]
    return Records(submissions, held, checks, applications)


def test_every_indicator_has_its_known_value() -> None:
    config = EvaluationConfig()
    data = records()
    violations = settle(detect(data, config.correction_days, NOW), [], config.deadlines, NOW)
    amr, nn = scorecards(catalogue(), data, violations, WEEK, config, NOW)
    assert (amr.unit, amr.items, amr.items_submitted, amr.catalogue_coverage) == ("amr", 3, 2, 0.666667)
    # daily_log converged (registered); weekly_report never converged; monthly_stat published after the week
    assert (amr.items_registered, amr.directory_registration) == (1, 0.333333)
    # daily: 7 days expected, 3 on time; weekly: 1 of 1; the November window of monthly_stat ends after W47
    assert (amr.expected_submissions, amr.on_time_submissions, amr.on_time_rate) == (8, 4, 0.5)
    assert amr.pass_rates == {"accuracy": 0.75, "timeliness": 0.8, "integrity": 1.0, "availability": None}
    assert (amr.checks, amr.checks_failed, amr.pass_rate) == (4, 2, 0.825)
    assert (amr.rows_received, amr.rows_held_back, amr.held_back_rate) == (370, 40, 0.108108)
    assert (amr.corrections_released, amr.correction_turnaround_hours, amr.correction_turnaround_days) == (
        3, 60.0, 2.5)
    # each application counts in the week it fell due (decided, or at its deadline): known when that week ends
    assert (amr.applications_due, amr.applications_in_time, amr.sharing_answered_in_time) == (1, 1, 1.0)
    next_week = scorecards(catalogue(), data, violations, week_of(WEEK.end), config, NOW)[0]
    assert (next_week.applications_due, next_week.applications_in_time) == (2, 0)
    # opened in W47: the refused file (18th) and s0's late correction (held 10th + 7 days = 17th, rectified 20th);
    # s1's correction went late on the 23rd, after the week: at the week's end only the refused file is open
    assert amr.violations_opened == {"out_of_catalogue": 1, "overdue_correction": 1}
    assert (amr.violations_open, amr.violations_overdue) == (1, 0)
    assert (nn.items, nn.catalogue_coverage, nn.directory_registration, nn.expected_submissions) == (1, 0.0, 0.0, 0)
    assert (nn.on_time_rate, nn.pass_rate, nn.held_back_rate, nn.correction_turnaround_hours) == (
        None, None, None, None)


def test_a_window_not_yet_ended_counts_only_once_fulfilled() -> None:
    mid_week = moment(19, 12)
    known = records()
    so_far = Records([s for s in known.submissions if s.received_at <= mid_week], known.held, known.checks)
    amr = scorecards(catalogue(), so_far, [], WEEK, EvaluationConfig(), mid_week)[0]
    # daily: the 16th, 17th (on time) and 18th (missed) have ended; the 19th is already fulfilled; the 20th to
    # 22nd are not due yet. weekly_report: its week has not ended and nothing came yet, so it is not expected.
    assert (amr.expected_submissions, amr.on_time_submissions) == (4, 3)


def test_nothing_is_expected_before_the_platform_went_live() -> None:
    # the first submission the platform recorded came on 16 November: W46 had nothing to submit to
    amr = scorecards(catalogue(), records(), [], parse_period("2026-W46"), EvaluationConfig(), NOW)[0]
    assert (amr.expected_submissions, amr.on_time_rate) == (0, None)


def test_pass_rate_trend_per_unit_and_period() -> None:
    periods = periods_between(date(2026, 11, 9), parse_period("2026-W48"))
    trend = pass_rate_trend(records().checks, ["amr", "nn"], periods)
    assert [p.label for p in periods] == ["2026-W46", "2026-W47", "2026-W48"]
    assert trend == {"amr": [None, 0.825, 0.0], "nn": [0.9, None, None]}
