"""COPY's binary format (pipelines.store.postgres), checked against the driver's own encoding: what the binary COPY
writes, a plain SELECT reads back as the same values; what an INSERT with parameters wrote, the binary COPY reads
back as the same bytes. The stage's chunks travel this way on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipelines.store.postgres as pg
from pipelines.store.stage import StageMissing
from tests.postgres.pgutil import enterprise_frame, store_on

pytestmark = pytest.mark.postgres

TABLE = sa.Table("binary_copy", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("label", sa.Text), sa.Column("n", sa.Integer), sa.Column("data", sa.LargeBinary))
COLUMNS = ("id", "label", "n", "data")
# text as PostgreSQL stores it: any character but NUL, which text cannot hold
TEXTS = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
SID = "单位/o'neil\\s1"  # a stage submission's id, quoted into the COPY by the driver
ROWS = st.lists(st.tuples(st.none() | TEXTS, st.none() | st.integers(-2**31, 2**31 - 1),
                          st.none() | st.binary(max_size=3000)), max_size=12)


@pytest.fixture
def engine(pg_database: str) -> Iterator[sa.Engine]:
    made = sa.create_engine(pg_database)
    TABLE.metadata.create_all(made)
    yield made
    made.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS)
def test_what_the_binary_copy_writes_a_select_reads_back(engine: sa.Engine,
                                                         values: list[tuple[str | None, int | None, bytes | None]]
                                                         ) -> None:
    rows = [(i, *row) for i, row in enumerate(values)]
    with engine.begin() as conn:
        conn.execute(TABLE.delete())
        pg.copy_binary_in(conn, TABLE, COLUMNS, rows)
    with engine.connect() as conn:
        stored = [(r.id, r.label, r.n, None if r.data is None else bytes(r.data))
                  for r in conn.execute(sa.select(TABLE).order_by(TABLE.c.id))]
    assert stored == rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200_000))
def test_what_an_insert_wrote_the_binary_copy_reads_back(engine: sa.Engine, data: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(TABLE.delete())
        conn.execute(TABLE.insert().values(id=1, label="一", n=1, data=data))
    with engine.connect() as conn:
        read = pg.copy_binary_value(conn, sa.select(TABLE.c.data).where(TABLE.c.id == 1))
    assert read == data


def test_no_row_reads_as_none_and_a_null_or_a_second_column_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(TABLE.insert().values(id=1, label=None, n=None, data=None))
    with engine.connect() as conn:
        assert pg.copy_binary_value(conn, sa.select(TABLE.c.data).where(TABLE.c.id == 2)) is None
        with pytest.raises(ValueError, match="a null where a value was asked for"):
            pg.copy_binary_value(conn, sa.select(TABLE.c.data).where(TABLE.c.id == 1))
        with pytest.raises(ValueError, match="a row of 2 fields"):
            pg.copy_binary_value(conn, sa.select(TABLE.c.data, TABLE.c.n).where(TABLE.c.id == 1))


def test_a_value_with_no_binary_form_is_refused_before_anything_is_sent(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(TypeError, match="no binary COPY form for float"):
            pg.copy_binary_in(conn, TABLE, COLUMNS, [(1, "a", 1, b"x"), (2, "b", 2.5, b"y")])
        assert conn.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar_one() == 0


def test_the_stage_chunks_on_postgresql_are_the_bytes_the_store_packed(pg_database: str) -> None:
    """The stage's own rows, read back by a plain SELECT: the chunk bytes ``pack`` made, in order, with their
    counts (the submission's id quoted into the COPY by the driver: a quote and a backslash in it); a chunk deleted
    after its number was read is missing by name."""
    store = store_on(pg_database)
    stage = replace(store.stage, chunk_rows=4)
    frame = enterprise_frame(10, name="新企业")
    packed = stage.pack(frame)
    stage.write(SID, "intake", packed)
    with store.engine.connect() as conn:
        stored = [(r.chunk_no, r.rows, bytes(r.data)) for r in conn.execute(
            sa.select(stage.table).where(stage.table.c.submission_id == SID).order_by(stage.table.c.chunk_no))]
    assert stored == [(n, p.rows, p.data) for n, p in enumerate(packed)]
    item = store.catalogue.item("enterprise")
    assert list(stage.read(SID, "intake", item)["name"]) == [f"新企业{i}" for i in range(10)]
    chunks = stage.read_chunks(SID, "intake", item)
    next(chunks)  # the numbers are read, and the next chunk fetched beside this one (or not yet)
    stage.delete(SID)
    with pytest.raises(StageMissing, match=re.escape(f"no intake stage data for {SID} (chunk ") + "[12]"):
        list(chunks)
    store.dispose()
