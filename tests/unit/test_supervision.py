"""Supervision lists (art. 12, 13): temporary collections and repeated-collection overlaps."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from pipelines.supervision import repeated_collection_report, temporary_collections, undeclared_overlaps
from tests.conftest import MINI, REPO

GOVERNED = REPO / "tests" / "fixtures" / "governed"


def test_temporary_collections_are_listed_with_their_status() -> None:
    listed = temporary_collections(load_catalogue(GOVERNED), date(2099, 12, 1))
    assert [(t["item"], t["status"], t["days_left"], t["approver"]) for t in listed] == [
        ("epidemic_visit", "expired", 0, "省政务数据管理局"),
        ("flood_relief", "active", 30, "省政务数据管理局"),
    ]
    assert listed[0]["reason"] == "突发公共卫生事件应急处置" and listed[0]["expires"] == "2020-03-31"


def test_a_catalogue_without_temporary_collections_lists_none() -> None:
    assert temporary_collections(load_catalogue(MINI), date(2026, 1, 1)) == []


def test_temporary_collections_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["temporary-collections", str(GOVERNED), "--as-of", "2026-06-01", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["item"], t["status"]) for t in listed] == [("epidemic_visit", "expired"), ("flood_relief", "active")]
    assert main(["temporary-collections", str(GOVERNED), "--as-of", "2026-06-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "expired" in lines[1] and "突发公共卫生事件应急处置" in lines[1]


def test_repeated_collection_report_lists_overlaps_across_units() -> None:
    flagged = [{"item": "licence", "unit": "health", "submission_id": "licence/x.csv/abc", "field": "enterprise_name",
                "source": "enterprise.name", "rows": 2, "flagged_at": "2026-01-01T00:00:00"}]
    report = repeated_collection_report(load_catalogue(GOVERNED), flagged)
    assert report["elements"] == [
        {"element": "enterprise_key", "name": "统一社会信用代码", "source": "enterprise.credit_code", "users": [
            {"item": "enterprise", "unit": "amr", "field": "credit_code", "how": "authoritative source"},
            {"item": "licence", "unit": "health", "field": "credit_code", "how": "references the authoritative key"},
        ]},
        {"element": "enterprise_name", "name": "企业名称", "source": "enterprise.name", "users": [
            {"item": "enterprise", "unit": "amr", "field": "name", "how": "authoritative source"},
            {"item": "licence", "unit": "health", "field": "enterprise_name", "how": "looked up through sharing"},
        ]},
    ]
    # the legal person's name is collected by two units with no element declared; the water items are one
    # resource at three levels (maps_to), so their shared fields are no overlap
    assert report["undeclared"] == [{"label": "法定代表人", "collected_by": [
        {"item": "enterprise", "unit": "amr", "field": "legal_person"},
        {"item": "licence", "unit": "health", "field": "legal_person"},
    ]}]
    assert report["flagged_submissions"] == flagged


def test_repeated_collection_cli_reads_the_flag_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.sharing import CarriedLookup, record_carried
    from pipelines.store import Store
    from resources.platform import resolve_store_url

    catalogue = load_catalogue(GOVERNED)
    store = Store(resolve_store_url("", str(tmp_path)), catalogue)
    store.ensure_tables([])
    record_carried(store, catalogue.item("licence"), "licence/a.csv/1",
                   [CarriedLookup("enterprise_name", "enterprise.name", 3)], datetime(2026, 11, 1, tzinfo=UTC))
    store.dispose()
    assert main(["repeated-collection", str(GOVERNED), "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  health/licence.enterprise_name: looked up through sharing" in out
    assert "  法定代表人: amr/enterprise.legal_person, health/licence.legal_person" in out
    assert "  health/licence/a.csv/1: enterprise_name (3 value(s)), source enterprise.name" in out


def test_dates_statuses_and_numbers_shared_by_label_are_not_overlaps() -> None:
    demo = load_catalogue(REPO / "catalogue" / "demo")
    labels = [o["label"] for o in undeclared_overlaps(demo)]
    # 更新日期, 登记状态, 建筑面积 ... are shared by many items but describe each item's own records
    assert labels == ["户籍地行政区划代码", "法定代表人", "联系电话"]
