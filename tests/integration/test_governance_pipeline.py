"""Governance through the asset graph: online verification (art. 14), look-ups instead of repeated
collection (art. 13), expired temporary collections (art. 12), county -> city -> province convergence
(art. 19) and the directory asset (art. 18), on the governed fixture with submissions built row by row."""

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from assets.factory import asset_key
from assets.governance import DIRECTORY_KEY, SUPERVISION_KEY, governance_assets
from assets.units import unit_asset
from pipelines import connected, federation
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.intake import expired_reason
from pipelines.sharing import carried_log
from pipelines.store.stage import INTAKE, StageStore
from resources.platform import PlatformResource
from tests.conftest import REPO, make_ric, make_uscc
from tests.helpers import open_store, write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"
LICENCE = ["licence_no", "credit_code", "enterprise_name", "legal_person"]
WATER = ["account_no", "holder_id", "phone"]


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, catalogue)
    return {"catalogue": catalogue, "intake": tmp_path / "intake", "data": tmp_path / "data"}


def all_assets(catalogue: Catalogue) -> list[dg.AssetsDefinition]:
    units = [unit_asset(catalogue, u, "sqlite") for u in catalogue.units if catalogue.items_of(u.code)]
    return [*units, *governance_assets(catalogue)]


def materialize(paths: dict[str, Path]) -> dg.ExecuteInProcessResult:
    catalogue = load_catalogue(paths["catalogue"])
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]))
    return dg.materialize(all_assets(catalogue), resources={"platform": resource})


def submit_enterprises(paths: dict[str, Path], count: int = 3) -> None:
    write_csv(paths["intake"] / "amr" / "enterprise.csv", ["credit_code", "name", "legal_person"],
              [[make_uscc(i), f"企业{i}", f"法人{i}"] for i in range(count)])


def licence_rows(carried_names: bool = False) -> list[list[str]]:
    """3 licences of registered enterprises, 2 of enterprises the authority does not know."""
    codes = [make_uscc(0), make_uscc(1), make_uscc(2), make_uscc(50), make_uscc(51)]
    return [[f"L{n}", code, "自填名称" if carried_names and n < 2 else "", "某人"] for n, code in enumerate(codes)]


def materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_validation_of_a_referencing_item_depends_on_the_authority() -> None:
    catalogue = load_catalogue(GOVERNED)
    health = unit_asset(catalogue, catalogue.unit("health"), "sqlite")
    licence = catalogue.item("licence")
    assert asset_key("shared", catalogue.item("enterprise")) in health.asset_deps[asset_key("validated", licence)]
    flood = catalogue.item("flood_relief")
    assert health.asset_deps[asset_key("validated", flood)] == {asset_key("intake", flood)}


def test_unknown_keys_are_held_back_as_not_found_in_the_authoritative_source(paths: dict[str, Path]) -> None:
    submit_enterprises(paths)
    write_csv(paths["intake"] / "health" / "licence.csv", LICENCE, licence_rows())
    result = materialize(paths)
    assert result.success
    store = open_store(paths["catalogue"], paths["data"])
    [entry] = store.ledger.submissions("licence")
    assert (entry["received"], entry["valid"], entry["held_back"], entry["converged"]) == (5, 3, 2, 3)
    held = {row["row_no"]: row["reasons"] for row in store.quarantine.held_rows("licence")}
    reason = "references:credit_code: 统一社会信用代码 not found in the authoritative source (enterprise.credit_code)"
    assert held == {4: reason, 5: reason}
    assert materialization(result, asset_key("validated", store.catalogue.item("licence")))[
        "rows_not_in_authoritative_source"] == 2
    store.dispose()


def test_keys_are_verified_against_the_current_authority(paths: dict[str, Path]) -> None:
    submit_enterprises(paths, count=0)  # the authority has converged nothing yet: nothing is known
    write_csv(paths["intake"] / "health" / "licence.csv", LICENCE, licence_rows()[:2])
    materialize(paths)
    store = open_store(paths["catalogue"], paths["data"])
    [entry] = store.ledger.submissions("licence")
    assert (entry["received"], entry["held_back"], entry["converged"]) == (2, 2, 0)
    store.dispose()


def test_looked_up_fields_come_from_the_shared_store_and_carried_values_are_flagged(paths: dict[str, Path]) -> None:
    submit_enterprises(paths)
    write_csv(paths["intake"] / "health" / "licence.csv", LICENCE, licence_rows(carried_names=True))
    result = materialize(paths)
    store = open_store(paths["catalogue"], paths["data"])
    table = store.shared.read_table(store.catalogue.item("licence")).sort_values("licence_no")
    assert table[["licence_no", "enterprise_name"]].values.tolist() == [
        ["L0", "企业0"], ["L1", "企业1"], ["L2", "企业2"]]
    [flag] = carried_log(store)
    assert (flag["item"], flag["unit"], flag["field"], flag["source"], flag["rows"]) == (
        "licence", "health", "enterprise_name", "enterprise.name", 2)
    assert materialization(result, asset_key("validated", store.catalogue.item("licence")))[
        "repeated_collection_flags"] == 1
    assert materialization(result, SUPERVISION_KEY)["flagged_submissions"] == 1
    store.dispose()


def test_carried_values_are_kept_neither_in_the_stage_data_nor_in_the_quarantine(
        paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Art. 13: values obtained through sharing are discarded, not collected: the intake stage data and the held
    rows' records of a submission that carried them hold none; only the flag says how many there were. The stage
    data is read as it is written (the convergence drops it)."""
    written: list[pd.DataFrame] = []
    write = StageStore.write

    def kept_as_written(self: StageStore, submission_id: str, kind: str, frame: Any, conn: Any = None) -> int:
        if kind == INTAKE and submission_id.startswith("licence/"):
            frame = [frame] if isinstance(frame, pd.DataFrame) else list(frame)
            written.extend(f.copy() for f in frame)
        return write(self, submission_id, kind, frame, conn)

    monkeypatch.setattr(StageStore, "write", kept_as_written)
    submit_enterprises(paths)
    carried = [[*row[:2], "自填名称", row[3]] for row in licence_rows()]  # every row carries a name
    write_csv(paths["intake"] / "health" / "licence.csv", LICENCE, carried)
    materialize(paths)
    store = open_store(paths["catalogue"], paths["data"])
    [entry] = store.ledger.submissions("licence")
    assert entry["status"] == "converged"
    submitted = pd.concat(written, ignore_index=True)
    assert len(submitted) == 5 and submitted["enterprise_name"].isna().all()
    held = store.quarantine.held_rows("licence")
    assert [h["row_no"] for h in held] == [4, 5]
    assert [json.loads(h["record"])["enterprise_name"] for h in held] == [None, None]
    assert not any("自填名称" in h["record"] for h in held)
    [flag] = carried_log(store)
    assert (flag["field"], flag["rows"]) == ("enterprise_name", 5)
    store.dispose()


def test_a_clean_submission_raises_no_flag(paths: dict[str, Path]) -> None:
    submit_enterprises(paths)
    write_csv(paths["intake"] / "health" / "licence.csv", LICENCE, licence_rows())
    materialize(paths)
    store = open_store(paths["catalogue"], paths["data"])
    assert carried_log(store) == []
    store.dispose()


def test_submissions_to_an_expired_temporary_collection_are_refused(paths: dict[str, Path]) -> None:
    write_csv(paths["intake"] / "health" / "epidemic_visit.csv", ["visit_no", "place"],
              [["V1", "商场"], ["V2", "车站"]])
    write_csv(paths["intake"] / "health" / "flood_relief.csv", ["batch_no", "goods"], [["B1", "沙袋"]])
    result = materialize(paths)
    assert result.success
    catalogue = load_catalogue(paths["catalogue"])
    reason_file = paths["intake"] / "health" / "_rejected" / "epidemic_visit.csv.reason.txt"
    reason = expired_reason(catalogue.item("epidemic_visit"))
    assert reason_file.read_text(encoding="utf-8").splitlines()[-1] == f"reason: {reason}"
    assert expired_reason(catalogue.item("epidemic_visit")) == (
        "temporary collection of item 'epidemic_visit' expired on 2020-03-31 (approved by 省政务数据管理局 for: "
        "突发公共卫生事件应急处置): no collection outside the catalogue (art. 12)")
    store = open_store(paths["catalogue"], paths["data"])
    statuses = {e["item"]: (e["status"], e["received"], e["held_back"], e["converged"])
                for e in store.ledger.submissions()}
    assert statuses == {"epidemic_visit": ("rejected", 2, 2, 0), "flood_relief": ("converged", 1, 0, 1)}
    assert materialization(result, SUPERVISION_KEY)["temporary_expired"] == 1
    store.dispose()


def submit_water(paths: dict[str, Path]) -> None:
    intake = paths["intake"]
    write_csv(intake / "housing" / "water_account.csv", [*WATER, "opened"], [["P1", make_ric(1), "", "2020-01-01"]])
    write_csv(intake / "nn_water" / "nn_water_account.csv", WATER,
              [["W1", make_ric(2, "450102"), ""], ["W2", make_ric(3, "450102"), ""]])
    write_csv(intake / "lz_water" / "lz_water_account.csv", WATER,
              [["W1", make_ric(4, "450202"), ""], ["W9", make_ric(5, "450202"), ""]])
    write_csv(intake / "wm_water" / "wm_water_account.csv", WATER[:2], [["W1", make_ric(6, "450122")]])


def test_the_province_table_holds_every_citys_rows_with_their_region(paths: dict[str, Path]) -> None:
    submit_water(paths)
    result = materialize(paths)
    assert result.success
    store = open_store(paths["catalogue"], paths["data"])
    [rollup] = connected.rollups(store.catalogue)
    province = connected.read_connected(store, connected.province_table(store, rollup))
    assert Counter((r["_region"], r["_source_item"]) for r in province) == {
        ("450000", "water_account"): 1, ("450100", "nn_water_account"): 2, ("450200", "lz_water_account"): 2,
        ("450110", "wm_water_account"): 1}
    # the same account number in three places stays three rows, told apart by region
    assert sorted(r["_region"] for r in province if r["account_no"] == "W1") == ["450100", "450110", "450200"]
    nanning = next(c for c in rollup.cities if c.city == "450100")
    city_store = open_store(paths["catalogue"], paths["data"], platform="city_450100")
    city_rows = connected.read_connected(city_store, connected.city_table(city_store, nanning))
    assert sorted((r["_region"], r["account_no"]) for r in city_rows) == [
        ("450100", "W1"), ("450100", "W2"), ("450110", "W1")]
    # the county's rows are in its city's store, not in the province's: they crossed through the link
    assert not store.shared.exists(store.catalogue.item("wm_water_account"))
    assert city_store.shared.count_rows(city_store.catalogue.item("wm_water_account")) == 1
    assert materialization(result, dg.AssetKey(["province", "water_account"]))["dagster/row_count"] == 6
    pulls = {p["platform"]: p for p in federation.latest_pulls(store)}  # each pull recorded by the province
    assert {k: (p["status"], p["rows"]) for k, p in pulls.items()} == {
        "city_450100": ("converged", 3), "city_450200": ("converged", 2)}
    assert pulls["city_450100"]["ledger"] == [
        {"item": "nn_water_account", "submissions": 1, "received": 2, "converged": 2, "held_back": 0},
        {"item": "wm_water_account", "submissions": 1, "received": 1, "converged": 1, "held_back": 0}]
    store.dispose()
    city_store.dispose()


def test_county_items_converge_into_the_city_and_the_province_depends_on_the_cities() -> None:
    catalogue = load_catalogue(GOVERNED)
    [rollup] = connected.rollups(catalogue)
    assert [(c.city, [i.code for i in c.sources]) for c in rollup.cities] == [
        ("450100", ["nn_water_account", "wm_water_account"]), ("450200", ["lz_water_account"])]
    graph = {key: deps for a in governance_assets(catalogue) for key, deps in a.asset_deps.items()}
    assert graph[dg.AssetKey(["province", "water_account"])] == {
        dg.AssetKey(["shared", "housing", "water_account"]), dg.AssetKey(["city", "450100", "water_account"]),
        dg.AssetKey(["city", "450200", "water_account"])}
    assert graph[dg.AssetKey(["city", "450100", "water_account"])] == {
        dg.AssetKey(["shared", "nn_water", "nn_water_account"]),
        dg.AssetKey(["shared", "wm_water", "wm_water_account"])}


def test_rerunning_the_rollup_does_not_duplicate_rows(paths: dict[str, Path]) -> None:
    submit_water(paths)
    materialize(paths)
    materialize(paths)
    store = open_store(paths["catalogue"], paths["data"])
    [rollup] = connected.rollups(store.catalogue)
    assert len(connected.read_connected(store, connected.province_table(store, rollup))) == 6
    store.dispose()


def test_the_directory_asset_exports_a_conforming_dcat_directory(paths: dict[str, Path]) -> None:
    submit_enterprises(paths)
    result = materialize(paths)
    metadata = materialization(result, DIRECTORY_KEY)
    assert (metadata["entries"], metadata["validated"], metadata["conforms"], metadata["violations"]) == (
        8, True, True, 0)
    jsonld = json.loads((paths["data"] / "directory" / "directory.jsonld").read_text(encoding="utf-8"))
    assert any("dataset/enterprise" in node.get("@id", "") for node in jsonld["@graph"])


def test_definitions_load_with_the_governance_assets(paths: dict[str, Path]) -> None:
    from pipelines.definitions import build_definitions

    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]))
    defs = build_definitions(load_catalogue(paths["catalogue"]), resource, "sqlite")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"province/water_account", "city/450100/water_account", "city/450200/water_account",
            "directory/catalogue", "governance/supervision"} <= keys
    assert not any(k.startswith("city/450110") for k in keys)  # a county has no store of its own
    # sensor runs select only the submitted items: the directory follows through its automation condition
    [spec] = defs.resolve_assets_def(DIRECTORY_KEY).specs
    assert spec.automation_condition is not None


def test_the_directory_is_exported_unvalidated_when_the_shapes_are_missing(
        paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDATA_DCAT_SHAPES", str(paths["data"] / "absent.ttl"))
    result = materialize(paths)
    metadata = materialization(result, DIRECTORY_KEY)
    assert (metadata["entries"], metadata["validated"]) == (8, False)
    assert (paths["data"] / "directory" / "directory.ttl").is_file()
