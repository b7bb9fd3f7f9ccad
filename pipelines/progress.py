"""How far a large submission has got through a stage, as log lines for whoever watches the run.

A million-row submission spends a minute or more in its stages; without a word the run looks stuck. Each
chunk a stage finishes logs one line on the ``pipelines.progress`` logger, which the instance's
``python_logs`` setting (``dagster.yaml``) turns into the run's own log: the Dagster UI's run page and the
CLI show it. A stage done in one chunk, as most submissions are, logs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def reported(chunks: Iterable[T], what: str, total: int | None, rows: Callable[[T], int]) -> Iterator[T]:
    """``chunks`` as they are; once the caller has finished with each chunk and asks for the next (or for the
    end), a line "<what>: 300,000 of 1,000,000 rows (30%), 4.2 s". Nothing when the first chunk was the whole.
    Without a ``total`` (not known beforehand), "300,000 rows, 4.2 s", from the second chunk on."""
    started = time.perf_counter()
    done = chunks_done = 0
    for chunk in chunks:
        yield chunk
        done, chunks_done = done + rows(chunk), chunks_done + 1
        if chunks_done > 1 or (total is not None and done < total):
            log.info("%s", _line(what, done, total, time.perf_counter() - started))


def before(what: str, rows: int) -> None:
    """A line before a stage done in one step (a COPY and merge), which reports nothing until it ends."""
    log.info("%s: %s rows", what, f"{rows:,}")


def _line(what: str, done: int, total: int | None, seconds: float) -> str:
    share = f" of {total:,} rows ({100 * done // total}%)" if total else " rows"
    return f"{what}: {done:,}{share}, {seconds:.1f} s"
