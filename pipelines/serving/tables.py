"""The sharing service's tables, taken from the store's metadata (``pipelines.store.schema.sharing_service_tables``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from pipelines.store import Store


@dataclass(frozen=True)
class ServiceTables:
    tokens: Table
    grants: Table
    audit: Table


def service_tables(store: Store) -> ServiceTables:
    def table(name: str) -> Table:
        schema = store.tables.audit_log.schema  # the platform's schema on PostgreSQL, none on SQLite
        return store.metadata.tables[f"{schema}.{name}" if schema else name]

    return ServiceTables(table("sharing_tokens"), table("sharing_grants"), table("sharing_audit"))


def ensure_service_tables(store: Store) -> ServiceTables:
    """The platform's tables (applications among them), then the service's own."""
    store.ensure_tables([])
    tables = service_tables(store)
    store.metadata.create_all(store.engine, tables=[tables.tokens, tables.grants, tables.audit], checkfirst=True)
    return tables
