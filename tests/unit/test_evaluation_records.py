"""The repeated-collection log the evaluation reads: a half-written line is skipped with a warning, not fatal."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.evaluation.records import RepeatedFlag, read_records
from pipelines.sharing import REPEATED_LOG, carried_log
from pipelines.store import SharedStore
from tests.conftest import MINI
from tests.unit.evaluation_fixtures import moment

FLAG = {"item": "licence", "unit": "health", "submission_id": "licence/a.csv/1", "field": "enterprise_name",
        "source": "enterprise.name", "rows": 3, "flagged_at": moment(4).isoformat()}


def _log(data_dir: Path, tail: bytes) -> Path:
    path = data_dir / REPEATED_LOG
    path.parent.mkdir(parents=True)
    whole = (json.dumps(FLAG, ensure_ascii=False) + "\n").encode()
    # a validation still appending: the last line stops in the middle of "持证人" (a character cut in half)
    path.write_bytes(whole + b"\n" + whole + tail)
    return path


def test_a_half_written_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _log(tmp_path, '{"item": "licence", "field": "持证人'.encode()[:-1])
    with caplog.at_level(logging.WARNING, logger="pipelines.sharing"):
        assert carried_log(tmp_path) == [FLAG, FLAG]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [(
        "WARNING", f"{path} line 4: unreadable, skipped (Unterminated string starting at: line 1 column 30 (char 29))")]


def test_a_line_that_is_not_a_flag_object_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _log(tmp_path, b"12\n")
    with caplog.at_level(logging.WARNING, logger="pipelines.sharing"):
        assert carried_log(tmp_path) == [FLAG, FLAG]
    assert [r.getMessage() for r in caplog.records] == [f"{path} line 4: not a flag object, skipped"]


def test_the_evaluation_reads_the_flags_before_the_half_written_line(tmp_path: Path) -> None:
    _log(tmp_path, b'{"item": "lic')
    store = SharedStore(f"sqlite:///{tmp_path / 'store.db'}", load_catalogue(MINI))
    try:
        flags = read_records(store, tmp_path).flags
    finally:
        store.dispose()
    assert flags == [RepeatedFlag("licence/a.csv/1", "licence", "health", "enterprise_name", moment(4))] * 2
