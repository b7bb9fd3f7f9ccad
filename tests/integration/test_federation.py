"""Platforms federated (art. 19): each platform's own store, the province pulling the cities' connected tables
through the declared interface, one platform down leaving the others running, and check-catalogue refusing a
county's own platform. On SQLite; tests/postgres/test_connected_postgres.py runs the same on PostgreSQL."""

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from assets.governance import SUPERVISION_KEY, governance_assets
from assets.units import unit_asset
from pipelines import connected, federation
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.cli import main as cli
from pipelines.evaluation.records import Records, Submission, read_records
from pipelines.federation import Pull, platform_store_url, read_only_url
from resources.platform import PlatformResource
from tests.conftest import REPO, make_ric
from tests.helpers import catalogue_problems, check_evaluations, open_store, write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"
WATER = ["account_no", "holder_id", "phone"]
PROVINCE_KEY = dg.AssetKey(["province", "water_account"])
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, catalogue)
    return {"catalogue": catalogue, "intake": tmp_path / "intake", "data": tmp_path / "data"}


def submit(intake: Path, unit: str, rows: list[list[str]]) -> None:
    """A water account file; the county's item has no phone column."""
    name = "water_account.csv" if unit == "housing" else f"{unit}_account.csv"
    write_csv(intake / unit / name, WATER[:2] if unit == "wm_water" else WATER, [r[:2] if unit == "wm_water" else r
                                                                                 for r in rows])


def materialize(paths: dict[str, Path], units: list[str] | None = None, store_url: str = "",
                following: tuple[dg.AssetKey, ...] = (), store_kind: str = "sqlite") -> dg.ExecuteInProcessResult:
    """Every unit and connected table; or only ``units`` and the ``following`` keys (the platforms still up)."""
    catalogue = load_catalogue(paths["catalogue"])
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]), store_url=store_url)
    assets = [*(unit_asset(catalogue, u, store_kind) for u in catalogue.units if catalogue.items_of(u.code)),
              *governance_assets(catalogue)]
    selection = None if units is None else dg.AssetSelection.groups(*units) | dg.AssetSelection.assets(*following)
    return dg.materialize(assets, resources={"platform": resource}, selection=selection)


def test_each_platform_has_its_own_store_named_from_one_variable(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path}/shared_store.db"
    assert platform_store_url(sqlite, "province") == sqlite
    assert platform_store_url(sqlite, "city_450100") == f"sqlite:///{tmp_path}/shared_store_city_450100.db"
    pg = "postgresql+psycopg2://gov:secret@db.example:5432/govdata"
    assert platform_store_url(pg, "province") == pg
    assert platform_store_url(pg, "city_450200") == "postgresql+psycopg2://gov:secret@db.example:5432/govdata_city_450200"
    template = "postgresql+psycopg2://gov@{platform}.db.example/govdata"
    assert platform_store_url(template, "city_450100") == "postgresql+psycopg2://gov@city_450100.db.example/govdata"
    assert read_only_url(pg) == "postgresql+psycopg2://govdata_link@db.example:5432/govdata"
    assert read_only_url(sqlite) == f"sqlite:///file:{tmp_path.resolve()}/shared_store.db?mode=ro&uri=true"


def test_a_county_row_reaches_its_city_store_and_the_province_only_through_the_link(paths: dict[str, Path]) -> None:
    submit(paths["intake"], "housing", [["P1", make_ric(1), ""]])
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    submit(paths["intake"], "wm_water", [["W1", make_ric(3, "450122"), ""]])
    submit(paths["intake"], "lz_water", [["W1", make_ric(4, "450202"), ""]])
    assert materialize(paths).success
    catalogue = load_catalogue(paths["catalogue"])
    stores = {p: open_store(paths["catalogue"], paths["data"], platform=p)
              for p in ("province", "city_450100", "city_450200")}
    try:
        hosted = {p: {e["item"] for e in s.ledger.submissions()} for p, s in stores.items()}
        assert hosted == {"province": {"water_account"}, "city_450100": {"nn_water_account", "wm_water_account"},
                          "city_450200": {"lz_water_account"}}
        county = catalogue.item("wm_water_account")
        assert stores["city_450100"].shared.count_rows(county) == 1
        assert not stores["province"].shared.exists(county) and not stores["city_450200"].shared.exists(county)
        [rollup] = connected.rollups(catalogue)
        province = connected.read_connected(stores["province"], connected.province_table(stores["province"], rollup))
        [county_row] = [r for r in province if r["_source_item"] == "wm_water_account"]
        assert (county_row["_region"], county_row["_source_unit"], county_row["account_no"]) == (
            "450110", "wm_water", "W1")
        [county_submission] = stores["city_450100"].ledger.submissions("wm_water_account")
        assert county_row["_submission_id"] == county_submission["submission_id"]
    finally:
        for store in stores.values():
            store.dispose()


def test_the_link_is_read_only(paths: dict[str, Path]) -> None:
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    assert materialize(paths, ["nn_water"], following=(dg.AssetKey(["city", "450100", "water_account"]),)).success
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]))
    link = resource.link("city_450100")
    try:
        with pytest.raises(sa.exc.OperationalError, match="readonly"), link.store.engine.begin() as conn:
            conn.execute(sa.delete(link.store.tables.ledger))
        assert len(link.store.ledger.submissions()) == 1
    finally:
        link.dispose()


def test_one_city_down_leaves_the_others_running_and_the_province_reports_it(paths: dict[str, Path]) -> None:
    submit(paths["intake"], "housing", [["P1", make_ric(1), ""]])
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    submit(paths["intake"], "lz_water", [["W1", make_ric(4, "450202"), ""], ["W2", make_ric(5, "450202"), ""]])
    assert materialize(paths).success
    liuzhou = paths["data"] / "shared_store_city_450200.db"
    for suffix in ("", "-wal", "-shm"):  # Liuzhou's store goes away (its server down, its disk gone)
        if Path(f"{liuzhou}{suffix}").exists():
            Path(f"{liuzhou}{suffix}").rename(f"{liuzhou}{suffix}.away")
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""], ["W3", make_ric(6, "450102"), ""]])
    result = materialize(paths, ["nn_water", "housing"], following=(
        dg.AssetKey(["city", "450100", "water_account"]), PROVINCE_KEY, SUPERVISION_KEY))
    assert result.success  # Nanning and the province ran on
    check = check_evaluations(result)["cities_converged_water_account"]
    assert not check.passed and set(check.metadata["not_converged"].value) == {"city_450200"}
    province = open_store(paths["catalogue"], paths["data"])
    try:
        [rollup] = connected.rollups(province.catalogue)
        rows = connected.read_connected(province, connected.province_table(province, rollup))
        # Nanning's new row arrived; Liuzhou's rows of its last pull stay until it answers again
        assert Counter(r["_source_item"] for r in rows) == {"water_account": 1, "nn_water_account": 2,
                                                             "lz_water_account": 2}
        [down] = federation.unconverged_cities(province)
        assert (down["platform"], down["item"], down["status"]) == ("city_450200", "water_account", "not converged")
        assert "unable to open database file" in down["reason"]
    finally:
        province.dispose()
    supervision = [m for m in result.get_asset_materialization_events() if m.asset_key == SUPERVISION_KEY]
    text = supervision[0].materialization.metadata["cities_not_converged"].value
    assert "water_account: city_450200 not converged" in text


def test_the_province_converges_through_any_implementation_of_the_interface(paths: dict[str, Path]) -> None:
    """The protocol names no transport: an in-memory link (what an HTTP sharing API would return) serves too."""
    catalogue = load_catalogue(paths["catalogue"])
    [rollup] = connected.rollups(catalogue)

    class Memory:
        def __init__(self, platform: str, rows: list[dict[str, Any]]):
            self.platform, self.rows = platform, rows

        def pull(self, item: Item, since: datetime | None = None) -> Pull:
            return Pull(self.platform, item.code, self.rows, (federation.LedgerCounts("x", 1, 1, 1, 0),), since)

        def records(self) -> Records:
            return Records()

    def row(region: str, item: str, account: str) -> dict[str, Any]:
        return {"account_no": account, "holder_id": make_ric(7), "_region": region, "_source_item": item,
                "_source_unit": item.split("_")[0] + "_water", "_submission_id": "s1", "_converged_at": NOW}

    store = open_store(paths["catalogue"], paths["data"])
    store.ensure_tables([])
    try:
        links = {"city_450100": Memory("city_450100", [row("450100", "nn_water_account", "A"),
                                                       row("450110", "wm_water_account", "A")]),
                 "city_450200": Memory("city_450200", [row("450200", "lz_water_account", "B")])}
        refreshed = federation.refresh_province(store, rollup, links, NOW)
        assert refreshed.rows == 3 and refreshed.not_converged == []
        assert [(c.platform, c.rows) for c in refreshed.cities] == [("city_450100", 2), ("city_450200", 1)]
        del links["city_450200"]  # no link to Liuzhou at all: reported, its rows kept
        again = federation.refresh_province(store, rollup, links, NOW)
        assert again.rows == 3 and [c.platform for c in again.not_converged] == ["city_450200"]
    finally:
        store.dispose()


def test_a_pull_since_a_moment_brings_only_what_converged_after_it(paths: dict[str, Path]) -> None:
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    assert materialize(paths, ["nn_water"], following=(dg.AssetKey(["city", "450100", "water_account"]),)).success
    catalogue = load_catalogue(paths["catalogue"])
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]))
    link = resource.link("city_450100")
    try:
        everything = link.pull(catalogue.item("water_account"))
        [converged_at] = {r["_converged_at"] for r in everything.rows}
        assert len(everything.rows) == 1 and everything.ledger == (federation.LedgerCounts(
            "nn_water_account", 1, 1, 1, 0), federation.LedgerCounts("wm_water_account", 0, 0, 0, 0))
        assert link.pull(catalogue.item("water_account"), since=converged_at).rows == []
    finally:
        link.dispose()


def test_supervision_reads_each_citys_records_through_the_links_declared_method(
        paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Art. 8, 9, 15 across platforms: the evaluation reads a city's records with ``PlatformLink.records`` (read
    only; the same records the city's own store holds), goes on without a city that does not answer, and takes
    the records of any implementation of the interface."""
    from assets.supervision import VIOLATIONS_KEY, supervision_assets
    from pipelines.evaluation.config import load_evaluation_config
    from pipelines.evaluation.periods import WEEK, current_period
    from pipelines.evaluation.service import evaluate

    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    submit(paths["intake"], "wm_water", [["W1", make_ric(3, "450122"), ""]])
    assert materialize(paths, ["nn_water", "wm_water"]).success
    resource = PlatformResource(catalogue_dir=str(paths["catalogue"]), intake_dir=str(paths["intake"]),
                                data_dir=str(paths["data"]))
    nanning = open_store(paths["catalogue"], paths["data"], platform="city_450100")
    links = resource.city_links()
    try:
        through_the_link = links["city_450100"].records()
        assert through_the_link == read_records(nanning)
        assert sorted((s.unit, s.item, s.status) for s in through_the_link.submissions) == [
            ("nn_water", "nn_water_account", "converged"), ("wm_water", "wm_water_account", "converged")]
        records, down = federation.linked_records(links)
        assert records == [through_the_link]  # Liuzhou has run nothing yet: no store to read, said so
        assert down == {"city_450200": "unable to open database file"}
    finally:
        nanning.dispose()
        for link in links.values():
            link.dispose()

    read: list[str] = []
    original = federation.DatabaseLink.records

    def spied(self: federation.DatabaseLink) -> Records:
        read.append(self.platform)
        return original(self)

    monkeypatch.setattr(federation.DatabaseLink, "records", spied)
    catalogue = load_catalogue(paths["catalogue"])
    result = dg.materialize(supervision_assets(catalogue), resources={"platform": resource},
                            selection=dg.AssetSelection.assets(VIOLATIONS_KEY))
    assert result.success and read == ["city_450100", "city_450200"]  # the asset asks each city's link

    class Memory:  # what an HTTP sharing API could answer: a refused file of Liuzhou's unit
        platform = "city_450200"

        def pull(self, item: Item, since: datetime | None = None) -> Pull:
            return Pull(self.platform, item.code, [], (), since)

        def records(self) -> Records:
            return Records(submissions=(Submission("lz_water/x.csv/1", "lz_water_account", "lz_water", "rejected",
                                                   NOW, 4, 4, "uncatalogued column: no collection outside the "
                                                              "catalogue (art. 12)"),))

    linked, down = federation.linked_records({"city_450200": Memory()})
    province = open_store(paths["catalogue"], paths["data"])
    try:
        evaluation = evaluate(catalogue, province, paths["data"], current_period(NOW, WEEK),
                              load_evaluation_config(paths["catalogue"]), NOW, linked=linked)
    finally:
        province.dispose()
    assert down == {}
    assert [(v.kind, v.unit, v.subject) for v in evaluation.violations] == [
        ("out_of_catalogue", "lz_water", "lz_water/x.csv/1")]


def test_check_catalogue_refuses_a_county_unit_with_its_own_platform(paths: dict[str, Path],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    units = paths["catalogue"] / "units.yaml"
    document = yaml.safe_load(units.read_text(encoding="utf-8"))
    for unit in document["units"]:
        unit["platform"] = {"amr": "province", "nn_water": "city_450100", "wm_water": "city_450110"}.get(unit["code"])
        if unit["platform"] is None:
            del unit["platform"]
    units.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    problems = [p for p in catalogue_problems(paths["catalogue"]) if "platform" in p]
    assert problems == ["units.yaml: unit 'wm_water': field 'platform': Value error, a county unit builds no platform "
                        "of its own (art. 19): its data converges into its city's platform city_450100; remove "
                        "'platform'"]
    assert cli(["check-catalogue", str(paths["catalogue"])]) == 2
    assert "unit 'wm_water': field 'platform'" in capsys.readouterr().err


def test_a_city_unit_may_declare_only_its_own_citys_platform(paths: dict[str, Path]) -> None:
    units = paths["catalogue"] / "units.yaml"
    document = yaml.safe_load(units.read_text(encoding="utf-8"))
    for unit in document["units"]:
        if unit["code"] == "lz_water":
            unit["platform"] = "city_450100"
    units.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert [p for p in catalogue_problems(paths["catalogue"]) if "platform" in p] == [
        "units.yaml: unit 'lz_water': field 'platform': Value error, a city unit of region 450200 is hosted by the "
        "platform 'city_450200', not 'city_450100'"]


def test_run_platform_runs_only_the_units_that_platform_hosts(paths: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    submit(paths["intake"], "housing", [["P1", make_ric(1), ""]])
    submit(paths["intake"], "nn_water", [["W1", make_ric(2, "450102"), ""]])
    submit(paths["intake"], "wm_water", [["W1", make_ric(3, "450122"), ""]])
    submit(paths["intake"], "lz_water", [["W1", make_ric(4, "450202"), ""]])
    for name, value in {"GOVDATA_CATALOGUE_DIR": paths["catalogue"], "GOVDATA_INTAKE_DIR": paths["intake"],
                        "GOVDATA_DATA_DIR": paths["data"]}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("GOVDATA_STORE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli(["run", "--platform", "city_450300", "--quiet"]) == 2
    assert capsys.readouterr().err == ("no platform 'city_450300': the catalogue's are province, city_450100, "
                                       "city_450200\n")
    assert cli(["run", "--platform", "city_450100", "--unit", "lz_water", "--quiet"]) == 2
    assert capsys.readouterr().err == "run: unit lz_water is not hosted by the platform city_450100\n"

    assert cli(["run", "--platform", "city_450100", "--quiet"]) == 0
    assert "2 item(s) with something new, in 1 run(s)" in capsys.readouterr().out
    catalogue = load_catalogue(paths["catalogue"])
    nanning = open_store(paths["catalogue"], paths["data"], platform="city_450100")
    try:  # Nanning's unit and its county's converged, and its connected table followed on its own platform
        assert {e["item"]: e["status"] for e in nanning.ledger.submissions()} == {
            "nn_water_account": "converged", "wm_water_account": "converged"}
        [rollup] = connected.rollups(catalogue)
        [city] = [c for c in rollup.cities if c.city == "450100"]
        rows = connected.read_connected(nanning, connected.city_table(nanning, city))
        assert sorted(r["_source_item"] for r in rows) == ["nn_water_account", "wm_water_account"]
    finally:
        nanning.dispose()
    # the province's and Liuzhou's files wait for their own platforms' runs
    assert sorted(p.name for p in paths["intake"].glob("*/*.csv")) == ["lz_water_account.csv", "water_account.csv"]
    assert not (paths["data"] / "shared_store_city_450200.db").exists()
    province = open_store(paths["catalogue"], paths["data"])  # made by the run's summary, which reads it
    try:
        assert province.ledger.submissions() == []
    finally:
        province.dispose()
