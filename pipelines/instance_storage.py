"""Dagster's sharded SQLite event log (one file per run and a cross-run ``index.db``), with the
connections it makes for every event made cheaper. The files, tables and layout are Dagster's own, so the
webserver, the daemon and ``dagster`` commands read an instance written by this class as any other.

Dagster's class builds a new SQLAlchemy engine for every connection and closes each connection after one
event; a unit's run stores about 20 events per item, each through 1-3 connections (a 200-item run: 28,000
engines, 15 % of its CPU, and a WAL checkpoint at every close). Here each shard's engine is made once per
process and keeps one connection per thread open. The webserver follows a live run by watching the run's
file change, and with its connection open an event lands in the file's write-ahead log first: this class's
watch follows both files. WAL commits are not synced to disk one by one (``synchronous=NORMAL``): a power
cut may lose the last events of a run, never corrupt the file. A batch of events (a run's planned events, once
``batch_planned_events`` lets Dagster batch them) is stored in one transaction per file
(``OneTransactionPerBatch``).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.base import EventHandlerFn
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool
from watchdog.events import FileSystemEvent, PatternMatchingEventHandler
from watchdog.observers import Observer

RUN_ENGINES = 8  # a run's events go to its own file: the engines of the latest runs are kept
# Dagster hands the storage a batch of events (``store_event_batch``) only when this is set: the planned events
# ``create_run`` writes, one per selected asset and check, flushed as one batch at the run's start.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 10_000  # a 1,000-item unit's run plans about 5,000 events


def batch_planned_events() -> None:
    """Let Dagster hand this process's planned events to the storage as batches (``OneTransactionPerBatch``),
    unless the deployment set the batch size itself (0 turns batches off). Dagster reads the variable at every
    event, and an empty one fails every event: it counts as unset."""
    if not os.environ.get(EVENT_BATCH_SIZE_ENV, "").strip():
        os.environ[EVENT_BATCH_SIZE_ENV] = str(EVENT_BATCH_SIZE)


class KnownSchema:
    """Dagster's schema look-ups answered once per process, for an event log storage class it is mixed into (first
    in the bases). Dagster asks whether a table exists (``has_table``: on SQLite through a new engine each time)
    and which columns the asset-key table has before every asset and check event: about 5 % of a 200-item run's
    samples on SQLite (py-spy). A table or column once seen stays known: Dagster's migrations (``dagster instance
    migrate``) add them, never drop them, and a process started after a migration asks again; ``wipe`` forgets
    them."""

    def has_table(self, table_name: str) -> bool:
        known = self.__dict__.setdefault("_known_tables", set())
        if table_name not in known and super().has_table(table_name):  # type: ignore[misc]
            known.add(table_name)
        return table_name in known

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        known = self.__dict__.setdefault("_known_asset_key_columns", set())
        if column_name not in known and super()._has_asset_key_col_on_connection(conn, column_name):  # type: ignore[misc]
            known.add(column_name)
        return column_name in known

    def has_secondary_index(self, name: str) -> bool:
        """As dagster-postgres's and the consolidated SQLite class answer it (once per process): Dagster's sharded
        SQLite class asks ``index.db`` before every asset-record look-up, several times per item."""
        known = self.__dict__.setdefault("_known_secondary_indexes", {})
        if name not in known:
            known[name] = super().has_secondary_index(name)  # type: ignore[misc]
        return bool(known[name])

    def enable_secondary_index(self, name: str) -> None:
        super().enable_secondary_index(name)  # type: ignore[misc]
        self.__dict__.get("_known_secondary_indexes", {}).pop(name, None)

    def wipe(self) -> None:
        for memo in ("_known_tables", "_known_asset_key_columns", "_known_secondary_indexes"):
            self.__dict__.pop(memo, None)
        super().wipe()  # type: ignore[misc]


class OneTransactionPerBatch:
    """A batch of events (``store_event_batch``) stored in one transaction per database, for an event log storage
    class it is mixed into (first in the bases, before ``KnownSchema``). Dagster's base class stores a batch event
    by event, each statement its own transaction: the planned events of a 100-item unit's run are about 500
    events and 1,000 commits (two per event on SQLite) before its first step. While a batch is stored, the
    storage's connections (``_batched``) are this thread's open transactions, committed together at the end; if
    one event fails, nothing of the batch is kept and the error goes to Dagster, which then stores the batch's
    events one by one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._batches = threading.local()  # each thread's open batch: its connections by database
        super().__init__(*args, **kwargs)

    def _open_batch(self) -> dict[str, Connection] | None:
        return getattr(self._batches, "connections", None)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        connections: dict[str, Connection] = {}
        self._batches.connections = connections
        try:
            super().store_event_batch(events)  # type: ignore[misc]
            # SQLite's files commit one after the other: a failure between them (a full disk) would leave the
            # first file's events, and Dagster's fallback would store those again
            for conn in connections.values():
                conn.commit()
        except BaseException:
            for conn in connections.values():
                conn.rollback()
            raise
        finally:
            self._batches.connections = None
            for conn in connections.values():
                conn.close()

    def _batched(self, database: str, open_transaction: Callable[[], Connection]) -> Connection | None:
        """The batch's open transaction on ``database`` (begun by ``open_transaction`` on first use), or None
        outside a batch: the caller then connects as it always does."""
        connections = self._open_batch()
        if connections is None:
            return None
        if database not in connections:
            connections[database] = open_transaction()
        return connections[database]


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable on a crash of the process
    cursor.close()


class SqliteEventLog(OneTransactionPerBatch, KnownSchema, SqliteEventLogStorage):
    """Configured in ``dagster.yaml`` as ``event_log_storage: {module: pipelines.instance_storage, class:
    SqliteEventLog, config: {base_dir: ...}}`` (the base_dir Dagster's ``storage: sqlite`` uses is
    ``<base_dir>/history/runs``)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> SqliteEventLog:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._pid != os.getpid():  # a forked child: never reuse its parent's connections
                self._engines.clear()
                self._pid = os.getpid()
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=SingletonThreadPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                     "check_same_thread": False})
                event.listen(engine, "connect", _pragmas)
                self._engines[shard] = engine
                self._evict()
            else:
                self._engines.move_to_end(shard)
            return engine

    def _evict(self) -> None:
        runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for shard in runs[:max(0, len(runs) - RUN_ENGINES)]:
            self._engines.pop(shard).dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batched = self._batched(shard, lambda: self._begun(shard))
        if batched is not None:
            yield batched
            return
        with self._db_lock:
            engine = self._initialized_engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _initialized_engine(self, shard: str) -> Engine:
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    def _begun(self, shard: str) -> Connection:
        with self._db_lock:
            conn = self._initialized_engine(shard).connect()
        conn.begin()
        return conn

    def watch(self, run_id: str, cursor: str | None, callback: EventHandlerFn) -> None:
        """Dagster's own watch, on the run's file and its write-ahead log."""
        observer: Any = self._obs  # Dagster's attribute, typed None
        if not observer:
            self._obs = observer = Observer()  # type: ignore[assignment]
            observer.start()
        watchdog = _RunFileWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, observer.schedule(watchdog, self._base_dir, recursive=True))

    def _forget(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._engines_lock:
            engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()

    def wipe(self) -> None:
        self._forget()  # the run files are deleted: no connection may stay open on them
        super().wipe()

    def dispose(self) -> None:
        self._forget()
        super().dispose()


class _RunFileWatchdog(SqliteEventLogStorageWatchdog):
    """Reads a run's new events when its file or the file's write-ahead log changes: a connection kept open
    writes to the log, and its pages reach the file only at a checkpoint."""

    def __init__(self, storage: SqliteEventLog, run_id: str, callback: EventHandlerFn, cursor: str | None) -> None:
        super().__init__(storage, run_id, callback, cursor)
        PatternMatchingEventHandler.__init__(self, patterns=[self._log_path, f"{self._log_path}-wal"])

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()
