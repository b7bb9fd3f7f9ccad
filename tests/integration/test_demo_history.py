"""The demo's season of history: each earlier month run through the CLI with the platform's clock fixed in it
(run tag govdata/as-of), then today's demo. The evaluation's trend has one period per month, every validated
asset one materialization per month in the instance, and today's counts are today's submissions alone."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.factory import asset_key
from pipelines.catalogue import load_catalogue
from pipelines.cli import main as cli
from pipelines.clock import PROVINCE_TZ, Clock, province_day
from pipelines.demo.generator import generate_demo, sqlite_url
from pipelines.demo.history import HISTORY_ROWS, history_moments, run_history
from pipelines.evaluation.periods import parse_period
from pipelines.evaluation.service import reports_dir
from pipelines.quality.checks import VALIDATED
from pipelines.summary import build_summary
from resources.platform import AS_OF_TAG, RunClockRefused, run_clock
from tests.helpers import PlatformStores

REPO = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO / "catalogue" / "demo"
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=PROVINCE_TZ)
MONTHS = ["2026-10", "2026-11", "2026-12"]
EXPIRED = "returning_worker_survey"  # its collection expired on 2026-03-31: a well-behaved month sends nothing


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("history")
    intake, data, home = root / "intake", root / "data", root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    mp = pytest.MonkeyPatch()
    env = {"DAGSTER_HOME": home, "GOVDATA_CATALOGUE_DIR": DEMO_CATALOGUE, "GOVDATA_INTAKE_DIR": intake,
           "GOVDATA_DATA_DIR": data, "GOVDATA_ALLOW_RUN_DATE": "1",
           "GOVDATA_DEMO_HRSS_DB_URL": sqlite_url(data / "demo_sources" / "hrss.db")}
    for name, value in env.items():
        mp.setenv(name, str(value))
    mp.delenv("GOVDATA_STORE_URL", raising=False)
    try:
        months = run_history(DEMO_CATALOGUE, intake, data, 2, today=TODAY, progress=lambda line: None)
        manifest = generate_demo(DEMO_CATALOGUE, intake, data, as_of=TODAY, rows=HISTORY_ROWS)
        code = cli(["run", "--as-of", NOW.isoformat(), "--quiet"])
        store = PlatformStores(DEMO_CATALOGUE, data)
        summary, ledger = build_summary(store.catalogue, *store.stores.values()), store.ledger.submissions()
        store.dispose()
        with dg.DagsterInstance.get() as instance:
            catalogue = load_catalogue(DEMO_CATALOGUE)
            materialized = {item.code: sorted(_as_of_month(instance, r) for r in instance.fetch_materializations(
                asset_key(VALIDATED, item), limit=100).records) for item in catalogue.items}
    finally:
        mp.undo()
    return {"root": root, "months": months, "manifest": manifest, "code": code, "summary": summary,
            "ledger": ledger, "materialized": materialized}


def _as_of_month(instance: dg.DagsterInstance, record: dg.EventLogRecord) -> str:
    run = instance.get_run_by_id(record.run_id)
    assert run is not None
    return run.tags[AS_OF_TAG][:7]


def test_the_history_months_are_the_months_before_today_mid_month_in_the_province() -> None:
    assert [m.isoformat() for m in history_moments(date(2026, 1, 31), 3)] == [
        "2025-10-15T10:00:00+08:00", "2025-11-15T10:00:00+08:00", "2025-12-15T10:00:00+08:00"]


@pytest.mark.slow  # four runs of the demo catalogue, about 30 s CPU
def test_each_month_ran_with_its_clock_and_today_ran_as_today(season: dict) -> None:
    assert season["code"] == 0
    days = Counter(province_day(e["received_at"]).isoformat() for e in season["ledger"])
    items = len(load_catalogue(DEMO_CATALOGUE).items)
    assert days == {"2026-10-15": items - 1, "2026-11-15": items - 1, "2026-12-01": items}
    assert [(m.label, m.received, m.converged, m.held_back) for m in season["months"]] == [
        (label, (items - 1) * HISTORY_ROWS, (items - 1) * HISTORY_ROWS, 0) for label in MONTHS[:2]]


@pytest.mark.slow  # four runs of the demo catalogue, about 30 s CPU
def test_the_evaluation_report_has_one_period_per_month(season: dict) -> None:
    import json

    data = season["root"] / "data"
    for n, label in enumerate(MONTHS):  # each month's run ended with the supervision reports of that month
        report = json.loads((reports_dir(data, parse_period(label)) / "evaluation.json").read_text(encoding="utf-8"))
        assert report["period"] == label
        assert report["trend"]["periods"] == MONTHS[:n + 1]
        # a point for every unit in every month: the inspection checks each unit's tables every month, gx_stats'
        # (whose only collection expired in March) included
        trend = report["trend"]["pass_rate"]
        assert len(trend) == 14 and all(len(rates) == n + 1 and None not in rates for rates in trend.values()), label


@pytest.mark.slow  # four runs of the demo catalogue, about 30 s CPU
def test_every_validated_asset_has_one_materialization_per_month_it_submitted_in(season: dict) -> None:
    expected = {code: [m for m in MONTHS if code != EXPIRED or m == MONTHS[-1]] for code in season["materialized"]}
    assert season["materialized"] == expected


@pytest.mark.slow  # four runs of the demo catalogue, about 30 s CPU
def test_today_is_shown_apart_from_all_time_with_the_manifest_counts(season: dict) -> None:
    summary, manifest = season["summary"], season["manifest"]
    assert summary["days"] == ["2026-10-15", "2026-11-15", "2026-12-01"]
    today = summary["newest_day"]
    assert today["day"] == "2026-12-01"
    for code, expected in manifest["items"].items():
        got = today["items"][code]
        assert (got["received"], got["converged"], got["held_back"], got["stale"]) == (
            expected["rows"], expected["expected_valid"], expected["expected_held_back"], expected["stale"]), code
    history_rows = sum(m.received for m in season["months"])
    assert summary["totals"]["received"] == manifest["totals"]["rows"] + history_rows
    assert summary["totals"]["held_back"] == manifest["totals"]["expected_held_back"]  # history held nothing back


def test_a_run_clock_is_refused_where_the_platform_allows_no_run_date(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_clock({}, allowed=False) == Clock()  # no tag: the wall clock
    assert run_clock({AS_OF_TAG: "2026-10-15"}, allowed=True).now().isoformat() == "2026-10-14T16:00:00+00:00"
    with pytest.raises(RunClockRefused, match="GOVDATA_ALLOW_RUN_DATE=1"):
        run_clock({AS_OF_TAG: "2026-10-15"}, allowed=False)
    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(DEMO_CATALOGUE))
    monkeypatch.delenv("GOVDATA_ALLOW_RUN_DATE", raising=False)
    assert cli(["run", "--as-of", "2026-10-15T10:00+08:00"]) == 2
    assert "--as-of moves the platform's clock; only test and demo platforms allow it" in capsys.readouterr().err
