"""What the data management institution supervises (art. 8, 12, 13): temporary collections and
repeated-collection overlaps across units.

Plain data from the catalogue and the repeated-collection log; the CLI and the asset render it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from pipelines.catalogue.models import Catalogue, FieldType, Item, ItemField


def temporary_collections(catalogue: Catalogue, today: date) -> list[dict[str, Any]]:
    """Every temporary collection with its reason, approver, expiry and whether it still runs."""
    listed = []
    for item in catalogue.items:
        if item.temporary is None:
            continue
        t = item.temporary
        listed.append({"item": item.code, "name": item.name, "unit": item.unit, "reason": t.reason,
                       "approver": t.approver, "expires": t.expires.isoformat(),
                       "status": "expired" if t.expired(today) else "active",
                       "days_left": max((t.expires - today).days, 0)})
    return sorted(listed, key=lambda e: (e["expires"], e["item"]))


def render_temporary(listed: list[dict[str, Any]]) -> str:
    if not listed:
        return "no temporary collections"
    lines = [f"{'item':<24} {'unit':<16} {'expires':<10} {'status':<8} approver / reason"]
    lines += [f"{e['item']:<24} {e['unit']:<16} {e['expires']:<10} {e['status']:<8} {e['approver']} / {e['reason']}"
              for e in listed]
    return "\n".join(lines)


def _how(item: Item, f: ItemField, source_item: str) -> str:
    if item.code == source_item:
        return "authoritative source"
    if f.lookup is not None:
        return "looked up through sharing"
    if f.references is not None:
        return "references the authoritative key"
    if f.matches is not None:
        return "collected again and compared with the authority"
    return "collected again"


def element_overlaps(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Per declared data element used by more than one unit: who is the source, who else uses it, how."""
    governance = catalogue.governance
    if governance is None:
        return []
    report = []
    for element in governance.elements:
        users = [(item, f) for item in catalogue.items for f in item.fields
                 if f.element == element.code or (item.code, f.name) == (element.source.item, element.source.field)]
        units = {item.unit for item, _ in users}
        if len(units) > 1:
            report.append({"element": element.code, "name": element.name, "source": str(element.source),
                           "users": [{"item": item.code, "unit": item.unit, "field": f.name,
                                      "how": _how(item, f, element.source.item)} for item, f in users]})
    return report


def undeclared_overlaps(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Fields collected under the same label by items of different units, with no element declared and
    no reference or look-up: candidates for repeated collection the catalogue has not settled.

    Items connected through ``maps_to`` are one resource at different levels, not an overlap. Only
    descriptive text counts: dates, numbers, flags and closed value sets (statuses, types) describe each
    item's own records, so two items sharing such a label collect nothing twice.
    """
    by_label: dict[str, list[tuple[Item, ItemField]]] = defaultdict(list)
    for item in catalogue.items:
        for f in item.fields:
            if _descriptive(item, f) and f.element is None and f.references is None and f.lookup is None:
                by_label[f.label].append((item, f))
    return [{"label": label, "collected_by": [{"item": i.code, "unit": i.unit, "field": f.name} for i, f in users]}
            for label, users in sorted(by_label.items())
            if len({i.unit for i, _ in users}) > 1 and len({i.maps_to or i.code for i, _ in users}) > 1]


def _descriptive(item: Item, f: ItemField) -> bool:
    return f.type is FieldType.STRING and not f.values and f.name != item.timestamp_field


def repeated_collection_report(catalogue: Catalogue, flagged: list[dict[str, Any]]) -> dict[str, Any]:
    """Overlaps across units (declared and undeclared) and submissions that carried looked-up data."""
    return {"elements": element_overlaps(catalogue), "undeclared": undeclared_overlaps(catalogue),
            "flagged_submissions": flagged}


def render_repeated(report: dict[str, Any]) -> str:
    lines = ["data elements used by more than one unit:"]
    for e in report["elements"]:
        lines.append(f"  {e['element']} ({e['name']}), source {e['source']}:")
        lines += [f"    {u['unit']}/{u['item']}.{u['field']}: {u['how']}" for u in e["users"]]
    lines.append("same field collected by several units with no element declared:")
    for o in report["undeclared"]:
        lines.append(f"  {o['label']}: " + ", ".join(f"{u['unit']}/{u['item']}.{u['field']}"
                                                   for u in o["collected_by"]))
    lines.append("submissions that carried data obtainable through sharing (flagged, values discarded):")
    lines += [f"  {f['unit']}/{f['submission_id']}: {f['field']} ({f['rows']} value(s)), source {f['source']}"
              for f in report["flagged_submissions"]]
    return "\n".join(lines)
