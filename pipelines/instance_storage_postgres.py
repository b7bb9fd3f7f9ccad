"""dagster-postgres's event log with its connections kept open and its schema look-ups answered once.

Dagster's class opens a new PostgreSQL connection for every statement (``NullPool``: no connection is held
between calls) and asks the catalogue whether a table or column exists before every asset event. A 200-item
run on this machine spent 27 % of its workers' wall time connecting and 12 % in those look-ups: a backend
forked, authenticated and torn down for each of some 25 statements per item. Here each process keeps one
connection (checked before use, so a restarted server costs one failed ping, not a failed event) and a
table or column once seen stays known: Dagster's migrations add them (``dagster instance migrate``), never
drop them, and a process started after a migration asks again. The tables, the rows and the LISTEN/NOTIFY
watcher are Dagster's own: the webserver and the daemon read an instance written by this class as any other.
A batch of events (a run's planned events) is one transaction, not one commit per statement
(``pipelines.instance_storage.OneTransactionPerBatch``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
    retry_pg_connection_fn,
)
from sqlalchemy.engine import Connection

from pipelines.instance_storage import KnownSchema, OneTransactionPerBatch

POOL_OVERFLOW = 8  # threads of one process (the daemon's, the webserver's) beyond the kept connection
POOL_RECYCLE_SECONDS = 3600


class PostgresEventLog(OneTransactionPerBatch, KnownSchema, PostgresEventLogStorage):
    """Configured in ``dagster.yaml`` as ``event_log_storage: {module: pipelines.instance_storage_postgres,
    class: PostgresEventLog, config: {postgres_db: ...}}``, beside dagster-postgres's run and schedule
    storage (deploy/postgres/dagster.yaml)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()
        self._engine = create_pg_engine(self.postgres_url, token_provider, isolation_level="AUTOCOMMIT",
                                        pool_size=1, max_overflow=POOL_OVERFLOW, pool_pre_ping=True,
                                        pool_recycle=POOL_RECYCLE_SECONDS)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> PostgresEventLog:
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        batched = self._batched("events", self._begun)
        if batched is not None:
            yield batched
            return
        with super()._connect() as conn:
            yield conn

    def _begun(self) -> Connection:
        """A connection in a transaction of its own (the engine's connections commit each statement)."""
        conn = retry_pg_connection_fn(self._engine.connect).execution_options(isolation_level="READ COMMITTED")
        conn.begin()
        return conn
