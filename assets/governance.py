"""Governance assets generated from the catalogue: connected stores, the resource directory and the
supervision report. Thin wiring over pipelines.connected, pipelines.directory and pipelines.supervision.

Keys: ``city/<city region>/<provincial item>`` and ``province/<provincial item>`` (county -> city ->
province convergence), ``directory/catalogue`` (DCAT export) and ``governance/supervision``.
"""

from collections.abc import Iterator
from typing import Any, NamedTuple

import dagster as dg

from assets.factory import asset_key
from assets.opendata import open_key
from pipelines import connected, directory, federation, opendata, sharing, supervision
from pipelines.catalogue.models import Catalogue, Item
from pipelines.clock import province_day
from pipelines.platforms import Scope, city_platform, platform_names, platform_of
from pipelines.quality.checks import SHARED
from resources.platform import PlatformResource

Event = dg.MaterializeResult | dg.AssetCheckResult
GROUP = "governance"
DIRECTORY_KEY = dg.AssetKey(["directory", "catalogue"])
SUPERVISION_KEY = dg.AssetKey(["governance", "supervision"])


def keep_in_sync() -> dg.AutomationCondition:
    """Refresh after any upstream shared table changes (runs the intake sensor requested do not select
    these assets); an item that never converged does not hold the others back."""
    return dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
# No "from __future__ import annotations" here: Dagster reads the context and resource annotations at runtime.


def city_key(rollup: connected.CityRollup) -> dg.AssetKey:
    return dg.AssetKey(["city", rollup.city, rollup.provincial.code])


def province_key(rollup: connected.ProvinceRollup) -> dg.AssetKey:
    return dg.AssetKey(["province", rollup.provincial.code])


def governance_assets(catalogue: Catalogue, scope: Scope | None = None) -> list[dg.AssetsDefinition]:
    """A city's connected tables on its platform; the province's, the directory and the governance record
    on the province's (all of them when ``scope`` is None)."""
    scope = scope or Scope(catalogue)
    built: list[dg.AssetsDefinition] = []
    for rollup in connected.rollups(catalogue):
        built += [_city_asset(city) for city in rollup.cities if scope.has_city(city.city)]
        if scope.province:
            built.append(_province_asset(rollup))
    platforms = platform_names(catalogue)
    hosted = _hosted(catalogue)
    built += [_platform_record_asset(hosted, hosting) for hosting in platforms if scope.platform in (None, hosting)]
    if scope.province:
        built += [_directory_asset(catalogue, platforms), _supervision_asset(catalogue, platforms)]
    return built


def platform_record_key(platform: str) -> dg.AssetKey:
    return dg.AssetKey(["platforms", platform])


class Hosted(NamedTuple):
    """Each platform's items, and which of them are open: found once, not once per platform's asset."""
    items: dict[str, list[Item]]
    opened: set[str]


def _hosted(catalogue: Catalogue) -> Hosted:
    platform_by_unit = {u.code: platform_of(u) for u in catalogue.units}
    items: dict[str, list[Item]] = {}
    for item in catalogue.items:
        items.setdefault(platform_by_unit[item.unit], []).append(item)
    return Hosted(items, {i.code for i in opendata.open_items(catalogue)})


def _opened(hosted: Hosted, items: list[Item]) -> list[dg.AssetKey]:
    return [open_key(i) for i in items if i.code in hosted.opened]  # by code: comparing pydantic items is slow


def _province_wide_deps(platforms: list[str]) -> list[dg.AssetKey]:
    """Each platform's record, the province's own too: its thousands of tables reach the province-wide assets
    through one key each (each key of another code location costs Dagster about 0.4 ms per dependent asset to
    resolve: 2 assets x 4,400 keys made the province's location 7 s to load; the province's own 1,300 tables
    and their open data as direct dependencies were 2,900 edges of the snapshot, 0.65 MB at 5,000 items)."""
    return [platform_record_key(p) for p in platforms]


def _platform_record_asset(hosted: Hosted, hosting: str) -> dg.AssetsDefinition:
    items = hosted.items.get(hosting, [])
    codes = {i.code for i in items}
    opened = _opened(hosted, items)

    @dg.asset(key=platform_record_key(hosting), group_name=GROUP, automation_condition=keep_in_sync(),
              kinds={"sql"}, deps=[*(asset_key(SHARED, i) for i in items), *opened],
              description=f"What the {hosting} platform has converged, per item: the record the province's "
                          "directory and supervision follow (art. 19)")
    def _record(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        ledger = [e for e in platform.platform(hosting).store.ledger.submissions(status="converged")
                  if e["item"] in codes]
        converged = {c: [e for e in ledger if e["item"] == c] for c in sorted(codes)}
        never = sorted(c for c, entries in converged.items() if not entries)
        return dg.MaterializeResult(metadata={
            "items": len(codes), "items_converged": len(codes) - len(never),
            "rows_converged": sum(e["converged"] for e in ledger),
            "not_converged_yet": dg.MetadataValue.json(never[:50]),
        })

    return _record


def _city_asset(rollup: connected.CityRollup) -> dg.AssetsDefinition:
    """The city's connected table in the city platform's store, rebuilt whole from its and its counties'
    shared tables; on PostgreSQL readable by the province's link role (pipelines.federation.grant_link)."""

    @dg.asset(key=city_key(rollup), group_name=GROUP, automation_condition=keep_in_sync(), kinds={"sql"},
              deps=[asset_key(SHARED, item) for item in rollup.sources],
              description=f"{rollup.provincial.name}: city {rollup.city}'s store, its counties' rows included")
    def _connected(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        store = platform.platform(city_platform(rollup.city)).store
        rows = connected.refresh_city(store, rollup)
        federation.grant_link(store, [connected.city_table(store, rollup)])
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "table": rollup.table_name,
                                              "sources": ", ".join(i.code for i in rollup.sources)})

    return _connected


def converged_check_name(rollup: connected.ProvinceRollup) -> str:
    return f"cities_converged_{rollup.provincial.code}"


def _province_asset(rollup: connected.ProvinceRollup) -> dg.AssetsDefinition:
    """The provincial table: the province's own rows and each city's pulled through its link. A city whose
    platform does not answer is a failed (non-blocking) check, not a failed province."""
    key = province_key(rollup)

    @dg.asset(key=key, group_name=GROUP, automation_condition=keep_in_sync(), kinds={"sql"},
              deps=[asset_key(SHARED, rollup.provincial), *(city_key(c) for c in rollup.cities)],
              check_specs=[dg.AssetCheckSpec(converged_check_name(rollup), asset=key, blocking=False,
                                             description="every city platform answered the pull")],
              description=f"{rollup.provincial.name}: the provincial store, every city's rows with their region, "
                          "pulled through each city platform's link")
    def _connected(context: dg.AssetExecutionContext, platform: PlatformResource) -> Iterator[Event]:
        built = platform.platform()
        refreshed = federation.refresh_province(built.store, rollup, platform.city_links(), built.clock())
        for city in refreshed.not_converged:
            context.log.warning(f"{rollup.provincial.code}: city {city.city} not converged: {city.reason}")
        per_city = {c.platform: {"status": c.status, "rows": c.rows, "reason": c.reason or "",
                                 "ledger": [vars(n) for n in c.ledger]} for c in refreshed.cities}
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": refreshed.rows, "table": rollup.table_name,
            "cities": ", ".join(c.city for c in rollup.cities), "per_city": dg.MetadataValue.json(per_city),
            "not_converged": ", ".join(c.platform for c in refreshed.not_converged) or "none"})
        yield dg.AssetCheckResult(check_name=converged_check_name(rollup), asset_key=key,
                                  passed=not refreshed.not_converged, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"not_converged": dg.MetadataValue.json(
                                      {c.platform: c.reason for c in refreshed.not_converged})})

    return _connected


def _directory_asset(catalogue: Catalogue, platforms: list[str]) -> dg.AssetsDefinition:
    @dg.asset(key=DIRECTORY_KEY, group_name=GROUP, automation_condition=keep_in_sync(), kinds={"rdf"},
              deps=_province_wide_deps(platforms),
              description="The resource directory (art. 18): one DCAT entry per item, Turtle and JSON-LD, "
                          "validated against the DCAT-AP 3.0.0 shapes")
    def _directory(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        built = platform.platform()
        linked, _ = platform.linked_stores()
        days = directory.convergence_days([e for store in [built.store, *linked]
                                           for e in store.ledger.submissions(status="converged")])
        entries = directory.entries(catalogue, {i: d[0] for i, d in days.items()}, {i: d[1] for i, d in days.items()})
        graph = directory.dcat_graph(entries, opened=opendata.read_index(built.data_dir / "open"),
                                     divisions=catalogue.divisions)
        turtle, jsonld = directory.export(graph, built.data_dir / "directory")
        metadata: dict[str, Any] = {"entries": len(entries), "turtle": dg.MetadataValue.path(str(turtle)),
                                    "jsonld": dg.MetadataValue.path(str(jsonld))}
        shapes = directory.shapes_path()
        if not shapes.is_file():  # the export stands; only its validation waits for the shapes
            context.log.warning(f"DCAT-AP shapes not found at {shapes} (set {directory.ENV_SHAPES}): not validated")
            return dg.MaterializeResult(metadata={**metadata, "validated": False})
        result = directory.validate(graph)  # the core and the recommended shapes the repository carries
        if not result.conforms:
            context.log.error(f"the directory export does not conform to DCAT-AP:\n{result.report}")
        return dg.MaterializeResult(metadata={**metadata, "validated": True, "conforms": result.conforms,
                                              "violations": result.violations, "warnings": result.warnings})

    return _directory


def _supervision_asset(catalogue: Catalogue, platforms: list[str]) -> dg.AssetsDefinition:
    @dg.asset(key=SUPERVISION_KEY, group_name=GROUP, automation_condition=keep_in_sync(), kinds={"json"},
              deps=[*_province_wide_deps(platforms),
                    *(province_key(r) for r in connected.rollups(catalogue))],  # it reports their last pulls
              description="Temporary collections (art. 12), repeated-collection overlaps (art. 13) and the city "
                          "platforms not converged into the province on their last pull (art. 19)")
    def _supervision(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        built = platform.platform()
        temporary = supervision.temporary_collections(catalogue, province_day(built.clock()))
        linked, down = platform.linked_stores()
        carried = [flag for store in [built.store, *linked] for flag in sharing.carried_log(store)]
        report = supervision.repeated_collection_report(catalogue, carried)
        unconverged = federation.unconverged_cities(built.store)
        return dg.MaterializeResult(metadata={
            "platforms_unreachable": dg.MetadataValue.json(down),
            "cities_not_converged": dg.MetadataValue.md(_code_block(federation.render_unconverged(unconverged))),
            "temporary_collections": len(temporary),
            "temporary_expired": sum(1 for t in temporary if t["status"] == "expired"),
            "element_overlaps": len(report["elements"]), "undeclared_overlaps": len(report["undeclared"]),
            "flagged_submissions": len(report["flagged_submissions"]),
            "temporary": dg.MetadataValue.md(_code_block(supervision.render_temporary(temporary))),
            "repeated_collection": dg.MetadataValue.md(_code_block(supervision.render_repeated(report))),
        })

    return _supervision


def _code_block(text: str) -> str:
    return f"```\n{text}\n```"

