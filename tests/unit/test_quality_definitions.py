"""The inspection schedules, their jobs and the freshness policies, as Dagster sees them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg

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
    dims = ("accuracy", "timeliness", "integrity", "availability")
    daily_job = repository.get_job("inspection_daily")
    assert _check_names(daily_job) == {f"inspection_{i}_{d}" for i in ("enterprise", "water_account") for d in dims}
    assert daily_job.asset_layer.executable_asset_keys == {dg.AssetKey(["inspection", "quality_summary"])}
    assert _check_names(repository.get_job("inspect_monthly")) == {f"inspection_enterprise_{d}" for d in dims}


def test_the_pipeline_job_leaves_the_inspection_to_its_own_job(mini_catalogue_dir: Path, tmp_path: Path) -> None:
    job = _repository(mini_catalogue_dir, tmp_path).get_job("converge_all")
    assert dg.AssetKey(["corrections", "amr"]) in job.asset_layer.executable_asset_keys
    assert dg.AssetKey(["inspection", "quality_summary"]) not in job.asset_layer.executable_asset_keys
    assert not {n for n in _check_names(job) if n.startswith("inspection_")}


def test_shared_assets_carry_a_freshness_policy_from_the_update_cycle(mini_catalogue_dir: Path,
                                                                      tmp_path: Path) -> None:
    graph = _repository(mini_catalogue_dir, tmp_path).asset_graph
    policy = graph.get(dg.AssetKey(["shared", "amr", "enterprise"])).freshness_policy
    assert policy is not None and policy.fail_window.to_timedelta() == timedelta(days=31)
    assert graph.get(dg.AssetKey(["validated", "amr", "enterprise"])).freshness_policy is None
