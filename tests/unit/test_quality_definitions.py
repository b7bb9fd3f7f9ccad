"""The inspection schedules, their jobs and the freshness policies, as Dagster sees them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.quality import inspection_job
from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from resources.platform import PlatformResource


def _repository(catalogue_dir: Path, tmp_path: Path) -> dg.RepositoryDefinition:
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(tmp_path / "in"),
                                data_dir=str(tmp_path / "data"))
    return build_definitions(load_catalogue(catalogue_dir), resource, "sqlite").get_repository_def()


def _check_names(job: dg.JobDefinition) -> set[str]:
    return {key.name for key in job.asset_layer.asset_graph.asset_check_keys}


def test_daily_inspection_of_every_shared_item_and_per_cycle_inspections(mini_catalogue_dir: Path,
                                                                         tmp_path: Path) -> None:
    repository = _repository(mini_catalogue_dir, tmp_path)
    schedules = {s.name: s for s in repository.schedule_defs}
    inspections = sorted(name for name in schedules if name.startswith("inspect"))
    assert inspections == ["inspect_monthly_schedule", "inspect_quarterly_schedule", "inspection_daily_schedule"]
    daily = schedules["inspection_daily_schedule"]
    assert (daily.cron_schedule, daily.execution_timezone) == ("0 6 * * *", "Asia/Shanghai")
    assert daily.default_status is dg.DefaultScheduleStatus.RUNNING
    assert schedules["inspect_monthly_schedule"].cron_schedule == "0 3 1 * *"  # enterprise: monthly
    assert schedules["inspect_quarterly_schedule"].cron_schedule == "0 3 1 1,4,7,10 *"  # water: quarterly
    # No job of its own: each inspection is a run of the implicit asset job asking for the shared checks again,
    # converging nothing; the daily one also for the summary, its steps in process so the summary comes last.
    assert {s.job_name for s in schedules.values() if s.name.startswith("inspect")} == {"__ASSET_JOB"}
    (request,) = daily.evaluate_tick(dg.build_schedule_context()).run_requests or []
    summary = dg.AssetKey(["inspection", "quality_summary"])
    assert (request.asset_selection, {k.name for k in request.asset_check_keys or []}) == (
        [summary], {"shared_enterprise", "shared_water_account"})
    assert request.run_config == {"execution": {"config": {"in_process": {}}}}
    monthly = schedules["inspect_monthly_schedule"].evaluate_tick(dg.build_schedule_context())
    (request,) = monthly.run_requests or []
    assert (request.asset_selection, request.asset_check_keys) == (
        [], [dg.AssetCheckKey(dg.AssetKey(["shared", "amr", "enterprise"]), "shared_enterprise")])
    assert request.tags["govdata/inspection"] == "monthly"


def test_the_inspection_job_is_built_when_asked_for(mini_catalogue_dir: Path, tmp_path: Path) -> None:
    resource = PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(tmp_path / "in"),
                                data_dir=str(tmp_path / "data"))
    definitions = build_definitions(load_catalogue(mini_catalogue_dir), resource, "sqlite")
    job = inspection_job(definitions)
    assert _check_names(job) == {"shared_enterprise", "shared_water_account"}
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey(["inspection", "quality_summary"])}


def test_the_pipeline_runs_on_the_implicit_asset_job(mini_catalogue_dir: Path, tmp_path: Path) -> None:
    repository = _repository(mini_catalogue_dir, tmp_path)
    job = repository.get_implicit_global_asset_job_def()
    assert dg.AssetKey(["corrections", "amr"]) in job.asset_layer.executable_asset_keys
    assert repository.get_sensor_def("intake_window").job_name == job.name
    # No job of its own over every unit: it would repeat all their outputs in the snapshot.
    assert {j.name for j in repository.get_all_jobs()} == {
        job.name, "expire_sharing_applications", "supervision_weekly", "evaluation_monthly",
        "supervision_reports"}


def test_shared_assets_carry_a_freshness_policy_from_the_update_cycle(mini_catalogue_dir: Path,
                                                                      tmp_path: Path) -> None:
    graph = _repository(mini_catalogue_dir, tmp_path).asset_graph
    policy = graph.get(dg.AssetKey(["shared", "amr", "enterprise"])).freshness_policy
    assert policy is not None and policy.fail_window.to_timedelta() == timedelta(days=31)
    assert graph.get(dg.AssetKey(["validated", "amr", "enterprise_validated"])).freshness_policy is None
