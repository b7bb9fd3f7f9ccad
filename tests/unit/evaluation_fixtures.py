"""A small catalogue built in code, for the evaluation tests: unit ``amr`` with a daily, a weekly and a
monthly item, unit ``nn`` with one quarterly item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipelines.catalogue.models import Catalogue, Item, Unit


def moment(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def item(code: str, unit: str, cycle: str, **extra: Any) -> Item:
    return Item.model_validate({
        "code": code, "name": code, "abstract": code, "unit": unit, "obtained": "duty", "level": "province",
        "region": "450000", "fields": [{"name": "id", "label": "编号", "primary_key": True}],
        "update_cycle": cycle, "sharing": {"type": "conditional", "condition": "审核"}, **extra})


def catalogue() -> Catalogue:
    units = [Unit(code=code, name=name, kind="state_organ", level="province", region="450000")  # type: ignore[arg-type]
             for code, name in (("amr", "市场监管局"), ("nn", "水务局"), ("idle", "无目录单位"))]
    items = [item("daily_log", "amr", "daily"), item("weekly_report", "amr", "weekly"),
             item("monthly_stat", "amr", "monthly", published="2026-12-01"), item("water", "nn", "quarterly")]
    return Catalogue(units=tuple(units), items=tuple(items))
