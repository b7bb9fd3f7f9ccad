"""A cell holding its own line ends (a bare carriage return, CR LF, a line feed, quoted in the unit's CSV as RFC 4180
allows) goes from file to shared store in its own row: every row received is converged or held back, and the
shared table holds the text the unit sent. The stage used to write "\\n" line ends, leaving a bare "\\r" unquoted,
and its readers split the row there (issue 10's note); on SQLite and on PostgreSQL (COPY), chunks crossed.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from expectations.runner import GxValidator
from pipelines.catalogue import load_catalogue
from pipelines.demo import large_item
from pipelines.process import Platform, converge, take_in, validate
from pipelines.store import Store

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the day the rows were made for
ADDRESSES = {3: "民族大道\r1号", 4: "民族大道\r\n2号", 5: "民族大道\n3号", 6: "民族\r\r大道\n\n4号"}


def _submission(intake: Path) -> dict[str, int]:
    """Forty of the large item's rows (too few for a planted fault), some addresses given line ends inside; the
    row numbers of the addresses given line ends (the header is row 0)."""
    frame, _ = large_item.make_rows(40)
    for row, address in ADDRESSES.items():
        frame.loc[row, "address"] = address
    path = intake / large_item.UNIT / f"{large_item.ITEM}.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as out:  # the csv module quotes a cell's line ends
        writer = csv.writer(out)
        writer.writerow(frame.columns)
        writer.writerows(frame.itertuples(index=False))
    return {frame.loc[row, "uscc"]: row + 1 for row in ADDRESSES}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_cell_with_line_ends_stays_in_its_row(database: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDATA_STAGE_CHUNK_ROWS", "4")  # the rows with line ends fall on chunk seams
    url = request.getfixturevalue("pg_database") if database == "postgres" else f"sqlite:///{tmp_path / 's.db'}"
    catalogue = load_catalogue(large_item.write_catalogue(tmp_path / "catalogue"))
    sent = _submission(tmp_path / "intake")
    store = Store(url, catalogue)
    store.ensure_tables()
    platform = Platform(catalogue, tmp_path / "intake", tmp_path / "data", store, GxValidator(), clock=lambda: NOW)
    item = catalogue.item(large_item.ITEM)
    take_in(platform, item)
    validate(platform, item)
    converge(platform, item)
    [entry] = store.ledger.submissions(item.code)
    table = store.shared.read_table(item)
    held = {json.loads(r["record_key"])["uscc"]: (r["row_no"], r["reasons"])
            for r in store.quarantine.held_rows(item.code)}
    store.dispose()
    assert (entry["received"], entry["converged"], entry["held_back"]) == (40, 36, 4)
    assert held == {key: (row_no, "type:address: 住所 is text without control characters")
                    for key, row_no in sent.items()}
    assert len(table) == 36 and not set(table["uscc"]) & set(sent)
