"""read_ahead: the source's items, order and errors, the source advanced by one thread at a time and closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.overlap import read_ahead


class Source:
    """A generator's stand-in that records who advances it, how many are made ahead and whether it was closed."""

    def __init__(self, items: list[int], fail_at: int | None = None):
        self.items, self.fail_at = items, fail_at
        self.made = 0
        self.closed = False
        self.inside = 0
        self.overlapped = False
        self.threads: set[int] = set()

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> int:
        self.inside += 1
        self.overlapped |= self.inside > 1
        self.threads.add(threading.get_ident())
        try:
            time.sleep(0.001)  # long enough for a second caller to get in, were there one
            if self.made == self.fail_at:
                raise ValueError(f"item {self.made} is bad")
            if self.made >= len(self.items):
                raise StopIteration
            self.made += 1
            return self.items[self.made - 1]
        finally:
            self.inside -= 1

    def close(self) -> None:
        self.closed = True


@given(st.lists(st.integers(), max_size=12))
def test_every_item_in_order(items: list[int]) -> None:
    source = Source(items)
    assert list(read_ahead(source)) == items
    assert not source.overlapped and source.threads and threading.get_ident() not in source.threads


@given(st.lists(st.integers(), min_size=1, max_size=12), st.data())
def test_a_caller_stopping_early_has_the_source_closed_with_at_most_one_made_ahead(items: list[int],
                                                                                    data: st.DataObject) -> None:
    taken = data.draw(st.integers(min_value=1, max_value=len(items)))
    source = Source(items)
    ahead = read_ahead(source)
    assert [next(ahead) for _ in range(taken)] == items[:taken]
    ahead.close()
    assert source.closed and source.made <= taken + 1 and not source.overlapped


def test_the_source_s_error_is_raised_where_the_caller_meets_it() -> None:
    source = Source([1, 2, 3], fail_at=2)
    got = []
    with pytest.raises(ValueError, match="item 2 is bad"):
        for item in read_ahead(source):
            got.append(item)
    assert got == [1, 2]


def test_the_next_item_is_made_while_the_caller_works() -> None:
    """The point of it: the source's next step (a database query, say) runs while the caller has this item."""
    making = [threading.Event() for _ in range(3)]

    def source() -> Iterator[int]:
        for n in range(3):
            making[n].set()
            yield n

    for n in read_ahead(source()):
        if n + 1 < 3:  # the caller has not asked for n + 1, yet it is being made
            assert making[n + 1].wait(timeout=10)
