"""Asset specs and checks generated from the catalogue: one subsettable multi-asset per unit.

Keys show the layer and the item (``intake/<unit>/<item>``, ``validated/...``, ``shared/...``);
one multi-asset per unit keeps definitions fast for thousands of items.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from pipelines.catalogue.models import Catalogue, Item, Unit
from pipelines.quality.checks import INTAKE, SHARED, STAGES, VALIDATED, check_name, check_plan
from pipelines.quality.rules import Dimension
from pipelines.sharing import authorities

STAGE_KINDS = {INTAKE: {"pandas"}, VALIDATED: {"great_expectations", "pandas"}}
STAGE_TEXT = {
    INTAKE: "submissions taken in at the intake window",
    VALIDATED: "rows that passed the item's expectation suite (failures held back with reasons)",
    SHARED: "the converged shared-store table",
}


def asset_key(stage: str, item: Item) -> dg.AssetKey:
    return dg.AssetKey([stage, item.unit, item.code])


def _tags(item: Item, unit: Unit) -> dict[str, str]:
    return {
        "level": item.level.value,
        "region": item.region,
        "sharing": item.sharing.type.value,
        "opening": item.opening.type.value,
        "update_cycle": item.update_cycle.value,
        "obtained": item.obtained.value,
        "collection": item.collection.method,
        "unit_kind": unit.kind.value,
    }


def column_schema(item: Item) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(
            name=f.name, type=f.type.value,
            description=f.label + (f" ({f.standard.value})" if f.standard else ""),
            constraints=dg.TableColumnConstraints(nullable=not f.not_null, unique=f.primary_key and
                                                  len(item.primary_key) == 1),
        )
        for f in item.fields
    ])


def authority_keys(catalogue: Catalogue, item: Item) -> list[dg.AssetKey]:
    """Validation verifies keys against, and looks values up in, these shared tables (art. 13, 14)."""
    return [asset_key(SHARED, catalogue.item(code)) for code in authorities(item)]


def item_specs(item: Item, unit: Unit, store_kind: str,
               authority_deps: list[dg.AssetKey] | None = None) -> list[dg.AssetSpec]:
    specs = []
    upstream: dg.AssetKey | None = None
    for stage in STAGES:
        key = asset_key(stage, item)
        extra = list(authority_deps or []) if stage == VALIDATED else []
        specs.append(dg.AssetSpec(
            key=key,
            deps=([upstream] if upstream else []) + extra,
            description=f"{item.name} — {STAGE_TEXT[stage]}.\n\n{item.abstract}",
            group_name=unit.code,
            owners=[unit.owner] if unit.owner else [],
            kinds=STAGE_KINDS.get(stage, {store_kind}),
            tags=_tags(item, unit),
            metadata={"dagster/column_schema": column_schema(item), "item": item.code, "unit_name": unit.name,
                      "primary_key": ", ".join(item.primary_key)},
            skippable=True,
            freshness_policy=freshness_policy(item) if stage == SHARED else None,
        ))
        upstream = key
    return specs


def freshness_policy(item: Item) -> dg.FreshnessPolicy:
    """The shared table is stale once it has not converged within the item's update cycle."""
    return dg.FreshnessPolicy.time_window(fail_window=item.update_cycle.max_age)


def item_check_specs(item: Item) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=check_name(stage, item.code, dimension),
            asset=asset_key(stage, item),
            description=f"{Dimension(dimension).value} of {item.name} at the {stage} stage",
            # The pipeline itself enforces blocking (held-back rows and blocked submissions never
            # converge), so a failed check must not fail the whole unit's step.
            blocking=False,
        )
        for stage, dimension in check_plan(item)
    ]


def unit_specs(catalogue: Catalogue, unit: Unit, store_kind: str) -> Iterator[tuple[list, list]]:
    for item in catalogue.items_of(unit.code):
        yield item_specs(item, unit, store_kind, authority_keys(catalogue, item)), item_check_specs(item)
