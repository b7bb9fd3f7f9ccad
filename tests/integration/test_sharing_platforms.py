"""Each platform's sharing service serves the items it hosts, from its own store (art. 19; docs/levels.md):
a Nanning item is read through Nanning's service, and the province's answers "not here", naming the
platform that serves it, audited like any refusal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from pipelines.catalogue import load_catalogue
from pipelines.clock import Clock
from pipelines.serving.service import Refused, SharingService
from pipelines.store import Store
from tests.conftest import REPO
from tests.sharing_fixtures import NOW

ITEM = "water_quality_monitoring"  # nn_water's, hosted by Nanning's platform; unconditional, by interface
NANNING = "city_450100"


def _sample() -> pd.DataFrame:
    return pd.DataFrame([["S001", "陈村水厂", "2026-11-19", "0.2", "0.5", "7.1", "0", "true", "张三"]],
                        columns=["sample_id", "plant", "sample_date", "turbidity", "residual_chlorine", "ph",
                                 "coliform_count", "qualified", "sampler"], dtype=object)


@pytest.fixture
def services(tmp_path: Path):  # type: ignore[no-untyped-def]
    catalogue = load_catalogue(REPO / "catalogue" / "demo")
    city = Store(f"sqlite:///{tmp_path / 'nanning.db'}", catalogue)
    province = Store(f"sqlite:///{tmp_path / 'province.db'}", catalogue)
    item = catalogue.item(ITEM)
    city.ensure_tables([item])
    city.shared.upsert(item, _sample(), "nn_water", "s-water-quality", NOW)
    clock = Clock.fixed(NOW)
    yield SharingService(city, clock, NANNING), SharingService(province, clock, "province")
    city.dispose()
    province.dispose()


def test_the_hosting_citys_service_serves_its_item_to_another_unit(services) -> None:  # type: ignore[no-untyped-def]
    nanning, _ = services
    _, token = nanning.tokens.issue("gx_housing", "housing system", "operator", NOW)
    page = nanning.read(nanning.caller(token, "read", ITEM, {}), ITEM, {})
    # the sampler is personal: masked for a reader without an application granting it
    assert [(r["sample_id"], r["plant"], r["sampler"]) for r in page.records] == [("S001", "陈村水厂", "张*")]
    assert ITEM in {i.code for i, _ in nanning.readable_items(nanning.caller(token, "list", None, {}))}


def test_the_provinces_service_names_the_platform_that_serves_a_city_item(services) -> None:  # type: ignore[no-untyped-def]
    _, province = services
    _, token = province.tokens.issue("gx_housing", "housing system", "operator", NOW)
    caller = province.caller(token, "read", ITEM, {})
    with pytest.raises(Refused) as refused:
        province.read(caller, ITEM, {})
    assert (refused.value.kind, refused.value.reason) == (
        "not_found", f"{ITEM} is hosted by platform {NANNING}: its sharing service serves it, not province's")
    assert ITEM not in {i.code for i, _ in province.readable_items(province.caller(token, "list", None, {}))}
    audit = province.tables.audit
    with province.engine.connect() as conn:
        rows = conn.execute(select(audit.c.event, audit.c.item, audit.c.allowed, audit.c.reason)
                            .where(audit.c.item == ITEM)).all()
    assert [tuple(r) for r in rows] == [("read", ITEM, False, refused.value.reason)]
    assert not province.store.shared.exists(province.catalogue.item(ITEM))  # nothing of Nanning's is kept here


def test_an_unknown_platform_or_an_application_to_the_wrong_one_is_refused_by_the_cli(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipelines.cli import main

    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(REPO / "catalogue" / "demo"))
    monkeypatch.setenv("GOVDATA_DATA_DIR", str(tmp_path))
    assert main(["sharing", "--platform", "city_459900", "token", "list"]) == 2
    assert capsys.readouterr().err.strip() == (
        "no platform 'city_459900': the catalogue's are province, city_450100, city_450200")
    assert main(["access", "apply", "gx_housing", "real_estate_registration", "--purpose", "住房保障资格核查",
                 "--until", "2027-01-01"]) == 2
    assert capsys.readouterr().err.strip() == (
        "real_estate_registration is hosted by platform city_450100: apply with --platform city_450100")
    assert not list(tmp_path.iterdir())  # refused before any store was opened


def test_the_provinces_extracts_touch_no_city_item(tmp_path: Path) -> None:
    """What the daily sharing/file_extracts asset runs: the province's service makes no table for Nanning's
    file-mode water_accounts in the province's store (the city's platform holds it)."""
    from pipelines.serving.extracts import write_extracts

    catalogue = load_catalogue(REPO / "catalogue" / "demo")
    province = Store(f"sqlite:///{tmp_path / 'province.db'}", catalogue)
    province.ensure_tables([])
    assert write_extracts(province, tmp_path, NOW, "province") == []
    assert not province.shared.exists(catalogue.item("water_accounts"))
    assert not province.shared.exists(catalogue.item(ITEM))
    province.dispose()


def test_each_platforms_location_shows_its_own_services_usage(tmp_path: Path) -> None:
    """Nanning's service answers its item once; the province's refuses it once ("not here"). Nanning's location
    shows Nanning's read (``sharing/city_450100/usage``, from Nanning's store), the province's its refusal."""
    import dagster as dg

    from assets.sharing import EXTRACTS_KEY, USAGE_KEY, sharing_assets, usage_key
    from pipelines.platforms import Scope
    from resources.platform import PlatformResource

    catalogue_dir = REPO / "catalogue" / "demo"
    catalogue = load_catalogue(catalogue_dir)
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(tmp_path / "intake"),
                                data_dir=str(tmp_path / "data"))
    city, province = (Store(resource.store_url_of(name), catalogue) for name in (NANNING, "province"))
    try:
        item = catalogue.item(ITEM)
        city.ensure_tables([item])
        city.shared.upsert(item, _sample(), "nn_water", "s-water-quality", NOW)
        province.ensure_tables([])
        clock = Clock()  # now: the usage assets count this month's reads
        nanning, provincial = SharingService(city, clock, NANNING), SharingService(province, clock, "province")
        _, token = nanning.tokens.issue("gx_housing", "housing system", "operator", clock())
        nanning.read(nanning.caller(token, "read", ITEM, {}), ITEM, {})
        _, token = provincial.tokens.issue("gx_housing", "housing system", "operator", clock())
        with pytest.raises(Refused):
            provincial.read(provincial.caller(token, "read", ITEM, {}), ITEM, {})
    finally:
        city.dispose()
        province.dispose()

    by_location = {name: {k for a in sharing_assets(catalogue, Scope(catalogue, name)) for k in a.keys}
                   for name in ("province", NANNING)}
    assert by_location == {"province": {USAGE_KEY, EXTRACTS_KEY}, NANNING: {usage_key(NANNING)}}
    city_key = dg.AssetKey(["sharing", NANNING, "usage"])
    result = dg.materialize(sharing_assets(catalogue, Scope(catalogue)), resources={"platform": resource},
                            selection=dg.AssetSelection.assets(USAGE_KEY, city_key))
    assert result.success
    usage = {m.asset_key: {k: v.value for k, v in m.materialization.metadata.items()}
             for m in result.get_asset_materialization_events()}
    owner = catalogue.item(ITEM).unit
    assert (usage[city_key]["served"], usage[city_key]["refused"]) == (1, 0)
    assert (usage[city_key][f"{owner}/{ITEM}/served"], usage[city_key][f"{owner}/{ITEM}/refused"]) == (1, 0)
    assert (usage[USAGE_KEY]["served"], usage[USAGE_KEY]["refused"]) == (0, 1)
    assert usage[USAGE_KEY][f"{owner}/{ITEM}/refused"] == 1
