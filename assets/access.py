"""Dagster wiring for access control: an hourly job that ends expired sharing applications."""

import dagster as dg

from resources.platform import PlatformResource

EXPIRY_JOB = "expire_sharing_applications"
# No "from __future__ import annotations": Dagster reads the op's annotations at runtime.


@dg.op(description="End sharing applications past valid_until and revoke the reads they granted (art. 6)")
def revoke_expired_applications(context: dg.OpExecutionContext, platform: PlatformResource) -> list[int]:
    running = platform.platform()
    if running.store.dialect != "postgresql":
        context.log.info("access control runs on the PostgreSQL store only: nothing to expire")
        return []
    from pipelines.access import expire_applications

    expired = expire_applications(running.store, running.clock())
    context.log.info(f"expired sharing applications: {expired or 'none'}")
    return expired


@dg.job(name=EXPIRY_JOB, description="Revoke the grants of expired sharing applications")
def expiry_job() -> None:
    revoke_expired_applications()


expiry_schedule = dg.ScheduleDefinition(
    name=f"{EXPIRY_JOB}_hourly", job=expiry_job, cron_schedule="5 * * * *", execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
