"""Running the generated asset graph in tests, the way Dagster runs it, and editing catalogues in place.

Dagster and the platform resources are imported inside the functions that need them, so the pure-logic
unit tests that only edit catalogues do not pay for importing Dagster.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from pipelines.catalogue import CatalogueError, load_catalogue

if TYPE_CHECKING:
    import dagster as dg

    from pipelines import process
    from pipelines.store import Store


def materialize_all(catalogue_dir: Path, intake_dir: Path, data_dir: Path, store_url: str = "",
                    instance: dg.DagsterInstance | None = None,
                    with_governance: bool = False, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """Every unit's pipeline; with_governance adds the connected stores, open data, the directory and the
    governance supervision list."""
    import dagster as dg

    from assets.governance import governance_assets
    from assets.opendata import opendata_assets
    from assets.units import unit_asset
    from resources.platform import PlatformResource

    catalogue = load_catalogue(catalogue_dir)
    assets = [unit_asset(catalogue, u, "sqlite") for u in catalogue.units if catalogue.items_of(u.code)]
    if with_governance:
        assets += [*governance_assets(catalogue), *opendata_assets(catalogue)]
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(intake_dir),
                                data_dir=str(data_dir), store_url=store_url)
    return dg.materialize(assets, resources={"platform": resource}, instance=instance, raise_on_error=raise_on_error)


def open_store(catalogue_dir: Path, data_dir: Path, store_url: str = "", platform: str = "province") -> Store:
    """One platform's store (the province's by default; ``city_450100`` ...: pipelines.federation)."""
    from pipelines.federation import platform_store_url
    from pipelines.store import Store
    from resources.platform import resolve_store_url

    url = platform_store_url(resolve_store_url(store_url, str(data_dir)), platform)
    return Store(url, load_catalogue(catalogue_dir))


class PlatformStores:
    """Every platform's store of a catalogue, as a test reads what a run left: each item in its own platform's
    store (docs/levels.md), the ledgers, quarantines and records of all of them together. Shaped like a Store's
    repositories (``stores.ledger.submissions()``, ``stores.shared.read_table(item)`` ...)."""

    def __init__(self, catalogue_dir: Path, data_dir: Path, store_url: str = ""):
        from pipelines.platforms import platform_names

        self.catalogue = load_catalogue(catalogue_dir)
        self.stores = {p: open_store(catalogue_dir, data_dir, store_url, p) for p in platform_names(self.catalogue)}
        for store in self.stores.values():
            store.ensure_tables([])  # a platform the run did not touch reads as empty

    def of(self, item: str) -> Store:
        from pipelines.platforms import platform_of

        return self.stores[platform_of(self.catalogue.unit(self.catalogue.item(item).unit))]

    @property
    def ledger(self) -> Any:
        return _Joined(self, "ledger")

    @property
    def quarantine(self) -> Any:
        return _Joined(self, "quarantine")

    @property
    def records(self) -> Any:
        return _Joined(self, "records")

    @property
    def shared(self) -> Any:
        return _Routed(self)

    def dispose(self) -> None:
        for store in self.stores.values():
            store.dispose()


class _Joined:
    """One repository over every platform's store: a list-returning read, concatenated."""

    def __init__(self, stores: PlatformStores, repository: str):
        self._stores, self._repository = stores, repository

    def __getattr__(self, name: str) -> Any:
        def joined(*args: Any, **kwargs: Any) -> list[Any]:
            return [r for store in self._stores.stores.values()
                    for r in getattr(getattr(store, self._repository), name)(*args, **kwargs)]
        return joined


class _Routed:
    """The shared tables, each read from the store of its item's platform."""

    def __init__(self, stores: PlatformStores):
        self._stores = stores

    def __getattr__(self, name: str) -> Any:
        def routed(item: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(self._stores.of(item.code).shared, name)(item, *args, **kwargs)
        return routed


def domain_platform(catalogue_dir: Path, window: Path, store_url: str, validator: Any,
                    clock: Callable[[], Any]) -> process.Platform:
    """The domain pipeline's platform over a fresh store (tables made), without Dagster: ``process`` called
    directly, with the given validator and clock; the data directory beside the intake window."""
    from pipelines import process
    from pipelines.store import Store

    catalogue = load_catalogue(catalogue_dir)
    store = Store(store_url, catalogue)
    store.ensure_tables()
    return process.Platform(catalogue, window, window.parent / "data", store, validator, clock=clock)


def write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def run_pipeline(definitions: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """What converge_all did: every item, correction list, connected table and open-data file, on the
    implicit asset job (without the inspection and the supervision reports)."""
    from pipelines.definitions import pipeline_keys

    job = definitions.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=pipeline_keys(definitions))


def dimension(evaluation: Any, name: str) -> dict[str, Any]:
    """One dimension's row of a stage check (passed, pass_rate, rows_checked, rows_failed, rules_failed)."""
    rows = {r.data["dimension"]: r.data for r in evaluation.metadata["dimensions"].records}
    return {**rows[name], "passed": rows[name]["result"] == "✅ pass"}


def rules(evaluation: Any, dimension_name: str | None = None) -> dict[str, dict[str, Any]]:
    """The stage check's rules table by rule id, optionally one dimension's."""
    return {r.data["rule"]: r.data for r in evaluation.metadata["rules"].records
            if dimension_name is None or r.data["dimension"] == dimension_name}


def rules_text(evaluation: Any) -> str:
    """Everything the rules table shows, as one text: what a reader of the UI could see."""
    return "\n".join(" | ".join(str(v) for v in r.data.values()) for r in evaluation.metadata["rules"].records)


# --- catalogue files ---------------------------------------------------------------------------
def edit_yaml(directory: Path, name: str, change: Callable[[Any], None]) -> None:
    """Load ``directory/name``, let ``change`` mutate the document, write it back."""
    path = directory / name
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def catalogue_problems(directory: Path) -> list[str]:
    """The problems loading the catalogue reports; fails the test when it loads."""
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(directory)
    return [str(p) for p in caught.value.problems]


def drop_database_and_platforms(admin: Any, name: str) -> None:
    """Drop a throwaway PostgreSQL database with the city platforms' databases a run made beside it
    (``<name>_city_<code>``, pipelines.federation). ``admin``: an AUTOCOMMIT engine on the server."""
    import sqlalchemy as sa
    from psycopg2 import sql

    with admin.connect() as conn:
        made = conn.execute(sa.text("select datname from pg_database where datname like :p"),
                            {"p": f"{name}\\_%"}).scalars().all()
        for database in [name, *made]:
            conn.exec_driver_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                                 .as_string(conn.connection.dbapi_connection))


def drop_roles(url: str, prefix: str) -> None:
    """Drop the roles a test made (all starting with ``prefix``), members before their groups."""
    import sqlalchemy as sa
    from psycopg2 import sql

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        roles = [r for (r,) in conn.execute(sa.text("select rolname from pg_roles where starts_with(rolname, :p) "
                                                    "order by length(rolname) desc"), {"p": prefix})]
        raw = conn.connection.dbapi_connection
        for role in roles:
            conn.exec_driver_sql(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)).as_string(raw))
            conn.exec_driver_sql(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)).as_string(raw))
    engine.dispose()

