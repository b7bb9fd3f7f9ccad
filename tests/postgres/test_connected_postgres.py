"""Connected stores on PostgreSQL: county tables live in the city schema, the rollups in their level's schema."""

import shutil
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.governance import governance_assets
from assets.units import unit_asset
from pipelines.catalogue import load_catalogue
from resources.platform import PlatformResource
from tests.conftest import REPO, make_ric
from tests.helpers import write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"


def test_county_rows_converge_through_the_city_schema_into_the_province(tmp_path: Path, pg_database: str) -> None:
    catalogue_dir = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, catalogue_dir)
    intake = tmp_path / "intake"
    write_csv(intake / "nn_water" / "nn_water_account.csv", ["account_no", "holder_id"], [["W1", make_ric(1)]])
    write_csv(intake / "lz_water" / "lz_water_account.csv", ["account_no", "holder_id"], [["W1", make_ric(2)]])
    write_csv(intake / "wm_water" / "wm_water_account.csv", ["account_no", "holder_id"], [["W2", make_ric(3)]])
    catalogue = load_catalogue(catalogue_dir)
    assets = [unit_asset(catalogue, u, "postgres") for u in catalogue.units if catalogue.items_of(u.code)]
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(intake),
                                data_dir=str(tmp_path / "data"), store_url=pg_database)
    assert dg.materialize([*assets, *governance_assets(catalogue)], resources={"platform": resource}).success
    engine = sa.create_engine(pg_database)
    with engine.connect() as conn:
        tables = {tuple(r) for r in conn.execute(sa.text(
            "select table_schema, table_name from information_schema.tables where table_schema like 'shared_%'"))}
        regions = conn.execute(sa.text(
            "select _region, count(*) from shared_province.connected_water_account group by _region order by 1"))
        assert [tuple(r) for r in regions] == [("450100", 1), ("450110", 1), ("450200", 1)]
    engine.dispose()
    assert ("shared_city", "wm_water_account") in tables  # a county has no store of its own
    assert not any(schema == "shared_county" for schema, _ in tables)
    assert {("shared_city", "connected_water_account_450100"), ("shared_city", "connected_water_account_450200"),
            ("shared_province", "connected_water_account")} <= tables
