"""Dagster wiring of the sharing service (pipelines/serving): what it served and refused per unit and item, and
the file extracts of approved applications for file-mode items. The API itself runs as its own process
(``python -m pipelines sharing serve``), not in Dagster.

Each platform runs its own service over its own store (art. 19, docs/levels.md), so each platform's code location
shows its own service's usage: ``sharing/usage`` the province's, ``sharing/<platform>/usage`` a city's (e.g.
``sharing/city_450100/usage``), numeric metadata ``<owner>/<item>/served`` and ``/refused`` the UI plots over time,
refreshed hourly by the automation sensor. ``sharing/file_extracts`` is the province's, daily.
"""

from typing import Any

import dagster as dg

from pipelines.catalogue.models import Catalogue
from pipelines.evaluation.periods import MONTH, current_period
from pipelines.platforms import PROVINCE, Scope, platform_names
from resources.platform import PlatformResource

# No "from __future__ import annotations": Dagster reads the context and resource annotations at runtime.
USAGE_KEY = dg.AssetKey(["sharing", "usage"])
EXTRACTS_KEY = dg.AssetKey(["sharing", "file_extracts"])
ALL_KEYS = (USAGE_KEY, EXTRACTS_KEY)
GROUP = "sharing"


def usage_key(platform: str) -> dg.AssetKey:
    return USAGE_KEY if platform == PROVINCE else dg.AssetKey(["sharing", platform, "usage"])


def usage_asset(catalogue: Catalogue, platform_name: str = PROVINCE) -> dg.AssetsDefinition:
    @dg.asset(key=usage_key(platform_name), group_name=GROUP, kinds={"sql"},
              automation_condition=dg.AutomationCondition.on_cron("15 * * * *", "Asia/Shanghai"),
              description=f"Requests to the {platform_name} platform's sharing service this month, served and "
                          "refused, per owning unit, item and reading unit (from its audit chain, in its own store); "
                          "the scorecards' 'shared data used' counts them")
    def _usage(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        from pipelines.evaluation.records import read_sharing_reads
        from pipelines.serving.usage import usage, usage_markdown

        built = platform.platform(platform_name)  # this platform's service writes its audit chain in its store
        period = current_period(built.clock(), MONTH)
        rows = usage(catalogue, read_sharing_reads(built.store), period)
        metadata: dict[str, Any] = {"period": period.label, "served": sum(u.served for u in rows),
                                    "refused": sum(u.refused for u in rows),
                                    "usage": dg.MetadataValue.md(usage_markdown(rows))}
        for owner_item in sorted({(u.owner, u.item) for u in rows}):
            mine = [u for u in rows if (u.owner, u.item) == owner_item]
            metadata[f"{owner_item[0]}/{owner_item[1]}/served"] = sum(u.served for u in mine)
            metadata[f"{owner_item[0]}/{owner_item[1]}/refused"] = sum(u.refused for u in mine)
        return dg.MaterializeResult(metadata=metadata)

    return _usage


def extracts_asset() -> dg.AssetsDefinition:
    @dg.asset(key=EXTRACTS_KEY, group_name=GROUP, kinds={"csv"},
              automation_condition=dg.AutomationCondition.on_cron("30 6 * * *", "Asia/Shanghai"),
              description="File sharing: per approved application in force for a file-mode item, the granted "
                          "fields (personal ones masked unless granted) under sharing/extracts/<applicant>/<item>.csv")
    def _extracts(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        from pipelines.serving.extracts import write_extracts

        built = platform.platform()
        # the province's service: its own items only (a city's tables are not in this store, and must not be made)
        written = write_extracts(built.store, built.data_dir, built.clock(), PROVINCE)
        listing = "\n".join(f"- `{e.applicant}` {e.item}: {e.rows} rows (application {e.application_id})"
                            for e in written) or "no application in force for a file-mode item"
        return dg.MaterializeResult(metadata={"extracts": len(written), "rows": sum(e.rows for e in written),
                                              "files": dg.MetadataValue.md(listing)})

    return _extracts


def sharing_assets(catalogue: Catalogue, scope: Scope) -> list[dg.AssetsDefinition]:
    """Each platform's location its own service's usage; the province's also the file extracts."""
    names = platform_names(catalogue) if scope.platform is None else [scope.platform]
    return [*(usage_asset(catalogue, name) for name in names), *([extracts_asset()] if scope.province else [])]
