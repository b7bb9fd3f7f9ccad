"""The intake-window sensor and the headless CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from resources.platform import PlatformResource
from tests.helpers import write_csv

REPO = Path(__file__).resolve().parents[2]


def _definitions(catalogue_dir: Path, intake: Path, data: Path) -> dg.Definitions:
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(intake), data_dir=str(data))
    return build_definitions(load_catalogue(catalogue_dir), resource, "sqlite")


def test_sensor_requests_a_run_for_new_submissions_once(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    intake = tmp_path / "intake"
    definitions = _definitions(mini_catalogue_dir, intake, tmp_path / "data")
    sensor = definitions.resolve_sensor_def("intake_window")
    resources = {"platform": PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(intake),
                                              data_dir=str(tmp_path / "data"))}
    with dg.build_sensor_context(resources=resources) as context:
        assert not sensor(context).run_requests
    write_csv(intake / "amr" / "enterprise.csv", ["credit_code"], [["x"]])
    with dg.build_sensor_context(resources=resources) as context:
        result = sensor(context)
    [request] = result.run_requests
    assert {k.to_user_string() for k in request.asset_selection} == {
        "intake/amr/enterprise_intake", "validated/amr/enterprise_validated", "shared/amr/enterprise",
        "corrections/amr"}
    with dg.build_sensor_context(resources=resources, cursor=result.cursor) as context:
        assert not sensor(context).run_requests


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600)


def test_check_catalogue_names_the_errors_and_exits_non_zero(mini_catalogue_dir: Path) -> None:
    ok = _cli("check-catalogue", str(mini_catalogue_dir))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 2 units, 2 items")
    items = mini_catalogue_dir / "items" / "amr.yaml"
    items.write_text(items.read_text(encoding="utf-8").replace("standard: uscc", "standard: usc"), encoding="utf-8")
    bad = _cli("check-catalogue", str(mini_catalogue_dir))
    assert bad.returncode == 2
    assert "items/amr.yaml: item 'enterprise': field 'fields[0].standard'" in bad.stderr


@pytest.mark.slow
def test_run_then_summary_json(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    from tests.integration.test_pipeline_mini import HEADER, enterprise_rows

    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home"),
           "GOVDATA_CATALOGUE_DIR": str(mini_catalogue_dir), "GOVDATA_INTAKE_DIR": str(tmp_path / "intake"),
           "GOVDATA_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "home").mkdir()
    run = _cli("run", "--quiet", env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "received = converged + held back for every item: yes" in run.stdout
    summary = json.loads(_cli("summary", "--json", env=env).stdout)
    assert {k: summary["items"]["enterprise"][k] for k in ("received", "valid", "held_back", "converged")} == {
        "received": 20, "valid": 14, "held_back": 6, "converged": 14}
    checks = {c["check"]: c["passed"] for c in summary["checks"]}
    assert checks["shared_enterprise_integrity"] is True and checks["validated_enterprise_accuracy"] is False
