"""The resource directory (art. 18): one DCAT entry per item, Turtle and JSON-LD, DCAT-AP 3.0.0 shapes."""

from datetime import date
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib import namespace as rdfns

from pipelines import directory
from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from tests.conftest import REPO

GOVERNED = REPO / "tests" / "fixtures" / "governed"
BASE = directory.DEFAULT_BASE


@pytest.fixture(scope="module")
def governed_graph() -> Graph:
    catalogue = load_catalogue(GOVERNED)
    return directory.dcat_graph(directory.entries(catalogue, {"water_account": date(2026, 3, 1)}))


def test_the_shapes_are_found_beside_the_repository() -> None:
    assert directory.shapes_path() == REPO.parent / "shared" / "standards" / "dcat-ap-3.0.0-SHACL.ttl"
    assert directory.shapes_path().is_file()


def test_the_shapes_path_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(directory.ENV_SHAPES, str(tmp_path / "shapes.ttl"))
    assert directory.shapes_path() == tmp_path / "shapes.ttl"


def test_every_item_has_an_entry_with_the_core_metadata(governed_graph: Graph) -> None:
    datasets = set(governed_graph.subjects(rdfns.RDF.type, rdfns.DCAT.Dataset))
    assert len(datasets) == 8
    licence = URIRef(f"{BASE}dataset/licence")
    value = governed_graph.value
    assert value(licence, rdfns.DCTERMS.identifier) == Literal("licence")
    assert value(licence, rdfns.DCTERMS.title) == Literal("医疗机构执业许可", lang="zh")
    assert value(licence, rdfns.DCTERMS.description) == Literal("医疗机构执业许可证的核发信息", lang="zh")
    assert value(value(licence, rdfns.DCTERMS.publisher), rdfns.DCTERMS.identifier) == Literal("health")
    assert value(licence, rdfns.DCTERMS.relation) == URIRef(f"{BASE}dataset/enterprise")
    assert value(licence, directory.GD.sharingType) == Literal("conditional")
    assert value(licence, directory.GD.sharingCondition) == Literal("仅用于行政审批", lang="zh")
    assert value(licence, directory.GD.openingType) == Literal("not_open")
    assert value(licence, rdfns.DCTERMS.accrualPeriodicity) == directory.FREQUENCY["MONTHLY"]
    assert len(list(governed_graph.objects(licence, directory.GD.informationItem))) == 4
    enterprise = URIRef(f"{BASE}dataset/enterprise")
    # from the catalogue
    assert value(enterprise, rdfns.DCTERMS.issued) == Literal("2026-01-15", datatype=rdfns.XSD.date)
    water = URIRef(f"{BASE}dataset/water_account")
    assert value(water, rdfns.DCTERMS.issued) == Literal("2026-03-01", datatype=rdfns.XSD.date)  # first convergence
    assert value(licence, rdfns.DCTERMS.issued) is None  # neither published nor converged yet


def test_the_export_conforms_to_dcat_ap(governed_graph: Graph) -> None:
    result = directory.validate(governed_graph)
    assert (result.conforms, result.violations) == (True, 0), result.report


def test_an_entry_without_a_description_does_not_conform(governed_graph: Graph) -> None:
    broken = Graph()
    for triple in governed_graph:
        broken.add(triple)
    broken.remove((URIRef(f"{BASE}dataset/licence"), rdfns.DCTERMS.description, None))
    result = directory.validate(broken)
    assert (result.conforms, result.violations) == (False, 1)
    assert "MinCountConstraintComponent" in result.report and "dataset/licence" in result.report


def test_turtle_and_json_ld_hold_the_same_graph(governed_graph: Graph, tmp_path: Path) -> None:
    turtle, jsonld = directory.export(governed_graph, tmp_path / "out")
    from_turtle = Graph().parse(turtle, format="turtle")
    from_jsonld = Graph().parse(jsonld, format="json-ld")
    assert len(from_turtle) == len(from_jsonld) == len(governed_graph)
    assert directory.validate(from_jsonld).conforms


def test_first_converged_reads_the_ledger() -> None:
    from datetime import datetime

    ledger = [{"item": "a", "converged_at": datetime(2026, 5, 2, 8)},
              {"item": "a", "converged_at": datetime(2026, 5, 1)}, {"item": "b", "converged_at": None}]
    assert directory.first_converged(ledger) == {"a": date(2026, 5, 1)}


def test_directory_cli_exports_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["directory", str(GOVERNED), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"8 entries written to {tmp_path / 'directory.ttl'} and {tmp_path / 'directory.jsonld'}" in out
    assert "conforms to DCAT-AP 3.0.0" in out
