"""Open data (art. 10): personal fields left out, personal data in free text blotted out, and a scan
of the published files that finds identity numbers, phone numbers and names when they slip through."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from rdflib import URIRef
from rdflib import namespace as rdfns
from stdnum.cn import ric

from pipelines import directory, opendata
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue, Item, OpeningType
from tests.conftest import REPO, make_ric, make_uscc

DEMO = REPO / "catalogue" / "demo"
NOW = datetime(2026, 11, 27, 9, 30)
RESIDENT_ID = make_ric(17)
NAMES = ["韦建国", "覃秀英", "黄志明"]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO)


@pytest.fixture(scope="module")
def registration(catalogue: Catalogue) -> Item:
    return catalogue.item("market_entity_registration")


def shared_rows() -> pd.DataFrame:
    """Three converged registrations; the second address carries a mobile number and a citizen ID."""
    addresses = ["南宁市青秀区民族大道100号", f"南宁市兴宁区朝阳路8号 联系人13907710001 身份证{RESIDENT_ID}",
                 "柳州市城中区文惠路2号"]
    return pd.DataFrame({
        "uscc": [make_uscc(n) for n in (1, 2, 3)],
        "entity_name": ["南宁绿城科技有限公司", "邕江商贸有限公司", "柳工配件有限公司"],
        "entity_type": ["有限责任公司"] * 3, "legal_representative": NAMES,
        "registered_capital": [100.0, 50.5, 300.0], "established_date": ["2020-01-02"] * 3,
        "region_code": ["450103", "450102", "450202"], "address": addresses, "postcode": ["530022"] * 3,
        "phone": ["13877100001", "0771-5551234", "18977200002"], "status": ["存续"] * 3,
        "updated_at": ["2026-11-20"] * 3,
        "_source_unit": ["gx_amr"] * 3, "_submission_id": ["s1"] * 3, "_converged_at": [NOW] * 3,
    })


def test_only_items_marked_open_are_published(catalogue: Catalogue) -> None:
    published = {i.code for i in opendata.open_items(catalogue)}
    assert {"market_entity_registration", "water_quality_monitoring"} <= published
    assert catalogue.item("food_business_licence").opening.type.value == "conditional"  # needs an application
    assert "food_business_licence" not in published
    assert all(catalogue.item(code).opening.type.value == "open" for code in published)


def test_personal_fields_and_lineage_are_left_out(registration: Item) -> None:
    table, scrubbed = opendata.open_table(registration, shared_rows())
    assert opendata.withheld_fields(registration) == ["legal_representative", "phone"]
    assert list(table.columns) == ["uscc", "entity_name", "entity_type", "registered_capital", "established_date",
                                   "region_code", "address", "postcode", "status", "updated_at"]
    assert scrubbed == 2
    assert table.loc[1, "address"] == "南宁市兴宁区朝阳路8号 联系人" + "*" * 11 + " 身份证" + "*" * 18


def test_scrub_leaves_numbers_that_are_not_identities_alone() -> None:
    not_an_id = make_uscc(9)  # 18 characters, but a credit code
    assert opendata.scrub(f"许可证号 {not_an_id} 注册资本 100 万元，电话 0771-5551234") == (
        f"许可证号 {not_an_id} 注册资本 100 万元，电话 0771-5551234", 0)
    assert opendata.scrub("邮箱 li.ming@example.cn") == ("邮箱 " + "*" * len("li.ming@example.cn"), 1)


def test_published_files_hold_no_personal_data(catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    rows = shared_rows()
    publication = opendata.publish(catalogue, registration, rows, tmp_path, NOW)
    known = opendata.personal_values(registration, rows)
    assert known == {*NAMES, "13877100001", "0771-5551234", "18977200002"}
    assert publication.rows == 3 and publication.scrubbed == 2
    for path in (publication.csv, publication.json):
        assert opendata.find_personal_data(path, known) == []
    assert pd.read_csv(publication.csv, encoding="utf-8-sig", dtype=str)["uscc"].tolist() == [
        make_uscc(n) for n in (1, 2, 3)]


def test_the_scan_finds_what_would_have_leaked(registration: Item, tmp_path: Path) -> None:
    rows = shared_rows()
    leaked = tmp_path / "leaked.csv"
    rows.to_csv(leaked, index=False, encoding="utf-8-sig")
    findings = opendata.find_personal_data(leaked, opendata.personal_values(registration, rows))
    assert sorted(f.kind for f in findings) == [
        "citizen_id", "known_personal_value", "known_personal_value", "known_personal_value",
        "known_personal_value", "known_personal_value", "known_personal_value", "mobile", "mobile", "mobile"]
    assert all(RESIDENT_ID not in str(f) and "韦建国" not in str(f) for f in findings)  # the report leaks nothing


OPEN = {"market_entity_registration", "water_quality_monitoring"}


def test_the_index_keeps_other_items_on_a_subset_run(catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    water = catalogue.item("water_quality_monitoring")
    opendata.write_index(tmp_path, [opendata.publish(catalogue, water, opendata.empty_rows(water), tmp_path, NOW)],
                         [], OPEN)
    index = opendata.read_index(tmp_path)
    assert sorted(index) == ["market_entity_registration", "water_quality_monitoring"]
    assert index["market_entity_registration"] == {
        "item": "market_entity_registration", "unit": "gx_amr", "rows": 3, "csv": "market_entity_registration.csv",
        "json": "market_entity_registration.json", "withheld": ["legal_representative", "phone"], "scrubbed": 2,
        "published_at": "2026-11-27T09:30:00"}
    water_entry = index["water_quality_monitoring"]
    assert water_entry["rows"] == 0 and water_entry["withheld"] == ["sampler"]


def test_open_files_are_listed_as_distributions_and_conform(catalogue: Catalogue, registration: Item,
                                                            tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    graph = directory.dcat_graph(directory.entries(catalogue), opened=opendata.read_index(tmp_path))
    dataset = URIRef(f"{directory.DEFAULT_BASE}dataset/market_entity_registration")
    downloads = sorted(str(graph.value(d, rdfns.DCAT.downloadURL))
                       for d in graph.objects(dataset, rdfns.DCAT.distribution)
                       if graph.value(d, rdfns.DCAT.downloadURL) is not None)
    assert downloads == [f"{directory.DEFAULT_BASE}open/market_entity_registration.csv",
                         f"{directory.DEFAULT_BASE}open/market_entity_registration.json"]
    result = directory.validate(graph)
    assert result.conforms, result.report


def test_an_item_no_longer_open_is_taken_down_and_left_out_of_the_directory(
        catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    index = opendata.read_index(tmp_path)
    opendata.write_index(tmp_path, [], [], {"water_quality_monitoring"})  # registration became conditional
    assert opendata.read_index(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]
    conditional = registration.model_copy(update={"opening": registration.opening.model_copy(
        update={"type": OpeningType.CONDITIONAL, "condition": "申请"})})
    entries = [directory.Entry(conditional, "市场监管局", None)]
    graph = directory.dcat_graph(entries, opened=index)  # a stale index must not list it either
    assert list(graph.subjects(rdfns.DCAT.downloadURL, None)) == []


def test_a_withdrawn_item_loses_its_files_and_its_entry(catalogue: Catalogue, registration: Item,
                                                         tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    opendata.write_index(tmp_path, [], ["market_entity_registration"], OPEN)
    assert opendata.read_index(tmp_path) == {}
    assert not (tmp_path / "market_entity_registration.csv").exists()


def test_a_citizen_id_is_found_whatever_region_it_names(tmp_path: Path) -> None:
    # 4604 is a division that exists only since 2015: stdnum rejects it for someone born in 1990
    stale_region = "46040019900101123" + ric.calc_check_digit("460400199001011230")
    unknown_region = "45019919850612123" + ric.calc_check_digit("450199198506121230")
    for number in (stale_region, unknown_region):
        assert opendata.scrub(f"申请人 {number} 已核实") == (f"申请人 {'*' * 18} 已核实", 1)
        leaked = tmp_path / "leaked.csv"
        leaked.write_text(f"id,remark\n1,{number}\n", encoding="utf-8")
        assert [f.kind for f in opendata.find_personal_data(leaked)] == ["citizen_id"]
    not_a_date = "45010319851341123" + ric.calc_check_digit("450103198513411230")  # month 13
    assert opendata.scrub(not_a_date) == (not_a_date, 0)


def test_credit_codes_and_division_codes_are_not_scrubbed(catalogue: Catalogue, registration: Item) -> None:
    rows = shared_rows()
    digits_only = make_ric(5)  # an all-digit code that happens to be shaped like a citizen ID
    assert opendata.scrub(digits_only) == ("*" * 18, 1)  # in free text it would be blotted out
    rows.loc[0, "uscc"] = digits_only
    table, _ = opendata.open_table(registration, rows)
    assert digits_only in table["uscc"].tolist()  # a field with a standard holds nothing but that standard
