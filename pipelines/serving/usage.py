"""What the sharing service served and refused, per owning unit, item and reading unit (from the audit chain).

The Dagster asset ``sharing/usage`` shows it; the scorecards' "shared data used" counts the same reads
(``pipelines.evaluation.records.read_sharing_reads``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from pipelines.catalogue.models import Catalogue
from pipelines.evaluation.periods import Period
from pipelines.evaluation.records import SharingRead


@dataclass(frozen=True)
class Usage:
    owner: str
    item: str
    reader: str
    served: int
    refused: int
    rows: int


def usage(catalogue: Catalogue, reads: Sequence[SharingRead], period: Period | None = None) -> list[Usage]:
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for read in reads:
        item = catalogue.find_item(read.item)
        if item is None or (period is not None and not period.contains(read.at)):
            continue
        entry = counts[(item.unit, item.code, read.reader)]
        entry[0 if read.allowed else 1] += 1
        entry[2] += read.rows
    return [Usage(owner, item, reader, *numbers) for (owner, item, reader), numbers in sorted(counts.items())]


def usage_markdown(rows: Sequence[Usage]) -> str:
    if not rows:
        return "no requests to the sharing service"
    return tabulate([[u.owner, u.item, u.reader, u.served, u.refused, u.rows] for u in rows],
                    headers=["owner", "item", "reader", "served", "refused", "rows served"], tablefmt="pipe")
