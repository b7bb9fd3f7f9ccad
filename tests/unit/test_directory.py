"""The resource directory (art. 18): one DCAT entry per item, Turtle and JSON-LD, DCAT-AP 3.0.0 shapes."""

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib import namespace as rdfns

from pipelines import directory
from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from tests.conftest import REPO

GOVERNED = REPO / "tests" / "fixtures" / "governed"
DEMO = REPO / "catalogue" / "demo"
BASE = directory.DEFAULT_BASE
PORTAL = directory.DEFAULT_PORTAL
DCT, DCAT, RDFS = rdfns.DCTERMS, rdfns.DCAT, rdfns.RDFS


def demo_ledger() -> list[dict]:
    """Every demo item converged twice (the 2nd and the 20th of November, 09:00 in the province)."""
    return [{"item": item.code, "converged_at": datetime(2026, 11, day, 9)}
            for item in load_catalogue(DEMO).items for day in (2, 20)]


def demo_graph() -> Graph:
    ledger = demo_ledger()
    catalogue = load_catalogue(DEMO)
    return directory.dcat_graph(directory.entries(catalogue, directory.first_converged(ledger),
                                                  directory.last_converged(ledger)),
                                divisions=catalogue.divisions)


@pytest.fixture(scope="module")
def governed_graph() -> Graph:
    catalogue = load_catalogue(GOVERNED)
    return directory.dcat_graph(directory.entries(catalogue, {"water_account": date(2026, 3, 1)}))


def test_the_shapes_are_carried_in_the_repository() -> None:
    carried = REPO / "pipelines" / "standards_data"
    assert directory.shapes_paths() == (carried / "dcat-ap-3.0.0-SHACL.ttl",
                                        carried / "dcat-ap-3.0.0-SHACL-recommended.ttl")
    assert directory.shapes_path() == carried / "dcat-ap-3.0.0-SHACL.ttl"
    assert all(path.is_file() for path in directory.shapes_paths())


def test_the_shapes_path_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(directory.ENV_SHAPES, f"{tmp_path / 'a.ttl'}:{tmp_path / 'b.ttl'}")
    assert directory.shapes_paths() == (tmp_path / "a.ttl", tmp_path / "b.ttl")
    assert directory.shapes_path() == tmp_path / "a.ttl"


def test_every_item_has_an_entry_with_the_core_metadata(governed_graph: Graph) -> None:
    datasets = set(governed_graph.subjects(rdfns.RDF.type, DCAT.Dataset))
    assert len(datasets) == 8
    licence = URIRef(f"{BASE}dataset/licence")
    value = governed_graph.value
    assert value(licence, DCT.identifier) == Literal("licence")
    assert value(licence, DCT.title) == Literal("医疗机构执业许可", lang="zh")
    assert value(licence, DCT.description) == Literal("医疗机构执业许可证的核发信息", lang="zh")
    assert value(value(licence, DCT.publisher), DCT.identifier) == Literal("health")
    assert value(licence, DCT.relation) == URIRef(f"{BASE}dataset/enterprise")
    assert value(licence, directory.GD.sharingType) == Literal("conditional")
    assert value(licence, directory.GD.sharingCondition) == Literal("仅用于行政审批", lang="zh")
    assert value(licence, directory.GD.openingType) == Literal("not_open")
    assert value(licence, DCT.accrualPeriodicity) == directory.FREQUENCY["MONTHLY"]
    assert len(list(governed_graph.objects(licence, directory.GD.informationItem))) == 4
    enterprise = URIRef(f"{BASE}dataset/enterprise")
    # from the catalogue
    assert value(enterprise, DCT.issued) == Literal("2026-01-15", datatype=rdfns.XSD.date)
    water = URIRef(f"{BASE}dataset/water_account")
    assert value(water, DCT.issued) == Literal("2026-03-01", datatype=rdfns.XSD.date)  # first convergence
    assert value(licence, DCT.issued) is None  # neither published nor converged yet


def test_an_entry_carries_what_a_harvester_reads(governed_graph: Graph) -> None:
    value = governed_graph.value
    licence = URIRef(f"{BASE}dataset/licence")
    contact = value(licence, DCAT.contactPoint)
    assert contact == URIRef(f"{BASE}unit/health/contact")
    assert (contact, rdfns.RDF.type, directory.VCARD.Kind) in governed_graph
    assert value(contact, directory.VCARD.fn) == Literal("省卫生健康委员会", lang="zh")
    # the registry gives no email for this unit: its portal page is the contact
    assert value(contact, directory.VCARD.hasURL) == URIRef(f"{PORTAL}unit/health")
    assert sorted(str(k) for k in governed_graph.objects(licence, DCAT.keyword)) == sorted(
        ["医疗机构执业许可", "法人", "许可证号", "统一社会信用代码", "企业名称", "法定代表人"])
    assert value(licence, DCT.spatial) == URIRef(f"{BASE}gb2260/450000")
    assert value(licence, DCAT.landingPage) == URIRef(f"{PORTAL}dataset/licence")
    assert value(licence, DCT.accessRights) == URIRef(
        "http://publications.europa.eu/resource/authority/access-right/RESTRICTED")
    assert str(value(value(licence, DCT.provenance), rdfns.RDFS.label)) == "单位依法履行职责采集；经一窗受理提交汇聚"
    distribution = value(licence, DCAT.distribution)
    assert value(distribution, DCT.format) == URIRef(
        "http://publications.europa.eu/resource/authority/file-type/SQL")  # shared as a database table
    assert value(distribution, DCT.license) == URIRef(f"{BASE}licence/government-data")  # not open
    assert value(distribution, directory.DCATAP.availability) == URIRef(
        "http://publications.europa.eu/resource/authority/planned-availability/STABLE")
    description = "共享库表 shared/province/licence，以数据库方式共享（database table）"
    assert str(value(distribution, DCT.description)) == description


def test_the_frequency_is_the_eu_iri_without_a_label(governed_graph: Graph) -> None:
    """CKAN reads a label on the frequency IRI instead of the IRI: the export puts none there."""
    frequencies = set(governed_graph.objects(None, DCT.accrualPeriodicity))
    assert frequencies == {directory.FREQUENCY[code] for code in ("DAILY", "MONTHLY", "QUARTERLY")}
    for frequency in frequencies:
        assert set(governed_graph.predicate_objects(frequency)) == {(rdfns.RDF.type, DCT.Frequency)}


@pytest.mark.parametrize(("sharing", "opening", "expected"), [
    ("unconditional", "open", "PUBLIC"), ("conditional", "conditional", "RESTRICTED"),
    ("unconditional", "not_open", "RESTRICTED"), ("not_shared", "conditional", "RESTRICTED"),
    ("not_shared", "not_open", "NON_PUBLIC")])
def test_access_rights_follow_sharing_and_opening(sharing: str, opening: str, expected: str) -> None:
    from pipelines.catalogue.models import Opening, OpeningType, Sharing, SharingType

    item = load_catalogue(GOVERNED).item("licence")
    changed = item.model_copy(update={"sharing": Sharing(type=SharingType(sharing), condition="条件"),
                                      "opening": Opening(type=OpeningType(opening), condition="条件")})
    assert directory.access_right(changed) == expected


def test_the_modification_date_and_period_come_from_the_ledger() -> None:
    ledger = [{"item": "a", "converged_at": when} for when in (
        datetime(2026, 5, 2, 8), None, datetime(2026, 5, 9, 8), datetime(2026, 5, 1))]
    assert directory.convergence_days(ledger) == {"a": (date(2026, 5, 1), date(2026, 5, 9))}
    assert directory.last_converged(ledger) == {"a": date(2026, 5, 9)}
    graph = demo_graph()
    dataset = URIRef(f"{BASE}dataset/resident_register")
    assert graph.value(dataset, DCT.modified) == Literal("2026-11-20", datatype=rdfns.XSD.date)
    period = graph.value(dataset, DCT.temporal)
    assert (graph.value(period, DCAT.startDate), graph.value(period, DCAT.endDate)) == (
        Literal("2026-11-02", datatype=rdfns.XSD.date), Literal("2026-11-20", datatype=rdfns.XSD.date))
    catalog = URIRef(f"{BASE}catalogue")
    assert graph.value(catalog, DCT.modified) == Literal("2026-11-20", datatype=rdfns.XSD.date)
    assert graph.value(catalog, DCT.issued) == Literal("2025-06-30", datatype=rdfns.XSD.date)  # catalogued


def test_the_export_conforms_to_dcat_ap(governed_graph: Graph) -> None:
    result = directory.validate(governed_graph)
    assert (result.conforms, result.violations) == (True, 0), result.report


def test_the_demo_export_has_no_violation_and_no_warning() -> None:
    """Core and recommended shapes on the demo catalogue (22 items, every one converged, its five
    divisions declared with their extents in divisions.yaml)."""
    result = directory.validate(demo_graph())
    assert (result.conforms, result.violations, result.warnings) == (True, 0, 0), result.report


def test_a_declared_division_carries_its_name_bbox_and_centroid_as_wkt() -> None:
    graph = demo_graph()
    longan = URIRef(f"{BASE}gb2260/450123")
    wkt = rdfns.Namespace("http://www.opengis.net/ont/geosparql#").wktLiteral
    assert graph.value(longan, rdfns.SKOS.prefLabel) == Literal("隆安县", lang="zh")
    assert graph.value(longan, DCAT.bbox) == Literal(
        "POLYGON((107.35 22.85, 108.1 22.85, 108.1 23.35, 107.35 23.35, 107.35 22.85))", datatype=wkt)
    assert graph.value(longan, DCAT.centroid) == Literal("POINT(107.73 23.1)", datatype=wkt)


def test_without_declared_divisions_the_recommended_shapes_warn_of_each_divisions_geometry() -> None:
    """The shapes are what asks for the geometry: the same export without divisions.yaml warns of exactly
    the bbox and centroid of the five divisions, and of nothing else."""
    ledger = demo_ledger()
    catalogue = load_catalogue(DEMO)
    bare = directory.dcat_graph(directory.entries(catalogue, directory.first_converged(ledger),
                                                  directory.last_converged(ledger)))
    result = directory.validate(bare)
    assert (result.conforms, result.violations, result.warnings) == (True, 0, 10), result.report
    report = Graph()
    report.parse(data=_report_graph(bare), format="turtle")
    sh = directory.SH
    focus = {(str(report.value(r, sh.focusNode)).removeprefix(f"{BASE}gb2260/"),
              str(report.value(r, sh.resultPath)).removeprefix(str(DCAT)))
             for r in report.subjects(rdfns.RDF.type, sh.ValidationResult)}
    assert focus == {(code, path) for code in ("450000", "450100", "450123", "450200", "450222")
                     for path in ("bbox", "centroid")}


def _report_graph(graph: Graph) -> str:
    import pyshacl

    shapes = directory.load_shapes(directory.shapes_paths())
    _, results, _ = pyshacl.validate(graph, shacl_graph=shapes, inference="none", allow_warnings=True)
    return results.serialize(format="turtle")


def test_the_recommended_shapes_catch_a_missing_recommended_property() -> None:
    graph = demo_graph()
    graph.remove((URIRef(f"{BASE}dataset/resident_register"), DCAT.contactPoint, None))
    result = directory.validate(graph)
    assert (result.conforms, result.violations, result.warnings) == (True, 0, 1)
    assert "dataset/resident_register" in result.report and "dcat:contactPoint" in result.report


def test_an_entry_without_a_description_does_not_conform(governed_graph: Graph) -> None:
    broken = Graph()
    for triple in governed_graph:
        broken.add(triple)
    broken.remove((URIRef(f"{BASE}dataset/licence"), DCT.description, None))
    result = directory.validate(broken, directory.shapes_path())
    assert (result.conforms, result.violations, result.warnings) == (False, 1, 0)
    assert "MinCountConstraintComponent" in result.report and "dataset/licence" in result.report


def test_turtle_and_json_ld_hold_the_same_graph(governed_graph: Graph, tmp_path: Path) -> None:
    turtle, jsonld = directory.export(governed_graph, tmp_path / "out")
    from_turtle = Graph().parse(turtle, format="turtle")
    from_jsonld = Graph().parse(jsonld, format="json-ld")
    assert len(from_turtle) == len(from_jsonld) == len(governed_graph)
    assert directory.validate(from_jsonld).conforms
    document = json.loads(jsonld.read_text(encoding="utf-8"))  # compacted: prefixes, not full IRIs
    assert document["@context"] == directory.CONTEXT
    datasets = [node for node in document["@graph"] if "dcat:Dataset" in _types(node)]
    assert len(datasets) == 8 and all("dct:title" in node for node in datasets)


def test_the_turtle_is_rdflibs_own_byte_for_byte(tmp_path: Path) -> None:
    """The export's serializer only skips rdflib's prefix search where it finds none: the same bytes as
    rdflib's own Turtle, on the demo and on a generated catalogue whose datasets add many namespaces; and a
    predicate outside the bound namespaces still gets the prefix rdflib makes up for it."""
    from pipelines.demo.generator import generate_large_catalogue

    generate_large_catalogue(tmp_path / "large", items=120)
    large = load_catalogue(tmp_path / "large")
    extra = demo_graph()
    catalog = URIRef("https://govdata.example/directory/catalogue")
    extra.add((catalog, URIRef("https://unbound.example/v#note"), Literal("x")))
    extra.add((catalog, RDFS.seeAlso, URIRef("https://unbound.example/v#thing")))  # an object in it
    graphs = {"demo": demo_graph(), "large": directory.dcat_graph(directory.entries(large, {}, {})),
              "unbound predicate": extra}
    for name, graph in graphs.items():
        turtle, _ = directory.export(graph, tmp_path / name)
        assert turtle.read_bytes() == graph.serialize(format="turtle", encoding="utf-8"), name
    unbound = (tmp_path / "unbound predicate" / "directory.ttl").read_text(encoding="utf-8")
    assert "@prefix ns1: <https://unbound.example/v#> ." in unbound and "ns1:thing" in unbound


def _types(node: dict) -> list[str]:
    """A compacted node's types: one type is a string, several a list."""
    types = node.get("@type", [])
    return [types] if isinstance(types, str) else types


def test_the_base_uri_and_portal_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(directory.ENV_BASE, "https://data.gxzf.example/dir")
    monkeypatch.setenv(directory.ENV_PORTAL, "https://portal.gxzf.example/")
    assert directory.Addresses.from_env() == directory.Addresses(
        "https://data.gxzf.example/dir/", "https://portal.gxzf.example/")
    assert directory.Addresses.from_env(portal="https://other.example") == directory.Addresses(
        "https://data.gxzf.example/dir/", "https://other.example/")
    graph = directory.dcat_graph(directory.entries(load_catalogue(GOVERNED)))
    licence = URIRef("https://data.gxzf.example/dir/dataset/licence")
    assert graph.value(licence, DCAT.landingPage) == URIRef("https://portal.gxzf.example/dataset/licence")


def test_first_converged_reads_the_ledger() -> None:
    ledger = [{"item": "a", "converged_at": datetime(2026, 5, 2, 8)},
              {"item": "a", "converged_at": datetime(2026, 5, 1)}, {"item": "b", "converged_at": None}]
    assert directory.first_converged(ledger) == {"a": date(2026, 5, 1)}


def test_directory_cli_exports_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["directory", str(GOVERNED), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"8 entries written to {tmp_path / 'directory.ttl'} and {tmp_path / 'directory.jsonld'}" in out
    assert "conforms to DCAT-AP 3.0.0" in out


def test_directory_cli_takes_the_base_uri_and_portal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["directory", str(GOVERNED), "--out", str(tmp_path), "--base-uri", "https://d.example/",
                 "--portal-url", "https://p.example/"]) == 0
    graph = Graph().parse(tmp_path / "directory.ttl", format="turtle")
    assert graph.value(URIRef("https://d.example/dataset/licence"), DCAT.landingPage) == URIRef(
        "https://p.example/dataset/licence")
    assert not any(str(s).startswith(BASE) for s in graph.subjects())


def test_a_temporary_collection_with_no_data_covers_its_approved_window() -> None:
    """The demo's expired survey never converged: its entry's dct:temporal is the window it was approved for
    (2026-02-24 to 2026-03-31), so the export of the demo as it runs (that item without data) warns of nothing."""
    ledger = [row for row in demo_ledger() if row["item"] != "returning_worker_survey"]
    catalogue = load_catalogue(DEMO)
    graph = directory.dcat_graph(directory.entries(catalogue, directory.first_converged(ledger),
                                                   directory.last_converged(ledger)),
                                 divisions=catalogue.divisions)
    period = graph.value(URIRef(f"{BASE}dataset/returning_worker_survey"), DCT.temporal)
    assert (graph.value(period, DCAT.startDate), graph.value(period, DCAT.endDate)) == (
        Literal("2026-02-24", datatype=rdfns.XSD.date), Literal("2026-03-31", datatype=rdfns.XSD.date))
    result = directory.validate(graph)
    assert (result.conforms, result.violations, result.warnings) == (True, 0, 0), result.report
