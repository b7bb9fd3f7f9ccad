"""Stable verdicts (art. 9): a period is judged as of its end, published once it has ended and kept; a
correction is an explicit re-issue with its reason, recorded and shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.evaluation.config import EvaluationConfig, Thresholds
from pipelines.evaluation.periods import parse_period
from pipelines.evaluation.publication import PublicationError
from pipelines.evaluation.records import QuarantinedRow, Records, Submission
from pipelines.evaluation.report import render_text, report_html, report_markdown
from pipelines.evaluation.service import evaluate, evaluate_records
from pipelines.evaluation.violations import detect, settle
from pipelines.store import Store
from tests.unit.evaluation_fixtures import catalogue, moment

OCTOBER = parse_period("2026-10")
NOVEMBER_1, DECEMBER_31 = moment(1, 2, month=11), moment(31, 2, month=12)
# Only the overdue violations and the pass rate judged: what the scenarios below move.
LENIENT = Thresholds(catalogue_coverage=0, directory_registration=0, on_time_rate=0, pass_rate=0.9,
                     held_back_rate=1, sharing_answered_in_time=0, correction_turnaround_days=1000)


def _october() -> Records:
    """Rows held back on 20 October and never corrected: late on the 27th (7 days), due 11 November (15 days)."""
    submissions = [Submission("daily_log/s1", "daily_log", "amr", "converged", moment(20, 1, month=10), 10, 2,
                              converged_at=moment(20, 1, month=10))]
    held = [QuarantinedRow("daily_log/s1", "daily_log", "amr", moment(20, 1, month=10))] * 2
    return Records(submissions, held)


def _evaluated_on(now):  # type: ignore[no-untyped-def]
    config = EvaluationConfig(thresholds=LENIENT)
    data = _october()
    violations = settle(detect(data, config.correction_days, now), [], config.deadlines, now)
    return evaluate_records(catalogue(), data, violations, OCTOBER, config, now)


def test_october_judged_on_1_november_and_on_31_december_is_the_same() -> None:
    early, late = _evaluated_on(NOVEMBER_1), _evaluated_on(DECEMBER_31)
    [violation] = late.violations
    assert (violation.kind, violation.status) == ("overdue_correction", "overdue")  # overdue today ...
    amr = late.scorecards[0]
    assert (amr.violations_open, amr.violations_overdue) == (1, 0)  # ... but not at October's end
    assert [(v.unit, v.verdict, v.reasons) for v in late.verdicts] == [("amr", "pass", ()), ("nn", "pass", ())]
    assert late.scorecards == early.scorecards and late.verdicts == early.verdicts
    december = evaluate_records(catalogue(), _october(), late.violations, parse_period("2026-12"),
                                EvaluationConfig(thresholds=LENIENT), DECEMBER_31)
    assert (december.verdicts[0].unit, december.verdicts[0].verdict) == ("amr", "fail")  # December: the overdue one
    assert december.verdicts[0].reasons == ("1 overdue violation(s), more than the 0 allowed",)


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", catalogue())
    store.ensure_tables([])
    store.records.record_checks([{"check_name": "validated_daily_log", "item": "daily_log", "unit": "amr",
                          "stage": "validated", "dimension": "accuracy", "passed": True, "severity": "error",
                          "pass_rate": 0.95, "rows_checked": 100, "rows_failed": 5, "detail": "[]", "run_id": "r1",
                          "checked_at": moment(15, month=10)}])
    return store


def test_a_published_period_is_kept_and_a_reissue_records_its_reason(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        first = evaluate(catalogue(), store, tmp_path, OCTOBER, EvaluationConfig(thresholds=LENIENT), NOVEMBER_1)
        assert first.status == "published" and first.publication is not None
        assert [(r.revision, r.published_at, r.reason) for r in first.publication.revisions] == [
            (1, NOVEMBER_1, None)]
        assert first.verdicts[0].verdict == "pass"
        strict = EvaluationConfig(thresholds=Thresholds(**{**LENIENT.model_dump(), "pass_rate": 0.99}))
        again = evaluate(catalogue(), store, tmp_path, OCTOBER, strict, DECEMBER_31)
        assert (again.verdicts, again.scorecards, again.publication) == (
            first.verdicts, first.scorecards, first.publication)  # the stricter rule does not move October
        with pytest.raises(PublicationError, match="a re-issue needs its reason"):
            evaluate(catalogue(), store, tmp_path, OCTOBER, strict, DECEMBER_31, reissue="  ")

        reissued = evaluate(catalogue(), store, tmp_path, OCTOBER, strict, DECEMBER_31,
                            reissue="pass-rate threshold raised by 桂数据〔2026〕9号")
        assert reissued.status == "re-issued (revision 2)" and reissued.publication is not None
        assert [(r.revision, r.reason, r.changes) for r in reissued.publication.revisions] == [
            (1, None, ()), (2, "pass-rate threshold raised by 桂数据〔2026〕9号", ("amr: pass -> fail",))]
        assert reissued.verdicts[0].reasons == ("quality check pass rate 95.00% is below the minimum 99.00%",)
        kept = evaluate(catalogue(), store, tmp_path, OCTOBER, EvaluationConfig(thresholds=LENIENT), DECEMBER_31)
        assert kept.verdicts == reissued.verdicts  # the re-issue stands in turn
        for text in (report_markdown(kept), render_text(kept), report_html(kept).replace("&gt;", ">")):
            assert "pass-rate threshold raised by 桂数据〔2026〕9号" in text and "amr: pass -> fail" in text
        assert kept.as_dict()["publication"]["revisions"][1]["changes"] == ["amr: pass -> fail"]
    finally:
        store.dispose()


def test_a_running_period_is_provisional_and_cannot_be_reissued(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        running = evaluate(catalogue(), store, tmp_path, OCTOBER, EvaluationConfig(), moment(20, month=10))
        assert running.publication is None and running.status == "provisional"
        assert report_markdown(running).count("Provisional: the period has not ended") == 1
        with pytest.raises(PublicationError, match=r"period 2026-10 has not ended \(it ends 2026-10-31\)"):
            evaluate(catalogue(), store, tmp_path, OCTOBER, EvaluationConfig(), moment(20, month=10), reissue="x")
        published = evaluate(catalogue(), store, tmp_path, OCTOBER, EvaluationConfig(), NOVEMBER_1)
        assert published.publication is not None and published.publication.current.revision == 1
    finally:
        store.dispose()
