"""Asset specs and checks generated from the catalogue: one subsettable multi-asset per unit.

Keys show the layer and the item (``intake/<unit>/<item>_intake``, ``validated/<unit>/<item>_validated``,
``shared/<unit>/<item>``): the UI labels a node with the key's last component, so each stage's differs.
One multi-asset per unit keeps definitions fast for thousands of items. The validated and shared stages
have one check each (``<stage>_<item>``) whose result carries the stage's quality dimensions; the intake
stage's outcome (integrity: what was taken in, what was set aside) is metadata of its materialization, beside
its row counts. Each spec carries what a person filters or reads the graph by: the stages no description
(docs/quality.md says what each is), the shared table the item's name, tags and freshness policy; its
abstract, primary key and column schema come with each of its materializations. The code location's
snapshot grows with what each node carries, and Dagster itself costs about 1 KB per asset node and 0.4 KB
per check node (5,000 items: 110 MB at first, 37 MB with three checks per item; see README Scale).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import dagster as dg

from pipelines.catalogue.models import Catalogue, Item, ItemField, Unit
from pipelines.quality.checks import INTAKE, SHARED, STAGES, VALIDATED, stage_check_name
from pipelines.sharing import authorities

# The stages whose check is a node of the graph; the intake's outcome is metadata of its materialization.
CHECKED_STAGES = (VALIDATED, SHARED)
# What each stage is and what its check says: docs/quality.md, not repeated on thousands of specs.


# The shared table (and what follows it, e.g. ``open/<unit>/<item>``) keeps the item's bare code.
STAGE_SUFFIX = {INTAKE: f"_{INTAKE}", VALIDATED: f"_{VALIDATED}"}


def asset_key(stage: str, item: Item) -> dg.AssetKey:
    return _key(stage, item.unit, item.code)


@functools.lru_cache(maxsize=65536)
def _key(stage: str, unit: str, code: str) -> dg.AssetKey:
    """Keys are immutable: each is made once, not once per spec, dependency and check that names it (50,000
    times for 5,000 items)."""
    return dg.AssetKey([stage, unit, code + STAGE_SUFFIX.get(stage, "")])


def _tags(item: Item) -> dict[str, str]:
    """What a person filters the shared tables by, per item: not what the group (the unit) already says, its
    level and kind (each tag costs about 25 bytes on each of 5,000 nodes in every load of the location)."""
    return {
        "region": item.region,
        "sharing": item.sharing.type.value,
        "opening": item.opening.type.value,
        "update_cycle": item.update_cycle.value,
        "obtained": item.obtained.value,
        "collection": item.collection.method,
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
    intake, validated, shared = (asset_key(stage, item) for stage in STAGES)
    return [
        dg.AssetSpec(key=intake, group_name=unit.code, skippable=True),
        dg.AssetSpec(key=validated, deps=[intake, *(authority_deps or [])], group_name=unit.code, skippable=True),
        # The owner, kind and the catalogue's tags (level, region, ...) on the shared table only: filter, then
        # select upstream (on every stage they were 1 MB of the snapshot at 5,000 items).
        dg.AssetSpec(key=shared, deps=[validated], description=item.name, group_name=unit.code,
                     owners=[unit.owner] if unit.owner else [], kinds={store_kind}, tags=_tags(item),
                     skippable=True, freshness_policy=freshness_policy(item)),
    ]


def shared_metadata(item: Item) -> dict[str, Any]:
    """On each materialization of the shared table, where the UI shows the newest one's schema as the table's
    columns: what describes the table once, not on its spec in every load of the code location."""
    return {"dagster/column_schema": column_schema(item), "abstract": item.abstract,
            "primary_key": ", ".join(item.primary_key)}


def freshness_policy(item: Item) -> dg.FreshnessPolicy:
    """The shared table is stale once it has not converged within the item's update cycle."""
    return dg.FreshnessPolicy.time_window(fail_window=item.update_cycle.max_age)


def item_check_specs(item: Item) -> list[dg.AssetCheckSpec]:
    return [
        # The pipeline itself enforces blocking (held-back rows and blocked submissions never converge),
        # so a failed check must not fail the whole unit's step.
        dg.AssetCheckSpec(name=stage_check_name(stage, item.code), asset=asset_key(stage, item), blocking=False)
        for stage in CHECKED_STAGES
    ]


def unit_specs(catalogue: Catalogue, unit: Unit, store_kind: str) -> Iterator[tuple[list, list]]:
    for item in catalogue.items_of(unit.code):
        yield item_specs(item, unit, store_kind, authority_keys(catalogue, item)), item_check_specs(item)
