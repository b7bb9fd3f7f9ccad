"""What ``make demo`` prints after the run: per platform what converged in its own store, then the connected
stores, county -> city -> province (art. 19).

Reads each platform's ledger and connected tables, and the provincial tables the ``province/<item>`` assets
rebuilt from the cities' pulls, counting their rows per source region and item, so the console shows every
city's (and county's) rows arriving in the province.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipelines import connected, federation
from pipelines.catalogue.models import Catalogue, Level
from pipelines.platforms import PROVINCE, city_platform, platform_of
from pipelines.store import Store


def platform_report(catalogue: Catalogue, every: federation.Supervised) -> list[dict[str, Any]]:
    """Per platform: the units it hosts, what its ledger received, converged and held back, its connected
    tables' rows, and (the province) each city's last pull."""
    stores: dict[str, Store] = {PROVINCE: every.province, **{s.platform: s for s in every.linked}}
    report = []
    for name, store in stores.items():
        units = [u.code for u in catalogue.units if catalogue.items_of(u.code) and platform_of(u) == name]
        ledger = store.ledger.submissions()
        tables = ([(c.table_name, len(connected.read_connected(store, connected.city_table(store, c))))
                   for r in connected.rollups(catalogue) for c in r.cities if city_platform(c.city) == name]
                  if name != PROVINCE else [])
        report.append({"platform": name, "units": units, "submissions": len(ledger),
                       **{c: sum(e[c] or 0 for e in ledger) for c in ("received", "converged", "held_back")},
                       "connected": tables, "pulls": federation.latest_pulls(store) if name == PROVINCE else []})
    report += [{"platform": name, "down": reason} for name, reason in every.down.items()]
    return report


def render_platforms(report: list[dict[str, Any]]) -> str:
    lines = []
    for p in report:
        if "down" in p:
            lines.append(f"{p['platform']:<14} NOT REACHED: {p['down']}")
            continue
        lines.append(f"{p['platform']:<14} {len(p['units']):>2} units {p['submissions']:>4} submissions  "
                     f"{p['received']:>6} received {p['converged']:>6} converged {p['held_back']:>5} held back  "
                     f"({', '.join(p['units'])})")
        lines += [f"{'':<14} {table:<42} {rows:>6} rows (its counties' included)" for table, rows in p["connected"]]
        lines += [f"{'':<14} pulled {q['item']} from {q['platform']}: {q['status']}, {q['rows']} rows"
                  + (f" ({q['reason']})" if q["reason"] else "") for q in p["pulls"]]
    up = [p for p in report if "down" not in p]
    lines.append(f"{'all platforms':<14} {'':<9} {sum(p['submissions'] for p in up):>4} submissions  "
                 f"{sum(p['received'] for p in up):>6} received {sum(p['converged'] for p in up):>6} converged "
                 f"{sum(p['held_back'] for p in up):>5} held back")
    return "\n".join(lines)


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
