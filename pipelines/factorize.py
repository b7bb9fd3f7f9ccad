"""Distinct texts of a column, exactly: ``pandas.factorize`` with a fallback pandas needs.

pandas' hash table for object arrays compares texts as C strings (pandas 2.3: ``pd.factorize(['a\\x00', 'a'])``
gives one code), so a text holding a NUL would take the verdict or the output of its prefix. A column holding
one is factorized through a dict instead; others keep pandas' C hash (a few times faster).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def factorize_texts(cells: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct) of text cells, as ``pd.factorize(cells, use_na_sentinel=True)``: -1 for a missing cell."""
    values = np.asarray(cells, dtype=object)
    if not _holds_nul(values):
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        return codes, np.asarray(distinct, dtype=object)
    missing = pd.isna(values)
    index: dict[Any, int] = {}
    codes = np.full(len(values), -1, dtype=np.intp)
    for position in np.flatnonzero(~missing):
        codes[position] = index.setdefault(values[position], len(index))
    distinct = np.empty(len(index), dtype=object)
    distinct[:] = list(index)
    return codes, distinct


def _holds_nul(values: np.ndarray) -> bool:
    present = values[~pd.isna(values)].tolist()
    try:
        return "\x00" in "".join(present)  # the usual column: every present cell a text, joined in one call
    except TypeError:  # a cell that is no text: only the texts are looked into
        return "\x00" in "".join(v for v in values if isinstance(v, str))
