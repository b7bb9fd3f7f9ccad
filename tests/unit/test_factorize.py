"""factorize_texts against a plain dict of the texts: exact where pandas' own factorize is not (a NUL)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pipelines.factorize import factorize_texts
from pipelines.outputs import per_distinct

TEXTS = st.lists(st.one_of(st.sampled_from(["a", "a\x00", "\x00", "", "a\x00b", "ab"]), st.text(max_size=4),
                           st.none()), max_size=60)


@given(cells=TEXTS)
def test_each_distinct_text_has_its_own_code_in_first_seen_order(cells: list[str | None]) -> None:
    codes, distinct = factorize_texts(cells)
    first_seen = list(dict.fromkeys(c for c in cells if c is not None))
    assert distinct.tolist() == first_seen
    assert codes.tolist() == [-1 if c is None else first_seen.index(c) for c in cells]


def test_a_text_holding_a_nul_is_not_its_prefix() -> None:
    assert pd.factorize(pd.Series(["a\x00", "a"], dtype=object))[0].tolist() == [0, 0]  # why this module exists
    codes, distinct = factorize_texts(["a\x00", "a", "a\x00", None])
    assert (codes.tolist(), distinct.tolist()) == ([0, 1, 0, -1], ["a\x00", "a"])


def test_a_long_column_read_once_per_distinct_text_keeps_nul_texts_apart() -> None:
    cells = pd.Series(["a\x00", "a", None] * 500, dtype=object)
    assert per_distinct(cells, repr) == [repr(c) for c in cells]
