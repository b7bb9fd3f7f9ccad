"""The quality loop on the mini catalogue: comparison with the authoritative item, masked metadata
and Data Docs, the correction round trip, blocking row-count rules and the regular inspection."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from assets.quality import inspection_job
from expectations.docs import remote_assets
from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.quality.corrections import row_history
from pipelines.summary import build_summary, render_text
from resources.platform import PlatformResource
from tests.conftest import make_ric, make_uscc
from tests.helpers import (
    PlatformStores,
    check_evaluations,
    dimension,
    materialize_all,
    open_store,
    rules,
    rules_text,
    run_pipeline,
    write_csv,
)
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
        return [(e["received"], e["valid"], e["held_back"], e["converged"]) for e in store.ledger.submissions(item)]
    finally:
        store.dispose()


def test_comparison_masking_and_data_docs(tmp_path: Path, mini_catalogue_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDATA_DOCS_URL", "https://docs.gov.example/platform")  # production: its own server
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

    licence = checks["validated_licence"]
    assert not licence.passed and licence.severity is dg.AssetCheckSeverity.ERROR
    accuracy = dimension(licence, "accuracy")
    assert (accuracy["passed"], accuracy["rows_checked"], accuracy["rows_failed"]) == (False, 4, 1)
    assert accuracy["pass_rate"] == 0.75 and licence.metadata["accuracy_pass_rate"].value == 0.75
    assert f"row 2: {make_uscc(1)}: 别*** ≠ 企**" in rules_text(licence)
    assert "别的公司" not in rules_text(licence)
    integrity = dimension(licence, "integrity")  # the unknown key is measured here as a warning ...
    assert not integrity["passed"] and integrity["rows_failed"] == 1
    assert {r["severity"] for r in rules(licence, "integrity").values() if r["result"] == "❌ fail"} == {"warning"}
    # ... and held back by online verification (art. 14): L2 mismatches, L3 is not in the registry
    assert ledger_counts(mini_catalogue_dir, data, "licence") == [(4, 2, 2, 2)]

    water = checks["validated_water_account"]
    assert dimension(water, "accuracy")["rows_failed"] == 2
    assert dimension(water, "accuracy")["pass_rate"] == pytest.approx(1 / 3, abs=1e-6)
    table = rules_text(water)
    assert bad_ric not in table and f"{bad_ric[:6]}********{bad_ric[-4:]}" in table
    assert "1380771000" not in table and "138***1000" in table
    docs = Path(water.metadata["data_docs_path"].value)
    assert docs.is_file() and docs.is_relative_to(data / "data_docs")
    # the link is the page on the docs web server (GOVDATA_DOCS_URL)
    assert water.metadata["data_docs"].value == (
        f"https://docs.gov.example/platform/data_docs/{docs.relative_to(data / 'data_docs').as_posix()}")
    page = docs.read_text(encoding="utf-8")
    assert remote_assets(page) == []  # styled from the site's static/, which is there
    assert (data / "data_docs" / "static" / "vendor" / "bootstrap" / "css" / "bootstrap.min.css").is_file()
    # one expectation checks every row rule (GX evaluates them in one pass), its failing rows shown masked
    assert "expect_rows_to_satisfy_contract" in page.replace("ExpectRowsToSatisfyContract",
                                                             "expect_rows_to_satisfy_contract")
    assert f"{bad_ric[:6]}********{bad_ric[-4:]}" in page
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
        first = run_pipeline(definitions, instance)
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
        second = run_pipeline(definitions, instance)
        [listing] = [m for m in second.get_asset_materialization_events()
                     if m.asset_key == dg.AssetKey(["corrections", "amr"])]
        assert listing.materialization.metadata["rows_to_correct"].value == 1
        # a quiet cycle (nothing new for any item) still refreshes every unit's list: a skipped validated
        # output used to skip the list of its whole unit
        third = run_pipeline(definitions, instance)
        listed = {m.asset_key.path[1]: m.materialization.metadata["rows_to_correct"].value
                  for m in third.get_asset_materialization_events() if m.asset_key.path[0] == "corrections"}
        assert listed == {"amr": 1, "nn_water": 0}

    assert ledger_counts(mini_catalogue_dir, data, "enterprise") == [(20, 14, 6, 14), (4, 4, 0, 4)]
    store = open_store(mini_catalogue_dir, data)
    item = store.catalogue.item("enterprise")
    assert store.shared.count_rows(item) == 18
    held = store.quarantine.held_rows("enterprise")
    released = {h["row_no"] for h in held if h["released_by"]}
    assert released == {16, 17, 18, 19, 20}
    fix = store.ledger.submissions("enterprise")[1]["submission_id"]
    assert {h["released_by"] for h in held if h["released_by"]} == {fix}
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
        run_pipeline(definitions, instance)
        # 5 rows: under the declared minimum and 58% fewer than the previous 12: blocked, nothing converges.
        write_csv(intake / "amr" / "enterprise__june.csv", HEADER,
                  [[make_uscc(50 + i), f"新{i}", "450103", "1", "存续", TODAY] for i in range(5)])
        blocked = run_pipeline(definitions, instance)
        validated = check_evaluations(blocked)["validated_enterprise"]
        assert not validated.passed and validated.severity is dg.AssetCheckSeverity.ERROR
        assert not dimension(validated, "integrity")["passed"]
        assert {"row_count", "row_change"} <= {r for r, row in rules(validated, "integrity").items()
                                                if row["result"] == "❌ fail"}
        inspection = inspection_job(definitions).execute_in_process(instance=instance)

    assert ledger_counts(mini_catalogue_dir, data, "enterprise") == [(12, 12, 0, 12), (5, 0, 5, 0)]
    checks = check_evaluations(inspection)
    dims = ("accuracy", "timeliness", "integrity", "availability")
    assert {name: {d: dimension(c, d)["passed"] for d in dims} for name, c in checks.items()} == {
        # 12 rows within the bounds; 17 received = 12 + 5 held back
        "shared_enterprise": dict.fromkeys(dims, True),
        # No submission yet: its (empty) table is there, but the item is late for its quarterly cycle.
        "shared_water_account": {**dict.fromkeys(dims, True), "timeliness": False},
    }
    assert checks["shared_water_account"].severity is dg.AssetCheckSeverity.WARN
    assert checks["shared_enterprise"].metadata["stage"].value == "inspection"
    assert dimension(checks["shared_enterprise"], "accuracy")["rows_checked"] == 12
    [summary] = [m.materialization for m in inspection.get_asset_materialization_events()]
    table = summary.metadata["summary"].value
    assert "| 南宁市自来水公司 (`nn_water`) | timeliness | 1 | 0 | 1 |" in table
    assert "| 省市场监督管理局 (`amr`) | integrity | 4 | 3 | 1 |" in table  # the blocked submission
    assert summary.metadata["pass_rate_accuracy"].value == 1.0
    # enterprise: 6 pipeline checks + 4 inspection checks; water_account: 4 inspection checks.
    assert (summary.metadata["checks"].value, summary.metadata["checks_failed"].value) == (14, 2)
    stores = PlatformStores(mini_catalogue_dir, data)  # the province's and nn_water's city platform's
    text = render_text(build_summary(stores.catalogue, *stores.stores.values()))  # what `pipelines summary` prints
    stores.dispose()
    assert "nn_water         timeliness         1      0      1      100.00%  water_account" in text
