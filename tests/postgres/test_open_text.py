"""Publishing from PostgreSQL's own text (pipelines.opendata_text) writes exactly the files of the frame path it
replaces (pd.read_sql, pandas' writers): the same CSV bytes, the same JSON bytes, the same findings and counts,
on awkward rows (quotes, line ends, tabs, backslashes and COPY's own NULL mark in text, formula-like cells,
personal data in free text, decimals and integers at the edges of a float, missing values) and any chunk size."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import opendata, opendata_text
from pipelines.catalogue.models import Catalogue, FieldType, ItemField, Opening, OpeningType, Standard
from pipelines.store import Store
from tests.conftest import make_ric
from tests.postgres.pgutil import NOW, mini, with_item

CODE = "water_account"
copied_tables = opendata_text.copied_tables
HOLDERS = ["张伟", "欧阳娜娜"]
AWKWARD = ["", "\\N", "\\", "\\\\N", '"', '""', ",", "\r", "\n", "\r\n", "\t", "/", "</x>", "=1+1", "'=x", "''+y",
           "-", "-5", "@", "a@b.cn 联系", "电话13812345678", f"身份证{make_ric(7)}", HOLDERS[1], "\x1e", "\x1f",
           "\u2028", "\U0001f600", " 空格 ", "{", "}"]
FIELDS = [
    ItemField(name="k", label="键", primary_key=True, standard=Standard.POSTCODE),
    ItemField(name="note", label="备注"),  # free text: scrubbed
    ItemField(name="code", label="代码", standard=Standard.ADCODE),  # text, not scrubbed
    ItemField(name="amount", label="金额", type=FieldType.DECIMAL),
    ItemField(name="count", label="数量", type=FieldType.INTEGER),
    ItemField(name="day", label="日期", type=FieldType.DATE),
    ItemField(name="holder", label="户主", personal=True),
]


def _catalogue() -> Catalogue:
    base = mini()
    item = base.item(CODE).model_copy(update={"fields": tuple(FIELDS), "opening": Opening(type=OpeningType.OPEN)})
    return with_item(base, item)


@pytest.fixture
def store(pg_database: str) -> Iterator[Store]:
    store = Store(pg_database, _catalogue())
    store.ensure_tables([store.catalogue.item(CODE)])
    yield store
    store.dispose()


def _replace_rows(store: Store, rows: list[dict[str, Any]]) -> None:
    table = store.shared.table(store.catalogue.item(CODE))
    with store.engine.begin() as conn:
        conn.execute(table.delete())
        if rows:
            conn.execute(table.insert(), [{**r, "_source_unit": "nn_water", "_submission_id": "s1",
                                           "_converged_at": NOW} for r in rows])


def _published(store: Store, tmp: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch,
               text: bool) -> tuple[bytes, bytes, list[opendata.Finding], int, int]:
    item = store.catalogue.item(CODE)
    copied = []

    def counted(*args: Any) -> Any:
        copied.append(1)
        return copied_tables(*args)

    with monkeypatch.context() as patched:
        if not text:
            patched.setattr(opendata_text, "copies", lambda *_: False)
        patched.setattr(opendata_text, "copied_tables", counted)
        publication, findings = opendata.stage_from_store(store.catalogue, item, store, tmp, NOW, chunk_rows)
    assert copied == ([1] if text else [])  # the path meant, really taken
    return (publication.csv.read_bytes(), publication.json.read_bytes(), findings, publication.rows,
            publication.scrubbed)


def _same_files(store: Store, tmp: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _published(store, tmp / "frame", chunk_rows, monkeypatch, text=False)
    text = _published(store, tmp / "text", chunk_rows, monkeypatch, text=True)
    assert text == frame


def _awkward_rows() -> list[dict[str, Any]]:
    edges = [Decimal("0"), Decimal("-5"), Decimal("0.000001"), Decimal("123456789012345678.123456"),
             Decimal("0.1"), Decimal("1E+16"), None]
    counts = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), None, 7]
    rows = []
    for n, cell in enumerate(AWKWARD):
        rows.append({"k": f"{cell}{n:03d}", "note": cell, "code": cell or None, "amount": edges[n % len(edges)],
                     "count": counts[n % len(counts)] if n >= 3 else 5,  # the first chunk of three: no missing count
                     "day": None if n % 5 == 4 else f"{1 + n:04d}-0{1 + n % 9}-1{n % 10}",
                     "holder": HOLDERS[n % 2]})
    return rows


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
def test_text_path_writes_the_frame_paths_bytes_on_awkward_rows(store: Store, tmp_path: Path, chunk_rows: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _replace_rows(store, _awkward_rows())
    _same_files(store, tmp_path, chunk_rows, monkeypatch)
    frame_csv = _published(store, tmp_path / "again", chunk_rows, monkeypatch, text=True)
    assert frame_csv[2] and frame_csv[4]  # the rows really hold findings and scrubbed values


def test_an_empty_table_writes_the_same_files(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _replace_rows(store, [])
    _same_files(store, tmp_path, 2, monkeypatch)


_texts = st.one_of(st.sampled_from(AWKWARD), st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                                                           max_size=12))
_row = st.fixed_dictionaries({
    "note": st.none() | _texts, "code": st.none() | _texts,
    "amount": st.none() | st.decimals(min_value=-10**17, max_value=10**17, places=6, allow_nan=False),
    "count": st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "day": st.none() | st.dates(), "holder": st.none() | st.sampled_from(HOLDERS),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=8), keys=st.lists(_texts, min_size=8, max_size=8, unique=True),
       chunk_rows=st.sampled_from([1, 2, 3, 100]))
def test_text_path_writes_the_frame_paths_bytes(store: Store, tmp_path_factory: pytest.TempPathFactory,
                                                monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, Any]],
                                                keys: list[str], chunk_rows: int) -> None:
    _replace_rows(store, [{**row, "k": key} for row, key in zip(rows, keys, strict=False)])
    _same_files(store, tmp_path_factory.mktemp("open"), chunk_rows, monkeypatch)


def test_a_free_text_key_keeps_the_frame_path() -> None:
    key = ItemField(name="k", label="键", primary_key=True)
    assert not opendata_text.copies([key], [key], "postgresql")
    assert opendata_text.copies(FIELDS[:-1], FIELDS[:1], "postgresql")
    assert not opendata_text.copies(FIELDS[:-1], FIELDS[:1], "sqlite")
    assert not opendata_text.copies([*FIELDS[:1], ItemField(name="b", label="b", type=FieldType.BOOLEAN)],
                                    FIELDS[:1], "postgresql")


def test_the_known_personal_values_are_read_beside_the_rows(store: Store, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the personal columns' distinct values are read in a helper thread, on a connection of its
    own, while the rows are copied; a holder's name in free text is still found."""
    import threading

    rows = _awkward_rows()
    rows[0]["note"] = f"户主{HOLDERS[1]}"
    _replace_rows(store, rows)
    threads = []
    real = opendata._stored_personal_values

    def recorded(*args: Any) -> set[str]:
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(opendata, "_stored_personal_values", recorded)
    _, findings = opendata.stage_from_store(store.catalogue, store.catalogue.item(CODE), store, tmp_path, NOW)
    assert len(threads) == 1 and threads[0].startswith("personal-values")
    assert any(f.kind == "known_personal_value" and f.sample == HOLDERS[1][0] + "***" for f in findings)
