"""The supervision and evaluation assets materialize on the mini catalogue and write their reports."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.supervision import SCORECARDS_KEY, WEEKLY_REPORT_KEY, period_run_config, supervision_assets
from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from pipelines.evaluation.periods import MONTH, WEEK, current_period
from resources.platform import PlatformResource
from tests.helpers import materialize_all, write_csv
from tests.integration.test_pipeline_mini import HEADER, enterprise_rows


def test_reports_materialize_with_every_unit(mini_catalogue_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    intake, data = tmp_path / "intake", tmp_path / "data"
    write_csv(intake / "amr" / "enterprise.csv", HEADER, enterprise_rows())  # 20 rows, 6 held back
    write_csv(intake / "amr" / "permits.csv", ["id"], [["1"], ["2"]])  # not catalogued: refused, a violation
    assert materialize_all(mini_catalogue_dir, intake, data).success
    now = datetime.now(UTC)  # the submissions were just received: their Shanghai week and month
    month, week = current_period(now, MONTH), current_period(now, WEEK)
    resource = PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(intake), data_dir=str(data))
    config = {"ops": {**period_run_config((SCORECARDS_KEY,), month)["ops"],
                      **period_run_config((WEEKLY_REPORT_KEY,), week)["ops"]}}
    result = dg.materialize(supervision_assets(load_catalogue(mini_catalogue_dir)), resources={"platform": resource},
                            run_config=config)
    assert result.success
    metadata = {m.asset_key.to_user_string(): m.metadata
                for m in (e.materialization for e in result.get_asset_materialization_events())}
    assert sorted(metadata) == ["evaluation/compliance_verdicts", "evaluation/contractors",
                                "evaluation/unit_scorecards", "supervision/violations", "supervision/weekly_report"]
    assert metadata["evaluation/unit_scorecards"]["amr/held_back_rate"] == dg.MetadataValue.float(0.363636)
    assert metadata["evaluation/unit_scorecards"]["nn_water/catalogue_coverage"] == dg.MetadataValue.float(0.0)
    assert metadata["supervision/violations"]["open"] == dg.MetadataValue.int(1)
    assert metadata["evaluation/contractors"]["contractors"] == dg.MetadataValue.int(2)  # mini's contractors.yaml

    for period in (month, week):
        folder = data / "reports" / period.label
        assert sorted(p.name for p in folder.iterdir()) == [
            "evaluation.json", "report.html", "report.md", "scorecards.csv", "verdicts.csv", "violations.csv"]
    folder = data / "reports" / month.label
    with (folder / "verdicts.csv").open(encoding="utf-8-sig") as handle:
        verdicts = {row["unit"]: row for row in csv.DictReader(handle)}
    assert sorted(verdicts) == ["amr", "nn_water"]
    assert "held-back rate 36.36% is above the maximum 10.00%" in verdicts["amr"]["reasons"]
    assert verdicts["nn_water"]["verdict"] == "fail"
    assert verdicts["nn_water"]["reasons"].startswith("catalogue coverage 0.00% is below the minimum 90.00%")
    report = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    assert [(v["kind"], v["unit"], v["item"], v["status"]) for v in report["violations"]] == [
        ("out_of_catalogue", "amr", "permits", "open")]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "amr" in html and "nn_water" in html

    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(mini_catalogue_dir))
    monkeypatch.setenv("GOVDATA_DATA_DIR", str(data))
    monkeypatch.setenv("GOVDATA_INTAKE_DIR", str(intake))
    capsys.readouterr()
    assert main(["evaluate", "--period", month.label, "--json"]) == 1  # a unit fails
    printed = json.loads(capsys.readouterr().out)
    assert [s["unit"] for s in printed["scorecards"]] == ["amr", "nn_water"]
    assert len(printed["violations"]) == 1  # evaluating again did not duplicate the violation
