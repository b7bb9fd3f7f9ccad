"""The quality loop on the mini catalogue: comparison with the authoritative item, masked metadata
and Data Docs, the correction round trip, blocking row-count rules and the regular inspection."""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pandas as pd
import pytest
import yaml

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.quality.corrections import row_history
from pipelines.summary import build_summary, render_text
from resources.platform import PlatformResource
from tests.conftest import make_ric, make_uscc
from tests.helpers import check_evaluations, materialize_all, open_store, write_csv
from tests.integration.test_pipeline_mini import HEADER, TODAY, enterprise_rows

LICENCE = {
    "code": "licence", "name": "许可证", "abstract": "许可证信息", "unit": "amr", "obtained": "duty",
    "level": "province", "region": "450000", "update_cycle": "monthly", "sharing": {"type": "unconditional"},
    "fields": [
        {"name": "licence_no", "label": "许可证号", "primary_key": True},
        {"name": "credit_code", "label": "统一社会信用代码",
         "references": {"item": "enterprise", "field": "credit_code"}},
        {"name": "holder_name", "label": "持证企业", "personal": True,
         "matches": {"item": "enterprise", "field": "name"}},
    ],
}


def edit_items(catalogue: Path, file: str, change) -> None:  # type: ignore[no-untyped-def]
    path = catalogue / "items" / file
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def ledger_counts(catalogue: Path, data: Path, item: str) -> list[tuple]:
    store = open_store(catalogue, data)
    try:
        return [(e["received"], e["valid"], e["held_back"], e["converged"]) for e in store.submissions(item)]
    finally:
        store.dispose()


def test_comparison_masking_and_data_docs(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    edit_items(mini_catalogue_dir, "amr.yaml", lambda d: d["items"].append(LICENCE))
    intake, data = tmp_path / "intake", tmp_path / "data"
    write_csv(intake / "amr" / "enterprise.csv", HEADER,
              [[make_uscc(i), f"企业{i}", "450103", "1", "存续", TODAY] for i in range(3)])
    write_csv(intake / "amr" / "licence.csv", ["licence_no", "credit_code", "holder_name"], [
        ["L1", make_uscc(0), "企业0"], ["L2", make_uscc(1), "别的公司"], ["L3", make_uscc(9), "查无此企"],
        ["L4", make_uscc(2), "企业2"]])
    bad_ric = make_ric(5)[:-1] + ("0" if make_ric(5)[-1] != "0" else "1")
    write_csv(intake / "nn_water" / "water_account.csv", ["account_no", "holder_id", "phone"], [
        ["W1", make_ric(1), "13807710001"], ["W2", bad_ric, "13807710002"], ["W3", make_ric(3), "1380771000"]])
    checks = check_evaluations(materialize_all(mini_catalogue_dir, intake, data))

    accuracy = checks["validated_licence_accuracy"]
    assert not accuracy.passed and accuracy.severity is dg.AssetCheckSeverity.ERROR
    assert (accuracy.metadata["rows_checked"].value, accuracy.metadata["rows_failed"].value) == (4, 1)
    assert accuracy.metadata["pass_rate"].value == 0.75
    assert f"row 2: {make_uscc(1)}: 别*** ≠ 企**" in accuracy.metadata["rules"].value
    assert "别的公司" not in accuracy.metadata["rules"].value
    integrity = checks["validated_licence_integrity"]  # the unknown key is measured here as a warning ...
    assert not integrity.passed and integrity.severity is dg.AssetCheckSeverity.WARN
    assert integrity.metadata["rows_failed"].value == 1
    # ... and held back by online verification (art. 14): L2 mismatches, L3 is not in the registry
    assert ledger_counts(mini_catalogue_dir, data, "licence") == [(4, 2, 2, 2)]

    water = checks["validated_water_account_accuracy"]
    assert water.metadata["rows_failed"].value == 2
    assert water.metadata["pass_rate"].value == pytest.approx(1 / 3, abs=1e-6)
    table = water.metadata["rules"].value
    assert bad_ric not in table and f"{bad_ric[:6]}********{bad_ric[-4:]}" in table
    assert "1380771000" not in table and "138***1000" in table
    docs = Path(urlparse(water.metadata["data_docs"].value).path)
    assert docs.is_file() and docs.is_relative_to(data / "data_docs")
    page = docs.read_text(encoding="utf-8")
    assert "expect_column_values_to_conform_to_standard" in page.replace("ExpectColumnValuesToConformToStandard",
                                                                        "expect_column_values_to_conform_to_standard")
    assert bad_ric not in page and make_ric(1) not in page
    assert "validations/water_account/" in (data / "data_docs" / "index.html").read_text(encoding="utf-8")


def _definitions(catalogue: Path, intake: Path, data: Path) -> dg.Definitions:
    resource = PlatformResource(catalogue_dir=str(catalogue), intake_dir=str(intake), data_dir=str(data))
    return build_definitions(load_catalogue(catalogue), resource, "sqlite")


def test_correction_round_trip(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    intake, data = tmp_path / "intake", tmp_path / "data"
    write_csv(intake / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    definitions = _definitions(mini_catalogue_dir, intake, data)
    with dg.DagsterInstance.ephemeral() as instance:
        job = definitions.resolve_job_def("converge_all")
        first = job.execute_in_process(instance=instance)
        [listing] = [m for m in first.get_asset_materialization_events()
                     if m.asset_key == dg.AssetKey(["corrections", "amr"])]
        assert listing.materialization.metadata["rows_to_correct"].value == 6
        sheet = pd.read_excel(data / "corrections" / "amr.xlsx", sheet_name="enterprise", dtype=str)
        assert list(sheet["row_no"]) == ["15", "16", "17", "18", "19", "20"]
        assert sheet["reasons"].str.startswith("required:name").tolist().count(True) == 1

        # The unit fixes four rows (one for the duplicated key) and resubmits them; the row with the
        # wrong credit code cannot be matched by its key and stays open.
        with (data / "corrections" / "amr" / "enterprise.csv").open(encoding="utf-8-sig") as handle:
            rows = {r["row_no"]: r for r in csv.DictReader(handle)}
        fixed = [dict(rows["16"], name="补上名称"), rows["17"], dict(rows["19"], status="存续"),
                 dict(rows["20"], capital="5")]
        write_csv(intake / "amr" / "enterprise__correction-1.csv", HEADER, [[r[c] for c in HEADER] for r in fixed])
        second = job.execute_in_process(instance=instance)
        [listing] = [m for m in second.get_asset_materialization_events()
                     if m.asset_key == dg.AssetKey(["corrections", "amr"])]
        assert listing.materialization.metadata["rows_to_correct"].value == 1
        # a quiet cycle (nothing new for any item) still refreshes every unit's list: a skipped validated
        # output used to skip the list of its whole unit
        third = job.execute_in_process(instance=instance)
        listed = {m.asset_key.path[1]: m.materialization.metadata["rows_to_correct"].value
                  for m in third.get_asset_materialization_events() if m.asset_key.path[0] == "corrections"}
        assert listed == {"amr": 1, "nn_water": 0}

    assert ledger_counts(mini_catalogue_dir, data, "enterprise") == [(20, 14, 6, 14), (4, 4, 0, 4)]
    store = open_store(mini_catalogue_dir, data)
    item = store.catalogue.item("enterprise")
    assert store.count_rows(item) == 18
    held = store.held_rows("enterprise")
    released = {h["row_no"] for h in held if h["released_by"]}
    assert released == {16, 17, 18, 19, 20}
    assert {h["released_by"] for h in held if h["released_by"]} == {store.submissions("enterprise")[1]["submission_id"]}
    history = row_history(store, item, {"credit_code": make_uscc(101)})
    assert [(h["source"], h["outcome"]) for h in history] == [("enterprise.csv", "held"),
                                                             ("enterprise__correction-1.csv", "converged")]
    assert history[0]["reasons"].startswith("required:name")
    assert len(pd.read_csv(data / "corrections" / "amr" / "enterprise.csv", dtype=str)) == 1
    store.dispose()


def test_blocking_row_counts_and_the_daily_inspection(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    def policy(document: dict) -> None:
        document["items"][0]["quality"] = {"min_rows": 10, "max_row_change": 0.5}

    edit_items(mini_catalogue_dir, "amr.yaml", policy)
    intake, data = tmp_path / "intake", tmp_path / "data"
    good = [[make_uscc(i), f"企业{i}", "450103", "1", "存续", TODAY] for i in range(12)]
    write_csv(intake / "amr" / "enterprise.csv", HEADER, good)
    definitions = _definitions(mini_catalogue_dir, intake, data)
    with dg.DagsterInstance.ephemeral() as instance:
        definitions.resolve_job_def("converge_all").execute_in_process(instance=instance)
        # 5 rows: under the declared minimum and 58% fewer than the previous 12: blocked, nothing converges.
        write_csv(intake / "amr" / "enterprise__june.csv", HEADER,
                  [[make_uscc(50 + i), f"新{i}", "450103", "1", "存续", TODAY] for i in range(5)])
        blocked = definitions.resolve_job_def("converge_all").execute_in_process(instance=instance)
        integrity = check_evaluations(blocked)["validated_enterprise_integrity"]
        assert not integrity.passed and integrity.severity is dg.AssetCheckSeverity.ERROR
        assert "`row_count`" in integrity.metadata["rules"].value and "`row_change`" in integrity.metadata[
            "rules"].value
        inspection = definitions.resolve_job_def("inspection_daily").execute_in_process(instance=instance)

    assert ledger_counts(mini_catalogue_dir, data, "enterprise") == [(12, 12, 0, 12), (5, 0, 5, 0)]
    checks = check_evaluations(inspection)
    assert {name: c.passed for name, c in checks.items()} == {
        "inspection_enterprise_accuracy": True, "inspection_enterprise_timeliness": True,
        "inspection_enterprise_integrity": True,  # 12 rows within the bounds; 17 received = 12 + 5 held back
        "inspection_enterprise_availability": True,
        # No submission yet: its (empty) table is there, but the item is late for its quarterly cycle.
        "inspection_water_account_accuracy": True, "inspection_water_account_timeliness": False,
        "inspection_water_account_integrity": True, "inspection_water_account_availability": True,
    }
    assert checks["inspection_water_account_timeliness"].severity is dg.AssetCheckSeverity.WARN
    assert checks["inspection_enterprise_accuracy"].metadata["rows_checked"].value == 12
    [summary] = [m.materialization for m in inspection.get_asset_materialization_events()]
    table = summary.metadata["summary"].value
    assert "| 南宁市自来水公司 (`nn_water`) | timeliness | 1 | 0 | 1 |" in table
    assert "| 省市场监督管理局 (`amr`) | integrity | 4 | 3 | 1 |" in table  # the blocked submission
    assert summary.metadata["pass_rate_accuracy"].value == 1.0
    # enterprise: 6 pipeline checks + 4 inspection checks; water_account: 4 inspection checks.
    assert (summary.metadata["checks"].value, summary.metadata["checks_failed"].value) == (14, 2)
    store = open_store(mini_catalogue_dir, data)
    text = render_text(build_summary(store.catalogue, store))  # what `python -m pipelines summary` prints
    store.dispose()
    assert "nn_water         timeliness         1      0      1   100.00%  water_account" in text
