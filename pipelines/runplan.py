"""Which items a run takes and how it splits them: only items with something new, authorities first,
whole units per batch, batches balanced across worker processes.

Plain Python: the CLI and the intake sensor plan with it, Dagster executes the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item
from pipelines.intake import is_regular, item_code_of, units_to_run, window_entries
from pipelines.sharing import authorities

ITEMS_PER_WORKER = 100  # a worker process costs about 8 s CPU to start (Dagster, GX, the catalogue)


@dataclass(frozen=True)
class Batch:
    """Whole units, so that a unit's step runs once per batch."""

    wave: int
    items: tuple[Item, ...]

    @property
    def units(self) -> list[str]:
        return sorted({i.unit for i in self.items})


def pending_items(catalogue: Catalogue, intake_dir: Path) -> list[Item]:
    """Items with a file waiting, items pulled from a database (always asked), and for anything else in the
    window (a file naming no item of its unit, a link, a stray outside every unit's folder) the first item
    of the unit whose step refuses and records it (art. 12)."""
    codes: set[str] = {i.code for i in catalogue.items if isinstance(i.collection, DatabaseCollection)}
    for folder, path in window_entries(intake_dir):
        item = catalogue.find_item(item_code_of(path))
        if item is not None and item.unit == folder and is_regular(path):
            codes.add(item.code)
    judged = {catalogue.item(c).unit for c in codes}
    for unit in units_to_run(intake_dir, catalogue) - judged:
        if catalogue.items_of(unit):  # a unit with no items has no step: the steward's records its files
            codes.add(catalogue.items_of(unit)[0].code)
    return [i for i in catalogue.items if i.code in codes]


def waves(catalogue: Catalogue, items: Iterable[Item]) -> list[list[Item]]:
    """An item validates against its authorities' shared tables, so a pending authority converges in an
    earlier wave than the items that verify keys against it."""
    chosen = {i.code: i for i in items}
    depth: dict[str, int] = {}

    def depth_of(code: str, seen: frozenset[str] = frozenset()) -> int:
        if code not in depth:
            upstream = [a for a in authorities(catalogue.item(code)) if a in chosen and a not in seen | {code}]
            depth[code] = 1 + max((depth_of(a, seen | {code}) for a in upstream), default=-1)
        return depth[code]

    by_wave: dict[int, list[Item]] = {}
    for code, item in chosen.items():
        by_wave.setdefault(depth_of(code), []).append(item)
    return [by_wave[w] for w in sorted(by_wave)]


def worker_count(pending: int, cores: int) -> int:
    """One worker process per ITEMS_PER_WORKER pending items, up to the cores: small runs stay in one."""
    return max(1, min(cores, pending // ITEMS_PER_WORKER))


def plan(catalogue: Catalogue, items: Iterable[Item], workers: int) -> list[Batch]:
    """Per wave, the wave's units spread over at most ``workers`` batches, largest units first."""
    batches: list[Batch] = []
    for number, wave in enumerate(waves(catalogue, items)):
        units: dict[str, list[Item]] = {}
        for item in wave:
            units.setdefault(item.unit, []).append(item)
        bins: list[list[Item]] = [[] for _ in range(min(workers, len(units)))]
        for unit_items in sorted(units.values(), key=len, reverse=True):
            min(bins, key=len).extend(unit_items)
        batches += [Batch(number, tuple(b)) for b in bins if b]
    return batches
