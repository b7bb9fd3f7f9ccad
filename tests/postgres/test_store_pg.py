"""The shared store on PostgreSQL: DDL from the catalogue, COPY merge idempotence, all-or-nothing loads."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa

import pipelines.store.postgres as pg
from tests.postgres.pgutil import NOW, enterprise_frame, rows, scalar, store_on

pytestmark = pytest.mark.postgres


def test_tables_carry_types_keys_not_null_and_chinese_comments(pg_database: str) -> None:
    store_on(pg_database).dispose()
    columns = rows(pg_database, """
        select column_name, data_type, is_nullable from information_schema.columns
        where table_schema = 'shared_province' and table_name = 'enterprise' order by ordinal_position""")
    assert columns == [
        ("credit_code", "text", "NO"), ("name", "text", "NO"), ("region", "text", "NO"),
        ("capital", "numeric", "YES"), ("status", "text", "YES"), ("updated_at", "date", "NO"),
        ("_source_unit", "character varying", "NO"), ("_submission_id", "character varying", "NO"),
        ("_converged_at", "timestamp with time zone", "NO"),
    ]
    comments = dict(rows(pg_database, """
        select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a
        where a.attrelid = 'shared_province.enterprise'::regclass and a.attnum > 0"""))
    assert comments["credit_code"] == "统一社会信用代码" and comments["updated_at"] == "更新日期"
    assert scalar(pg_database, "select obj_description('shared_province.enterprise'::regclass)") == \
        "企业登记信息: 全省企业设立登记的基本信息"
    key = rows(pg_database, """
        select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = 'shared_province.enterprise'::regclass and i.indisprimary""")
    assert key == [("credit_code",)]
    schemas = rows(pg_database, "select nspname from pg_namespace where nspname in "
                                "('shared_province', 'shared_city', 'platform') order by 1")
    assert schemas == [("platform",), ("shared_city",), ("shared_province",)]
    assert scalar(pg_database, "select to_regclass('shared_city.water_account')::text") == "shared_city.water_account"


def test_merge_is_idempotent_and_updates_by_key(pg_database: str) -> None:
    store = store_on(pg_database)
    item = store.catalogue.item("enterprise")
    assert store.shared.upsert(item, enterprise_frame(50), "amr", "s1", NOW) == 50
    first = store.shared.read_table(item)
    assert store.shared.upsert(item, enterprise_frame(50), "amr", "s1", NOW) == 50
    pd.testing.assert_frame_equal(first, store.shared.read_table(item))
    assert store.shared.upsert(item, enterprise_frame(20, start=40, name="新"), "amr", "s2", NOW) == 20
    table = store.shared.read_table(item).set_index("name")
    assert len(table) == 60
    assert table.loc["新45", "_submission_id"] == "s2" and table.loc["企业39", "_submission_id"] == "s1"
    assert float(table.loc["新45", "capital"]) == 45.5
    store.dispose()


def test_stage_text_goes_straight_to_copy_with_the_same_result(pg_database: str) -> None:
    store = store_on(pg_database)
    item = store.catalogue.item("enterprise")
    frame = enterprise_frame(30)
    frame.loc[3, "status"] = None  # empty in the stage text -> NULL in the store
    frame.loc[5, "name"], frame.loc[6, "name"] = "企业\r5", "企业\r\n6"  # a cell's line ends stay in its row
    stage = replace(store.stage, chunk_rows=7)  # five chunks: COPY reads across their seams
    stage.write("s1", "valid", frame)
    assert store.shared.upsert_stage(item, stage.open_text("s1", "valid"), "amr", "s1", NOW) == 30
    via_stage = store.shared.read_table(item)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("truncate shared_province.enterprise")
    assert store.shared.upsert(item, frame, "amr", "s1", NOW) == 30
    pd.testing.assert_frame_equal(via_stage, store.shared.read_table(item))
    assert via_stage["status"].isna().sum() == 1
    assert {"企业\r5", "企业\r\n6"} <= set(via_stage["name"])
    assert str(via_stage.loc[0, "updated_at"]) == "2026-10-01"
    store.dispose()


def test_stage_chunks_live_in_the_platform_schema_and_a_rewrite_is_one_transaction(
        pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipelines.store.stage as stage_module

    store = store_on(pg_database)
    stage = replace(store.stage, chunk_rows=4)
    stage.write("s1", "intake", enterprise_frame(10))
    assert rows(pg_database, "select chunk_no, rows from platform.platform_stage order by chunk_no") == [
        (0, 4), (1, 4), (2, 2)]
    calls = iter(range(100))
    real = stage_module._encoded

    def die_on_third_chunk(part: pd.DataFrame) -> bytes:
        if next(calls) == 2:
            raise ConnectionError("injected: the writer died after two chunks")
        return real(part)

    monkeypatch.setattr(stage_module, "_encoded", die_on_third_chunk)
    with pytest.raises(ConnectionError):
        stage.write("s1", "intake", enterprise_frame(10, name="新"))  # deletes, writes two chunks, dies
    monkeypatch.undo()
    assert list(stage.read("s1", "intake", store.catalogue.item("enterprise"))["name"]) == [
        f"企业{i}" for i in range(10)]  # the old rows, whole
    store.dispose()


STAGE_COMPRESSION_SQL = ("select attcompression from pg_attribute "
                         "where attrelid = 'platform.platform_stage'::regclass and attname = 'data'")
STORED_COMPRESSION_SQL = "select distinct pg_column_compression(data) from platform.platform_stage"


def test_stage_chunks_are_lz4_compressed_in_a_new_store_and_in_one_made_before(pg_database: str) -> None:
    """pg_attribute says how the column compresses from now on; pg_column_compression how each stored value was."""
    store = store_on(pg_database)
    assert scalar(pg_database, STAGE_COMPRESSION_SQL) == "l"
    store.stage.write("s1", "intake", enterprise_frame(300))
    assert rows(pg_database, STORED_COMPRESSION_SQL) == [("lz4",)]
    store.dispose()
    made_before = sa.create_engine(pg_database)
    with made_before.begin() as conn:  # as a store made before this release has it: the server's default
        conn.exec_driver_sql("alter table platform.platform_stage alter column data set compression default")
    made_before.dispose()
    assert scalar(pg_database, STAGE_COMPRESSION_SQL) == ""
    again = store_on(pg_database)
    assert scalar(pg_database, STAGE_COMPRESSION_SQL) == "l"
    assert list(again.stage.read("s1", "intake", again.catalogue.item("enterprise"))["name"]) == [
        f"企业{i}" for i in range(300)]
    again.dispose()


def test_a_server_refusing_the_compression_keeps_its_default_and_the_tables_are_made(
        pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own refusal (here of a method it does not know), in the savepoint: the store is still made."""
    monkeypatch.setattr(pg, "STAGE_COMPRESSION", "nosuchmethod")
    store = store_on(pg_database)
    assert scalar(pg_database, STAGE_COMPRESSION_SQL) == ""
    store.stage.write("s1", "intake", enterprise_frame(3))
    assert len(store.stage.read("s1", "intake", store.catalogue.item("enterprise"))) == 3
    store.dispose()


def test_each_convergence_writes_one_audit_row_in_the_same_transaction(pg_database: str) -> None:
    store = store_on(pg_database)
    item = store.catalogue.item("enterprise")
    store.shared.upsert(item, enterprise_frame(7), "amr", "s1", NOW)
    audit = rows(pg_database, "select action, actor, unit, item, detail from platform.audit_log")
    assert audit == [("converge", "platform", "amr", "enterprise", '{"submission_id": "s1", "rows": 7}')]
    store.dispose()


def _snapshot(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "select * from shared_province.enterprise order by credit_code")


def test_failure_after_merge_before_commit_leaves_the_store_unchanged(pg_database: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_on(pg_database)
    item = store.catalogue.item("enterprise")
    store.shared.upsert(item, enterprise_frame(10), "amr", "s1", NOW)
    before = _snapshot(pg_database)
    real_merge = pg._merge

    def merge_then_die(*args: Any, **kwargs: Any) -> int:
        real_merge(*args, **kwargs)  # the rows are merged inside the transaction ...
        raise ConnectionError("injected: the loader died before COMMIT")  # ... and never committed

    monkeypatch.setattr(pg, "_merge", merge_then_die)
    with pytest.raises(ConnectionError):
        store.shared.upsert(item, enterprise_frame(30, start=5, name="改"), "amr", "s2", NOW)
    assert _snapshot(pg_database) == before
    assert scalar(pg_database, "select count(*) from platform.audit_log") == 1
    assert scalar(pg_database, "select count(*) from pg_stat_activity where state = 'idle in transaction' "
                               "and datname = current_database()") == 0
    store.dispose()


def test_bad_row_in_the_middle_rolls_the_whole_load_back(pg_database: str) -> None:
    store = store_on(pg_database)
    item = store.catalogue.item("enterprise")
    store.shared.upsert(item, enterprise_frame(10), "amr", "s1", NOW)
    before = _snapshot(pg_database)
    bad_value = enterprise_frame(40, start=5, name="改")
    bad_value.loc[20, "capital"] = "not-a-number"  # passes COPY into text, fails the typed merge
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
        store.shared.upsert(item, bad_value, "amr", "s2", NOW)
    assert _snapshot(pg_database) == before
    lines = enterprise_frame(40, start=5, name="改").to_csv(index=False).splitlines()
    lines[21] = lines[21].rsplit(",", 2)[0]  # a short row in the middle of the text: COPY itself fails
    with pytest.raises(psycopg2.errors.BadCopyFileFormat):
        store.shared.upsert_stage(item, io.StringIO("\n".join(lines) + "\n"), "amr", "s3", NOW)
    assert _snapshot(pg_database) == before
    assert scalar(pg_database, "select count(*) from platform.audit_log") == 1
    store.dispose()


def test_types_convert_like_the_python_path(pg_database: str) -> None:
    from pipelines.catalogue.models import FieldType, ItemField
    from tests.postgres.pgutil import mini, with_fields

    catalogue = with_fields(mini(), "water_account", [
        ItemField(name="account_no", label="户号", primary_key=True),
        ItemField(name="active", label="是否有效", type=FieldType.BOOLEAN),
        ItemField(name="opened", label="开户日期", type=FieldType.DATE),
        ItemField(name="seen", label="抄表时间", type=FieldType.DATETIME),
        ItemField(name="meters", label="表数", type=FieldType.INTEGER),
    ])
    store = store_on(pg_database, catalogue)
    item = catalogue.item("water_account")
    frame = pd.DataFrame([["W1", "是", "2026-01-02", "2026-01-02T03:04:05", "+3"],
                          ["W2", "false", "2026-01-03 00:00:00", "2026-01-02 03:04:05", "007"],
                          ["W3", "", None, None, None]], columns=list(item.field_names), dtype=object)
    store.shared.upsert(item, frame, "nn_water", "s1", NOW)
    got = rows(pg_database, "select account_no, active, opened::text, seen::text, meters "
                            "from shared_city.water_account order by 1")
    assert got == [("W1", True, "2026-01-02", "2026-01-02 03:04:05", 3),
                   ("W2", False, "2026-01-03", "2026-01-02 03:04:05", 7),
                   ("W3", None, None, None, None)]
    store.dispose()
