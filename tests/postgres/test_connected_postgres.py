"""Platforms federated on PostgreSQL: one database per platform (the configured one for the province, ``_city_<code>``
beside it for each city, created by the platform), county tables in their city's database, and the province pulling
each city's connected table as the read-only role the city granted (SELECT on that table and its records only)."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.governance import governance_assets
from assets.units import unit_asset
from pipelines import federation
from pipelines.catalogue import load_catalogue
from resources.platform import PlatformResource
from tests.conftest import REPO, make_ric
from tests.helpers import check_evaluations, write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"


def _run(catalogue_dir: Path, intake: Path, data: Path, url: str, units: list[str] | None = None,
         following: tuple[dg.AssetKey, ...] = ()) -> dg.ExecuteInProcessResult:
    catalogue = load_catalogue(catalogue_dir)
    assets = [unit_asset(catalogue, u, "postgres") for u in catalogue.units if catalogue.items_of(u.code)]
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(intake), data_dir=str(data),
                                store_url=url)
    selection = None if units is None else dg.AssetSelection.groups(*units) | dg.AssetSelection.assets(*following)
    return dg.materialize([*assets, *governance_assets(catalogue)], resources={"platform": resource},
                          selection=selection)


def _tables(url: str) -> set[tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {tuple(r) for r in conn.execute(sa.text(  # type: ignore[misc]
                "select table_schema, table_name from information_schema.tables where table_schema like 'shared_%'"))}
    finally:
        engine.dispose()


@pytest.fixture
def federated(tmp_path: Path, pg_database: str) -> dict[str, object]:
    catalogue_dir = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, catalogue_dir)
    intake = tmp_path / "intake"
    write_csv(intake / "nn_water" / "nn_water_account.csv", ["account_no", "holder_id"], [["W1", make_ric(1)]])
    write_csv(intake / "lz_water" / "lz_water_account.csv", ["account_no", "holder_id"], [["W1", make_ric(2)]])
    write_csv(intake / "wm_water" / "wm_water_account.csv", ["account_no", "holder_id"], [["W2", make_ric(3)]])
    assert _run(catalogue_dir, intake, tmp_path / "data", pg_database).success
    return {"catalogue": catalogue_dir, "intake": intake, "data": tmp_path / "data", "url": pg_database,
            "nanning": federation.platform_store_url(pg_database, "city_450100"),
            "liuzhou": federation.platform_store_url(pg_database, "city_450200")}


def test_county_rows_converge_in_the_city_database_and_reach_the_province_through_the_link(federated: dict) -> None:
    url, nanning = federated["url"], federated["nanning"]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        regions = conn.execute(sa.text(
            "select _region, _source_item, count(*) from shared_province.connected_water_account group by 1, 2 "
            "order by 1"))
        assert [tuple(r) for r in regions] == [("450100", "nn_water_account", 1), ("450110", "wm_water_account", 1),
                                               ("450200", "lz_water_account", 1)]
    engine.dispose()
    province, city = _tables(url), _tables(nanning)
    assert not any(schema == "shared_city" for schema, _ in province)  # no city table in the province's database
    assert {("shared_city", "wm_water_account"), ("shared_city", "nn_water_account"),
            ("shared_city", "connected_water_account_450100")} <= city  # a county has no store of its own
    assert not any(schema in ("shared_county", "shared_province") for schema, _ in city)
    assert ("shared_city", "lz_water_account") in _tables(federated["liuzhou"])


def test_the_link_role_reads_the_connected_table_and_nothing_else_of_the_city(federated: dict) -> None:
    reader = sa.create_engine(federation.read_only_url(federated["nanning"]))
    try:
        with reader.connect() as conn:
            assert conn.execute(sa.text(
                "select count(*) from shared_city.connected_water_account_450100")).scalar() == 2
            assert conn.execute(sa.text("select count(*) from platform.platform_ledger")).scalar() == 2
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), reader.connect() as conn:
            conn.execute(sa.text("select * from shared_city.nn_water_account"))
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), reader.begin() as conn:
            conn.execute(sa.text("delete from shared_city.connected_water_account_450100"))
    finally:
        reader.dispose()


def test_a_city_database_down_leaves_the_others_running_and_the_province_reports_it(federated: dict) -> None:
    liuzhou = sa.engine.make_url(federated["liuzhou"])
    admin = sa.create_engine(liuzhou.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # Liuzhou's database stops taking connections
        conn.execute(sa.text(f'ALTER DATABASE "{liuzhou.database}" ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :n"),
                     {"n": liuzhou.database})
    try:
        write_csv(federated["intake"] / "nn_water" / "nn_water_account.csv", ["account_no", "holder_id"],
                  [["W1", make_ric(1)], ["W3", make_ric(4)]])
        result = _run(federated["catalogue"], federated["intake"], federated["data"], federated["url"],
                      ["nn_water", "housing"], (dg.AssetKey(["city", "450100", "water_account"]),
                                                dg.AssetKey(["province", "water_account"])))
        assert result.success
        check = check_evaluations(result)["cities_converged_water_account"]
        assert not check.passed and set(check.metadata["not_converged"].value) == {"city_450200"}
        engine = sa.create_engine(federated["url"])
        with engine.connect() as conn:
            counts = dict(conn.execute(sa.text("select _source_item, count(*) from "
                                               "shared_province.connected_water_account group by 1")).all())
        engine.dispose()
        assert counts == {"nn_water_account": 2, "wm_water_account": 1, "lz_water_account": 1}
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{liuzhou.database}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_the_province_pulls_a_citys_rows_as_copy_text_exactly_as_the_city_holds_them(tmp_path: Path,
                                                                                      pg_database: str) -> None:
    """Between two PostgreSQL stores the pull is COPY text through the read-only link role (no Python rows): the
    province's table holds the city's rows value for value (NULLs, tabs, newlines, backslashes, time zones), the
    audit log the count; ``since`` selects in the city's database."""
    from datetime import UTC, datetime, timedelta

    from pipelines import connected
    from pipelines.store import Store

    catalogue = load_catalogue(GOVERNED)
    [rollup] = connected.rollups(catalogue)
    [nanning] = [c for c in rollup.cities if c.city == "450100"]
    city_url = federation.platform_store_url(pg_database, "city_450100")
    federation.ensure_database(city_url)
    city, province = Store(city_url, catalogue), Store(pg_database, catalogue)
    link = federation.DatabaseLink("city_450100", catalogue, federation.read_only_url(city_url))
    try:
        for store in (city, province):
            store.ensure_tables([])
        source = connected.city_table(city, nanning)
        early, late = datetime(2026, 11, 1, 8, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC)
        rows = [{"account_no": f"W{n}", "holder_id": make_ric(n), "phone": phone, "_region": "450100",
                 "_source_item": "nn_water_account", "_source_unit": "nn_water", "_submission_id": f"s{n}",
                 "_converged_at": at}
                for n, (phone, at) in enumerate([(None, early), ("a\tb\nc\\d", late), ("南宁 \\N", late)])]
        with connected.rebuilding(city, source) as conn:
            conn.execute(sa.insert(source), rows)
        federation.grant_link(city, [source])
        assert isinstance(link, federation.CopyingLink)

        refreshed = federation.refresh_province(province, rollup, {"city_450100": link}, late)

        assert refreshed.rows == 3 and [c.rows for c in refreshed.cities if c.platform == "city_450100"] == [3]
        target = connected.province_table(province, rollup)
        held = sorted(connected.read_connected(province, target), key=lambda r: str(r["account_no"]))
        assert [{k: r[k] for k in rows[0]} for r in held] == rows
        [audit] = [p for p in federation.latest_pulls(province) if p["platform"] == "city_450100"]
        assert (audit["status"], audit["rows"]) == ("converged", 3)
        since = link.pull_copy(catalogue.item("water_account"), since=early + timedelta(hours=1))
        try:
            assert since.copied is not None and since.copied.rows == 2 and since.rows == ()
            assert since.copied.data.read().count(b"\n") == 2  # the newline inside a value is escaped
        finally:
            since.close()
    finally:
        link.dispose()
        city.dispose()
        province.dispose()
