"""Dagster wiring of the quality loop: per-unit correction lists, regular inspection checks on the
shared assets, the quality summary asset, and the inspection schedules. The work is domain code
in pipelines.quality.corrections and pipelines.quality.inspection."""

from collections import defaultdict
from typing import Any

import dagster as dg

from assets.factory import asset_key
from pipelines.catalogue.models import Catalogue, Item, Unit, UpdateCycle
from pipelines.platforms import Scope
from pipelines.quality import checks as qc
from pipelines.quality import corrections, inspection
from resources.platform import PlatformResource

# No "from __future__ import annotations" here: Dagster reads the context and resource annotations at runtime.
SUMMARY_KEY = dg.AssetKey(["inspection", "quality_summary"])
DAILY_INSPECTION = "inspection_daily"
INSPECTION_CRON = "0 6 * * *"  # before office hours, after the nightly pulls
TIMEZONE = "Asia/Shanghai"


def corrections_key(unit: str) -> dg.AssetKey:
    return dg.AssetKey(["corrections", unit])


def corrections_asset(catalogue: Catalogue, unit: Unit) -> dg.AssetsDefinition:
    @dg.asset(
        key=corrections_key(unit.code), group_name=unit.code, kinds={"excel", "csv"},
        deps=[asset_key(qc.VALIDATED, i) for i in catalogue.items_of(unit.code)],
        owners=[unit.owner] if unit.owner else [],
        automation_condition=dg.AutomationCondition.eager(),
        description=f"Rows of {unit.name} held back, with the reason for each: correct them and resubmit "
                    "as <item>__correction-<date>.csv (without the reasons/submission_id/row_no columns)",
    )
    def _corrections(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        p = platform.platform_of_unit(unit.code)
        frames = corrections.correction_frames(catalogue, corrections.open_rows(p.store, unit.code))
        paths = corrections.write_correction_files(p.data_dir / "corrections", unit.code, frames)
        to_correct = sum(len(f) for f in frames.values())
        return dg.MaterializeResult(metadata={
            "dagster/row_count": to_correct,
            "rows_to_correct": dg.MetadataValue.int(to_correct),
            "workbook": dg.MetadataValue.path(str(paths["xlsx"].resolve())),
            "per_item": dg.MetadataValue.json({code: len(f) for code, f in frames.items()}),
            "preview": dg.MetadataValue.md(corrections.masked_preview(catalogue, frames)),
        })

    return _corrections


def quality_summary_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    @dg.asset(
        key=SUMMARY_KEY, group_name="inspection", kinds={"great_expectations"},
        # Lowest priority: in the inspection job (in-process executor) it runs after the checks.
        op_tags={"dagster/priority": "-10"},
        description="Quality per unit and per dimension, from each check's newest result (art. 15, 16)",
    )
    def _summary(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        linked, _ = platform.linked_stores()  # the province's summary covers every platform it reaches
        latest = [c for store in [platform.platform().store, *linked] for c in store.records.latest_checks()]
        rows = inspection.quality_summary(catalogue, latest)
        metadata: dict[str, Any] = {
            "summary": dg.MetadataValue.md(inspection.summary_markdown(rows)),
            "checks": dg.MetadataValue.int(sum(r["checks"] for r in rows)),
            "checks_failed": dg.MetadataValue.int(sum(r["failed"] for r in rows)),
        }
        for dimension, rate in inspection.dimension_pass_rates(rows).items():
            metadata[f"pass_rate_{dimension}"] = dg.MetadataValue.float(rate)
        return dg.MaterializeResult(metadata=metadata)

    return _summary


def inspection_check_keys(items: list[Item] | tuple[Item, ...]) -> list[dg.AssetCheckKey]:
    """The inspection evaluates each shared table's check again, without converging anything."""
    return [dg.AssetCheckKey(asset_key(qc.SHARED, i), qc.stage_check_name(qc.SHARED, i.code)) for i in items]


def inspection_schedules(items: list[Item], cycle_cron: dict[UpdateCycle, str],
                         with_summary: bool = True) -> list[dg.ScheduleDefinition]:
    """A daily inspection of every shared item, and per update cycle the inspection of its items: one job,
    each schedule asking for its own checks (a job per cycle would repeat every unit's checks in the code
    location's snapshot)."""
    job = dg.define_asset_job(
        DAILY_INSPECTION, executor_def=dg.in_process_executor,
        selection=dg.AssetSelection.checks(*inspection_check_keys(items)) | dg.AssetSelection.assets(
            *([SUMMARY_KEY] if with_summary else [])),
        description="Inspect every shared table in the four dimensions, then summarise per unit and dimension")
    schedules = [dg.ScheduleDefinition(name=f"{DAILY_INSPECTION}_schedule", job=job, cron_schedule=INSPECTION_CRON,
                                       execution_timezone=TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING)]
    by_cycle: dict[UpdateCycle, list[Item]] = defaultdict(list)
    for item in items:
        by_cycle[item.update_cycle].append(item)
    for cycle, cycle_items in sorted(by_cycle.items()):
        schedules.append(_cycle_inspection(job, cycle, cycle_items, cycle_cron[cycle]))
    return schedules


def _cycle_inspection(job: Any, cycle: UpdateCycle, items: list[Item], cron: str) -> dg.ScheduleDefinition:
    keys = inspection_check_keys(items)

    @dg.schedule(name=f"inspect_{cycle.value}_schedule", job=job, cron_schedule=cron, execution_timezone=TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"Inspect the items with a {cycle.value} update cycle")
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(asset_selection=[], asset_check_keys=keys, tags={"govdata/inspection": cycle.value})

    return _schedule


def pipeline_selection(catalogue: Catalogue) -> dg.AssetSelection:
    """Everything but the inspection: it runs as its own job, so its summary follows its checks."""
    return (dg.AssetSelection.all() - dg.AssetSelection.assets(SUMMARY_KEY)
            - dg.AssetSelection.checks(*inspection_check_keys(catalogue.items)))


def quality_definitions(catalogue: Catalogue, cycle_cron: dict[UpdateCycle, str],
                        scope: Scope | None = None) -> dict[str, list]:
    """Correction lists of the scope's units, its inspection; the quality summary on the province's."""
    scope = scope or Scope(catalogue)
    summary = [quality_summary_asset(catalogue)] if scope.province else []
    return {
        "assets": [*(corrections_asset(catalogue, u) for u in scope.units), *summary],
        "schedules": inspection_schedules(scope.items, cycle_cron, with_summary=bool(summary)),
    }

