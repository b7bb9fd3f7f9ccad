"""A load into a shared table that holds no row is a plain INSERT (postgres._insert_into_empty); whatever path it
takes, what it writes, counts and refuses is what the INSERT .. ON CONFLICT merge writes, counts and refuses."""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipelines.store.postgres as pg
from pipelines.store import Store
from pipelines.store.postgres import Written
from tests.conftest import make_uscc
from tests.postgres.pgutil import NOW, enterprise_frame, rows, store_on

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_database: str):  # type: ignore[no-untyped-def]
    store = store_on(pg_database)
    yield store
    store.dispose()


def _table(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "select credit_code, name, _submission_id from shared_province.enterprise order by 1")


def _frame(keys: list[int], name: str) -> pd.DataFrame:
    return pd.concat([enterprise_frame(1, start=k, name=name) for k in keys], ignore_index=True)


def test_a_load_into_an_empty_table_runs_no_on_conflict_merge(pg_store: Store, pg_database: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    item = pg_store.catalogue.item("enterprise")

    def no_merge(merge: Any) -> Any:
        raise AssertionError("the INSERT .. ON CONFLICT merge ran")

    monkeypatch.setattr(pg, "counted_merge", no_merge)
    assert pg_store.shared.converge(item, enterprise_frame(30), "amr", "s1", NOW) == Written(30, 0)
    assert len(_table(pg_database)) == 30
    with pytest.raises(AssertionError, match="ON CONFLICT merge ran"):  # a table holding rows is merged into
        pg_store.shared.converge(item, enterprise_frame(5, start=100), "amr", "s2", NOW)


def test_a_key_twice_in_a_load_into_an_empty_table_fails_as_the_merge_fails(pg_store: Store,
                                                                            pg_database: str) -> None:
    item = pg_store.catalogue.item("enterprise")
    with pytest.raises(psycopg2.errors.CardinalityViolation):  # what ON CONFLICT DO UPDATE says of it
        pg_store.shared.converge(item, _frame([1, 2, 3, 2], "企业"), "amr", "s1", NOW)
    assert _table(pg_database) == []
    assert rows(pg_database, "select count(*) from platform.audit_log") == [(0,)]


def test_a_key_another_writer_commits_after_the_emptiness_check_is_updated(pg_store: Store, pg_database: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    item = pg_store.catalogue.item("enterprise")
    real = pg._holds_no_row

    def rival_commits_after_the_check(cursor: Any, table: Any) -> bool:
        empty = real(cursor, table)
        rival = sa.create_engine(pg_database)
        with rival.begin() as conn:  # another connection: committed before this load's INSERT
            conn.exec_driver_sql("insert into shared_province.enterprise values "
                                 f"('{make_uscc(2)}', '对手', '450103', 1, '存续', '2026-10-01', 'x', 'rival', now())")
        rival.dispose()
        return empty

    monkeypatch.setattr(pg, "_holds_no_row", rival_commits_after_the_check)
    assert pg_store.shared.converge(item, _frame([1, 2, 3], "企业"), "amr", "s1", NOW) == Written(2, 1)
    assert _table(pg_database) == [(make_uscc(k), f"企业{k}", "s1") for k in (1, 2, 3)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=st.sets(st.integers(0, 9), max_size=6), loaded=st.lists(st.integers(0, 9), max_size=8))
def test_written_and_counted_as_a_model_of_the_merge_says(pg_store: Store, pg_database: str, held: set[int],
                                                          loaded: list[int]) -> None:
    """The oracle is a model of INSERT .. ON CONFLICT DO UPDATE in Python: a key twice in the load refuses the
    whole load; otherwise a new key is inserted, a held one updated, and every other row left as it was."""
    item = pg_store.catalogue.item("enterprise")
    with pg_store.engine.begin() as conn:
        conn.exec_driver_sql("truncate shared_province.enterprise")
    if held:
        pg_store.shared.converge(item, _frame(sorted(held), "旧"), "amr", "s0", NOW)
    before = _table(pg_database)
    if len(set(loaded)) < len(loaded):
        with pytest.raises(psycopg2.errors.CardinalityViolation):
            pg_store.shared.converge(item, _frame(loaded, "新"), "amr", "s1", NOW)
        assert _table(pg_database) == before
        return
    written = pg_store.shared.converge(item, _frame(loaded, "新"), "amr", "s1", NOW) if loaded else Written(0, 0)
    assert written == Written(len(set(loaded) - held), len(set(loaded) & held))
    model = {make_uscc(k): (f"旧{k}", "s0") for k in held} | {make_uscc(k): (f"新{k}", "s1") for k in loaded}
    assert _table(pg_database) == sorted((key, *value) for key, value in model.items())


def test_the_load_sorts_in_the_work_memory_it_raises_for_its_own_transaction(pg_store: Store,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge's key order sorts in memory: work_mem is raised for the load's transaction (SET LOCAL) and is the
    session's own again after it; a session set higher keeps its setting."""
    item = pg_store.catalogue.item("enterprise")
    seen: list[str] = []
    real = pg._merge

    def merge_seeing_work_mem(cursor: Any, *args: Any) -> Written:
        cursor.execute("SHOW work_mem")
        seen.append(cursor.fetchone()[0])
        return real(cursor, *args)

    monkeypatch.setattr(pg, "_merge", merge_seeing_work_mem)
    with pg_store.engine.connect() as conn:
        default = conn.exec_driver_sql("SHOW work_mem").scalar_one()
        conn.commit()
        with conn.begin():
            pg.copy_merge(conn, pg_store.shared.table(item), item, _csv(enterprise_frame(3)),
                          list(enterprise_frame(3).columns), pg_lineage())
        after = conn.exec_driver_sql("SHOW work_mem").scalar_one()
        conn.exec_driver_sql("SET work_mem = '1GB'")  # the session's, beyond its transaction
        conn.commit()
        with conn.begin():
            pg.copy_merge(conn, pg_store.shared.table(item), item, _csv(enterprise_frame(3, start=10)),
                          list(enterprise_frame(3).columns), pg_lineage())
    assert seen == [pg.MERGE_WORK_MEM, "1GB"] and after == default and default != pg.MERGE_WORK_MEM


def _csv(frame: pd.DataFrame) -> Any:
    import io

    return io.StringIO(frame.to_csv(index=False, header=False, lineterminator="\r\n"))


def pg_lineage() -> dict[str, Any]:
    from pipelines.store.schema import lineage_values

    return lineage_values("amr", "s-work-mem", NOW)
