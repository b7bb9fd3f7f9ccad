"""Dagster wiring of supervision and evaluation (art. 8, 9, 15): the violations, the weekly supervision
report, the monthly unit scorecards, contractor evaluation and compliance verdicts, their jobs and
schedules. The work is domain code in pipelines.evaluation. The month is evaluated once, by
``evaluation/unit_scorecards``, whose output (the whole evaluation) the contractor and verdict assets
take as their input; the weekly report and the violations evaluate their own week.

Keys: ``supervision/violations``, ``supervision/weekly_report``, ``evaluation/unit_scorecards``,
``evaluation/contractors``, ``evaluation/compliance_verdicts``. Numeric metadata is named
``<unit>/<indicator>`` (e.g. ``gx_amr/pass_rate``) so the UI plots each unit over time.
"""

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from pipelines.catalogue.models import Catalogue
from pipelines.evaluation import report
from pipelines.evaluation.config import load_evaluation_config
from pipelines.evaluation.periods import (
    MONTH,
    REPORTING_TZ,
    WEEK,
    Period,
    current_period,
    just_ended,
    parse_period,
)
from pipelines.evaluation.service import Evaluation, evaluate, reports_dir
from pipelines.federation import linked_records
from resources.platform import PlatformResource

log = logging.getLogger(__name__)
# No "from __future__ import annotations" here: Dagster reads the context and resource annotations at runtime.
VIOLATIONS_KEY = dg.AssetKey(["supervision", "violations"])
WEEKLY_REPORT_KEY = dg.AssetKey(["supervision", "weekly_report"])
SCORECARDS_KEY = dg.AssetKey(["evaluation", "unit_scorecards"])
CONTRACTORS_KEY = dg.AssetKey(["evaluation", "contractors"])
VERDICTS_KEY = dg.AssetKey(["evaluation", "compliance_verdicts"])
MONTHLY_KEYS = (SCORECARDS_KEY, CONTRACTORS_KEY, VERDICTS_KEY)
ALL_KEYS = (VIOLATIONS_KEY, WEEKLY_REPORT_KEY, *MONTHLY_KEYS)
WEEKLY_JOB, MONTHLY_JOB, REPORTS_JOB = "supervision_weekly", "evaluation_monthly", "supervision_reports"
WEEKLY_CRON = "0 7 * * 1"  # Monday morning: the week that just ended
MONTHLY_CRON = "0 7 1 * *"  # the first of the month: the month that just ended
TIMEZONE = REPORTING_TZ.key  # Asia/Shanghai: the schedules run in the zone periods are cut in
SCORECARD_METRICS = ("catalogue_coverage", "directory_registration", "on_time_rate", "pass_rate", "held_back_rate",
                     "sharing_answered_in_time", "shared_data_used", "correction_turnaround_days")


class PeriodConfig(dg.Config):
    period: str = Field(default="", description="2026-W48 or 2026-11; empty: the period holding today (Shanghai)")


def _period(config: PeriodConfig, kind: str, now: datetime) -> Period:
    return parse_period(config.period) if config.period else current_period(now, kind)


def _evaluate(catalogue: Catalogue, platform: PlatformResource, period: Period) -> Evaluation:
    built = platform.platform()
    config = load_evaluation_config(platform.catalogue_dir)
    linked, down = linked_records(platform.city_links())  # each city's records through its link, read-only
    if down:  # a city platform down: its units are evaluated when it answers again
        log.warning("evaluated without the unreachable platforms: %s", "; ".join(f"{k}: {v}" for k, v in down.items()))
    return evaluate(catalogue, built.store, built.data_dir, period, config, built.clock(), linked=linked)


def _write(evaluation: Evaluation, platform: PlatformResource) -> dict[str, Path]:
    """The period's report files; the pass-rate threshold is drawn on the chart."""
    built = platform.platform()
    threshold = load_evaluation_config(platform.catalogue_dir).thresholds.pass_rate
    return report.write_reports(evaluation, reports_dir(built.data_dir, evaluation.period), threshold)


def _unit_numbers(evaluation: Evaluation) -> dict[str, Any]:
    numbers: dict[str, Any] = {}
    for card in evaluation.scorecards:
        for name in SCORECARD_METRICS:
            value = getattr(card, name)
            if value is not None:  # a float per unit and indicator: the UI plots it over materializations
                numbers[f"{card.unit}/{name}"] = dg.MetadataValue.float(float(value))
        for dimension, rate in card.pass_rates.items():
            if rate is not None:
                numbers[f"{card.unit}/pass_rate_{dimension}"] = dg.MetadataValue.float(rate)
    return numbers


def _publication(evaluation: Evaluation) -> dict[str, Any]:
    """Whether the verdicts stand (art. 9): provisional, published, or re-issued with the reason."""
    return {"publication": evaluation.status,
            "publication_history": dg.MetadataValue.md(report.revisions_markdown(evaluation))}


def _files(paths: dict[str, Path]) -> dict[str, Any]:
    return {"report_html": dg.MetadataValue.path(str(paths["report.html"].resolve())),
            "report_dir": dg.MetadataValue.path(str(paths["report.html"].parent.resolve()))}


def violations_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=VIOLATIONS_KEY, group_name="supervision", kinds={"sql"},
              description="Violations found in the records (out-of-catalogue, expired temporary collection, repeated "
                          "collection, overdue correction), each with its deadline; rectified when the data shows "
                          "it corrected, overdue and escalated when past its deadline (platform_violations)")
    def _violations(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        evaluation = _evaluate(catalogue, platform, current_period(platform.platform().clock(), WEEK))
        violations = evaluation.violations
        metadata: dict[str, Any] = {
            "open": sum(1 for v in violations if v.status == "open"),
            "overdue": sum(1 for v in violations if v.status == "overdue"),
            "rectified": sum(1 for v in violations if v.status == "rectified"),
            **{f"this_run/{change}": n for change, n in evaluation.changes.items()},
            "violations": dg.MetadataValue.md(report.violations_markdown(evaluation)),
        }
        for unit in sorted({v.unit for v in violations}):
            mine = [v for v in violations if v.unit == unit and v.status != "rectified"]
            metadata[f"{unit}/violations_open"] = len(mine)
        return dg.MaterializeResult(metadata=metadata)

    return _violations


def weekly_report_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=WEEKLY_REPORT_KEY, group_name="supervision", kinds={"html", "csv", "json"}, deps=[VIOLATIONS_KEY],
              description="The weekly supervision report (art. 15): every unit's scorecard for the ISO week, open "
                          "and escalated violations, verdicts; HTML with charts, CSV, JSON under reports/<week>/")
    def _weekly(context: dg.AssetExecutionContext, config: PeriodConfig,
                platform: PlatformResource) -> dg.MaterializeResult:
        evaluation = _evaluate(catalogue, platform, _period(config, WEEK, platform.platform().clock()))
        paths = _write(evaluation, platform)
        return dg.MaterializeResult(metadata={
            "period": evaluation.period.label, **_files(paths), **_publication(evaluation),
            "scorecards": dg.MetadataValue.md(report.scorecards_markdown(evaluation.scorecards)),
            "violations": dg.MetadataValue.md(report.violations_markdown(evaluation)),
            **_unit_numbers(evaluation)})

    return _weekly


def scorecards_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=SCORECARDS_KEY, group_name="evaluation", kinds={"csv"}, deps=[VIOLATIONS_KEY],
              description="Each unit's scorecard for the month, every indicator computed from the records: coverage, "
                          "registration, on-time submission, pass rate per dimension, held-back rate, correction "
                          "turnaround, sharing applications answered in time, violations")
    def _scorecards(context: dg.AssetExecutionContext, config: PeriodConfig,
                    platform: PlatformResource) -> dg.Output[Evaluation]:
        evaluation = _evaluate(catalogue, platform, _period(config, MONTH, platform.platform().clock()))
        return dg.Output(evaluation, metadata={
            "period": evaluation.period.label, "units": len(evaluation.scorecards), **_publication(evaluation),
            "scorecards": dg.MetadataValue.md(report.scorecards_markdown(evaluation.scorecards)),
            **_unit_numbers(evaluation)})

    return _scorecards


def contractors_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=CONTRACTORS_KEY, group_name="evaluation", kinds={"csv"},
              ins={"evaluation": dg.AssetIn(SCORECARDS_KEY)},
              description="Technical service units (art. 7, 8): run success rate, incidents, and the timeliness and "
                          "quality of the units each is entrusted with")
    def _contractors(context: dg.AssetExecutionContext, evaluation: Evaluation) -> dg.MaterializeResult:
        metadata: dict[str, Any] = {"period": evaluation.period.label, "contractors": len(evaluation.contractors),
                                    "evaluation": dg.MetadataValue.md(report.contractors_markdown(evaluation))}
        for c in evaluation.contractors:
            for name in ("run_success_rate", "timeliness", "quality"):
                value = getattr(c, name)
                if value is not None:
                    metadata[f"{c.contractor}/{name}"] = dg.MetadataValue.float(value)
            metadata[f"{c.contractor}/incidents"] = len(c.incidents)
        return dg.MaterializeResult(metadata=metadata)

    return _contractors


def verdicts_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=VERDICTS_KEY, group_name="evaluation", kinds={"html", "csv", "json"},
              ins={"evaluation": dg.AssetIn(SCORECARDS_KEY)}, deps=[CONTRACTORS_KEY],
              description="Compliance verdicts (art. 9): per unit pass or fail with the reasons, from the thresholds "
                          "in evaluation.yaml; the month's report (HTML, markdown, CSV, JSON) under reports/<month>/")
    def _verdicts(context: dg.AssetExecutionContext, evaluation: Evaluation,
                  platform: PlatformResource) -> dg.MaterializeResult:
        paths = _write(evaluation, platform)
        metadata: dict[str, Any] = {
            "period": evaluation.period.label, **_files(paths), **_publication(evaluation),
            "units_passed": sum(1 for v in evaluation.verdicts if v.verdict == "pass"),
            "units_failed": sum(1 for v in evaluation.verdicts if v.verdict == "fail"),
            "verdicts": dg.MetadataValue.md(report.verdicts_markdown(evaluation))}
        for v in evaluation.verdicts:
            metadata[f"{v.unit}/compliant"] = dg.MetadataValue.float(1.0 if v.verdict == "pass" else 0.0)
        return dg.MaterializeResult(metadata=metadata)

    return _verdicts


def supervision_assets(catalogue: Catalogue) -> list[dg.AssetsDefinition]:
    return [violations_asset(catalogue), weekly_report_asset(catalogue), scorecards_asset(catalogue),
            contractors_asset(catalogue), verdicts_asset(catalogue)]


def supervision_selection() -> dg.AssetSelection:
    return dg.AssetSelection.assets(*ALL_KEYS)


def period_run_config(keys: tuple[dg.AssetKey, ...], period: Period) -> dict[str, Any]:
    return {"ops": {key.to_python_identifier(): {"config": {"period": period.label}} for key in keys}}


def supervision_jobs_and_schedules() -> tuple[list[Any], list[dg.ScheduleDefinition]]:
    weekly = dg.define_asset_job(WEEKLY_JOB, selection=dg.AssetSelection.assets(VIOLATIONS_KEY, WEEKLY_REPORT_KEY),
                                 executor_def=dg.in_process_executor,
                                 description="Settle the violations, then the weekly supervision report")
    monthly = dg.define_asset_job(MONTHLY_JOB, selection=dg.AssetSelection.assets(VIOLATIONS_KEY, *MONTHLY_KEYS),
                                  executor_def=dg.in_process_executor,
                                  description="Scorecards, contractor evaluation and compliance verdicts of a month")
    everything = dg.define_asset_job(REPORTS_JOB, selection=supervision_selection(),
                                     executor_def=dg.in_process_executor,
                                     description="Every supervision and evaluation report for the current week and "
                                                 "month (python -m pipelines run ends with it)")

    @dg.schedule(name=f"{WEEKLY_JOB}_schedule", job=weekly, cron_schedule=WEEKLY_CRON, execution_timezone=TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.RUNNING)
    def _weekly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        week = just_ended(context.scheduled_execution_time, WEEK)
        return dg.RunRequest(run_key=week.label, run_config=period_run_config((WEEKLY_REPORT_KEY,), week))

    @dg.schedule(name=f"{MONTHLY_JOB}_schedule", job=monthly, cron_schedule=MONTHLY_CRON,
                 execution_timezone=TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING)
    def _monthly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        month = just_ended(context.scheduled_execution_time, MONTH)
        return dg.RunRequest(run_key=month.label, run_config=period_run_config((SCORECARDS_KEY,), month))

    return [weekly, monthly, everything], [_weekly, _monthly]
