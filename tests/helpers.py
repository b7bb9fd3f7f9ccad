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


def open_store(catalogue_dir: Path, data_dir: Path, store_url: str = "") -> Store:
    from pipelines.store import Store
    from resources.platform import resolve_store_url

    return Store(resolve_store_url(store_url, str(data_dir)), load_catalogue(catalogue_dir))


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
