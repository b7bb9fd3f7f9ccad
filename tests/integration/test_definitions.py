"""The code location loads: from the entry point, through Dagster's own loader, and for a 5,000-item catalogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.demo.generator import generate_large_catalogue
from resources.platform import PlatformResource

REPO = Path(__file__).resolve().parents[2]


def _load_entry_point(monkeypatch: pytest.MonkeyPatch, catalogue: Path, tmp_path: Path) -> dg.Definitions:
    monkeypatch.setenv("GOVDATA_CATALOGUE_DIR", str(catalogue))
    monkeypatch.setenv("GOVDATA_DATA_DIR", str(tmp_path / "data"))
    from pipelines.definitions import defs

    loaded = defs() if callable(defs) else defs
    assert isinstance(loaded, dg.Definitions)
    return loaded


def test_entry_point_builds_the_demo_graph(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    catalogue_dir = REPO / "catalogue" / "demo"
    definitions = _load_entry_point(monkeypatch, catalogue_dir, tmp_path)
    catalogue = load_catalogue(catalogue_dir)
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for item in catalogue.items:
        for stage in ("intake", "validated", "shared"):
            assert f"{stage}/{item.unit}/{item.code}" in keys
    stage_keys = {k for k in keys if k.split("/")[0] in ("intake", "validated", "shared")}
    assert len(stage_keys) == 3 * len(catalogue.items)
    key = dg.AssetKey(["shared", "gx_amr", "market_entity_registration"])
    node = graph.get(key)
    assert node.group_name == "gx_amr"
    assert node.owners == ["team:gx_amr"]
    assert node.tags["level"] == "province" and node.tags["region"] == "450000"
    assert node.parent_keys == {dg.AssetKey(["validated", "gx_amr", "market_entity_registration"])}
    checks = {c.name for c in graph.asset_check_keys if c.asset_key == key}
    dimensions = ("accuracy", "timeliness", "integrity", "availability")
    assert checks == {"shared_market_entity_registration_availability",
                      "shared_market_entity_registration_integrity",
                      *(f"inspection_market_entity_registration_{d}" for d in dimensions)}
    assert definitions.resolve_job_def("converge_all") is not None
    assert definitions.resolve_sensor_def("intake_window") is not None


def test_dagster_loads_the_workspace_module() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_five_thousand_item_catalogue_loads_into_definitions(tmp_path: Path) -> None:
    out = tmp_path / "large"
    generate_large_catalogue(out, items=5000)
    catalogue = load_catalogue(out)
    assert len(catalogue.items) == 5000
    resource = PlatformResource(catalogue_dir=str(out), intake_dir=str(tmp_path / "i"), data_dir=str(tmp_path / "d"))
    definitions = build_definitions(catalogue, resource, "sqlite")
    graph = definitions.resolve_asset_graph()
    stage_keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("intake", "validated", "shared")]
    assert len(stage_keys) == 15000
    assert len(graph.asset_check_keys) >= 5 * 5000
