"""Dagster wiring of the sharing service (pipelines/serving): what it served and refused per unit and item, and
the file extracts of approved applications for file-mode items. The API itself runs as its own process
(``python -m pipelines sharing serve``), not in Dagster.

Keys ``sharing/usage`` (numeric metadata ``<owner>/<item>/served`` and ``/refused`` the UI plots over time) and
``sharing/file_extracts``; both are the province's, refreshed hourly and daily by the automation sensor.
"""

from typing import Any

import dagster as dg

from pipelines.catalogue.models import Catalogue
from pipelines.evaluation.periods import MONTH, current_period
from pipelines.platforms import PROVINCE, Scope
from resources.platform import PlatformResource

# No "from __future__ import annotations": Dagster reads the context and resource annotations at runtime.
USAGE_KEY = dg.AssetKey(["sharing", "usage"])
EXTRACTS_KEY = dg.AssetKey(["sharing", "file_extracts"])
ALL_KEYS = (USAGE_KEY, EXTRACTS_KEY)
GROUP = "sharing"


def usage_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(key=USAGE_KEY, group_name=GROUP, kinds={"sql"},
              automation_condition=dg.AutomationCondition.on_cron("15 * * * *", "Asia/Shanghai"),
              description="Requests to the sharing service this month, served and refused, per owning unit, item "
                          "and reading unit (from the audit chain); the scorecards' 'shared data used' counts them")
    def _usage(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        from pipelines.evaluation.records import read_sharing_reads
        from pipelines.serving.usage import usage, usage_markdown

        built = platform.platform()
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
    """The province's platform runs the sharing service's assets."""
    return [usage_asset(catalogue), extracts_asset()] if scope.province else []
