"""Compliance verdicts at the threshold edges, contractor evaluation from run records, evaluation.yaml."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipelines.catalogue import CatalogueError
from pipelines.evaluation.config import EVALUATION_FILE, EvaluationConfig, Thresholds, load_evaluation_config
from pipelines.evaluation.contractors import entrusted_units, evaluate_contractors
from pipelines.evaluation.periods import parse_period
from pipelines.evaluation.records import RunRecord
from pipelines.evaluation.scorecard import Scorecard
from pipelines.evaluation.verdicts import FAIL, PASS, judge
from tests.unit.evaluation_fixtures import moment

REPO = Path(__file__).resolve().parents[2]
MONTH = parse_period("2026-11")


def card(unit: str = "amr", **changes: object) -> Scorecard:
    """Exactly at every default threshold: coverage 9/10, on time 8/10, pass rate 0.9, held back 10/100."""
    base = Scorecard(unit=unit, unit_name=unit, period="2026-11", items=10, items_submitted=9, items_registered=9,
                     expected_submissions=10, on_time_submissions=8, checks=4, checks_failed=0,
                     pass_rates={"accuracy": 0.9}, pass_rate=0.9, rows_received=100, rows_held_back=10,
                     corrections_released=2, correction_turnaround_hours=240.0, applications_due=10,
                     applications_in_time=9, violations_opened={}, violations_open=0, violations_overdue=0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_exactly_at_every_threshold_passes() -> None:
    verdict = judge(card(), Thresholds())
    assert (verdict.verdict, verdict.reasons, verdict.not_judged) == (PASS, (), ())


@pytest.mark.parametrize(("changes", "reason"), [
    ({"items_submitted": 8}, "catalogue coverage 80.00% is below the minimum 90.00%"),
    ({"items_registered": 8}, "directory registration 80.00% is below the minimum 90.00%"),
    ({"expected_submissions": 1000, "on_time_submissions": 799},
     "on-time submission 79.90% is below the minimum 80.00%"),
    ({"pass_rate": 0.8999}, "quality check pass rate 89.99% is below the minimum 90.00%"),
    ({"rows_held_back": 11}, "held-back rate 11.00% is above the maximum 10.00%"),
    ({"applications_in_time": 8}, "sharing applications answered in time 80.00% is below the minimum 90.00%"),
    ({"correction_turnaround_hours": 241.0}, "median correction turnaround (days) 10.0417 is above the maximum 10"),
    ({"violations_overdue": 1}, "1 overdue violation(s), more than the 0 allowed"),
])
def test_just_beyond_a_threshold_fails_with_the_reason(changes: dict[str, Any], reason: str) -> None:
    verdict = judge(card(**changes), Thresholds())
    assert (verdict.verdict, verdict.reasons) == (FAIL, (reason,))


def test_indicators_without_data_are_not_judged() -> None:
    verdict = judge(card(expected_submissions=0, on_time_submissions=0, applications_due=0, applications_in_time=0,
                         correction_turnaround_hours=None, pass_rate=None), Thresholds())
    assert verdict.verdict == PASS
    assert verdict.not_judged == ("on-time submission", "quality check pass rate",
                                  "sharing applications answered in time", "median correction turnaround (days)")


def run(run_id: str, unit: str, contractor: str | None, day: int, status: str, reason: str | None = None,
        month: int = 11) -> RunRecord:
    return RunRecord(run_id, unit, contractor, moment(day, month=month), moment(day, 1, month=month), status, reason)


def test_contractor_evaluation_from_run_records() -> None:
    runs = [run("r1", "amr", "techco", 2, "succeeded"), run("r2", "amr", "techco", 3, "failed", "store timeout"),
            run("r3", "nn", "techco", 4, "refused", "no valid entrustment for nn"),
            run("r4", "amr", "techco", 5, "succeeded"), run("r5", "amr", None, 6, "failed"),  # amr's own run
            run("r6", "amr", "techco", 2, "succeeded", month=10)]  # October
    cards = [card("amr", expected_submissions=10, on_time_submissions=6, pass_rate=0.8),
             card("lz", expected_submissions=10, on_time_submissions=9, pass_rate=1.0)]
    idle, techco = evaluate_contractors(runs, {"techco": {"amr", "lz"}, "idle": set()}, cards, MONTH)
    assert (techco.contractor, techco.units, techco.runs, techco.succeeded, techco.failed, techco.refused) == (
        "techco", ("amr", "lz"), 4, 2, 1, 1)
    assert (techco.run_success_rate, techco.timeliness, techco.quality) == (0.5, 0.75, 0.9)
    assert [(i.run_id, i.status, i.reason) for i in techco.incidents] == [
        ("r2", "failed", "store timeout"), ("r3", "refused", "no valid entrustment for nn")]
    assert (idle.runs, idle.run_success_rate, idle.timeliness, idle.quality, idle.incidents) == (
        0, None, None, None, ())


def test_entrusted_units_overlap_the_period() -> None:
    def entrustment(unit: str, start: date, end: date) -> SimpleNamespace:
        return SimpleNamespace(unit=unit, valid_from=start, valid_until=end)

    contractor = SimpleNamespace(code="techco", entrustments=(
        entrustment("amr", date(2026, 1, 1), date(2026, 11, 1)),  # its last day is in November
        entrustment("nn", date(2026, 12, 1), date(2027, 1, 1)),  # starts after November
        entrustment("lz", date(2026, 11, 30), date(2027, 1, 1))))
    assert entrusted_units([contractor], MONTH) == {"techco": {"amr", "lz"}}


def test_evaluation_yaml_defaults_and_errors(tmp_path: Path) -> None:
    assert load_evaluation_config(tmp_path) == EvaluationConfig()
    demo = load_evaluation_config(REPO / "catalogue" / "demo")
    assert demo.sharing_answer_days == 10 and demo.thresholds.on_time_rate == 0.6
    (tmp_path / EVALUATION_FILE).write_text("thresholds:\n  pass_rate: 1.5\n  speed: 3\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as raised:
        load_evaluation_config(tmp_path)
    assert [str(p) for p in raised.value.problems] == [
        "evaluation.yaml: evaluation: field 'thresholds.pass_rate': Input should be less than or equal to 1",
        "evaluation.yaml: evaluation: field 'thresholds.speed': Extra inputs are not permitted"]


def test_run_records_are_read_from_platform_runs_when_the_table_exists(tmp_path: Path) -> None:
    from pipelines.catalogue import load_catalogue
    from pipelines.evaluation.records import read_runs
    from pipelines.store import Store
    from tests.conftest import MINI

    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    store.ensure_tables([])
    assert read_runs(store) == []  # no unit run yet
    store.records.record_run("r1", "amr", "techco", moment(2), moment(2, 1), "succeeded")
    store.records.record_run("r2", "nn_water", None, moment(3), None, "refused", "no valid entrustment")
    assert read_runs(store) == [RunRecord("r1", "amr", "techco", moment(2), moment(2, 1), "succeeded", None),
                                RunRecord("r2", "nn_water", None, moment(3), None, "refused", "no valid entrustment")]
    store.dispose()
