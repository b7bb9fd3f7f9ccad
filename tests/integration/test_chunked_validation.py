"""Property: a submission validated a chunk at a time gives what one validation of the whole gives.

The oracle is the whole validation (``pipelines.process`` validates a submission staged in one chunk whole,
with GX's whole suite), an independent path: for random rows, random planted faults (a wrong check character,
a missing value, a value outside its set or range, a value of the wrong type, a stale record, a duplicated
or a missing key, anywhere, across chunk seams too), a random chunk size and sometimes a declared minimum the
submission misses (a table rule that holds back every row), the chunked validation must hold back the same
rows with the same reasons, pass the same rules at the same rates with the same failing rows and samples, and
stage the same valid rows, with the same ledger counts.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from unittest import mock

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expectations.runner import GxValidator
from pipelines.catalogue import load_catalogue
from pipelines.demo import large_item
from pipelines.process import Platform, take_in, validate
from pipelines.store import Store

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the day large_item's rows are made for
VALIDATOR = GxValidator()  # one GX context for every example, as one run has
WHOLE = 10**6  # rows per stage chunk for the oracle: every submission here is one chunk
FAULTS = ("bad_check", "no_name", "bad_status", "bad_capital", "no_capital_number", "stale", "duplicate",
          "no_key")


def _fault(frame: pd.DataFrame, row: int, kind: str, other: int) -> None:
    if kind == "bad_check":
        code = frame.at[row, "uscc"]
        if code:  # a key an earlier fault took away has no check character to spoil
            frame.at[row, "uscc"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    elif kind == "no_name":
        frame.at[row, "entity_name"] = ""
    elif kind == "bad_status":
        frame.at[row, "status"] = "歇业"
    elif kind == "bad_capital":
        frame.at[row, "registered_capital"] = "-5"
    elif kind == "no_capital_number":
        frame.at[row, "registered_capital"] = "many"
    elif kind == "stale":
        frame.at[row, "updated_at"] = "2020-01-01"
    elif kind == "duplicate":
        frame.at[row, "uscc"] = frame.at[other, "uscc"]
    else:
        frame.at[row, "uscc"] = ""


@st.composite
def submissions(draw: st.DrawFn) -> tuple[pd.DataFrame, int, int | None]:
    n = draw(st.integers(min_value=12, max_value=90))
    frame, _ = large_item.make_rows(n, seed=draw(st.integers(0, 2**16)))
    for _ in range(draw(st.integers(0, 12))):
        _fault(frame, draw(st.integers(0, n - 1)), draw(st.sampled_from(FAULTS)), draw(st.integers(0, n - 1)))
    chunk_rows = draw(st.integers(min_value=max(1, n // 7), max_value=n - 1))  # two to about eight chunks
    min_rows = draw(st.one_of(st.none(), st.just(n + 1), st.just(n)))  # n + 1: the submission is blocked
    return frame, chunk_rows, min_rows


def _validated(tmp: Path, frame: pd.DataFrame, chunk_rows: int, min_rows: int | None) -> dict[str, Any]:
    catalogue_dir = large_item.write_catalogue(tmp / "catalogue")
    if min_rows is not None:
        path = catalogue_dir / "items" / f"{large_item.UNIT}.yaml"
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        items["items"][0].setdefault("quality", {})["min_rows"] = min_rows
        path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    catalogue = load_catalogue(catalogue_dir)
    intake = tmp / "intake" / large_item.UNIT
    intake.mkdir(parents=True)
    frame.to_csv(intake / f"{large_item.ITEM}.csv", index=False, encoding="utf-8")
    with mock.patch.dict(os.environ, {"GOVDATA_STAGE_CHUNK_ROWS": str(chunk_rows)}):
        store = Store(f"sqlite:///{tmp / 'store.db'}", catalogue)
        store.ensure_tables()
        platform = Platform(catalogue, tmp / "intake", tmp / "data", store, VALIDATOR, clock=lambda: NOW)
        item = catalogue.item(large_item.ITEM)
        take_in(platform, item)
        report = validate(platform, item)
        [entry] = store.ledger.submissions(item.code)
        sid = entry["submission_id"]
        chunks = len(store.stage.chunk_sizes(sid, "intake"))
        valid = store.stage.read(sid, "valid", item)
    held = [(r["row_no"], r["record_key"], r["reasons"], r["record"]) for r in store.quarantine.held_rows(item.code)]
    store.dispose()
    [(_, outcome)] = report.outcomes
    return {
        "chunks": chunks,
        "counts": {k: entry[k] for k in ("status", "received", "valid", "held_back", "stale")},
        "report": (report.rows_valid, report.rows_held_back, report.rows_stale, report.rows_unverified,
                   len(report.blocked)),
        "held": held,
        "results": [(r.rule.id, r.success, r.element_count, r.unexpected_count, r.failing_rows, r.sample, r.observed,
                     r.pass_rate) for r in outcome.results],
        "valid": valid,
    }


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(submissions())
def test_chunked_validation_gives_the_whole_validations_verdicts(case: tuple[pd.DataFrame, int, int | None]) -> None:
    frame, chunk_rows, min_rows = case
    with TemporaryDirectory() as tmp:
        chunked = _validated(Path(tmp) / "chunked", frame, chunk_rows, min_rows)
        whole = _validated(Path(tmp) / "whole", frame, WHOLE, min_rows)
    assert chunked["chunks"] == -(-len(frame) // chunk_rows) > 1  # really validated in chunks
    assert whole["chunks"] == 1
    assert chunked["counts"] == whole["counts"]
    assert chunked["report"] == whole["report"]
    assert chunked["held"] == whole["held"]
    assert chunked["results"] == whole["results"]
    pd.testing.assert_frame_equal(chunked["valid"], whole["valid"])
    counts = whole["counts"]
    assert counts["received"] == len(frame) == counts["valid"] + counts["held_back"]
    if min_rows == len(frame) + 1:
        assert counts["held_back"] == len(frame)  # blocked: every row, with the table rule's reason


def test_a_blocked_submission_in_chunks_holds_back_every_row_as_a_whole_one(tmp_path: Path) -> None:
    """The one path that reads the chunks twice: a table rule failed, every row is held back with its reason."""
    frame, _ = large_item.make_rows(40, seed=7)
    _fault(frame, 3, "duplicate", 30)
    chunked = _validated(tmp_path / "chunked", frame, 9, len(frame) + 1)
    whole = _validated(tmp_path / "whole", frame, WHOLE, len(frame) + 1)
    assert chunked["chunks"] == 5 and whole["chunks"] == 1
    assert chunked["held"] == whole["held"]
    assert [row_no for row_no, *_ in whole["held"]] == list(range(1, 41))
    assert all(reasons.startswith("blocked: row_count") for _, _, reasons, _ in whole["held"])
    assert chunked["counts"] == whole["counts"] == {"status": "validated", "received": 40, "valid": 0,
                                                     "held_back": 40, "stale": 0}
    assert chunked["results"] == whole["results"]
    assert len(chunked["valid"]) == 0 and list(chunked["valid"].columns) == list(whole["valid"].columns)
