"""The value model: cells to text, text to canonical text, and the properties that keep them one."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from pipelines.values import cell_text


@pytest.mark.parametrize(("cell", "text"), [
    (None, None), (float("nan"), None), (pd.NA, None), (pd.NaT, None), (np.nan, None),
    ("  a ", "  a "), ("", ""),
    (True, "true"), (False, "false"), (np.bool_(True), "true"),
    (7, "7"), (np.int64(-12), "-12"), (7.0, "7"), (-0.0, "0"), (1e3, "1000"), (np.float64(2.0), "2"),
    (0.1, "0.1"), (1234.5, "1234.5"), (Decimal("1.50"), "1.50"),
    (datetime(2020, 1, 1), "2020-01-01"), (pd.Timestamp("2020-01-01"), "2020-01-01"),
    (datetime(2020, 1, 1, 8, 30), "2020-01-01T08:30:00"),
    (datetime(2020, 1, 1, tzinfo=UTC), "2020-01-01T00:00:00+00:00"),
    (date(2026, 11, 1), "2026-11-01"), (time(8, 30), "08:30:00"),
])
def test_cell_text(cell: object, text: str | None) -> None:
    assert cell_text(cell) == text


@pytest.mark.parametrize("cell", [[1, 2], {"a": 1}, ()])
def test_nested_cells_are_refused(cell: object) -> None:
    with pytest.raises(ValueError, match="nested"):
        cell_text(cell)
