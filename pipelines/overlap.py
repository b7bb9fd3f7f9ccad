"""A chunked stage's waits overlapped with the Python work beside them, in one helper thread.

A large submission moves through the store a chunk at a time, and much of each chunk's time is spent outside
Python's interpreter lock: the database answering a query or taking an insert, zlib (de)compressing, pandas'
C tokenizer. ``read_ahead`` produces the next chunk in a helper thread while the caller works on this one, so
those waits run beside the caller's work instead of after it. Results, order and errors are the source's own;
at most one chunk more than the caller holds is in memory.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(source: Iterable[T]) -> Generator[T, None, None]:
    """``source``'s items in order, each next one made in a helper thread while the caller has this one.

    The source is only ever advanced by the helper thread, one step at a time, so a generator holding a
    connection or a file uses it from one thread at a time. An error the source raises is raised here, where
    the caller would have met it. A caller that stops early waits for the one item being made, then the
    source is closed."""
    items = iter(source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as helper:
        pending = helper.submit(next, items, _END)
        try:
            while (item := pending.result()) is not _END:
                pending = helper.submit(next, items, _END)
                yield item  # type: ignore[misc]  # not _END: a T
        finally:
            if not pending.cancel():  # already running: the source is not closed while the helper is in it
                pending.exception()
            close = getattr(items, "close", None)
            if close is not None:
                close()
