"""Runs record their operator and are refused, unit by unit, for a contractor without a valid entrustment (art. 7).

The mini catalogue entrusts amr's collection to gx_datatech for 2026 and had entrusted nn_water's to
nn_infoservice for 2025 only; every run here is judged on 15 June 2026 through the run date tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from assets.units import unit_asset
from pipelines.catalogue import load_catalogue
from pipelines.entrustment import CONTRACTOR_TAG, RUN_DATE_TAG
from resources.platform import PlatformResource
from tests.conftest import make_ric
from tests.helpers import PlatformStores, edit_yaml, open_store, write_csv
from tests.integration.test_pipeline_mini import HEADER, enterprise_rows

JUNE = {RUN_DATE_TAG: "2026-06-15"}


def _run(paths: dict[str, Path], tags: dict[str, str], units: tuple[str, ...] = ("amr", "nn_water"),
         ) -> dg.ExecuteInProcessResult:
    catalogue = load_catalogue(paths["catalogue"])
    assets = [unit_asset(catalogue, u, "sqlite") for u in catalogue.units]
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]), allow_run_date="1")  # every run is judged in June
    return dg.materialize(assets, resources={"platform": resource}, tags=tags, raise_on_error=False,
                          selection=dg.AssetSelection.groups(*units))


def _runs(paths: dict[str, Path], run_id: str) -> list[dict[str, Any]]:
    store = PlatformStores(paths["catalogue"], paths["data"])
    try:
        records = sorted(store.records.run_records(run_id), key=lambda r: r["unit"])
        return [{k: r[k] for k in ("unit", "contractor", "status", "reason")}
                | {"finished": r["finished_at"] is not None} for r in records]
    finally:
        store.dispose()


def _intake_files(intake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(intake)): p.read_bytes() for p in sorted(intake.rglob("*")) if p.is_file()}


def test_refused_then_entrusted_then_untagged(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    paths = {"catalogue": mini_catalogue_dir, "intake": tmp_path / "intake", "data": tmp_path / "data"}
    write_csv(paths["intake"] / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    write_csv(paths["intake"] / "nn_water" / "water_account.csv", ["account_no", "holder_id", "phone"],
              [["W1", make_ric(1), "13807710001"], ["W2", make_ric(2), ""]])
    submitted = _intake_files(paths["intake"])

    refused = _run(paths, {CONTRACTOR_TAG: "nn_infoservice", **JUNE})
    assert not refused.success
    failures = sorted(str(e.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]
                      for e in refused.all_events if e.is_step_failure)
    assert failures == [
        "contractor nn_infoservice has no valid entrustment for unit amr on 2026-06-15: not entrusted",
        "contractor nn_infoservice has no valid entrustment for unit nn_water on 2026-06-15: "
        "expired on 2025-12-31 (南水信〔2025〕12号)",
    ]
    assert _intake_files(paths["intake"]) == submitted  # nothing moved, archived or set aside
    assert _runs(paths, refused.run_id) == [
        {"unit": "amr", "contractor": "nn_infoservice", "status": "refused", "finished": True,
         "reason": failures[0]},
        {"unit": "nn_water", "contractor": "nn_infoservice", "status": "refused", "finished": True,
         "reason": failures[1]},
    ]
    store = PlatformStores(paths["catalogue"], paths["data"])
    assert store.ledger.submissions() == []  # no work done: nothing in the ledger
    store.dispose()

    entrusted = _run(paths, {CONTRACTOR_TAG: "gx_datatech", **JUNE}, units=("amr",))
    assert entrusted.success
    assert _runs(paths, entrusted.run_id) == [
        {"unit": "amr", "contractor": "gx_datatech", "status": "succeeded", "reason": None, "finished": True}]
    assert sorted(_intake_files(paths["intake"])) == ["amr/_archive/enterprise.csv", "nn_water/water_account.csv"]

    untagged = _run(paths, JUNE)
    assert untagged.success
    assert _runs(paths, untagged.run_id) == [
        {"unit": "amr", "contractor": "gx_datatech", "status": "succeeded", "reason": None, "finished": True},
        {"unit": "nn_water", "contractor": None, "status": "succeeded", "reason": None, "finished": True},
    ]
    store = PlatformStores(paths["catalogue"], paths["data"])
    assert sorted((e["item"], e["status"], e["converged"]) for e in store.ledger.submissions()) == [
        ("enterprise", "converged", 14), ("water_account", "converged", 2)]
    store.dispose()


def test_a_unit_run_that_breaks_is_recorded_as_failed_with_the_error(tmp_path: Path, mini_catalogue_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    items = mini_catalogue_dir / "items" / "nn_water.yaml"
    document = yaml.safe_load(items.read_text(encoding="utf-8"))
    document["items"][0]["collection"] = {"method": "database", "url_env": "NN_WATER_DB", "query": "select 1"}
    items.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    monkeypatch.delenv("NN_WATER_DB", raising=False)
    paths = {"catalogue": mini_catalogue_dir, "intake": tmp_path / "intake", "data": tmp_path / "data"}
    result = _run(paths, {RUN_DATE_TAG: "2025-12-31"}, units=("nn_water",))
    assert not result.success
    assert _runs(paths, result.run_id) == [
        {"unit": "nn_water", "contractor": "nn_infoservice", "status": "failed", "finished": True,
         "reason": "1 item(s) of nn_water failed: water_account (intake): "
                   "SubmissionError: environment variable NN_WATER_DB (database URL) is not set"}]


def test_cli_run_by_a_contractor_prints_the_refusals(tmp_path: Path, mini_catalogue_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main

    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    for name, value in {"GOVDATA_CATALOGUE_DIR": mini_catalogue_dir, "GOVDATA_INTAKE_DIR": tmp_path / "intake",
                        "GOVDATA_DATA_DIR": tmp_path / "data"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("GOVDATA_STORE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["run", "--contractor", "acme", "--run-date", "2026-06-15", "--quiet"]) == 2
    assert capsys.readouterr().err == ("run: --run-date judges entrustments on another day than today; only test and "
                                       "demo platforms allow it (GOVDATA_ALLOW_RUN_DATE=1)\n")
    monkeypatch.setenv("GOVDATA_ALLOW_RUN_DATE", "1")
    assert main(["run", "--contractor", "acme", "--run-date", "2026-06-15", "--no-inspect", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "refused for unit amr: contractor acme has no valid entrustment for unit amr on 2026-06-15: " \
           "unknown contractor (not in contractors.yaml)\n" in out
    assert (tmp_path / "intake" / "amr" / "enterprise.csv").exists()


def test_cli_run_of_one_unit_leaves_the_others_alone(tmp_path: Path, mini_catalogue_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main

    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    write_csv(tmp_path / "intake" / "nn_water" / "water_account.csv", ["account_no", "holder_id", "phone"],
              [["W1", make_ric(1), "13807710001"]])
    for name, value in {"GOVDATA_CATALOGUE_DIR": mini_catalogue_dir, "GOVDATA_INTAKE_DIR": tmp_path / "intake",
                        "GOVDATA_DATA_DIR": tmp_path / "data"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("GOVDATA_STORE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("GOVDATA_ALLOW_RUN_DATE", "1")
    assert main(["run", "--unit", "nowhere", "--quiet"]) == 2
    assert capsys.readouterr().err == f"run: no unit nowhere in the catalogue {mini_catalogue_dir}\n"
    edit_yaml(mini_catalogue_dir, "units.yaml", lambda d: d["units"].append(
        {**d["units"][0], "code": "idle", "name": "无目录单位", "owner": "team:idle"}))
    assert main(["run", "--unit", "idle", "--quiet"]) == 2  # an empty selection would have run every unit
    assert capsys.readouterr().err == "run: unit idle has no catalogued items: nothing to run\n"

    assert main(["run", "--contractor", "nn_infoservice", "--unit", "nn_water", "--run-date", "2026-06-15",
                 "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "refused for unit nn_water: contractor nn_infoservice has no valid entrustment for unit nn_water on " \
           "2026-06-15: expired on 2025-12-31" in out
    assert "refused for unit amr" not in out
    assert (tmp_path / "intake" / "amr" / "enterprise.csv").exists()  # amr was not selected: still pending
    store = PlatformStores(mini_catalogue_dir, tmp_path / "data")
    try:
        assert [(r["unit"], r["status"]) for r in store.records.run_records()] == [("nn_water", "refused")]
        assert store.ledger.submissions() == []
    finally:
        store.dispose()


def test_an_incident_reason_carries_no_personal_data() -> None:
    from assets.units import INCIDENT_LENGTH, incident_reason

    error = ValueError(f"duplicate key ({make_ric(7)}, 13807710001) " + "x" * 600)
    reason = incident_reason(error)
    assert reason.startswith("ValueError: duplicate key (" + "*" * 18 + ", " + "*" * 11 + ") xxx")
    assert len(reason) == INCIDENT_LENGTH


@pytest.mark.parametrize(("work", "refused_at", "left_as"), [
    (["collection"], "validation", "received"),
    (["collection", "validation"], "convergence", "validated"),
])
def test_a_step_beyond_the_entrusted_work_is_refused_as_an_incident(
        tmp_path: Path, mini_catalogue_dir: Path, work: list[str], refused_at: str, left_as: str) -> None:
    """Art. 7 for every work type: the contractor collects, and is refused at the first step it holds no
    entrustment for; that step does not run, the submission waits, and an untagged run (the unit) finishes it."""
    edit_yaml(mini_catalogue_dir, "contractors.yaml",
              lambda d: d["contractors"][0]["entrustments"][0].update(work=work))
    paths = {"catalogue": mini_catalogue_dir, "intake": tmp_path / "intake", "data": tmp_path / "data"}
    write_csv(paths["intake"] / "amr" / "enterprise.csv", HEADER, enterprise_rows())

    result = _run(paths, {CONTRACTOR_TAG: "gx_datatech", **JUNE}, units=("amr",))
    assert not result.success
    reason = (f"1 item(s) of amr refused: enterprise ({'validated' if refused_at == 'validation' else 'shared'}): "
              f"{refused_at} refused: contractor gx_datatech has no valid entrustment for unit amr on 2026-06-15: "
              f"not entrusted with {refused_at} (only {', '.join(sorted(work))})")
    assert _runs(paths, result.run_id) == [
        {"unit": "amr", "contractor": "gx_datatech", "status": "refused", "finished": True, "reason": reason}]
    store = open_store(paths["catalogue"], paths["data"])
    try:
        assert [(e["item"], e["status"], e["converged"]) for e in store.ledger.submissions()] == [
            ("enterprise", left_as, 0)]
    finally:
        store.dispose()

    by_the_unit = _run(paths, JUNE, units=("amr",))  # untagged: gx_datatech collects, the unit does the rest
    assert by_the_unit.success
    store = open_store(paths["catalogue"], paths["data"])
    try:
        assert [(e["item"], e["status"], e["converged"]) for e in store.ledger.submissions()] == [
            ("enterprise", "converged", 14)]
    finally:
        store.dispose()
