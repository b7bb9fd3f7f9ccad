"""The code location loads: from the entry point, through Dagster's own loader, and for a 5,000-item catalogue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.sharing import ALL_KEYS as SHARING_KEYS
from assets.supervision import ALL_KEYS as SUPERVISION_KEYS
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.catalogue.models import OpeningType
from pipelines.connected import rollups
from pipelines.definitions import build_definitions
from pipelines.demo.generator import generate_large_catalogue
from pipelines.platforms import platform_names
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
        # The UI labels a node with the key's last component: each stage's differs (the table keeps the code).
        assert {f"intake/{item.unit}/{item.code}_intake", f"validated/{item.unit}/{item.code}_validated",
                f"shared/{item.unit}/{item.code}"} <= keys
    stage_keys = {k for k in keys if k.split("/")[0] in ("intake", "validated", "shared")}
    assert len(stage_keys) == 3 * len(catalogue.items)
    key = dg.AssetKey(["shared", "gx_amr", "market_entity_registration"])
    node = graph.get(key)
    assert node.group_name == "gx_amr"
    assert node.owners == ["team:gx_amr"]
    # the item's own tags; its level and kind are its unit's, the group's
    assert node.tags == {"region": "450000", "sharing": "unconditional", "opening": "open", "update_cycle": "daily",
                         "obtained": "duty", "collection": "submission", "dagster/kind/sqlite": ""}
    assert node.parent_keys == {dg.AssetKey(["validated", "gx_amr", "market_entity_registration_validated"])}
    # One check on the validated and on the shared stage; its result carries the dimensions (the inspection
    # evaluates the shared one again). The intake's outcome is metadata of its materialization: no check node.
    for stage, suffix, checks in (("intake", "_intake", set()),
                                  ("validated", "_validated", {"validated_market_entity_registration"}),
                                  ("shared", "", {"shared_market_entity_registration"})):
        stage_key = dg.AssetKey([stage, "gx_amr", f"market_entity_registration{suffix}"])
        assert {c.name for c in graph.asset_check_keys if c.asset_key == stage_key} == checks
    assert definitions.resolve_implicit_global_asset_job_def() is not None
    assert definitions.resolve_sensor_def("intake_window") is not None


def test_the_entry_point_builds_once_per_settings_and_catalogue(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """Dagster's code server calls the entry point twice while loading a location: the second call reuses the
    first's definitions, unless a setting or a catalogue file changed in between."""
    catalogue = tmp_path / "catalogue"
    shutil.copytree(REPO / "tests" / "fixtures" / "mini", catalogue)
    first = _load_entry_point(monkeypatch, catalogue, tmp_path)
    assert _load_entry_point(monkeypatch, catalogue, tmp_path) is first
    monkeypatch.setenv("GOVDATA_INTAKE_DIR", str(tmp_path / "elsewhere"))
    moved = _load_entry_point(monkeypatch, catalogue, tmp_path)
    assert moved is not first
    unit_file = catalogue / "units.yaml"
    unit_file.write_text(unit_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    os.utime(unit_file, ns=(unit_file.stat().st_atime_ns, unit_file.stat().st_mtime_ns + 1_000_000_000))
    assert _load_entry_point(monkeypatch, catalogue, tmp_path) is not moved


def test_dagster_loads_the_workspace_module() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _expected_counts(catalogue: Catalogue) -> tuple[int, int]:
    """Assets and checks the graph must hold, counted from the catalogue alone."""
    units = {i.unit for i in catalogue.items}  # one correction list each
    open_items = [i for i in catalogue.items if i.opening.type is OpeningType.OPEN]
    connected = sum(1 + len(p.cities) for p in rollups(catalogue))  # a province table and one per city
    assets = (3 * len(catalogue.items) + len(units) + len(open_items) + connected
              + 2  # the directory and the governance supervision record
              + len(platform_names(catalogue))  # each platform's record the province-wide assets follow
              + 1  # the inspection's quality summary
              + len(SUPERVISION_KEYS) + len(SHARING_KEYS)
              + len(platform_names(catalogue)) - 1)  # each city platform's sharing service usage
    return assets, 2 * len(catalogue.items) + len(open_items)  # the validated and shared checks, open data's


@pytest.mark.parametrize("items", [1000, pytest.param(5000, marks=pytest.mark.slow)])
def test_a_large_catalogue_loads_into_definitions_with_exact_counts(tmp_path: Path, items: int) -> None:
    out = tmp_path / "large"
    generate_large_catalogue(out, items=items)
    catalogue = load_catalogue(out)
    assert len(catalogue.items) == items
    resource = PlatformResource(catalogue_dir=str(out), intake_dir=str(tmp_path / "i"), data_dir=str(tmp_path / "d"))
    definitions = build_definitions(catalogue, resource, "sqlite")
    graph = definitions.resolve_asset_graph()
    stage_keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("intake", "validated", "shared")]
    assert len(stage_keys) == 3 * items
    assets, checks = _expected_counts(catalogue)
    assert (len(graph.get_all_asset_keys()), len(graph.asset_check_keys)) == (assets, checks)
