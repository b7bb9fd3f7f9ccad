"""The government information resources directory (art. 18): one entry per catalogue item, exported as
DCAT (W3C) in Turtle and JSON-LD and validated against the DCAT-AP 3.0.0 SHACL shapes (core and
recommended), carried in ``pipelines/standards_data/``.

An entry carries the core metadata of GB/T 21063.3: classification, name, code, provider, abstract,
format, information items, sharing attributes, opening attributes, update cycle, publication date and
related resources. Each is written with the DCAT-AP term a harvester such as CKAN reads (contact point,
keywords, licence, spatial coverage, modification date, landing page, EU frequency, access-right and
file-type IRIs); what DCAT has no term for (sharing/opening attributes, information items) is kept
under the platform's own namespace ``GD``, which DCAT-AP's open shapes allow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, GEO, RDF, RDFS, SKOS, XSD
from rdflib.plugins.serializers.turtle import TurtleSerializer

from pipelines.catalogue.models import (
    Catalogue,
    Division,
    Item,
    ItemField,
    Level,
    Obtained,
    OpeningType,
    SharingType,
    Unit,
    UpdateCycle,
)
from pipelines.evaluation.periods import reporting_day

ENV_SHAPES = "GOVDATA_DCAT_SHAPES"
ENV_BASE = "GOVDATA_DIRECTORY_BASE_URI"
ENV_PORTAL = "GOVDATA_PORTAL_URL"
SHAPES_NAME = "dcat-ap-3.0.0-SHACL.ttl"
RECOMMENDED_NAME = "dcat-ap-3.0.0-SHACL-recommended.ttl"
STANDARDS_DATA = Path(__file__).resolve().parent / "standards_data"
DEFAULT_BASE = "https://govdata.example/directory/"
DEFAULT_PORTAL = "https://govdata.example/portal/"
GD = Namespace("https://govdata.example/ns#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY = Namespace(f"{EU}frequency/")
ACCESS_RIGHT = Namespace(f"{EU}access-right/")
FILE_TYPE = Namespace(f"{EU}file-type/")
LICENCE = Namespace(f"{EU}licence/")
LANGUAGE = Namespace(f"{EU}language/")
AVAILABILITY = Namespace(f"{EU}planned-availability/")
PUBLISHER_TYPE = Namespace("http://purl.org/adms/publishertype/")
LICENCE_TYPE = Namespace("http://purl.org/adms/licencetype/")
IANA = Namespace("http://www.iana.org/assignments/media-types/")

_FREQUENCY = {
    UpdateCycle.REALTIME: "CONT", UpdateCycle.DAILY: "DAILY", UpdateCycle.WEEKLY: "WEEKLY",
    UpdateCycle.MONTHLY: "MONTHLY", UpdateCycle.QUARTERLY: "QUARTERLY", UpdateCycle.HALF_YEARLY: "ANNUAL_2",
    UpdateCycle.YEARLY: "ANNUAL",
}
# The sharing mode decides the format a consumer receives the resource in: (EU file type, description).
_FORMAT = {"database": ("SQL", "database table"), "interface": ("JSON", "JSON over an HTTP interface"),
           "file": ("CSV", "CSV file")}
_OPEN_FILES = {"csv": ("text/csv", "CSV"), "json": ("application/json", "JSON")}
# GB/T 2260 levels as the EU publisher types: the province is a regional authority, cities and counties local.
_PUBLISHER_TYPE = {Level.PROVINCE: "RegionalAuthority", Level.CITY: "LocalAuthority", Level.COUNTY: "LocalAuthority"}
_OBTAINED = {Obtained.DUTY: "单位依法履行职责采集", Obtained.FRANCHISE: "通过特许经营取得",
             Obtained.PURCHASED_SERVICE: "通过购买服务取得"}
_COLLECTED = {"submission": "经一窗受理提交汇聚", "database": "从单位业务数据库抽取汇聚"}
# Compact JSON-LD: the prefixes a reader of the file (or a harvester) expects.
CONTEXT = {"dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "skos": str(SKOS), "vcard": str(VCARD),
           "dcatap": str(DCATAP), "rdfs": str(RDFS), "xsd": str(XSD), "gd": str(GD)}


def shapes_paths() -> tuple[Path, ...]:
    """The DCAT-AP 3.0.0 shapes carried in the repository (core and recommended), or the files named by
    GOVDATA_DCAT_SHAPES (separated by the path separator)."""
    override = os.environ.get(ENV_SHAPES)
    if override:
        return tuple(Path(part) for part in override.split(os.pathsep) if part)
    return STANDARDS_DATA / SHAPES_NAME, STANDARDS_DATA / RECOMMENDED_NAME


def shapes_path() -> Path:
    """The core shapes (the first of ``shapes_paths``): the file whose absence leaves an export unvalidated."""
    return shapes_paths()[0]


@dataclass(frozen=True)
class Addresses:
    """Where the directory's IRIs live (``base``) and where people read about a dataset (``portal``)."""

    base: str = DEFAULT_BASE
    portal: str = DEFAULT_PORTAL

    @classmethod
    def from_env(cls, base: str | None = None, portal: str | None = None) -> Addresses:
        """Explicit values first (CLI options), then GOVDATA_DIRECTORY_BASE_URI / GOVDATA_PORTAL_URL."""
        return cls(_with_slash(base or os.environ.get(ENV_BASE) or DEFAULT_BASE),
                   _with_slash(portal or os.environ.get(ENV_PORTAL) or DEFAULT_PORTAL))


def _with_slash(url: str) -> str:
    """IRIs are made by appending paths, so a base without its final slash would glue words together."""
    return url if url.endswith("/") else f"{url}/"


@dataclass(frozen=True)
class Entry:
    """A directory entry: the item's core metadata, as the directory service registers it."""

    item: Item
    provider: str  # the unit's name
    published: date | None
    modified: date | None = None  # the last convergence (else the publication date)
    collected: tuple[date, date] | None = None  # first and last convergence: the period the store holds
    unit: Unit | None = None  # the provider's registry entry: its owner is the contact when it is an email

    @property
    def format(self) -> str:
        return _FORMAT[self.item.sharing.mode][1]


def entries(catalogue: Catalogue, first_converged: Mapping[str, date] | None = None,
            last_converged: Mapping[str, date] | None = None) -> list[Entry]:
    """Publication date: the catalogue's, else the day the item first converged (registration).
    Modification date: the day it last converged, else its publication date."""
    first, last = first_converged or {}, last_converged or {}
    return [_entry(catalogue.unit(item.unit), item, first.get(item.code), last.get(item.code))
            for item in catalogue.items]


def _entry(unit: Unit, item: Item, first: date | None, last: date | None) -> Entry:
    published = item.published or first
    collected = (first, last) if first is not None and last is not None else None
    return Entry(item, unit.name, published, last or published, collected, unit)


def convergence_days(ledger: Iterable[Mapping[str, Any]]) -> dict[str, tuple[date, date]]:
    """Item -> (first, last) day a submission of it converged, on the province's calendar.
    ``ledger``: rows with ``item`` and ``converged_at`` (the store's ledger, or the evaluation's records)."""
    days: dict[str, tuple[date, date]] = {}
    for row in ledger:
        when = row.get("converged_at")
        day = reporting_day(when) if when is not None else None
        if day is None:
            continue
        first, last = days.get(row["item"], (day, day))
        days[row["item"]] = (min(first, day), max(last, day))
    return days


def first_converged(ledger: Iterable[Mapping[str, Any]]) -> dict[str, date]:
    """Item -> the day its first submission converged: its registration (publication) date."""
    return {item: first for item, (first, _) in convergence_days(ledger).items()}


def last_converged(ledger: Iterable[Mapping[str, Any]]) -> dict[str, date]:
    """Item -> the day its latest submission converged: the entry's modification date."""
    return {item: last for item, (_, last) in convergence_days(ledger).items()}


def dcat_graph(directory: list[Entry], base: str | None = None, title: str = "政务信息资源目录",
               opened: Mapping[str, Mapping[str, Any]] | None = None, portal: str | None = None,
               divisions: Iterable[Division] = ()) -> Graph:
    """``opened``: the open-data index (item -> its published files), listed as distributions.
    ``divisions``: the catalogue's declared divisions (names and extents of each ``dct:spatial``).
    ``base`` / ``portal``: default from the environment (``Addresses.from_env``)."""
    addresses = Addresses.from_env(base, portal)
    known = {division.code: division for division in divisions}
    graph = _bound_graph()
    ns = Namespace(addresses.base)
    catalog = ns["catalogue"]
    add = graph.add
    add((catalog, RDF.type, DCAT.Catalog))
    add((catalog, DCTERMS.title, Literal(title, lang="zh")))
    add((catalog, DCTERMS.description, Literal(f"{len(directory)} 项政务数据资源", lang="zh")))
    add((catalog, DCTERMS.publisher, _agent(graph, ns, "platform", "政务数据管理机构", Level.PROVINCE)))
    add((catalog, FOAF.homepage, _document(graph, URIRef(addresses.portal))))
    add((catalog, DCTERMS.license, _platform_licence(graph, ns)))
    add((catalog, DCTERMS.language, _chinese(graph)))
    for province in sorted({entry.item.region[:2] + "0000" for entry in directory}):
        add((catalog, DCTERMS.spatial, _division(graph, ns, province, known.get(province))))
    _catalogue_dates(graph, catalog, directory)
    scheme = ns["classification"]
    add((scheme, RDF.type, SKOS.ConceptScheme))
    add((scheme, DCTERMS.title, Literal("资源分类", lang="zh")))
    add((catalog, DCAT.themeTaxonomy, scheme))
    for entry in directory:
        dataset = _dataset(graph, ns, addresses, scheme, entry, known)
        add((catalog, DCAT.dataset, dataset))
        if entry.item.code in (opened or {}) and entry.item.opening.type is OpeningType.OPEN:
            _open_distributions(graph, ns, dataset, entry, (opened or {})[entry.item.code])
    return graph


def _bound_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, Namespace(namespace))
    return graph


def _catalogue_dates(graph: Graph, catalog: URIRef, directory: list[Entry]) -> None:
    """The catalogue was issued with its first entry and changed with its latest one."""
    issued = [e.published for e in directory if e.published is not None]
    modified = [e.modified for e in directory if e.modified is not None]
    if issued:
        graph.add((catalog, DCTERMS.issued, _day(min(issued))))
    if modified:
        graph.add((catalog, DCTERMS.modified, _day(max(modified))))


def _day(day: date) -> Literal:
    return Literal(day.isoformat(), datatype=XSD.date)


def _agent(graph: Graph, ns: Namespace, code: str, name: str, level: Level) -> URIRef:
    agent = ns[f"unit/{code}"]
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(name, lang="zh")))
    graph.add((agent, DCTERMS.identifier, Literal(code)))
    kind = _PUBLISHER_TYPE[level]
    graph.add((agent, DCTERMS.type, _concept_iri(graph, PUBLISHER_TYPE[kind], kind)))
    return agent


def _concept_iri(graph: Graph, concept: URIRef, label: str) -> URIRef:
    """A term of a controlled vocabulary: DCAT-AP checks classes and labels without fetching the vocabulary."""
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, SKOS.prefLabel, Literal(label, lang="en")))
    return concept


def _dataset(graph: Graph, ns: Namespace, addresses: Addresses, scheme: URIRef, entry: Entry,
             known: Mapping[str, Division]) -> URIRef:
    item = entry.item
    dataset = ns[f"dataset/{item.code}"]
    add = graph.add
    add((dataset, RDF.type, DCAT.Dataset))
    add((dataset, DCTERMS.identifier, Literal(item.code)))
    add((dataset, DCTERMS.title, Literal(item.name, lang="zh")))
    add((dataset, DCTERMS.description, Literal(item.abstract, lang="zh")))
    add((dataset, DCTERMS.publisher, _agent(graph, ns, item.unit, entry.provider, item.level)))
    add((dataset, DCAT.contactPoint, _contact(graph, ns, addresses, entry)))
    add((dataset, DCAT.theme, _theme(graph, ns, scheme, item.classification)))
    for keyword in _keywords(item):
        add((dataset, DCAT.keyword, Literal(keyword, lang="zh")))
    add((dataset, DCTERMS.accrualPeriodicity, _frequency(graph, item.update_cycle)))
    add((dataset, DCTERMS.spatial, _division(graph, ns, item.region, known.get(item.region))))
    add((dataset, DCTERMS.language, _chinese(graph)))
    add((dataset, DCAT.landingPage, _document(graph, URIRef(f"{addresses.portal}dataset/{item.code}"))))
    _dates(graph, dataset, entry)
    for related in item.related:
        add((dataset, DCTERMS.relation, _resource(graph, ns[f"dataset/{related}"])))
    add((dataset, DCTERMS.accessRights, _access_rights(graph, item)))
    add((dataset, DCTERMS.provenance, _provenance(graph, item)))
    add((dataset, DCAT.distribution, _distribution(graph, ns, entry)))
    add((dataset, GD.level, Literal(item.level.value)))
    add((dataset, GD.region, Literal(item.region)))
    add((dataset, GD.obtained, Literal(item.obtained.value)))
    _sharing_and_opening(graph, dataset, item)
    for position, f in enumerate(item.fields, start=1):
        add((dataset, GD.informationItem, _information_item(graph, f, position)))
    return dataset


def _dates(graph: Graph, dataset: URIRef, entry: Entry) -> None:
    if entry.published is not None:
        graph.add((dataset, DCTERMS.issued, _day(entry.published)))
    if entry.modified is not None:
        graph.add((dataset, DCTERMS.modified, _day(entry.modified)))
    covered = entry.collected or _approved_window(entry.item)
    if covered is not None:
        period = BNode()
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        graph.add((period, DCAT.startDate, _day(covered[0])))
        graph.add((period, DCAT.endDate, _day(covered[1])))
        graph.add((dataset, DCTERMS.temporal, period))


def _approved_window(item: Item) -> tuple[date, date] | None:
    """Before any data converged, a temporary collection covers the window it was approved for."""
    temporary = item.temporary
    if temporary is None or temporary.starts is None:
        return None
    return temporary.starts, temporary.expires


def _contact(graph: Graph, ns: Namespace, addresses: Addresses, entry: Entry) -> URIRef:
    """The provider unit as a vCard: its owner's address when the registry gives an email, else the unit's
    page on the portal (every unit has one, so every entry can be answered)."""
    code = entry.item.unit
    contact = ns[f"unit/{code}/contact"]
    graph.add((contact, RDF.type, VCARD.Kind))
    graph.add((contact, RDF.type, VCARD.Organization))
    graph.add((contact, VCARD.fn, Literal(entry.provider, lang="zh")))
    owner = entry.unit.owner if entry.unit is not None else None
    if owner is not None and "@" in owner:
        graph.add((contact, VCARD.hasEmail, URIRef(f"mailto:{owner}")))
    else:
        graph.add((contact, VCARD.hasURL, URIRef(f"{addresses.portal}unit/{code}")))
    return contact


def _keywords(item: Item) -> list[str]:
    """What a searcher types: the item's name, its classification and its information items' labels."""
    return list(dict.fromkeys([item.name, item.classification, *(f.label for f in item.fields)]))


def _theme(graph: Graph, ns: Namespace, scheme: URIRef, classification: str) -> URIRef:
    concept = ns[f"classification/{classification}"]
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, SKOS.prefLabel, Literal(classification)))
    graph.add((concept, SKOS.inScheme, scheme))
    return concept


def _frequency(graph: Graph, cycle: UpdateCycle) -> URIRef:
    """The EU frequency IRI, typed for the shapes and unlabelled: CKAN would read a label instead of the IRI."""
    frequency = FREQUENCY[_FREQUENCY[cycle]]
    graph.add((frequency, RDF.type, DCTERMS.Frequency))
    return frequency


def _division(graph: Graph, ns: Namespace, region: str, known: Division | None) -> URIRef:
    """A GB/T 2260 division as ``<base>gb2260/<code>``: the code is the division's identifier in the national
    standard (meant never to be reused for another division), so the IRI needs no register of its own and
    outlives a change of name; the path names the code list so the IRI says what the six digits are.
    ``known``: the catalogue's declaration (divisions.yaml), for its name, bounding box and centroid."""
    division = ns[f"gb2260/{region}"]
    graph.add((division, RDF.type, DCTERMS.Location))
    graph.add((division, DCTERMS.identifier, Literal(region)))
    if known is None:
        graph.add((division, SKOS.prefLabel, Literal(f"GB/T 2260 {region}")))
        return division
    graph.add((division, SKOS.prefLabel, Literal(known.name, lang="zh")))
    west, south, east, north = known.bbox
    ring = f"{west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}"
    graph.add((division, DCAT.bbox, Literal(f"POLYGON(({ring}))", datatype=GEO.wktLiteral)))
    graph.add((division, DCAT.centroid, Literal("POINT({} {})".format(*known.centroid), datatype=GEO.wktLiteral)))
    return division


def _chinese(graph: Graph) -> URIRef:
    language = LANGUAGE["ZHO"]
    graph.add((language, RDF.type, DCTERMS.LinguisticSystem))
    return language


def _document(graph: Graph, page: URIRef) -> URIRef:
    graph.add((page, RDF.type, FOAF.Document))
    return page


def access_right(item: Item) -> str:
    """EU access right: open items are public; items neither shared nor opened are non-public; the rest are
    restricted to the sharing or opening conditions."""
    if item.opening.type is OpeningType.OPEN:
        return "PUBLIC"
    if item.sharing.type is SharingType.NOT_SHARED and item.opening.type is OpeningType.NOT_OPEN:
        return "NON_PUBLIC"
    return "RESTRICTED"


def _access_rights(graph: Graph, item: Item) -> URIRef:
    rights = ACCESS_RIGHT[access_right(item)]
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    return rights


def _provenance(graph: Graph, item: Item) -> BNode:
    """How the unit obtains the data (art. 2) and how it reaches the platform."""
    statement = BNode()
    text = f"{_OBTAINED[item.obtained]}；{_COLLECTED[item.collection.method]}"
    graph.add((statement, RDF.type, DCTERMS.ProvenanceStatement))
    graph.add((statement, RDFS.label, Literal(text, lang="zh")))
    return statement


def _licence(graph: Graph, ns: Namespace, item: Item) -> URIRef:
    """Open items under CC BY 4.0 (art. 10); everything else under the platform's sharing licence."""
    if item.opening.type is not OpeningType.OPEN:
        return _platform_licence(graph, ns)
    licence = LICENCE["CC_BY_4_0"]
    graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    graph.add((licence, DCTERMS.title, Literal("Creative Commons Attribution 4.0 International", lang="en")))
    graph.add((licence, DCTERMS.type, _concept_iri(graph, LICENCE_TYPE["Attribution"], "Attribution")))
    return licence


def _platform_licence(graph: Graph, ns: Namespace) -> URIRef:
    licence = ns["licence/government-data"]
    graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    graph.add((licence, DCTERMS.title, Literal("政务数据共享使用许可：按目录的共享和开放属性及条件使用", lang="zh")))
    restrictive = LICENCE_TYPE["OtherRestrictiveClauses"]
    graph.add((licence, DCTERMS.type, _concept_iri(graph, restrictive, "Other restrictive clauses")))
    return licence


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
    file_type, _ = _FORMAT[item.sharing.mode]
    table = f"shared/{item.level.value}/{item.code}"
    _distribution_terms(graph, ns, distribution, item, file_type)
    graph.add((distribution, DCTERMS.title, Literal(f"{item.name}（共享库）", lang="zh")))
    graph.add((distribution, DCTERMS.description, Literal(
        f"共享库表 {table}，以{_MODE_TEXT[item.sharing.mode]}方式共享（{entry.format}）", lang="zh")))
    graph.add((distribution, DCAT.accessURL, _resource(graph, ns[table])))
    return distribution


_MODE_TEXT = {"database": "数据库", "interface": "接口", "file": "文件"}


def _distribution_terms(graph: Graph, ns: Namespace, distribution: URIRef, item: Item, file_type: str) -> None:
    """What every distribution carries: its class, EU file type, licence and availability."""
    media = FILE_TYPE[file_type]
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCTERMS.format, media))
    graph.add((media, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((distribution, DCTERMS.license, _licence(graph, ns, item)))
    graph.add((distribution, DCATAP.availability, _concept_iri(graph, AVAILABILITY["STABLE"], "stable")))


def _open_distributions(graph: Graph, ns: Namespace, dataset: URIRef, entry: Entry,
                        published: Mapping[str, Any]) -> None:
    """One distribution per open-data file, downloadable by anyone (art. 10)."""
    issued = Literal(str(published["published_at"])[:10], datatype=XSD.date)
    for kind, (media_type, label) in _OPEN_FILES.items():
        distribution = ns[f"dataset/{entry.item.code}/open/{kind}"]
        media = IANA[media_type]
        _distribution_terms(graph, ns, distribution, entry.item, label)
        graph.add((distribution, DCTERMS.title, Literal(f"{entry.item.name}（开放数据 {label}）", lang="zh")))
        file_url = _resource(graph, ns[f"open/{published[kind]}"])
        graph.add((distribution, DCAT.accessURL, file_url))
        graph.add((distribution, DCAT.downloadURL, file_url))
        graph.add((distribution, DCAT.mediaType, media))
        graph.add((media, RDF.type, DCTERMS.MediaType))
        graph.add((distribution, DCTERMS.issued, issued))
        graph.add((distribution, DCTERMS.description, Literal(
            f"{published['rows']} rows; personal information removed", lang="en")))
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
    """Write ``directory.ttl`` and ``directory.jsonld`` (compacted with ``CONTEXT``); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    turtle, jsonld = directory / "directory.ttl", directory / "directory.jsonld"
    with turtle.open("wb") as stream:
        _BoundPrefixesTurtle(graph).serialize(stream, encoding="utf-8")
    graph.serialize(jsonld, format="json-ld", encoding="utf-8", indent=2, context=CONTEXT)
    return turtle, jsonld


class _BoundPrefixesTurtle(TurtleSerializer):
    """rdflib's Turtle, the same bytes, in time linear in the directory.

    For every subject and object IRI rdflib looks for a prefix, and files the namespace it splits off in a
    trie it then searches linearly (rdflib issue #1752): each dataset's own IRIs (``.../dataset/<code>/...``)
    add namespaces, and 1,000 items' Turtle took 12 s (``benchmarks/fixed_costs.py``). Where no bound
    namespace begins the IRI, rdflib finds no prefix either (it makes prefixes up for predicates only) and
    writes the IRI whole: answered here without the search."""

    def serialize(self, stream: IO[bytes], base: str | None = None, encoding: str | None = None,
                  spacious: bool | None = None, **kwargs: Any) -> None:
        self._bind_known()
        super().serialize(stream, base=base, encoding=encoding, spacious=spacious, **kwargs)

    def _bind_known(self) -> None:
        self._bound = tuple(str(namespace) for _, namespace in self.store.namespaces())

    def get_pname(self, uri: Any, gen_prefix: bool = True) -> str | None:
        if not gen_prefix and isinstance(uri, URIRef) and not str.startswith(uri, self._bound):
            return None
        pname = super().get_pname(uri, gen_prefix=gen_prefix)
        if pname is not None and not str.startswith(uri, self._bound):
            self._bind_known()  # rdflib made a prefix up for this predicate: objects in it use it too
        return pname


SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True)
class Conformance:
    """``conforms``: no violation (warnings, from the recommended shapes, do not break conformance)."""

    conforms: bool
    violations: int
    report: str
    warnings: int = 0


def validate(graph: Graph, shapes: Path | Sequence[Path] | None = None) -> Conformance:
    """Validate against the DCAT-AP shapes (default: ``shapes_paths()``, core and recommended); the report
    text names every violation and warning."""
    import pyshacl

    shapes_graph = load_shapes([shapes] if isinstance(shapes, Path) else shapes or shapes_paths())
    _, results, text = pyshacl.validate(graph, shacl_graph=shapes_graph, inference="none", allow_warnings=True)
    severities = [results.value(result, SH.resultSeverity) for result in set(results.subjects(RDF.type,
                                                                                               SH.ValidationResult))]
    violations = sum(1 for severity in severities if severity == SH.Violation)
    warnings = sum(1 for severity in severities if severity == SH.Warning)
    return Conformance(violations == 0, violations, str(text), warnings)


def load_shapes(paths: Sequence[Path]) -> Graph:
    """The shapes, less the empty ``sh:property [ ]`` placeholders of the recommended file: they constrain
    nothing, and pyshacl refuses a property shape without a path."""
    shapes = Graph()
    for path in paths:
        shapes.parse(path, format="turtle")
    for shape, node in list(shapes.subject_objects(SH.property)):
        if shapes.value(node, SH.path) is None and not list(shapes.predicate_objects(node)):
            shapes.remove((shape, SH.property, node))
    return shapes
