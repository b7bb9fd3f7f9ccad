"""Where a repository's statements run: inside one unit of work, or each call in its own transaction.

A ``Session`` is what every repository (ledger, quarantine, shared tables, platform records) is given. In a unit
of work (``Store.unit_of_work``) it hands every repository the same connection, so a submission's state change
and everything that belongs to it (its stage data, its quarantine rows, the merge) commit together or not at
all. Outside one (``store.ledger``, ``store.quarantine``, ...) each public repository method is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, Engine

from pipelines.store.stage import Packed, StageStore

if TYPE_CHECKING:
    from pipelines.store.ledger import Ledger
    from pipelines.store.quarantine import Quarantine
    from pipelines.store.records import PlatformRecords
    from pipelines.store.shared import SharedTables


@dataclass(frozen=True)
class Session:
    engine: Engine
    conn: Connection | None = None  # a unit of work's connection; None: a transaction per call

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection to write on: the unit of work's (committed by it), or a transaction of its own."""
        if self.conn is not None:
            yield self.conn
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection to read on: the unit of work's (which sees its own writes), or one of its own."""
        if self.conn is not None:
            yield self.conn
            return
        with self.engine.connect() as conn:
            yield conn


@dataclass(frozen=True)
class UnitOfWork:
    """One transaction the repositories share: it commits when the ``with`` block ends, or rolls back whole."""

    conn: Connection
    ledger: Ledger
    quarantine: Quarantine
    shared: SharedTables
    records: PlatformRecords
    stage: StageStore

    def write_stage(self, submission_id: str, kind: str, frame: pd.DataFrame | Iterable[pd.DataFrame | Packed]) -> int:
        """The submission's stage data of ``kind``, in this unit of work."""
        return self.stage.write(submission_id, kind, frame, conn=self.conn)

    def clear_stage(self, submission_id: str) -> int:
        """Every kind of the submission's stage data dropped, in this unit of work."""
        return self.stage.delete(submission_id, conn=self.conn)
