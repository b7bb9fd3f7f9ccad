"""A real client harvests the directory: ckanext-dcat's own RDF parser (``euro_dcat_ap_3`` profile, CKAN 2.12)
reads the demo export and every dataset comes out complete.

CKAN pins its own dependencies, so the parser runs in its own venv (``make ckan-env`` -> ``.venv-ckan/``)
through ``tests/ckan/parse_export.py``. Without that venv the test skips, saying why; with
``GOVDATA_REQUIRE_CKAN=1`` (CI builds the venv) it fails instead.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pipelines import directory
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue, OpeningType
from tests.conftest import REPO
from tests.unit.test_directory import DEMO, demo_ledger

pytestmark = pytest.mark.ckan

CKAN_PYTHON = REPO / ".venv-ckan" / "bin" / "python"
SCRIPT = REPO / "tests" / "ckan" / "parse_export.py"
LICENCES = REPO / "tests" / "ckan" / "licences.json"
BASE, PORTAL = directory.DEFAULT_BASE, directory.DEFAULT_PORTAL
EU = "http://publications.europa.eu/resource/authority/"
# The EU vocabularies' codes, written out here rather than read from the exporter
FREQUENCY = {"realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
             "quarterly": "QUARTERLY", "half_yearly": "ANNUAL_2", "yearly": "ANNUAL"}
SHARED_FORMAT = {"database": "SQL", "interface": "JSON", "file": "CSV"}


def _ckan_python() -> Path:
    if CKAN_PYTHON.is_file():
        return CKAN_PYTHON
    reason = f"no CKAN environment at {CKAN_PYTHON.parent.parent}: run `make ckan-env`"
    if os.environ.get("GOVDATA_REQUIRE_CKAN") == "1":
        pytest.fail(f"GOVDATA_REQUIRE_CKAN=1 but {reason}")
    pytest.skip(reason)


def _opened(catalogue: Catalogue) -> dict[str, dict]:
    """An open-data index as the open-data stage writes it: one CSV and one JSON file per open item."""
    return {item.code: {"published_at": "2026-11-20T10:00:00", "rows": 5, "csv": f"{item.code}.csv",
                        "json": f"{item.code}.json"}
            for item in catalogue.items if item.opening.type is OpeningType.OPEN}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ledger = demo_ledger()
    catalogue = load_catalogue(DEMO)
    entries = directory.entries(catalogue, directory.first_converged(ledger), directory.last_converged(ledger))
    graph = directory.dcat_graph(entries, opened=_opened(catalogue), divisions=catalogue.divisions)
    return directory.export(graph, tmp_path_factory.mktemp("directory"))


def _harvest(python: Path, export_file: Path) -> dict[str, dict]:
    done = subprocess.run([str(python), str(SCRIPT), str(export_file), "--licences", str(LICENCES)],
                          capture_output=True, text=True, timeout=300, cwd=export_file.parent, check=False)
    assert done.returncode == 0, done.stderr
    datasets = json.loads(done.stdout)
    return {_extra(d, "identifier"): d for d in datasets}


def _extra(dataset: dict, key: str) -> str:
    return next(e["value"] for e in dataset["extras"] if e["key"] == key)


def _extras(dataset: dict) -> dict[str, str]:
    return {e["key"]: e["value"] for e in dataset["extras"]}


@pytest.mark.parametrize("kind", ["turtle", "json-ld"])
def test_ckan_harvests_every_dataset_completely(export: tuple[Path, Path], kind: str) -> None:
    python = _ckan_python()
    harvested = _harvest(python, export[0] if kind == "turtle" else export[1])
    catalogue = load_catalogue(DEMO)
    assert sorted(harvested) == sorted(item.code for item in catalogue.items)  # all 22
    for item in catalogue.items:
        dataset, unit = harvested[item.code], catalogue.unit(item.unit)
        extras = _extras(dataset)
        is_open = item.opening.type is OpeningType.OPEN
        assert (dataset["title"], dataset["notes"]) == (item.name, item.abstract)
        assert dataset["url"] == f"{PORTAL}dataset/{item.code}"
        assert {t["name"] for t in dataset["tags"]} == {item.name, item.classification,
                                                        *(f.label for f in item.fields)}
        assert dataset["license_id"] == ("CC-BY-4.0" if is_open else "govdata-sharing")
        assert {key: extras.get(key) for key in (
            "publisher_name", "publisher_identifier", "contact_name", "contact_url", "spatial_uri",
            "modified", "frequency", "temporal_start", "temporal_end")} == {
            "publisher_name": unit.name, "publisher_identifier": unit.code, "contact_name": unit.name,
            "contact_url": f"{PORTAL}unit/{unit.code}", "spatial_uri": f"{BASE}gb2260/{item.region}",
            "modified": "2026-11-20", "frequency": f"{EU}frequency/{FREQUENCY[item.update_cycle.value]}",
            "temporal_start": "2026-11-02", "temporal_end": "2026-11-20"}, item.code
        division = catalogue.division(item.region)
        assert division is not None
        west, south, east, north = division.bbox
        assert (extras["spatial_text"], json.loads(extras["spatial_bbox"]), json.loads(extras["spatial_centroid"])) == (
            division.name,
            {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                 [west, south]]]},
            {"type": "Point", "coordinates": list(division.centroid)}), item.code
        hidden = item.sharing.type.value == "not_shared" and item.opening.type.value == "not_open"
        right = "PUBLIC" if is_open else "NON_PUBLIC" if hidden else "RESTRICTED"
        assert extras["access_rights"] == f"{EU}access-right/{right}"
        assert extras["provenance"]
        shared_format = f"{EU}file-type/{SHARED_FORMAT[item.sharing.mode]}"
        formats = sorted(r["format"] for r in dataset["resources"])
        assert formats == sorted([shared_format, *([f"{EU}file-type/CSV", f"{EU}file-type/JSON"] if is_open else [])])
        for resource in dataset["resources"]:
            assert resource["description"] and resource["license"] == (
                f"{EU}licence/CC_BY_4_0" if is_open else f"{BASE}licence/government-data")
            assert resource["availability"] == f"{EU}planned-availability/STABLE"
