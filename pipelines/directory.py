"""The government information resources directory (art. 18): one entry per catalogue item, exported as
DCAT (W3C) in Turtle and JSON-LD and validated against the DCAT-AP 3.0.0 SHACL shapes.

An entry carries the core metadata of GB/T 21063.3: classification, name, code, provider, abstract,
format, information items, sharing attributes, opening attributes, update cycle, publication date and
related resources. What DCAT has no term for (sharing/opening attributes, information items) is kept
under the platform's own namespace ``GD``, which DCAT-AP's open shapes allow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from pipelines.catalogue.models import Catalogue, Item, ItemField, OpeningType, UpdateCycle
from pipelines.evaluation.periods import reporting_day

ENV_SHAPES = "GOVDATA_DCAT_SHAPES"
SHAPES_NAME = "dcat-ap-3.0.0-SHACL.ttl"
DEFAULT_BASE = "https://govdata.example/directory/"
GD = Namespace("https://govdata.example/ns#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
_FREQUENCY = {
    UpdateCycle.REALTIME: "CONT", UpdateCycle.DAILY: "DAILY", UpdateCycle.WEEKLY: "WEEKLY",
    UpdateCycle.MONTHLY: "MONTHLY", UpdateCycle.QUARTERLY: "QUARTERLY", UpdateCycle.HALF_YEARLY: "ANNUAL_2",
    UpdateCycle.YEARLY: "ANNUAL",
}
# The sharing mode decides the format a consumer receives the resource in.
_FORMAT = {"database": "database table", "interface": "JSON over an HTTP interface", "file": "CSV file"}


def shapes_path() -> Path:
    """``<repo>/../shared/standards/<shapes>``, or the file named by GOVDATA_DCAT_SHAPES."""
    override = os.environ.get(ENV_SHAPES)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "standards" / SHAPES_NAME


@dataclass(frozen=True)
class Entry:
    """A directory entry: the item's core metadata, as the directory service registers it."""

    item: Item
    provider: str  # the unit's name
    published: date | None

    @property
    def format(self) -> str:
        return _FORMAT[self.item.sharing.mode]


def entries(catalogue: Catalogue, first_converged: dict[str, date] | None = None) -> list[Entry]:
    """Publication date: the catalogue's, else the day the item first converged (registration)."""
    first = first_converged or {}
    return [Entry(item, catalogue.unit(item.unit).name, item.published or first.get(item.code))
            for item in catalogue.items]


def first_converged(ledger: Iterable[Mapping[str, Any]]) -> dict[str, date]:
    """Item -> the day its first submission converged: its registration (publication) date.
    ``ledger``: rows with ``item`` and ``converged_at`` (the store's ledger, or the evaluation's records)."""
    first: dict[str, date] = {}
    for row in ledger:
        when = row.get("converged_at")
        day = reporting_day(when) if when is not None else None  # the province's calendar day
        if day is not None and (row["item"] not in first or day < first[row["item"]]):
            first[row["item"]] = day
    return first


def dcat_graph(directory: list[Entry], base: str = DEFAULT_BASE,
               title: str = "政务信息资源目录", opened: Mapping[str, Mapping[str, Any]] | None = None) -> Graph:
    """``opened``: the open-data index (item -> its published files), listed as distributions."""
    graph = _bound_graph()
    ns = Namespace(base)
    catalog = ns["catalogue"]
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(title, lang="zh")))
    graph.add((catalog, DCTERMS.description, Literal(f"{len(directory)} 项政务数据资源", lang="zh")))
    graph.add((catalog, DCTERMS.publisher, _agent(graph, ns, "platform", "政务数据管理机构")))
    scheme = ns["classification"]
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, DCTERMS.title, Literal("资源分类", lang="zh")))
    graph.add((catalog, DCAT.themeTaxonomy, scheme))
    for entry in directory:
        dataset = _dataset(graph, ns, scheme, entry)
        graph.add((catalog, DCAT.dataset, dataset))
        if entry.item.code in (opened or {}) and entry.item.opening.type is OpeningType.OPEN:
            _open_distributions(graph, ns, dataset, entry, (opened or {})[entry.item.code])
    return graph


def _bound_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("skos", SKOS), ("gd", GD)):
        graph.bind(prefix, namespace)
    return graph


def _agent(graph: Graph, ns: Namespace, code: str, name: str) -> URIRef:
    agent = ns[f"unit/{code}"]
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(name, lang="zh")))
    graph.add((agent, DCTERMS.identifier, Literal(code)))
    return agent


def _dataset(graph: Graph, ns: Namespace, scheme: URIRef, entry: Entry) -> URIRef:
    item = entry.item
    dataset = ns[f"dataset/{item.code}"]
    add = graph.add
    add((dataset, RDF.type, DCAT.Dataset))
    add((dataset, DCTERMS.identifier, Literal(item.code)))
    add((dataset, DCTERMS.title, Literal(item.name, lang="zh")))
    add((dataset, DCTERMS.description, Literal(item.abstract, lang="zh")))
    add((dataset, DCTERMS.publisher, _agent(graph, ns, item.unit, entry.provider)))
    add((dataset, DCAT.theme, _concept(graph, ns, scheme, item.classification)))
    add((dataset, DCTERMS.accrualPeriodicity, _frequency(graph, item.update_cycle)))
    if entry.published is not None:
        add((dataset, DCTERMS.issued, Literal(entry.published.isoformat(), datatype=XSD.date)))
    for related in item.related:
        add((dataset, DCTERMS.relation, _resource(graph, ns[f"dataset/{related}"])))
    add((dataset, DCTERMS.accessRights, _access_rights(graph, item)))
    add((dataset, DCAT.distribution, _distribution(graph, ns, entry)))
    add((dataset, GD.level, Literal(item.level.value)))
    add((dataset, GD.region, Literal(item.region)))
    _sharing_and_opening(graph, dataset, item)
    for position, f in enumerate(item.fields, start=1):
        add((dataset, GD.informationItem, _information_item(graph, f, position)))
    return dataset


def _concept(graph: Graph, ns: Namespace, scheme: URIRef, classification: str) -> URIRef:
    concept = ns[f"classification/{classification}"]
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, SKOS.prefLabel, Literal(classification)))
    graph.add((concept, SKOS.inScheme, scheme))
    return concept


def _frequency(graph: Graph, cycle: UpdateCycle) -> URIRef:
    frequency = FREQUENCY[_FREQUENCY[cycle]]
    graph.add((frequency, RDF.type, DCTERMS.Frequency))
    graph.add((frequency, RDFS.label, Literal(cycle.value)))
    return frequency


def _access_rights(graph: Graph, item: Item) -> BNode:
    rights = BNode()
    sharing = item.sharing
    text = f"sharing: {sharing.type.value}" + (f" ({sharing.condition})" if sharing.condition else "")
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    graph.add((rights, RDFS.label, Literal(text)))
    return rights


def _sharing_and_opening(graph: Graph, dataset: URIRef, item: Item) -> None:
    graph.add((dataset, GD.sharingType, Literal(item.sharing.type.value)))
    graph.add((dataset, GD.sharingMode, Literal(item.sharing.mode)))
    if item.sharing.condition:
        graph.add((dataset, GD.sharingCondition, Literal(item.sharing.condition, lang="zh")))
    graph.add((dataset, GD.openingType, Literal(item.opening.type.value)))
    if item.opening.condition:
        graph.add((dataset, GD.openingCondition, Literal(item.opening.condition, lang="zh")))


def _distribution(graph: Graph, ns: Namespace, entry: Entry) -> URIRef:
    item = entry.item
    distribution = ns[f"dataset/{item.code}/shared"]
    media = ns[f"format/{item.sharing.mode}"]
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCTERMS.title, Literal(f"{item.name}（共享库）", lang="zh")))
    graph.add((distribution, DCAT.accessURL, _resource(graph, ns[f"shared/{item.level.value}/{item.code}"])))
    graph.add((distribution, DCTERMS.format, media))
    graph.add((media, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((media, RDFS.label, Literal(entry.format)))
    return distribution


_MEDIA = {"csv": ("text/csv", "CSV"), "json": ("application/json", "JSON")}
IANA = Namespace("http://www.iana.org/assignments/media-types/")


def _open_distributions(graph: Graph, ns: Namespace, dataset: URIRef, entry: Entry,
                        published: Mapping[str, Any]) -> None:
    """One distribution per open-data file, downloadable by anyone (art. 10)."""
    issued = Literal(str(published["published_at"])[:10], datatype=XSD.date)
    for kind, (media_type, label) in _MEDIA.items():
        distribution = ns[f"dataset/{entry.item.code}/open/{kind}"]
        media = IANA[media_type]
        graph.add((distribution, RDF.type, DCAT.Distribution))
        graph.add((distribution, DCTERMS.title, Literal(f"{entry.item.name}（开放数据 {label}）", lang="zh")))
        file_url = _resource(graph, ns[f"open/{published[kind]}"])
        graph.add((distribution, DCAT.accessURL, file_url))
        graph.add((distribution, DCAT.downloadURL, file_url))
        graph.add((distribution, DCAT.mediaType, media))
        graph.add((media, RDF.type, DCTERMS.MediaType))
        graph.add((distribution, DCTERMS.issued, issued))
        graph.add((distribution, RDFS.comment, Literal(f"{published['rows']} rows; personal information removed")))
        graph.add((dataset, DCAT.distribution, distribution))


def _resource(graph: Graph, node: URIRef) -> URIRef:
    """DCAT-AP checks classes without inference, so plain links are typed rdfs:Resource explicitly."""
    graph.add((node, RDF.type, RDFS.Resource))
    return node


def _information_item(graph: Graph, f: ItemField, position: int) -> BNode:
    node = BNode()
    for predicate, value in ((GD.position, position), (GD.name, f.name),
                             (RDFS.label, f.label), (GD.type, f.type.value)):
        graph.add((node, predicate, Literal(value)))
    return node


def export(graph: Graph, directory: Path) -> tuple[Path, Path]:
    """Write ``directory.ttl`` and ``directory.jsonld``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    turtle, jsonld = directory / "directory.ttl", directory / "directory.jsonld"
    graph.serialize(turtle, format="turtle", encoding="utf-8")
    graph.serialize(jsonld, format="json-ld", encoding="utf-8", indent=2)
    return turtle, jsonld


@dataclass(frozen=True)
class Conformance:
    conforms: bool
    violations: int
    report: str


def validate(graph: Graph, shapes: Path | None = None) -> Conformance:
    """Validate against the DCAT-AP shapes; the report text names every violation."""
    import pyshacl

    shapes_graph = Graph().parse(shapes or shapes_path(), format="turtle")
    conforms, results, text = pyshacl.validate(graph, shacl_graph=shapes_graph, inference="none")
    violations = len(set(results.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#ValidationResult"))))
    return Conformance(bool(conforms), violations, str(text))
