"""Dagster wiring of the quality loop: per-unit correction lists (outputs of each unit's step), regular
inspection checks on the shared assets, the quality summary asset, and the inspection schedules. The work is
domain code in pipelines.quality.corrections and pipelines.quality.inspection."""

from collections import defaultdict
from typing import Any

import dagster as dg

from assets.factory import asset_key
from pipelines.catalogue.models import Catalogue, Item, Unit, UpdateCycle
from pipelines.platforms import Scope
from pipelines.process import Platform
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


def corrections_spec(unit: Unit) -> dg.AssetSpec:
    """The unit's correction list, an output of the unit's own step (assets.units): written once the unit's
    items are validated, in the same step. As an asset of its own it depended on each of the unit's validated
    tables: 5,000 edges at 5,000 items (1.2 MB of the snapshot), an input each to build at every load, and an
    eager automation condition to follow them."""
    return dg.AssetSpec(
        key=corrections_key(unit.code), group_name=unit.code, kinds={"excel", "csv"},
        owners=[unit.owner] if unit.owner else [], skippable=True,
        description=f"Rows of {unit.name} held back, with the reason for each: correct them and resubmit "
                    "as <item>__correction-<date>.csv (without the reasons/submission_id/row_no columns)",
    )


def corrections_result(platform: Platform, catalogue: Catalogue, unit: Unit) -> dg.MaterializeResult:
    """Every open held-back row of the unit, in a workbook and one CSV per item."""
    frames = corrections.correction_frames(catalogue, corrections.open_rows(platform.store, unit.code))
    paths = corrections.write_correction_files(platform.data_dir / "corrections", unit.code, frames)
    to_correct = sum(len(f) for f in frames.values())
    return dg.MaterializeResult(asset_key=corrections_key(unit.code), metadata={
        "dagster/row_count": to_correct,
        "rows_to_correct": dg.MetadataValue.int(to_correct),
        "workbook": dg.MetadataValue.path(str(paths["xlsx"].resolve())),
        "per_item": dg.MetadataValue.json({code: len(f) for code, f in frames.items()}),
        "preview": dg.MetadataValue.md(corrections.masked_preview(catalogue, frames)),
    })


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


def inspection_schedules(items: list[Item], cycle_cron: dict[UpdateCycle, str], job: str,
                         with_summary: bool = True, in_process: bool = True) -> list[dg.ScheduleDefinition]:
    """A daily inspection of every shared item, and per update cycle the inspection of its items, each a run of
    the implicit asset job ``job`` asking for its checks: a job of its own spanning every unit's checks cost
    each load of the code location about 3.5 s (5,000 items) and repeated them all in its snapshot. With
    ``in_process`` (Dagster's default executor) the daily run's steps go one by one, the summary (lowest
    priority) after the checks; on Celery they may overlap, and the next summary counts what this one missed."""
    summary = [SUMMARY_KEY] if with_summary else []
    config: dict[str, Any] = {"execution": {"config": {"in_process": {}}}} if in_process else {}
    schedules = [_inspection(f"{DAILY_INSPECTION}_schedule", job, INSPECTION_CRON, items, "daily", summary, config,
                             "Inspect every shared table in the four dimensions, then summarise per unit and "
                             "dimension")]
    by_cycle: dict[UpdateCycle, list[Item]] = defaultdict(list)
    for item in items:
        by_cycle[item.update_cycle].append(item)
    for cycle, cycle_items in sorted(by_cycle.items()):
        schedules.append(_inspection(f"inspect_{cycle.value}_schedule", job, cycle_cron[cycle], cycle_items,
                                     cycle.value, [], {}, f"Inspect the items with a {cycle.value} update cycle"))
    return schedules


def _inspection(name: str, job: str, cron: str, items: list[Item], tag: str, assets: list[dg.AssetKey],
                run_config: dict[str, Any], description: str) -> dg.ScheduleDefinition:
    keys = inspection_check_keys(items)

    @dg.schedule(name=name, job_name=job, cron_schedule=cron, execution_timezone=TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.RUNNING, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(asset_selection=assets, asset_check_keys=keys, run_config=run_config,
                             tags={"govdata/inspection": tag})

    return _schedule


def inspection_job(definitions: dg.Definitions) -> dg.JobDefinition:
    """The daily inspection as one job, for ``python -m pipelines run`` and tests: every shared check of the
    location and the summary, a subset of the implicit asset job built only when it is asked for."""
    graph = definitions.resolve_asset_graph()
    checks = {k for k in graph.asset_check_keys if k.asset_key.path[0] == qc.SHARED}
    summary = {SUMMARY_KEY} & set(graph.get_all_asset_keys())
    return definitions.resolve_implicit_global_asset_job_def().get_subset(asset_selection=summary,
                                                                         asset_check_selection=checks)


def pipeline_selection(catalogue: Catalogue) -> dg.AssetSelection:
    """Everything but the inspection: it runs as its own job, so its summary follows its checks."""
    return (dg.AssetSelection.all() - dg.AssetSelection.assets(SUMMARY_KEY)
            - dg.AssetSelection.checks(*inspection_check_keys(catalogue.items)))


def quality_definitions(catalogue: Catalogue, cycle_cron: dict[UpdateCycle, str], job: str,
                        scope: Scope | None = None, in_process: bool = True) -> dict[str, list]:
    """The scope's inspection; the quality summary on the province's (the correction lists are outputs of the
    units' steps)."""
    scope = scope or Scope(catalogue)
    summary = [quality_summary_asset(catalogue)] if scope.province else []
    return {
        "assets": summary,
        "schedules": inspection_schedules(scope.items, cycle_cron, job, with_summary=bool(summary),
                                          in_process=in_process),
    }

