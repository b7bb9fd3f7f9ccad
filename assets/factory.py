"""Asset specs and checks generated from the catalogue: one subsettable multi-asset per unit.

Keys show the layer and the item (``intake/<unit>/<item>_intake``, ``validated/<unit>/<item>_validated``,
``shared/<unit>/<item>``): the UI labels a node with the key's last component, so each stage's differs.
One multi-asset per unit keeps definitions fast for thousands of items. Each stage has one check
(``<stage>_<item>``) whose result carries the four quality dimensions; what describes the item (its
abstract, tags) sits once, on the shared table, not repeated on every stage, and its column schema comes
with each materialization of that table: the code location's snapshot grows with what each spec carries
(5,000 items: 110 MB, then 50 MB with the schema on every shared spec; see README Scale).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from pipelines.catalogue.models import Catalogue, Item, ItemField, Unit
from pipelines.quality.checks import INTAKE, SHARED, STAGES, VALIDATED, stage_check_name
from pipelines.sharing import authorities

STAGE_KINDS = {INTAKE: {"pandas"}, VALIDATED: {"great_expectations", "pandas"}}
STAGE_TEXT = {
    INTAKE: "submissions taken in at the intake window",
    VALIDATED: "rows that passed the item's expectation suite (failures held back with reasons)",
    SHARED: "the converged shared-store table",
}
# What each stage's check says, in docs/quality.md; not repeated on thousands of check specs.


# The shared table (and what follows it, e.g. ``open/<unit>/<item>``) keeps the item's bare code.
STAGE_SUFFIX = {INTAKE: f"_{INTAKE}", VALIDATED: f"_{VALIDATED}"}


def asset_key(stage: str, item: Item) -> dg.AssetKey:
    return dg.AssetKey([stage, item.unit, item.code + STAGE_SUFFIX.get(stage, "")])


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
    """On each materialization of the shared table, where the UI shows it as the asset's columns: on the
    5,000 definitions it was 13 MB of the snapshot (a default constraint object on every column)."""
    return dg.TableSchema(columns=[
        dg.TableColumn(
            name=f.name, type=f.type.value,
            description=f.label + (f" ({f.standard.value})" if f.standard else ""),
            constraints=_constraints(item, f),
        )
        for f in item.fields
    ])


def _constraints(item: Item, f: ItemField) -> dg.TableColumnConstraints | None:
    """Only where a column is not the default (nullable, not unique): the schema sits on 5,000 tables."""
    unique = f.primary_key and len(item.primary_key) == 1
    return dg.TableColumnConstraints(nullable=not f.not_null, unique=unique) if unique or f.not_null else None


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
        shared = stage == SHARED
        specs.append(dg.AssetSpec(
            key=key,
            deps=([upstream] if upstream else []) + extra,
            description=f"{item.name} — {STAGE_TEXT[stage]}.\n\n{item.abstract}" if shared else STAGE_TEXT[stage],
            group_name=unit.code,
            owners=[unit.owner] if unit.owner else [],
            kinds=STAGE_KINDS.get(stage, {store_kind}),
            # The catalogue's tags (level, region, ...) on the shared table only: filter, then select upstream.
            tags=_tags(item, unit) if shared else {},
            metadata={"primary_key": ", ".join(item.primary_key)} if shared else {},
            skippable=True,
            freshness_policy=freshness_policy(item) if shared else None,
        ))
        upstream = key
    return specs


def freshness_policy(item: Item) -> dg.FreshnessPolicy:
    """The shared table is stale once it has not converged within the item's update cycle."""
    return dg.FreshnessPolicy.time_window(fail_window=item.update_cycle.max_age)


def item_check_specs(item: Item) -> list[dg.AssetCheckSpec]:
    return [
        # The pipeline itself enforces blocking (held-back rows and blocked submissions never converge),
        # so a failed check must not fail the whole unit's step.
        dg.AssetCheckSpec(name=stage_check_name(stage, item.code), asset=asset_key(stage, item), blocking=False)
        for stage in STAGES
    ]


def unit_specs(catalogue: Catalogue, unit: Unit, store_kind: str) -> Iterator[tuple[list, list]]:
    for item in catalogue.items_of(unit.code):
        yield item_specs(item, unit, store_kind, authority_keys(catalogue, item)), item_check_specs(item)
