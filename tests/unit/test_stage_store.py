"""Stage data in the shared store (SQLite here, PostgreSQL in tests/postgres): chunks of Arrow text columns whose
reads agree with pandas reading the same rows as one CSV file (the way the stage was read when it held CSV), and
whose text for COPY the csv module reads as the same rows."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import intake
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.outputs import CSV_LINE_END
from pipelines.store import Store
from pipelines.store.stage import StageMissing, StageStore, _csv_frame
from tests.conftest import MINI, make_uscc


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    shared = Store(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    shared.ensure_tables([])
    yield shared
    shared.dispose()


def _frame(text: str, item: Item, columns: Sequence[str] | None) -> pd.DataFrame:
    """The stage's reader of CSV chunks (what it held before Arrow): of ``columns``, or every catalogued one."""
    return _csv_frame(text, list(columns) if columns is not None else list(item.field_names))


def _stage(store: Store, chunk_rows: int) -> StageStore:
    return replace(store.stage, chunk_rows=chunk_rows)


def _awkward_frame(n: int) -> pd.DataFrame:
    """Values that trip CSV writers and readers: commas, quotes, newlines, padding, Chinese, empties."""
    names = [f'企业{i}, "有限"\n公司' if i % 3 == 0 else f"  企业{i}  " for i in range(n)]
    return pd.DataFrame({
        "credit_code": [make_uscc(i) for i in range(n)], "name": names,
        "region": ["450103"] * n, "capital": [None if i % 4 == 0 else f"{i}.5" for i in range(n)],
        "status": ["" if i % 5 == 0 else "存续" for i in range(n)], "updated_at": ["2026-10-01"] * n,
    }, dtype=object)


def _as_one_file(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator=CSV_LINE_END)


def test_chunks_read_back_as_the_stage_file_did(store: Store) -> None:
    item = store.catalogue.item("enterprise")
    # What the pipeline writes: the intake's canonical frame (commas, quotes and newlines inside values).
    frame = intake.normalise(_awkward_frame(11), item)
    stage = _stage(store, chunk_rows=4)
    assert stage.write("enterprise/a.csv/1", "intake", frame) == 11
    # The oracle: the same rows through one CSV file read back by pandas, empty text as null.
    oracle = pd.read_csv(io.StringIO(_as_one_file(frame)), dtype=str, keep_default_na=False).astype(object)
    oracle = oracle.where(oracle != "", None)
    pd.testing.assert_frame_equal(stage.read("enterprise/a.csv/1", "intake", item), oracle)
    pd.testing.assert_frame_equal(stage.read("enterprise/a.csv/1", "intake", item), frame)  # read = written
    with store.engine.connect() as conn:
        chunks = conn.execute(store.tables.stage.select().order_by(store.tables.stage.c.chunk_no)).all()
    assert [(c.chunk_no, c.rows) for c in chunks] == [(0, 4), (1, 4), (2, 3)]
    assert stage.rows("enterprise/a.csv/1", "intake") == 11


def _csv_rows(text: str) -> list[list[str]]:
    """The csv module's reading of a text (the oracle of what COPY and the SQLite load are given)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def _written_rows(frame: pd.DataFrame) -> list[list[str]]:
    """The header, then each row's cells, a missing one as the empty text: what the stage gives COPY."""
    return [list(frame.columns), *([cell if isinstance(cell, str) else "" for cell in row]
                                   for row in frame.itertuples(index=False))]


def test_the_text_stream_is_one_csv_with_one_header(store: Store) -> None:
    frame = _awkward_frame(10)
    stage = _stage(store, chunk_rows=3)
    stage.write("s", "valid", frame)
    whole = stage.open_text("s", "valid").read()
    assert _csv_rows(whole) == _written_rows(frame)  # four chunks, one header
    small_reads = stage.open_text("s", "valid")  # COPY reads a few kilobytes at a time, across chunk seams
    assert "".join(iter(lambda: small_reads.read(7), "")) == whole
    stream = stage.open_text("s", "valid")
    assert stream.header() == list(frame.columns)
    assert _csv_rows(stream.read()) == _written_rows(frame)[1:]


def test_key_columns_read_as_they_were_held_back(store: Store) -> None:
    item = store.catalogue.item("enterprise")
    raw = _awkward_frame(5)
    raw.loc[2, "credit_code"] = f"  {make_uscc(2)} "
    frame = intake.normalise(raw, item)  # the stage holds canonical text: the key the quarantine holds
    stage = _stage(store, chunk_rows=2)
    stage.write("s", "valid", frame)
    keys = stage.read("s", "valid", item, columns=item.primary_key)
    assert list(keys.columns) == ["credit_code"]
    assert list(keys["credit_code"]) == [make_uscc(i) for i in range(5)]


def test_an_empty_submission_keeps_its_columns(store: Store) -> None:
    item = store.catalogue.item("enterprise")
    empty = _awkward_frame(0)
    store.stage.write("s", "valid", empty)
    read = store.stage.read("s", "valid", item)
    assert (len(read), list(read.columns)) == (0, list(item.field_names))
    assert _csv_rows(store.stage.open_text("s", "valid").read()) == [list(empty.columns)]


def test_a_rewrite_replaces_and_delete_removes_every_kind(store: Store) -> None:
    item = store.catalogue.item("enterprise")
    stage = _stage(store, chunk_rows=2)
    stage.write("s", "intake", _awkward_frame(5))
    stage.write("s", "intake", _awkward_frame(3))  # a retried intake step: the old chunks go
    stage.write("s", "valid", _awkward_frame(2))
    stage.write("other", "valid", _awkward_frame(1))
    assert len(stage.read("s", "intake", item)) == 3
    assert stage.delete("s") == 3  # two intake chunks, one valid chunk
    for kind in ("intake", "valid"):
        with pytest.raises(StageMissing, match=f"no {kind} stage data for s"):
            stage.read("s", kind, item)
    assert stage.rows("other", "valid") == 1


# Cells that trip CSV readers: delimiters, quotes, both line ends, a NUL, spaces alone, Chinese, the empty text.
CELLS = st.one_of(st.none(), st.text(alphabet='a,"\r\n \x00企\u3000\x0b', max_size=6))


def _pandas_oracle(text: str, columns: list[str]) -> pd.DataFrame:
    """How the stage was read before: pandas' reader over the CSV, empty text and absent columns as None."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, usecols=lambda c: c in columns,
                        engine="python" if "\x00" in text else "c")
    frame = frame.reindex(columns=columns).astype(object)
    return frame.where(frame.notna() & (frame != ""), None).reset_index(drop=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(CELLS, CELLS), max_size=5), wide=st.booleans(), asked=st.sampled_from(
    [None, ["credit_code"], ["name", "credit_code"]]))
def test_a_stage_chunk_reads_as_pandas_read_it(cells: list[tuple[str | None, str | None]], wide: bool,
                                               asked: list[str] | None) -> None:
    """The stage's own reader against pandas' reading of the same chunk text: the same frame, cell for cell,
    whatever the cells hold (a single column too: its empty cells are a line of their own)."""
    item = load_catalogue(MINI).item("enterprise")
    frame = pd.DataFrame(cells, columns=["credit_code", "name"], dtype=object)
    if not wide:
        frame = frame[["name"]]
    text = _as_one_file(frame)
    columns = list(asked) if asked is not None else list(item.field_names)
    pd.testing.assert_frame_equal(_frame(text, item, asked), _pandas_oracle(text, columns))
    # what was written comes back, a cell's carriage return too: unless a single column's cell of spaces made a
    # blank line, or the text has none of the columns asked (pandas reads no row)
    if wide and set(columns) & set(frame.columns):
        expected = frame.reindex(columns=columns).astype(object)
        expected = expected.where(expected.notna() & (expected != ""), None)
        pd.testing.assert_frame_equal(_frame(text, item, asked), expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(CELLS, CELLS), min_size=1, max_size=5), asked=st.sampled_from(
    [["credit_code", "name"], ["name"], ["name", "status"]]))
def test_a_large_chunk_reads_as_pandas_read_it(cells: list[tuple[str | None, str | None]],
                                               asked: list[str]) -> None:
    """The reader of chunks from SMALL_CHUNK characters on (pandas', its empty text read as missing by the reader
    itself) against the earlier reading: the same frame, cell for cell, empty text quoted or not, "NA" a text."""
    from pipelines.store.stage import _pandas_frame

    frame = pd.DataFrame([*cells, ("NA", '""'), ("", "null")], columns=["credit_code", "name"], dtype=object)
    text = _as_one_file(frame).replace("\r\n,", '\r\n"",', 1)  # a quoted empty cell too
    pd.testing.assert_frame_equal(_pandas_frame(text, asked), _pandas_oracle(text, asked))


def _pandas_csv(frame: pd.DataFrame) -> str:
    """The stage's writer when it held CSV: pandas' to_csv."""
    return frame.to_csv(index=False, lineterminator=CSV_LINE_END)


_stage_cells = st.one_of(st.none(), st.just(float("nan")), st.just(pd.NA), st.sampled_from(["", '"', ",", "\r", "\n",
                                                                                           "\r\n", " ", "'=x"]),
                         st.text(max_size=6))


# the store is reused across examples: each write replaces what the last one wrote
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(columns=st.lists(st.lists(_stage_cells, min_size=0, max_size=5), min_size=1, max_size=4),
       names=st.lists(st.sampled_from(["credit_code", "name", "region", "status", "x"]), min_size=4, max_size=4),
       other=st.sampled_from([None, 1, 2.5, True]))
def test_a_chunk_reads_back_as_its_csv_did(store: Store, columns: list[list[object]], names: list[str],
                                           other: object) -> None:
    """Whatever a frame holds (any text, missing cells of every kind, a number, a repeated name, a single
    column), the stage reads back what was written: each asked column's cells (of a repeated name the first
    column; a column not written all missing), a missing cell None, a number as pandas wrote it. That is what
    pandas read of the CSV the stage held before Arrow, cell for cell, wherever that reading kept every row (it
    lost the row of a single column's cell of spaces, and every row of a chunk holding none of the columns
    asked). Its text for COPY is, to the csv module, the rows read."""
    item = store.catalogue.item("enterprise")
    rows = min(len(c) for c in columns)
    frame = pd.DataFrame(dict(enumerate(pd.Series(cells[:rows], dtype=object) for cells in columns)))
    frame.columns = names[:frame.shape[1]]
    if other is not None and rows:
        frame.iloc[0, 0] = other
    store.stage.write("s", "intake", frame)
    for asked in (None, item.primary_key):
        read = store.stage.read("s", "intake", item, columns=asked)
        pd.testing.assert_frame_equal(read, _as_written(frame, list(asked or item.field_names)))
        before = _frame(_pandas_csv(frame), item, asked)
        if len(before) == len(frame):
            pd.testing.assert_frame_equal(read, before)
    each_name = _as_written(frame, list(dict.fromkeys(frame.columns)))
    assert _csv_rows(store.stage.open_text("s", "intake").read()) == _written_rows(each_name)


def _written_cell(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value) or value == "":
        return None
    return value if isinstance(value, str) else str(value)  # 1, 2.5, True: as pandas' to_csv wrote them


def _as_written(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The oracle: each of ``columns`` as written, its cells texts or None."""
    first = {name: n for n, name in reversed(list(enumerate(frame.columns)))}
    return pd.DataFrame({name: pd.Series([_written_cell(v) for v in frame.iloc[:, first[name]]] if name in first
                                         else [None] * len(frame), dtype=object) for name in columns})


def test_a_large_chunk_is_stored_compressed_and_reads_back_whole(store: Store) -> None:
    """Chunks from a megabyte of text on are zstd-compressed (a 100-row one is not: zstd's fixed cost is more
    than the bytes it saves); either way the rows come back as written."""
    item = store.catalogue.item("enterprise")
    small, large = (intake.normalise(_awkward_frame(n), item) for n in (100, 30_000))
    stored = {}
    for name, frame in (("small", small), ("large", large)):
        store.stage.write(name, "intake", frame)
        pd.testing.assert_frame_equal(store.stage.read(name, "intake", item), _as_written(frame, list(frame.columns)))
        with store.engine.connect() as conn:
            stored[name] = conn.execute(store.tables.stage.select().where(
                store.tables.stage.c.submission_id == name)).one().data
    text_bytes = {name: len(_pandas_csv(frame).encode()) for name, frame in (("small", small), ("large", large))}
    assert len(stored["large"]) < text_bytes["large"] / 2  # compressed: its columns repeat (27% here)
    assert len(stored["small"]) > text_bytes["small"]  # as it is: Arrow's offsets beside the texts


def test_a_chunk_written_before_arrow_still_reads(store: Store) -> None:
    """A platform upgraded with submissions in flight: their chunks, zlib-compressed CSV, read as they did."""
    item = store.catalogue.item("enterprise")
    frame = intake.normalise(_awkward_frame(6), item)
    old = zlib.compress(_pandas_csv(frame).encode("utf-8"), 1)
    with store.engine.begin() as conn:
        conn.execute(store.tables.stage.insert().values(submission_id="s", kind="valid", chunk_no=0, rows=6, data=old))
    pd.testing.assert_frame_equal(store.stage.read("s", "valid", item), _frame(_pandas_csv(frame), item, None))
    assert _csv_rows(store.stage.open_text("s", "valid").read()) == _written_rows(frame)


def test_a_helper_thread_only_where_there_is_more_than_one_chunk(store: Store,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread costs about 0.4 ms of CPU; a 100-row submission, most of a province's, has nothing to overlap."""
    import pipelines.store.stage as stage_module

    helped: list[int] = []
    real = stage_module.read_ahead

    def counting(source):  # type: ignore[no-untyped-def]
        helped.append(1)
        return real(source)

    monkeypatch.setattr(stage_module, "read_ahead", counting)
    stage = _stage(store, 4)
    item = store.catalogue.item("enterprise")
    small, large = _awkward_frame(4), _awkward_frame(9)

    def used(action) -> int:  # type: ignore[no-untyped-def]
        helped.clear()
        action()
        return len(helped)

    assert used(lambda: stage.write("a", "intake", small)) == 0
    assert used(lambda: stage.write("b", "intake", [small])) == 0
    assert used(lambda: stage.write("c", "intake", large)) == 1
    assert used(lambda: stage.write("d", "intake", iter([small, small]))) == 1  # an iterable: maybe several
    assert used(lambda: stage.read("a", "intake", item)) == 0
    assert used(lambda: list(stage.read_chunks("a", "intake", item))) == 0
    assert used(lambda: stage.open_text("a", "intake").read()) == 0
    assert used(lambda: pd.testing.assert_frame_equal(stage.read("c", "intake", item), _frame(
        stage.open_text("c", "intake").read(), item, None))) == 2
