"""The Dagster entry point: everything is generated from the catalogue, inside the function."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import dagster as dg

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.heap import tune_collector

# The pipeline runs on Dagster's implicit asset job with the selection each run asks for: an explicit job
# over every unit's multi-asset would repeat all their outputs and checks in the code location's snapshot.
ALL_JOB = "__ASSET_JOB"


def build_definitions(catalogue: Catalogue, platform: dg.ConfigurableResource, store_kind: str,
                      platform_name: str | None = None) -> dg.Definitions:
    """Every platform's definitions in one, or with ``platform_name`` one platform's code location
    (``pipelines.locations``): its units' items, its cities' connected tables, and on the province's what
    spans platforms. Dependencies on other platforms' assets stay keys, so the UI draws lineage across."""
    from assets.access import expiry_job, expiry_schedule
    from assets.governance import governance_assets
    from assets.opendata import opendata_assets
    from assets.quality import quality_definitions
    from assets.sharing import sharing_assets
    from assets.supervision import supervision_assets, supervision_jobs_and_schedules
    from assets.units import unit_asset
    from pipelines.automation import CYCLE_CRON, intake_window_sensor, pull_schedules
    from pipelines.executors import executor_choice, executor_from_env
    from pipelines.platforms import Scope

    scope = Scope(catalogue, platform_name)
    unit_assets = [unit_asset(catalogue, u, store_kind) for u in scope.units]
    unit_assets += governance_assets(catalogue, scope)
    unit_assets += opendata_assets(catalogue, scope)
    unit_assets += sharing_assets(catalogue, scope)
    quality = quality_definitions(catalogue, CYCLE_CRON, ALL_JOB, scope, in_process=executor_choice() is None)
    supervision_jobs, supervision_schedules = supervision_jobs_and_schedules() if scope.province else ([], [])
    province_wide = scope.province  # supervision, evaluation and access control are the province's
    return dg.Definitions(
        assets=[*unit_assets, *quality["assets"], *(supervision_assets(catalogue) if province_wide else [])],
        jobs=[*([expiry_job] if province_wide else []), *supervision_jobs],
        sensors=[intake_window_sensor(catalogue, ALL_JOB, scope), follow_the_pipeline()],
        schedules=[*pull_schedules(scope, ALL_JOB), *([expiry_schedule] if province_wide else []),
                   *quality["schedules"], *supervision_schedules],
        resources={"platform": platform},
        executor=executor_from_env(),  # GOVDATA_EXECUTOR=celery: steps on Celery workers (deploy/celery)
    )


# What build_definitions imports inside itself (nothing at import time): pipelines.code_servers imports them
# once, about 0.7 s CPU, in the process its servers fork from.
BUILDER_MODULES = ("assets.access", "assets.governance", "assets.opendata", "assets.quality", "assets.sharing",
                   "assets.supervision", "assets.units", "pipelines.automation", "pipelines.executors",
                   "pipelines.platforms", "resources.platform")


def import_builders() -> None:
    for module in BUILDER_MODULES:
        importlib.import_module(module)


def follow_the_pipeline() -> dg.AutomationConditionSensorDefinition:
    """On by default (Dagster's own is off): after each intake run the connected tables, open data, the
    platforms' records and the directory follow by their automation conditions, with nobody starting them (a
    unit's correction list is written by the unit's own step)."""
    return dg.AutomationConditionSensorDefinition(
        "follow_the_pipeline", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Materializes what follows from converged tables (connected tables, open data, platform "
                    "records, the directory) once their upstream assets have updated")


def pipeline_keys(definitions: dg.Definitions) -> list[dg.AssetKey]:
    """Every asset but the inspection's summary and the supervision reports (they run as their own jobs)."""
    from assets.quality import SUMMARY_KEY
    from assets.supervision import ALL_KEYS

    graph = definitions.resolve_asset_graph()
    return sorted(set(graph.get_all_asset_keys()) - {SUMMARY_KEY, *ALL_KEYS}, key=lambda k: k.to_user_string())


_last_built: dict[tuple[object, ...], dg.Definitions] = {}


def built_once(platform_name: str | None = None) -> dg.Definitions:
    """The definitions for the environment's settings, built once per process for the same settings and
    catalogue files: Dagster's code server calls a ``@dg.definitions`` function twice while it loads a
    location (once to find what the module holds, once to load it), which built 5,000 items twice."""
    from resources.platform import PlatformResource, Settings

    settings = Settings.from_env()
    files = _fingerprint(Path(settings.catalogue_dir))
    key = (platform_name, _environment(), files)
    if key not in _last_built:
        catalogue = _catalogue_once(settings.catalogue_dir, files)
        if platform_name is not None:
            _require_platform(catalogue, platform_name, settings.catalogue_dir)
        built = build_definitions(catalogue, PlatformResource.from_env(), settings.store_kind, platform_name)
        _last_built.clear()  # one entry: a process loads one location
        _last_built[key] = built
    return _last_built[key]


_last_catalogue: dict[tuple[object, ...], Catalogue] = {}


def settings_catalogue() -> Catalogue:
    """The configured catalogue, loaded once per process for the same files: the code servers forked by
    ``pipelines.code_servers`` inherit it from their parent instead of each loading it again."""
    from resources.platform import Settings

    directory = Settings.from_env().catalogue_dir
    return _catalogue_once(directory, _fingerprint(Path(directory)))


def _catalogue_once(directory: str, files: tuple[tuple[str, int, int], ...]) -> Catalogue:
    key = (directory, files)
    if key not in _last_catalogue:
        catalogue = load_catalogue(directory)
        _last_catalogue.clear()
        _last_catalogue[key] = catalogue
    return _last_catalogue[key]


def _environment() -> tuple[tuple[str, str], ...]:
    """What the definitions read from the environment: the platform's settings and its executor."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("GOVDATA_", "DAGSTER_HOME"))))


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Every catalogue file's path, size and modification time: an edited catalogue is read again."""
    found = []
    for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
        stat = path.stat()
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _require_platform(catalogue: Catalogue, platform_name: str, where: str) -> None:
    from pipelines.platforms import platform_names

    if platform_name not in platform_names(catalogue):
        raise ValueError(f"no platform {platform_name!r} in the catalogue {where}: "
                         f"{', '.join(platform_names(catalogue))}")


@dg.definitions
def defs() -> dg.Definitions:
    tune_collector()  # a code server or a step process: the definitions stay for its life
    return built_once()
