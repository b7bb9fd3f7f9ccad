"""Sensors and schedules: the intake window sensor and database pulls on each item's update cycle."""


import hashlib
from collections import defaultdict
from pathlib import Path

import dagster as dg

from assets.factory import asset_key
from assets.quality import corrections_key
from pipelines import runplan
from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item, UpdateCycle
from pipelines.intake import window_entries
from pipelines.platforms import Scope
from pipelines.quality.checks import STAGES
from resources.platform import PlatformResource

SENSOR_BATCHES = 4  # runs per tick: the instance's run queue (dagster.yaml max_concurrent_runs) runs them
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


def batch_selection(batch: runplan.Batch) -> list[dg.AssetKey]:
    """A batch's run: its items through their three stages, and each of its units' correction list."""
    return [*(k for i in batch.items for k in item_keys(i)), *(corrections_key(u) for u in batch.units)]


def files_signature(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        stat = path.lstat()  # never through a link
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def intake_window_sensor(catalogue: Catalogue, job: str, scope: Scope | None = None) -> dg.SensorDefinition:
    @dg.sensor(name="intake_window", job_name=job, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests a run for the items that have new submissions in the intake window")
    def _sensor(context: dg.SensorEvaluationContext, platform: PlatformResource) -> dg.SensorResult:
        intake = Path(platform.intake_dir)
        files = [path for _, path in window_entries(intake)]  # links and strays too: their units record them
        items = runplan.pending_items(catalogue, intake)
        items = [i for i in items if not isinstance(i.collection, DatabaseCollection)  # pulled on schedule
                 and (scope is None or scope.has_unit(i.unit))]  # another platform's units: its own sensor
        if not items:
            reason = f"{len(files)} file(s) waiting, none for a catalogued unit"
            return dg.SensorResult(skip_reason=dg.SkipReason(reason))
        signature = files_signature(files)
        if signature == context.cursor:
            return dg.SensorResult(skip_reason=dg.SkipReason("no new submissions since the last run request"))
        # The first wave only: items verifying keys against an authority that is converging now wait for
        # the next tick, when their files are still waiting and the signature has changed.
        batches = [b for b in runplan.plan(catalogue, items, SENSOR_BATCHES) if b.wave == 0]
        requests = [dg.RunRequest(run_key=f"{signature}:{n}", asset_selection=batch_selection(b))
                    for n, b in enumerate(batches)]
        return dg.SensorResult(run_requests=requests, cursor=signature)

    return _sensor


def pull_schedules(scope: Scope, job: str) -> list[dg.ScheduleDefinition]:
    by_cycle: dict[UpdateCycle, list[Item]] = defaultdict(list)
    for item in scope.items:
        if isinstance(item.collection, DatabaseCollection):
            by_cycle[item.update_cycle].append(item)
    return [_pull_schedule(job, cycle, items) for cycle, items in sorted(by_cycle.items())]


def _pull_schedule(job: str, cycle: UpdateCycle, items: list[Item]) -> dg.ScheduleDefinition:
    # the units' correction lists are outputs of their steps, written after the pulled items' validation
    keys = [*(k for i in items for k in item_keys(i)), *(corrections_key(u) for u in sorted({i.unit for i in items}))]

    @dg.schedule(name=f"pull_{cycle.value}_schedule", job_name=job, cron_schedule=CYCLE_CRON[cycle],
                 execution_timezone="Asia/Shanghai", description=f"Pull the {cycle.value} database-collected items")
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(asset_selection=keys)

    return _schedule
