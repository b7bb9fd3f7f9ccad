"""A large submission read and staged in chunks gives exactly what one chunk gives: the same ledger counts, the
same rows held back with the same reasons (a key duplicated across two chunks included), the same shared table
and the same open-data file, which publishing from the store a chunk at a time writes again byte for byte; on
SQLite and on PostgreSQL.

The chunk size is set through ``GOVDATA_STAGE_CHUNK_ROWS`` (pipelines.store.stage.chunk_rows_setting), small
enough that the 10,000 rows cross fourteen chunk seams.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from expectations.runner import GxValidator
from pipelines import opendata
from pipelines.catalogue import load_catalogue
from pipelines.demo import large_item
from pipelines.process import Platform, converge, take_in, validate
from pipelines.store import Store
from pipelines.store.stage import StageMissing

ROWS = 10_000
SMALL_CHUNK = 700
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the day the rows were made for


def _run(tmp: Path, store_url: str, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if chunk_rows is None:
        monkeypatch.delenv("GOVDATA_STAGE_CHUNK_ROWS", raising=False)
    else:
        monkeypatch.setenv("GOVDATA_STAGE_CHUNK_ROWS", str(chunk_rows))
    catalogue = load_catalogue(large_item.write_catalogue(tmp / "catalogue"))
    _, planted = large_item.write_submission(tmp / "intake", ROWS)
    store = Store(store_url or f"sqlite:///{tmp / 'store.db'}", catalogue)
    store.ensure_tables()
    platform = Platform(catalogue, tmp / "intake", tmp / "data", store, GxValidator(),
                        clock=lambda: NOW)
    item = catalogue.item(large_item.ITEM)
    take_in(platform, item)
    validated = validate(platform, item)
    [entry] = store.ledger.submissions(item.code)
    chunks = store.stage.rows(entry["submission_id"], "intake"), len(list(
        store.stage.read_chunks(entry["submission_id"], "intake", item)))
    converge(platform, item)
    with pytest.raises(StageMissing):  # dropped with the convergence: nothing reads it after
        store.stage.rows(entry["submission_id"], "intake")
    [entry] = store.ledger.submissions(item.code)
    publication = opendata.publish(catalogue, item, store.shared.read_table(item), tmp / "open", platform.clock())
    streamed, findings = opendata.stage_from_store(catalogue, item, store, tmp / "streamed", platform.clock(),
                                                   chunk_rows=SMALL_CHUNK)  # the table read a chunk at a time
    assert findings == []
    assert streamed.csv.read_bytes() == publication.csv.read_bytes()
    assert json.loads(streamed.json.read_text(encoding="utf-8")) == json.loads(
        publication.json.read_text(encoding="utf-8"))
    held = sorted((r["row_no"], r["record_key"], r["reasons"]) for r in store.quarantine.held_rows(item.code))
    table = store.shared.read_table(item).drop(columns=["_converged_at"]).sort_values("uscc").reset_index(drop=True)
    store.dispose()
    counts = {k: entry[k] for k in ("status", "received", "valid", "held_back", "converged", "stale")}
    outcome = {r.rule.id: (r.success, r.unexpected_count, r.failing_rows)
               for _, o in validated.outcomes for r in o.results}
    return {"planted": planted, "counts": counts, "held": held, "table": table, "outcome": outcome,
            "chunks": chunks, "open": publication.csv.read_text(encoding="utf-8-sig")}


def _compare(small: dict[str, Any], whole: dict[str, Any]) -> None:
    assert small["chunks"] == (ROWS, -(-ROWS // SMALL_CHUNK))  # the small run really was in chunks
    assert whole["chunks"] == (ROWS, 1)
    assert small["counts"] == whole["counts"]
    counts = whole["counts"]
    assert counts["status"] == "converged"
    assert counts["received"] == ROWS == counts["converged"] + counts["held_back"]
    assert counts["held_back"] == whole["planted"]  # every planted fault, nothing else
    assert small["held"] == whole["held"]
    assert small["outcome"] == whole["outcome"]
    pd.testing.assert_frame_equal(small["table"], whole["table"])
    assert len(whole["table"]) == counts["converged"]
    assert small["open"] == whole["open"]


def _duplicates_across_chunks(run: dict[str, Any]) -> int:
    """Held rows whose duplicated key's other row lies in another chunk of SMALL_CHUNK rows."""
    by_key: dict[str, list[int]] = {}
    for row_no, key, reasons in run["held"]:
        if "unique" in reasons:
            by_key.setdefault(key, []).append(row_no)
    return sum(1 for rows in by_key.values() if len({(r - 1) // SMALL_CHUNK for r in rows}) > 1)


def test_chunked_rows_give_the_verdicts_of_one_chunk_on_sqlite(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    small = _run(tmp_path / "small", "", SMALL_CHUNK, monkeypatch)
    whole = _run(tmp_path / "whole", "", None, monkeypatch)
    _compare(small, whole)
    assert _duplicates_across_chunks(small) > 0  # the cross-seam case is really exercised


def test_chunked_rows_give_the_verdicts_of_one_chunk_on_postgres(tmp_path: Path, pg_database: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    small = _run(tmp_path / "small", pg_database, SMALL_CHUNK, monkeypatch)
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:  # the second run on an empty store of the same database
        conn.exec_driver_sql("DROP SCHEMA platform CASCADE")
        conn.exec_driver_sql("DROP SCHEMA shared_province CASCADE")
    engine.dispose()
    whole = _run(tmp_path / "whole", pg_database, None, monkeypatch)
    _compare(small, whole)
