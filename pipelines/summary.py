"""Per-item reconciliation and per-check status, read from the store (no Dagster needed)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pipelines.catalogue.models import Catalogue
from pipelines.clock import province_day
from pipelines.quality.inspection import quality_summary
from pipelines.store import Store

COUNTS = ("received", "valid", "held_back", "converged", "stale")


def build_summary(catalogue: Catalogue, store: Store, *linked: Store) -> dict[str, Any]:
    """All time, and the newest day with submissions on its own (``newest_day``): after a run, what that run's
    day took in, which a season of earlier submissions would otherwise bury. ``linked``: the other platforms'
    stores (read-only), whose ledgers and checks count too."""
    store.ensure_tables([])
    stores = [store, *linked]
    ledger = [row for s in stores for row in s.ledger.submissions()]
    items, uncatalogued = _per_item(catalogue, ledger)
    latest = [c for s in stores for c in s.records.latest_checks()]
    checks = [{"check": c["check_name"], "item": c["item"], "unit": c["unit"], "stage": c["stage"],
               "dimension": c["dimension"], "passed": bool(c["passed"]), "severity": c["severity"],
               "pass_rate": round(c["pass_rate"], 4)} for c in latest]
    quality = quality_summary(catalogue, latest)
    days = sorted({province_day(row["received_at"]) for row in ledger})
    newest = days[-1] if days else None
    day_items, _ = _per_item(catalogue, [r for r in ledger if province_day(r["received_at"]) == newest])
    return {"items": items, "checks": checks, "refused_outside_catalogue": uncatalogued,
            "quality": quality, "totals": _totals(items, checks),
            "days": [d.isoformat() for d in days],
            "newest_day": {"day": newest.isoformat() if newest else None, "items": day_items,
                           "totals": _totals(day_items, checks)}}


def _per_item(catalogue: Catalogue, ledger: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                                           list[dict[str, Any]]]:
    items: dict[str, dict[str, Any]] = {
        i.code: {"unit": i.unit, "submissions": 0, "rejected_submissions": 0, **dict.fromkeys(COUNTS, 0)}
        for i in catalogue.items
    }
    uncatalogued: list[dict[str, Any]] = []
    for row in ledger:
        entry = items.get(row["item"])
        if entry is None:
            uncatalogued.append({"item": row["item"], "unit": row["unit"], "source": row["source"],
                                 "reason": row["reason"], "received": row["received"]})
            continue
        entry["submissions"] += 1
        entry["rejected_submissions"] += row["status"] == "rejected"
        for count in COUNTS:
            entry[count] += row[count] or 0
    for entry in items.values():
        entry["reconciled"] = entry["received"] == entry["converged"] + entry["held_back"]
    return items, uncatalogued


def _totals(items: dict[str, dict[str, Any]], checks: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {c: sum(e[c] for e in items.values()) for c in COUNTS}
    totals["checks_passed"] = sum(1 for c in checks if c["passed"])
    totals["checks_failed"] = sum(1 for c in checks if not c["passed"])
    totals["all_reconciled"] = all(e["reconciled"] for e in items.values())
    return totals


def render_text(summary: dict[str, Any]) -> str:
    """Per item; when the ledger spans several days, the newest day's submissions per item, then all time."""
    several_days = len(summary.get("days", ())) > 1
    shown = summary["newest_day"] if several_days else summary
    lines = [f"submissions received on {shown['day']} (the newest day; all time below):"] if several_days else []
    lines.append(f"{'item':<28} {'unit':<16} {'received':>9} {'valid':>7} {'held':>6} {'conv.':>7} {'stale':>6}  "
                 "checks")
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for check in summary["checks"]:
        by_item[check["item"]].append(check)
    for code, e in shown["items"].items():
        item_checks = by_item.get(code, [])
        passed = sum(1 for c in item_checks if c["passed"])
        lines.append(f"{code:<28} {e['unit']:<16} {e['received']:>9} {e['valid']:>7} {e['held_back']:>6} "
                     f"{e['converged']:>7} {e['stale']:>6}  {passed} passed / {len(item_checks) - passed} failed"
                     + ("" if e["reconciled"] else "  NOT RECONCILED"))
    t = summary["totals"]
    lines.append(_total_line(f"total {shown['day']}" if several_days else "total", shown["totals"]))
    if several_days:
        lines.append(_total_line(f"all time ({len(summary['days'])} days since {summary['days'][0]})", t))
    for refused in summary["refused_outside_catalogue"]:
        lines.append(f"refused outside the catalogue: {refused['unit']}/{refused['source']}: {refused['reason']}")
    lines.append(("received = converged + held back for every item" + (", all time: " if several_days else ": "))
                 + ("yes" if t["all_reconciled"] else "NO"))
    lines += ["", "quality per unit and dimension (newest result of each check; checks passed and failed, and the mean "
              "share of rows passing them):", *_quality_lines(summary["quality"])]
    return "\n".join(lines)


def _total_line(label: str, t: dict[str, Any]) -> str:
    return (f"{label:<45} {t['received']:>9} {t['valid']:>7} {t['held_back']:>6} {t['converged']:>7} "
            f"{t['stale']:>6}  {t['checks_passed']} passed / {t['checks_failed']} failed")


def _quality_lines(rows: list[dict[str, Any]]) -> list[str]:
    # checks fail on table-level rules too (freshness, reconciliation); the rate is of rows: say which is which
    lines = [f"{'unit':<16} {'dimension':<13} {'checks':>6} {'passed':>6} {'failed':>6} {'rows passing':>12}  "
             "items with a failed check"]
    lines += [f"{r['unit']:<16} {r['dimension']:<13} {r['checks']:>6} {r['passed']:>6} {r['failed']:>6} "
              f"{r['pass_rate']:>12.2%}  {', '.join(r['failed_items']) or '-'}" for r in rows]
    return lines
