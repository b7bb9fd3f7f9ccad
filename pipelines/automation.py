"""Sensors and schedules: the intake window sensor and database pulls on each item's update cycle."""


import hashlib
from collections import defaultdict
from pathlib import Path

import dagster as dg

from assets.factory import asset_key
from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item, UpdateCycle
from pipelines.intake import item_code_of, pending_files
from pipelines.quality.checks import STAGES
from resources.platform import PlatformResource

CYCLE_CRON = {
    UpdateCycle.REALTIME: "*/15 * * * *",
    UpdateCycle.DAILY: "0 1 * * *",
    UpdateCycle.WEEKLY: "0 2 * * 1",
    UpdateCycle.MONTHLY: "0 3 1 * *",
    UpdateCycle.QUARTERLY: "0 3 1 1,4,7,10 *",
    UpdateCycle.HALF_YEARLY: "0 3 1 1,7 *",
    UpdateCycle.YEARLY: "0 3 1 1 *",
}


def item_keys(item: Item) -> list[dg.AssetKey]:
    return [asset_key(stage, item) for stage in STAGES]


def keys_for_files(catalogue: Catalogue, files: list[Path]) -> list[dg.AssetKey]:
    """The items the files are for; a file naming no item of its unit still runs that unit, which refuses it."""
    keys: set[dg.AssetKey] = set()
    for path in files:
        item = catalogue.find_item(item_code_of(path))
        unit_items = catalogue.items_of(path.parent.name)
        if item is not None and item.unit == path.parent.name:
            keys.update(item_keys(item))
        elif unit_items:
            keys.add(asset_key(STAGES[0], unit_items[0]))
    return sorted(keys, key=lambda k: k.to_user_string())


def files_signature(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def intake_window_sensor(catalogue: Catalogue, job: str) -> dg.SensorDefinition:
    @dg.sensor(name="intake_window", job_name=job, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests a run for the items that have new submissions in the intake window")
    def _sensor(context: dg.SensorEvaluationContext, platform: PlatformResource) -> dg.SensorResult:
        files = pending_files(Path(platform.intake_dir))
        keys = keys_for_files(catalogue, files)
        if not keys:
            reason = f"{len(files)} file(s) waiting, none for a catalogued unit"
            return dg.SensorResult(skip_reason=dg.SkipReason(reason))
        signature = files_signature(files)
        if signature == context.cursor:
            return dg.SensorResult(skip_reason=dg.SkipReason("no new submissions since the last run request"))
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=signature, asset_selection=keys)],
                               cursor=signature)

    return _sensor


def pull_schedules(catalogue: Catalogue, job: str) -> list[dg.ScheduleDefinition]:
    by_cycle: dict[UpdateCycle, list[Item]] = defaultdict(list)
    for item in catalogue.items:
        if isinstance(item.collection, DatabaseCollection):
            by_cycle[item.update_cycle].append(item)
    return [_pull_schedule(job, cycle, items) for cycle, items in sorted(by_cycle.items())]


def _pull_schedule(job: str, cycle: UpdateCycle, items: list[Item]) -> dg.ScheduleDefinition:
    keys = [k for i in items for k in item_keys(i)]

    @dg.schedule(name=f"pull_{cycle.value}_schedule", job_name=job, cron_schedule=CYCLE_CRON[cycle],
                 execution_timezone="Asia/Shanghai", description=f"Pull the {cycle.value} database-collected items")
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(asset_selection=keys)

    return _schedule
