"""Open data (art. 10): one ``open/<unit>/<item>`` asset per item whose opening type is ``open``,
published from its shared table with personal information removed, and a blocking check that scans
the published files for identity numbers, phone numbers, e-mail addresses and the source rows'
personal values. Thin wiring over pipelines.opendata. Publishing is the unit's sharing and open service
(art. 6): a run whose operator is not entrusted with the unit's ``sharing`` work publishes nothing of that
unit and is recorded refused (art. 7)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.factory import asset_key
from pipelines import entrustment, opendata
from pipelines.catalogue.models import Catalogue, Item, Work
from pipelines.platforms import Scope
from pipelines.quality.checks import SHARED
from resources.platform import PlatformResource

# No "from __future__ import annotations" here: Dagster reads the context and resource annotations at runtime.
OPEN = "open"
PII_CHECK = "no_personal_data"
Event = dg.MaterializeResult | dg.AssetCheckResult


def open_key(item: Item) -> dg.AssetKey:
    return asset_key(OPEN, item)


def opendata_assets(catalogue: Catalogue, scope: Scope | None = None) -> list[dg.AssetsDefinition]:
    items = [i for i in opendata.open_items(catalogue) if scope is None or scope.has_unit(i.unit)]
    if not items:
        return []
    by_key = {open_key(item): item for item in items}
    by_code = {item.code: item for item in items}

    @dg.multi_asset(
        name="open_data", specs=[_spec(catalogue, item) for item in items], can_subset=True,
        check_specs=[dg.AssetCheckSpec(PII_CHECK, asset=open_key(item), blocking=True,
                                       description="the published files hold no personal information")
                     for item in items],
    )
    def _open_data(context: dg.AssetExecutionContext, platform: PlatformResource) -> Iterator[Event]:
        target = platform.platform().data_dir / OPEN
        released: list[opendata.Publication] = []
        withdrawn: list[str] = []
        refused: list[str] = []
        for key in sorted(context.selected_asset_keys, key=str):
            item = by_key[key]
            built = platform.platform_of_unit(item.unit)
            operator = entrustment.operator_of_run(catalogue, item.unit, context.run.tags,
                                                   entrustment.local_day(built.clock()), platform.run_date_allowed,
                                                   Work.SHARING)
            if operator.refusal:
                refused.append(_refused(context, built, operator, item))
                continue
            # The table read a chunk of rows at a time (a million-row table is never one frame); before its first
            # convergence an open item is published empty, so its files always exist. One scan of the rows both
            # files are written from decides for the CSV and the JSON.
            staged, findings = opendata.stage_from_store(catalogue, item, built.store, target / opendata.STAGING,
                                                         built.clock())
            if findings:
                opendata.discard(staged)
                withdrawn.append(item.code)
                context.log.error(f"{item.code}: not published, personal data found: {findings[0]}")
            else:
                staged = opendata.release(staged, target)
                released.append(staged)
            yield _materialized(key, staged, published=not findings)
            yield _pii_check(key, findings)
        opendata.write_index(target, released, withdrawn, set(by_code))
        if refused:
            raise dg.Failure(description="; ".join(refused), allow_retries=False)

    return [_open_data]


def _refused(context: dg.AssetExecutionContext, built: Any, operator: entrustment.Operator, item: Item) -> str:
    """The refusal as the run's incident for the unit (what the contractor evaluation counts)."""
    reason = f"{item.code}: {entrustment.NotEntrusted(operator)}"
    now = built.clock()
    built.store.records.record_run(context.run.run_id, item.unit, operator.contractor, now, now, "refused", reason,
                                   operator.day)
    context.log.error(reason)
    return reason


def _spec(catalogue: Catalogue, item: Item) -> dg.AssetSpec:
    unit = catalogue.unit(item.unit)
    return dg.AssetSpec(
        open_key(item), deps=[asset_key(SHARED, item)], group_name=unit.code, kinds={"csv", "json"},
        owners=[unit.owner] if unit.owner else [], skippable=True,
        tags={"layer": OPEN, "opening": item.opening.type.value},
        description=f"{item.name}: open data for society (CSV and JSON), personal information removed "
                    f"({', '.join(opendata.withheld_fields(item)) or 'no personal fields'})",
    )


def _materialized(key: dg.AssetKey, publication: opendata.Publication, published: bool) -> dg.MaterializeResult:
    """``published`` False: the files failed the scan and were deleted (any earlier edition is taken down)."""
    metadata: dict[str, Any] = {
        "dagster/row_count": publication.rows if published else 0, "published": published,
        "withheld_fields": ", ".join(publication.withheld) or "none", "values_scrubbed": publication.scrubbed}
    if published:
        metadata["csv"] = dg.MetadataValue.path(str(publication.csv.resolve()))
        metadata["json"] = dg.MetadataValue.path(str(publication.json.resolve()))
    return dg.MaterializeResult(asset_key=key, metadata=metadata)


def _pii_check(key: dg.AssetKey, findings: list[opendata.Finding]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key, check_name=PII_CHECK, passed=not findings,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"findings": len(findings), "examples": "; ".join(str(f) for f in findings[:5]) or "none"},
    )
