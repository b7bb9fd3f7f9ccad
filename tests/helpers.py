"""Running the generated asset graph in tests, the way Dagster runs it."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import dagster as dg

from assets.units import unit_asset
from pipelines.catalogue import load_catalogue
from pipelines.store import SharedStore
from resources.platform import PlatformResource, resolve_store_url


def materialize_all(catalogue_dir: Path, intake_dir: Path, data_dir: Path, store_url: str = "",
                    instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    catalogue = load_catalogue(catalogue_dir)
    assets = [unit_asset(catalogue, u, "sqlite") for u in catalogue.units if catalogue.items_of(u.code)]
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(intake_dir),
                                data_dir=str(data_dir), store_url=store_url)
    return dg.materialize(assets, resources={"platform": resource}, instance=instance)


def open_store(catalogue_dir: Path, data_dir: Path, store_url: str = "") -> SharedStore:
    return SharedStore(resolve_store_url(store_url, str(data_dir)), load_catalogue(catalogue_dir))


def write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
