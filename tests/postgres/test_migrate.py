"""Catalogue changes against live tables: additive applied, destructive refused naming item, column and change."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.catalogue.models import FieldType, ItemField
from pipelines.store import Store
from pipelines.store.migrate import MigrationRefused
from tests.postgres.pgutil import NOW, enterprise_frame, mini, rows, scalar, store_on, with_fields

ENTERPRISE = list(mini().item("enterprise").fields)


def _loaded(url: str) -> None:
    store = store_on(url)
    store.shared.upsert(store.catalogue.item("enterprise"), enterprise_frame(3), "amr", "s1", NOW)
    store.dispose()


def _relabelled(fields: list[ItemField], name: str, label: str) -> list[ItemField]:
    return [f.model_copy(update={"label": label}) if f.name == name else f for f in fields]


def test_new_nullable_column_and_new_comment_are_applied(pg_database: str) -> None:
    _loaded(pg_database)
    fields = [*_relabelled(ENTERPRISE, "name", "企业名称（全称）"),
              ItemField(name="legal_person", label="法定代表人")]
    store = Store(pg_database, with_fields(mini(), "enterprise", fields))
    plan = store.migrate()
    assert sorted((c.column, c.kind) for c in plan.changes) == [("legal_person", "add_column"), ("name", "comment")]
    assert not plan.destructive
    assert rows(pg_database, "select column_name, is_nullable from information_schema.columns where "
                             "table_name = 'enterprise' and column_name = 'legal_person'") == [("legal_person", "YES")]
    name_comment = "select col_description('shared_province.enterprise'::regclass, 2)"
    assert scalar(pg_database, name_comment) == "企业名称（全称）"
    assert scalar(pg_database, "select count(*) from shared_province.enterprise") == 3
    assert store.migrate(dry_run=True).changes == []  # applied once, nothing left
    store.dispose()


@pytest.mark.parametrize(("change", "fields", "expected"), [
    ("dropped column", [f for f in ENTERPRISE if f.name != "capital"],
     "enterprise.capital: drop column: the column is no longer catalogued -- REFUSED (destructive)"),
    ("type change", [f.model_copy(update={"type": FieldType.INTEGER}) if f.name == "capital" else f
                     for f in ENTERPRISE],
     "enterprise.capital: type: NUMERIC(24, 6) -> BIGINT -- REFUSED (destructive)"),
    ("primary key change", [f.model_copy(update={"primary_key": f.name in ("credit_code", "region")})
                            for f in ENTERPRISE],
     "enterprise.credit_code, region: primary key: (credit_code) -> (credit_code, region) -- REFUSED (destructive)"),
    ("new NOT NULL column", [*ENTERPRISE, ItemField(name="legal_person", label="法定代表人", required=True)],
     "enterprise.legal_person: add not null: new NOT NULL column TEXT on a table that has rows -- REFUSED"),
])
def test_destructive_changes_are_refused_whole(pg_database: str, change: str, fields: list[ItemField],
                                               expected: str) -> None:
    _loaded(pg_database)
    before = rows(pg_database, "select column_name, data_type, is_nullable from information_schema.columns "
                               "where table_name = 'enterprise' order by ordinal_position")
    catalogue = with_fields(mini(), "enterprise", [*_relabelled(fields, "name", "新标签")])
    store = Store(pg_database, catalogue)
    with pytest.raises(MigrationRefused) as refused:
        store.migrate()
    assert expected in str(refused.value), change
    assert "nothing was applied" in str(refused.value)
    with pytest.raises(MigrationRefused):
        store.ensure_tables()  # convergence goes through ensure_tables: refused there too
    after = rows(pg_database, "select column_name, data_type, is_nullable from information_schema.columns "
                              "where table_name = 'enterprise' order by ordinal_position")
    assert after == before
    assert scalar(pg_database, "select col_description('shared_province.enterprise'::regclass, 2)") == "企业名称"
    store.dispose()


def test_new_not_null_column_on_an_empty_table_is_applied(pg_database: str) -> None:
    store_on(pg_database).dispose()
    fields = [*ENTERPRISE, ItemField(name="legal_person", label="法定代表人", required=True)]
    store = Store(pg_database, with_fields(mini(), "enterprise", fields))
    assert [c.kind for c in store.migrate().changes] == ["add_column"]
    assert rows(pg_database, "select is_nullable from information_schema.columns where "
                             "column_name = 'legal_person'") == [("NO",)]
    store.dispose()


def test_sqlite_store_migrates_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, mini())
    store.ensure_tables()
    store.shared.upsert(store.catalogue.item("enterprise"), enterprise_frame(2), "amr", "s1", NOW)
    store.dispose()
    grown = Store(url, with_fields(mini(), "enterprise", [*ENTERPRISE, ItemField(name="note", label="备注")]))
    assert [(c.column, c.kind) for c in grown.migrate().changes] == [("note", "add_column")]
    assert "note" in grown.shared.column_names(grown.catalogue.item("enterprise"))
    grown.dispose()
    shrunk = Store(url, with_fields(mini(), "enterprise", [f for f in ENTERPRISE if f.name != "status"]))
    with pytest.raises(MigrationRefused, match=r"enterprise\.status: drop column"):
        shrunk.ensure_tables()
    shrunk.dispose()


def test_cli_migrate_dry_run_then_apply(pg_database: str, tmp_path: Path, mini_catalogue_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main

    _loaded(pg_database)
    items = mini_catalogue_dir / "items" / "amr.yaml"
    items.write_text(items.read_text(encoding="utf-8").replace(
        "      - {name: updated_at", "      - {name: remark, label: 备注}\n      - {name: updated_at"),
        encoding="utf-8")
    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(mini_catalogue_dir))
    monkeypatch.setenv("GOVDATA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVDATA_STORE_URL", pg_database)
    assert main(["migrate", "--dry-run"]) == 0
    assert "enterprise.remark: add column: new nullable column TEXT" in capsys.readouterr().out
    assert scalar(pg_database, "select count(*) from information_schema.columns where column_name = 'remark'") == 0
    assert main(["migrate"]) == 0
    assert scalar(pg_database, "select count(*) from information_schema.columns where column_name = 'remark'") == 1
    items.write_text(items.read_text(encoding="utf-8").replace("      - {name: remark, label: 备注}\n", "")
                     .replace("      - {name: status, label: 登记状态, values: [存续, 注销, 吊销]}\n", ""),
                     encoding="utf-8")
    assert main(["migrate"]) == 3
    assert "enterprise.remark: drop column" in capsys.readouterr().err
