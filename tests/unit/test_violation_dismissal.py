"""Violations that end (art. 8): one the records can never show rectified (an expired temporary collection)
is dismissed by the management institution with a reason, recorded, shown, and never re-opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.periods import parse_period
from pipelines.evaluation.report import render_text, report_html, report_markdown
from pipelines.evaluation.service import evaluate
from pipelines.evaluation.violations import DismissalError, dismiss, load_dismissals
from pipelines.store import Store
from tests.conftest import MINI
from tests.unit.evaluation_fixtures import moment

REASON = ("temporary collection of item 'enterprise' expired on 2026-10-31 (approved by 办公厅 for: 普查): "
          "no collection outside the catalogue (art. 12)")
SUBJECT = "enterprise/late.csv/abc"


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    store.ensure_tables([])
    store.ledger.claim(submission_id=SUBJECT, item="enterprise", unit="amr", source="late.csv", digest="abc",
                           status="rejected", reason=REASON, received=5, held_back=5, received_at=moment(3))
    return store


def test_an_expired_temporary_collection_is_dismissed_with_its_reason(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        config = EvaluationConfig()
        november = parse_period("2026-11")
        before = evaluate(store.catalogue, store, tmp_path, november, config, moment(25))
        [violation] = before.violations
        assert (violation.kind, violation.status) == ("expired_temporary", "overdue")  # due the 18th, never fixable
        with pytest.raises(DismissalError, match="needs the officer"):
            dismiss(store, "expired_temporary", "amr", SUBJECT, "张三", "  ", moment(26))
        with pytest.raises(DismissalError, match="no violation expired_temporary of unit amr for 'nothing'"):
            dismiss(store, "expired_temporary", "amr", "nothing", "张三", "x", moment(26))
        closed = dismiss(store, "expired_temporary", "amr", SUBJECT, "张三（数据局）",
                         "the census ended; the item is not collected again", moment(26))
        assert (closed.status, closed.closed_at, closed.closed_by) == (
            "dismissed", moment(26), "dismissed by 张三（数据局）: the census ended; the item is not collected again")
        with pytest.raises(DismissalError, match="is already dismissed"):
            dismiss(store, "expired_temporary", "amr", SUBJECT, "张三", "again", moment(27))
        assert [(d.subject, d.dismissed_by) for d in load_dismissals(store)] == [(SUBJECT, "张三（数据局）")]

        december = evaluate(store.catalogue, store, tmp_path, parse_period("2026-12"), config, moment(5, month=12))
        [after] = december.violations  # detected again from the ledger, and not re-opened
        assert (after.status, after.closed_by) == ("dismissed", closed.closed_by)
        assert december.scorecards[0].violations_open == 0
        for text in (report_markdown(december), render_text(december), report_html(december)):
            assert "the census ended; the item is not collected again" in text
        assert "no open violations" in report_markdown(december)
    finally:
        store.dispose()


def test_the_cli_dismisses_and_refuses_an_unknown_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    evaluate(store.catalogue, store, tmp_path, parse_period("2026-11"), EvaluationConfig(), moment(25))
    store.dispose()
    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(MINI))
    monkeypatch.setenv("GOVDATA_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    args = ["dismiss-violation", "--kind", "expired_temporary", "--unit", "amr", "--by", "李四", "--reason", "普查结束"]
    assert main([*args, "--subject", "elsewhere"]) == 2
    assert capsys.readouterr().err == ("dismiss-violation: no violation expired_temporary of unit amr for "
                                       "'elsewhere' (see the violations report)\n")
    assert main([*args, "--subject", SUBJECT]) == 0
    assert capsys.readouterr().out == f"dismissed expired_temporary amr/{SUBJECT}: dismissed by 李四: 普查结束\n"
