"""What ``make demo`` prints after the run: the connected stores, county -> city -> province (art. 19).

Reads the provincial tables the ``province/<item>`` assets rebuilt and counts their rows per source
region and item, so the console shows every city's (and county's) rows arriving in the province.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipelines import connected
from pipelines.catalogue.models import Level
from pipelines.store import Store


def connected_report(store: Store) -> list[dict[str, Any]]:
    """Per provincial table: its rows, and how many came from each region's item (and through which city)."""
    catalogue = store.catalogue
    report = []
    for rollup in connected.rollups(catalogue):
        table = connected.province_table(store, rollup)
        rows = connected.read_connected(store, table)
        counts = Counter((str(r["_region"]), str(r["_source_item"])) for r in rows)
        sources = []
        for (region, code), n in sorted(counts.items()):
            item = catalogue.item(code)
            via = connected.city_of(region) if item.level is not Level.PROVINCE else None
            sources.append({"region": region, "item": code, "unit": item.unit, "level": item.level.value,
                            "via_city": via, "rows": n})
        report.append({"asset": f"province/{rollup.provincial.code}", "table": table.name, "rows": len(rows),
                       "cities": [c.city for c in rollup.cities], "sources": sources})
    return report


def render_connected(report: list[dict[str, Any]]) -> str:
    if not report:
        return "no connected stores: no city or county item maps onto a provincial item"
    lines = []
    for table in report:
        lines.append(f"{table['asset']:<34} {table['rows']:>6} rows  (table {table['table']})")
        for s in table["sources"]:
            lines.append(f"  {s['region']}  {s['unit'] + '/' + s['item']:<42} {s['rows']:>6}  {_path(s)}")
        arrived = {s["via_city"] for s in table["sources"]}
        lines += [f"  {city}  (nothing converged in this city's store yet)" for city in table["cities"]
                  if city not in arrived]
    return "\n".join(lines)


def _path(source: dict[str, Any]) -> str:
    if source["via_city"] is None:
        return "the province's own"
    hops = f"city store {source['via_city']} -> province"
    return f"county -> {hops}" if source["level"] == Level.COUNTY.value else hops
