"""The asset graph on a two-unit catalogue, with submissions built row by row so every count is known."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import yaml

from tests.conftest import make_ric, make_uscc
from tests.helpers import check_evaluations, materialize_all, open_store, rules, write_csv

HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]
TODAY = date.today().isoformat()
OLD = (date.today() - timedelta(days=400)).isoformat()


def enterprise_rows() -> list[list[str]]:
    """20 rows: 14 valid (2 of them stale), 6 held back for one known reason each."""
    rows = [[make_uscc(i), f"企业{i}", "450103", "1000", "存续", TODAY] for i in range(14)]
    rows[0][5] = rows[1][5] = OLD  # stale: warned, still converged
    bad_check_digit = make_uscc(100)[:-1] + ("0" if make_uscc(100)[-1] != "0" else "1")
    rows += [
        [bad_check_digit, "坏校验位", "450103", "1", "存续", TODAY],
        [make_uscc(101), "", "450103", "1", "存续", TODAY],  # missing required name
        [make_uscc(102), "重复一", "450103", "1", "存续", TODAY],
        [make_uscc(102), "重复二", "450103", "1", "存续", TODAY],  # duplicate key: both held back
        [make_uscc(103), "不在值集", "450103", "1", "歇业", TODAY],
        [make_uscc(104), "超出范围", "450103", "-5", "存续", TODAY],
    ]
    return rows


@pytest.fixture
def workspace(tmp_path: Path, mini_catalogue_dir: Path) -> dict[str, Path]:
    paths = {"catalogue": mini_catalogue_dir, "intake": tmp_path / "intake", "data": tmp_path / "data"}
    write_csv(paths["intake"] / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    return paths


def _ledger(paths: dict[str, Path]) -> list[dict]:
    store = open_store(paths["catalogue"], paths["data"])
    try:
        return store.ledger.submissions()
    finally:
        store.dispose()


def test_exact_counts_converged_and_held_back(workspace: dict[str, Path]) -> None:
    result = materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    assert result.success
    [entry] = _ledger(workspace)
    assert (entry["received"], entry["valid"], entry["held_back"], entry["converged"], entry["stale"]) == (
        20, 14, 6, 14, 2)
    store = open_store(workspace["catalogue"], workspace["data"])
    item = store.catalogue.item("enterprise")
    assert store.shared.count_rows(item) == 14
    reasons = {row["row_no"]: row["reasons"] for row in store.quarantine.held_rows("enterprise")}
    assert sorted(reasons) == [15, 16, 17, 18, 19, 20]
    assert reasons[15].startswith("standard:credit_code")
    assert reasons[16].startswith("required:name")
    assert reasons[17].startswith("unique_key") and reasons[18].startswith("unique_key")
    assert reasons[19].startswith("value_set:status")
    assert reasons[20].startswith("range:capital")
    lineage = store.shared.read_table(item)[["_source_unit", "_submission_id"]].drop_duplicates()
    assert lineage.values.tolist() == [["amr", entry["submission_id"]]]
    store.dispose()


def test_the_shared_table_materializes_with_its_column_schema(workspace: dict[str, Path]) -> None:
    """The UI shows the newest materialization's schema as the table's columns (not on 5,000 definitions)."""
    result = materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    [shared] = [e.materialization for e in result.get_asset_materialization_events()
                if e.materialization.asset_key == dg.AssetKey(["shared", "amr", "enterprise"])]
    schema = shared.metadata["dagster/column_schema"].value
    assert [(c.name, c.type) for c in schema.columns] == [
        ("credit_code", "string"), ("name", "string"), ("region", "string"), ("capital", "decimal"),
        ("status", "string"), ("updated_at", "date")]
    assert (schema.columns[0].description, schema.columns[0].constraints.unique) == ("统一社会信用代码 (uscc)", True)
    assert not schema.columns[1].constraints.nullable


def test_checks_report_each_dimension(workspace: dict[str, Path]) -> None:
    result = materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    checks = check_evaluations(result)
    assert "intake_enterprise" not in checks  # the intake's outcome is metadata of its materialization
    intake = _intake(result)
    assert intake.metadata["stage"].value == "intake" and intake.metadata["integrity_passed"].value
    assert intake.metadata["integrity_pass_rate"].value == 1.0  # a number the UI plots over time
    assert {r: (row["result"], row["checked"]) for r, row in rules(intake).items()} == {
        "submissions_taken_in": ("✅ pass", 1)}
    validated = checks["validated_enterprise"]
    assert not validated.passed and validated.severity is dg.AssetCheckSeverity.ERROR
    figures = {d: (validated.metadata[f"{d}_passed"].value, validated.metadata[f"{d}_pass_rate"].value)
               for d in ("accuracy", "integrity", "timeliness")}
    assert figures == {"accuracy": (False, pytest.approx(17 / 20)), "integrity": (False, pytest.approx(17 / 20)),
                       "timeliness": (False, pytest.approx(18 / 20))}  # the two stale rows
    dimensions = {r.data["dimension"]: r.data for r in validated.metadata["dimensions"].records}
    assert (dimensions["accuracy"]["rows_checked"], dimensions["accuracy"]["rows_failed"]) == (20, 3)
    table = rules(validated)
    assert table["standard:credit_code"]["result"] == "❌ fail" and table["standard:credit_code"]["unexpected"] == 1
    shared = checks["shared_enterprise"]
    assert shared.passed and shared.metadata["availability_passed"].value and shared.metadata["integrity_passed"].value


def test_rerunning_the_same_submission_changes_nothing(workspace: dict[str, Path]) -> None:
    materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    archived = workspace["intake"] / "amr" / "_archive" / "enterprise.csv"
    store = open_store(workspace["catalogue"], workspace["data"])
    before = store.shared.read_table(store.catalogue.item("enterprise"))
    shutil.copy(archived, workspace["intake"] / "amr" / "enterprise.csv")
    materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    after = store.shared.read_table(store.catalogue.item("enterprise"))
    pd.testing.assert_frame_equal(before, after)
    assert len(_ledger(workspace)) == 1
    assert len(store.quarantine.held_rows()) == 6
    store.dispose()


def test_uncatalogued_column_sets_the_whole_submission_aside(workspace: dict[str, Path]) -> None:
    rows = [[make_uscc(500 + i), f"企业{i}", "450103", "1", "存续", TODAY, "备注"] for i in range(5)]
    write_csv(workspace["intake"] / "amr" / "enterprise__extra.csv", [*HEADER, "remark"], rows)
    materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    rejected = workspace["intake"] / "amr" / "_rejected"
    assert (rejected / "enterprise__extra.csv").exists()
    reason = (rejected / "enterprise__extra.csv.reason.txt").read_text(encoding="utf-8")
    assert "uncatalogued column(s) remark" in reason and "art. 12" in reason
    refused = [e for e in _ledger(workspace) if e["status"] == "rejected"]
    assert [(e["received"], e["held_back"], e["converged"]) for e in refused] == [(5, 5, 0)]
    store = open_store(workspace["catalogue"], workspace["data"])
    assert store.shared.count_rows(store.catalogue.item("enterprise")) == 14  # only the good file's rows
    store.dispose()


def test_unparseable_file_and_uncatalogued_item_are_refused(workspace: dict[str, Path]) -> None:
    (workspace["intake"] / "amr" / "enterprise__broken.xlsx").write_bytes(b"not a workbook")
    write_csv(workspace["intake"] / "amr" / "secret_list.csv", ["a"], [["1"]])
    result = materialize_all(workspace["catalogue"], workspace["intake"], workspace["data"])
    assert result.success
    rejected = workspace["intake"] / "amr" / "_rejected"
    assert "cannot be parsed as XLSX" in (rejected / "enterprise__broken.xlsx.reason.txt").read_text()
    assert "not in the catalogue" in (rejected / "secret_list.csv.reason.txt").read_text()
    statuses = sorted((e["source"], e["status"]) for e in _ledger(workspace))
    assert statuses == [("enterprise.csv", "converged"), ("enterprise__broken.xlsx", "rejected"),
                        ("secret_list.csv", "rejected")]
    assert not _intake(result).metadata["integrity_passed"].value


def _intake(result: dg.ExecuteInProcessResult) -> Any:
    """The enterprise item's intake materialization, which carries the intake's outcome."""
    key = dg.AssetKey(["intake", "amr", "enterprise_intake"])
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization


def test_gbk_labels_bom_json_and_xlsx_are_read(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    intake, data = tmp_path / "intake", tmp_path / "data"
    labels = ["统一社会信用代码", "企业名称", "行政区划", "注册资本", "登记状态", "更新日期"]
    write_csv(intake / "amr" / "enterprise__gbk.csv", labels,
              [[make_uscc(1), "南宁甲公司", "450103", "10", "存续", TODAY]], encoding="gbk")
    write_csv(intake / "amr" / "enterprise__bom.csv", HEADER,
              [[make_uscc(2), "柳州乙公司", "450103", "10", "存续", TODAY]], encoding="utf-8-sig")
    (intake / "amr" / "enterprise__api.json").write_text(json.dumps(
        [dict(zip(HEADER, [make_uscc(3), "桂林丙公司", "450103", 10, "存续", TODAY], strict=True))],
        ensure_ascii=False), encoding="utf-8")
    pd.DataFrame([[make_uscc(4), "丁公司", "450103", "10", "存续", TODAY]], columns=HEADER).to_excel(
        intake / "amr" / "enterprise__sheet.xlsx", index=False)
    materialize_all(mini_catalogue_dir, intake, data)
    store = open_store(mini_catalogue_dir, data)
    names = sorted(store.shared.read_table(store.catalogue.item("enterprise"))["name"])
    assert names == ["丁公司", "南宁甲公司", "柳州乙公司", "桂林丙公司"]
    store.dispose()


def test_database_pull_through_sqlalchemy(tmp_path: Path, mini_catalogue_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "water_business.db"
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table accounts (account_no text, holder_id text, phone text, floor integer)"))
        conn.execute(sa.text("insert into accounts values (:a, :h, :p, :f)"), [
            {"a": "W1", "h": make_ric(1), "p": "13807710001", "f": 3},
            {"a": "W2", "h": make_ric(2), "p": None, "f": None},  # NULLs stay NULL, not "None"
            {"a": "W3", "h": "123", "p": "13807710003", "f": 5},
        ])
    engine.dispose()
    items = mini_catalogue_dir / "items" / "nn_water.yaml"
    document = yaml.safe_load(items.read_text(encoding="utf-8"))
    document["items"][0]["collection"] = {"method": "database", "url_env": "NN_WATER_DB",
                                          "query": "select account_no, holder_id, phone, floor from accounts"}
    document["items"][0]["fields"].append({"name": "floor", "label": "楼层", "type": "integer"})
    items.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("NN_WATER_DB", f"sqlite:///{source}")
    materialize_all(mini_catalogue_dir, tmp_path / "intake", tmp_path / "data")
    store = open_store(mini_catalogue_dir, tmp_path / "data", platform="city_450100")  # nn_water's platform
    [entry] = store.ledger.submissions("water_account")
    assert (entry["received"], entry["converged"], entry["held_back"]) == (3, 2, 1)
    assert entry["source"] == "db:NN_WATER_DB"
    table = store.shared.read_table(store.catalogue.item("water_account")).set_index("account_no")
    assert table.loc["W1", "floor"] == 3 and pd.isna(table.loc["W2", "floor"]) and pd.isna(table.loc["W2", "phone"])
    store.dispose()
