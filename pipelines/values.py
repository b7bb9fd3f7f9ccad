"""One value model for every catalogue field type and standard.

A submitted cell (CSV text, an XLSX cell as openpyxl gives it, a JSON scalar) becomes text once
(``cell_text``), and that text becomes its canonical text or a named reason (``canonical``). Every
place that compares, keys, checks or loads values uses the canonical text, so validation, online
verification, comparison with the authority and the store's casts agree on what a value is.
"""

from __future__ import annotations

import math
import numbers
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def cell_text(value: Any) -> str | None:
    """A reader's cell as text before canonicalisation; None for an empty cell.

    Excel stores dates as datetimes at midnight and integers as floats: both come back as the text a
    unit typed (``2020-01-01``, ``7``). Nested JSON (lists, objects) is no cell value: ValueError.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, datetime):  # before date: a datetime is a date
        return _datetime_text(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        return None if value.is_nan() else format(value, "f")
    if isinstance(value, numbers.Real):
        return _float_text(float(value))
    if isinstance(value, list | tuple | dict | set):
        raise ValueError(f"a nested {type(value).__name__} is not a cell value")
    return str(value)


def _datetime_text(moment: datetime) -> str:
    if pd.isna(moment):
        return None  # type: ignore[return-value]  # NaT is a datetime subclass
    if moment.tzinfo is None and moment.time() == time(0):
        return moment.date().isoformat()
    return moment.isoformat()


def _float_text(number: float) -> str | None:
    if math.isnan(number):
        return None
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return repr(number)  # the shortest text that reads back as the same float ("0.1", not "0.1000000000000000055")
