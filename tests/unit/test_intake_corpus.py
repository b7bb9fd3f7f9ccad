"""The bad-input corpus (tests/corpus) at the intake: every case's exact verdict, the text frame where
given, and checks against independent readers (pandas, openpyxl) where the file is well formed."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines import intake
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue
from tests.corpus.cases import CASES, TODAY, Accepted, Case, Refused, intake_verdict
from tests.corpus.catalogue import write_catalogue

BY_NAME = {c.name: c for c in CASES}
NOW = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return load_catalogue(write_catalogue(tmp_path_factory.mktemp("corpus") / "catalogue", slots=0))


def built(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    window = tmp_path / "intake"
    window.mkdir()
    return window, case.build(window)


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CASES) == len(BY_NAME) == 80


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_intake_verdict(case: Case, tmp_path: Path, catalogue: Catalogue) -> None:
    window, path = built(case, tmp_path)
    verdict, frame = intake_verdict(window, path, catalogue)
    expected = case.intake
    if isinstance(expected, Refused):
        assert isinstance(verdict, Refused), f"accepted: {verdict}"
        assert expected.reason in verdict.reason
        assert verdict.received == expected.received
        return
    assert isinstance(verdict, Accepted), f"refused: {verdict}"
    assert (verdict.rows, verdict.note) == (expected.rows, expected.note)
    assert frame is not None and list(frame.columns) == list(catalogue.item(_item(path)).field_names)
    if expected.frame is not None:
        assert tuple(tuple(r) for r in frame.itertuples(index=False)) == expected.frame


def _item(path: Path) -> str:
    return intake.item_code_of(path)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_entry_is_judged_once_and_its_ids_fit_the_ledger(case: Case, tmp_path: Path,
                                                               catalogue: Catalogue) -> None:
    window, path = built(case, tmp_path)
    accepted, refused = intake.discover(window, catalogue, TODAY)
    assert [s.path for s in accepted] + [r.path for r in refused] == [path]
    for submission in accepted:
        assert len(submission.id) <= 200  # _submission_id String(200)
    for refusal in refused:
        code = refusal.item or intake.item_code_of(refusal.path)
        assert len(intake.submission_id(code, path.name, intake.file_digest(path))) <= 200
        assert len(refusal.unit) <= 64


WELL_FORMED_CSV = [c for c in CASES if isinstance(c.intake, Accepted) and c.name not in {
    "header_only", "nul_in_value", "nul_in_key"}  # pandas reads NUL as a line end in its C reader: no oracle there
    and c.build.__qualname__.startswith(("csv_file", "write")) and not c.name.startswith(("json", "xlsx"))]


@pytest.mark.parametrize("case", WELL_FORMED_CSV, ids=lambda c: c.name)
def test_well_formed_csv_reads_as_pandas_reads_it_without_an_index_column(case: Case, tmp_path: Path,
                                                                          catalogue: Catalogue) -> None:
    _, path = built(case, tmp_path)
    item = catalogue.item(_item(path))
    text = intake.decode(path.read_bytes())
    oracle = pd.read_csv(io.StringIO(text), sep=intake.sniff_delimiter(text), dtype=str, keep_default_na=False,
                         index_col=False)
    oracle = oracle.set_axis([{f.label: f.name for f in item.fields}.get(c, c) for c in oracle.columns], axis=1)
    pd.testing.assert_frame_equal(intake.read_submission(path, item), intake.normalise(oracle, item))


WORKBOOKS = [c for c in CASES if c.name.startswith("xlsx") and c.name != "xlsx_not_a_workbook"]


@pytest.mark.parametrize("case", WORKBOOKS, ids=lambda c: c.name)
def test_workbook_rows_counted_as_openpyxl_sees_them(case: Case, tmp_path: Path) -> None:
    """Independent count: every non-empty row of every sheet, minus the header rows the case declares."""
    import openpyxl

    _, path = built(case, tmp_path)
    book = openpyxl.load_workbook(path, read_only=True)
    filled = [sum(1 for r in ws.iter_rows(values_only=True) if any(v not in (None, " ") for v in r))
              for ws in book.worksheets]
    book.close()
    header_rows = {"xlsx_merged_header": 2, "xlsx_header_merged_down": 2}.get(case.name, 1)
    expected = sum(max(n - header_rows, 0) for n in filled)
    received = case.intake.received if isinstance(case.intake, Refused) else case.intake.rows
    assert intake.count_rows(path) == expected == received


def test_the_symlink_target_is_never_read(tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    window, path = built(BY_NAME["symlink_to_outside_file"], tmp_path)
    target_digest = hashlib.sha256((tmp_path / "outside" / "enterprise.csv").read_bytes()).hexdigest()
    opened: list[Path] = []
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        opened.append(self)
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    _, [refusal] = intake.discover(window, catalogue, TODAY)
    assert intake.count_rows(path) == 0 and intake.file_digest(path) != target_digest
    assert opened == [] and refusal.item == "enterprise"
    moved = intake.move_aside(path, refusal.reason, NOW)
    assert moved.is_symlink() and (tmp_path / "outside" / "enterprise.csv").exists()


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path, catalogue: Catalogue) -> None:
    window, path = built(BY_NAME["fifo"], tmp_path)  # opening a pipe with no writer would block this test
    _, [refusal] = intake.discover(window, catalogue, TODAY)
    moved = intake.move_aside(path, refusal.reason, NOW)
    assert not moved.is_file() and moved.exists() and (moved.parent / "enterprise__pipe.csv.reason.txt").exists()


def test_long_names_are_bounded_by_a_hash_so_two_stay_apart() -> None:
    one, two = "甲" * 300 + "1.csv", "甲" * 300 + "2.csv"
    ids = {intake.submission_id("enterprise", name, "0" * 64) for name in (one, two)}
    assert len(ids) == 2 and {len(i) for i in ids} == {len("enterprise") + 1 + 120 + 1 + 12}
    assert intake.submission_id("enterprise", "enterprise.csv", "ab" * 32) == "enterprise/enterprise.csv/abababababab"
