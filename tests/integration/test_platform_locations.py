"""One code location per platform (art. 19): the province's and each city's, counties hosted by their city.
Together they define exactly what the single location defines; each loads through Dagster's own loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.platforms import platform_names, platform_of
from resources.platform import PlatformResource
from tests.conftest import REPO

DEMO = REPO / "catalogue" / "demo"


def _graph(tmp_path: Path, platform: str | None) -> dg.AssetGraph:  # type: ignore[name-defined]
    resource = PlatformResource(catalogue_dir=str(DEMO), intake_dir=str(tmp_path / "i"), data_dir=str(tmp_path / "d"))
    return build_definitions(load_catalogue(DEMO), resource, "sqlite", platform).resolve_asset_graph()


def test_counties_are_hosted_by_their_city_and_each_platform_is_named() -> None:
    catalogue = load_catalogue(DEMO)
    assert platform_names(catalogue) == ["province", "city_450100", "city_450200"]
    hosts = {u.code: platform_of(u) for u in catalogue.units}
    assert (hosts["gx_amr"], hosts["nn_water"], hosts["la_agri"], hosts["lc_agri"]) == (
        "province", "city_450100", "city_450100", "city_450200")  # Long'an -> Nanning, Liucheng -> Liuzhou


def test_the_platforms_together_define_exactly_the_single_location(tmp_path: Path) -> None:
    whole = _graph(tmp_path, None)
    parts = {p: _graph(tmp_path, p) for p in platform_names(load_catalogue(DEMO))}
    owned = {p: {k for k in g.get_all_asset_keys() if g.get(k).is_materializable} for p, g in parts.items()}
    everything = [k for keys in owned.values() for k in keys]
    assert len(everything) == len(set(everything))  # no asset defined by two platforms
    assert set(everything) == {k for k in whole.get_all_asset_keys() if whole.get(k).is_materializable}
    assert {c for g in parts.values() for c in g.asset_check_keys} == set(whole.asset_check_keys)
    # A county item converges on its city's platform; the province's connected table, on the province's,
    # reads the city's connected table across locations (a dependency by key).
    assert dg.AssetKey(["shared", "la_agri", "la_farmland_subsidy"]) in owned["city_450100"]
    farmland = parts["province"].get(dg.AssetKey(["province", "farmland_subsidy"])).parent_keys
    assert {k for k in farmland if k not in owned["province"]} == {
        dg.AssetKey(["city", "450100", "farmland_subsidy"]), dg.AssetKey(["city", "450200", "farmland_subsidy"])}
    assert all(k in owned["city_450100"] | owned["city_450200"] for k in farmland - owned["province"])


@pytest.mark.slow  # dagster loads every platform's code location, about 14 s
def test_dagster_loads_every_platform_location(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    env = {"GOVDATA_CATALOGUE_DIR": str(DEMO), "GOVDATA_DATA_DIR": str(tmp_path / "d"),
           "GOVDATA_INTAKE_DIR": str(tmp_path / "i"), "DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    written = subprocess.run([sys.executable, "-m", "pipelines", "workspace", "--out", str(workspace)], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
                           str(workspace)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for location in ("province", "city_450100", "city_450200"):
        assert f"Validation successful for code location {location}" in done.stdout + done.stderr
