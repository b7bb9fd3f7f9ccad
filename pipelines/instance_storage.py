"""Dagster's sharded SQLite event log (one file per run and a cross-run ``index.db``), with the
connections it makes for every event made cheaper. The files, tables and layout are Dagster's own, so the
webserver, the daemon and ``dagster`` commands read an instance written by this class as any other.

Dagster's class builds a new SQLAlchemy engine for every connection and closes each connection after one
event; a unit's run stores about 20 events per item, each through 1-3 connections (a 200-item run: 28,000
engines, 15 % of its CPU, and a WAL checkpoint at every close). Here each shard's engine is made once per
process and keeps one connection per thread open. The webserver follows a live run by watching the run's
file change, and with its connection open an event lands in the file's write-ahead log first: this class's
watch follows both files. WAL commits are not synced to disk one by one (``synchronous=NORMAL``): a power
cut may lose the last events of a run, never corrupt the file.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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

    def wipe(self) -> None:
        self.__dict__.pop("_known_tables", None)
        self.__dict__.pop("_known_asset_key_columns", None)
        super().wipe()  # type: ignore[misc]


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable on a crash of the process
    cursor.close()


class SqliteEventLog(KnownSchema, SqliteEventLogStorage):
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
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

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
