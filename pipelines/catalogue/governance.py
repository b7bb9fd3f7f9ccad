"""Catalogue governance rules checked when the catalogue loads (art. 11, 13, 19).

- one number, one source: a data element is collected only by its authoritative item; every other
  item carrying it references the authority (its key) or looks it up through the shared store;
- connected catalogues: with ``connected: true`` every city/county item maps onto a provincial item
  whose fields it shares, name for name and type for type;
- a looked-up field names a field of an authority this item references, so there is a key to join on;
- once-only at catalogue time (art. 11, 13): a field that carries a governed element's standard, field name
  or label (the element's name or its source field's label) but declares no ``element``, ``references`` or
  ``lookup`` collects the element again undeclared, and is refused; a field that is legitimately its item's
  own data says why in ``collected_here``. The same field of a city or county item that maps onto the
  authoritative item is part of that source (its rows converge into it) and passes.

Each check returns ``Finding`` tuples; the loader turns them into its file/item/field problems.
"""

from __future__ import annotations

from typing import NamedTuple

from pipelines.catalogue.models import DataElement, FieldRef, FieldType, Governance, Item, ItemField, Level

GOVERNANCE_FILE = "governance.yaml"


class Finding(NamedTuple):
    file: str
    where: str
    field: str
    message: str


def governance_findings(governance: Governance | None, items: list[tuple[str, Item]]) -> list[Finding]:
    by_code = {item.code: item for _, item in items}
    findings: list[Finding] = []
    if governance is not None:
        findings += _element_findings(governance, by_code)
    for file, item in items:
        findings += _lookup_findings(file, item, by_code)
        findings += _field_element_findings(file, item, governance, by_code)
        findings += _undeclared_element_findings(file, item, governance, by_code)
        findings += _mapping_findings(file, item, by_code, connected=bool(governance and governance.connected))
    return findings


# --- data elements -----------------------------------------------------------------------------
def _element_findings(governance: Governance, by_code: dict[str, Item]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for element in governance.elements:
        where = f"element '{element.code}'"
        if element.code in seen:
            findings.append(Finding(GOVERNANCE_FILE, where, "code", "element code is used twice"))
        seen.add(element.code)
        message = source_problem(element.source, by_code) or _key_standard_problem(element, by_code)
        if message:
            findings.append(Finding(GOVERNANCE_FILE, where, "source", message))
    return findings


def source_problem(source: FieldRef, by_code: dict[str, Item]) -> str:
    """The named item and field exist (the catalogue loader checks references and matches with it too)."""
    authority = by_code.get(source.item)
    if authority is None:
        return f"unknown item '{source.item}'"
    if authority.field(source.field) is None:
        return f"item '{source.item}' has no field '{source.field}'"
    return ""


def _key_standard_problem(element: DataElement, by_code: dict[str, Item]) -> str:
    standard, source = element.key_standard, element.source
    if standard is None:
        return ""
    authority = by_code[source.item]
    keys = [authority.field(k) for k in authority.primary_key]
    if len(keys) != 1 or keys[0] is None or keys[0].standard is not standard:
        return f"the key of '{source.item}' ({', '.join(authority.primary_key)}) is not a {standard.value} field"
    return ""


def _field_element_findings(file: str, item: Item, governance: Governance | None,
                            by_code: dict[str, Item]) -> list[Finding]:
    findings: list[Finding] = []
    for index, f in enumerate(item.fields):
        if f.element is None:
            continue
        element = governance.element(f.element) if governance else None
        where, loc = f"item '{item.code}'", f"fields[{index}].element"
        if element is None:
            findings.append(Finding(file, where, loc, f"unknown element '{f.element}' (not in {GOVERNANCE_FILE})"))
        elif not _obtains_from_authority(item, f, element.source):
            authority = by_code.get(element.source.item)
            owner = f" (unit '{authority.unit}')" if authority else ""
            findings.append(Finding(file, where, loc, (
                f"element '{element.code}' ({element.name}) has its authoritative source in "
                f"'{element.source}'{owner}: reference the authoritative item instead of collecting it again "
                "(one number, one source, art. 11)")))
    return findings


def _undeclared_element_findings(file: str, item: Item, governance: Governance | None,
                                 by_code: dict[str, Item]) -> list[Finding]:
    findings: list[Finding] = []
    for index, f in enumerate(item.fields):
        if f.element or f.references or f.lookup or f.collected_here:
            continue
        for element in governance.elements if governance else ():
            source = by_code.get(element.source.item)
            authority = source.field(element.source.field) if source else None
            if authority is None or _part_of_authority(item, f, element.source):
                continue
            why = _resemblance(f, element, authority)
            if why:
                findings.append(Finding(file, f"item '{item.code}'", f"fields[{index}]", (
                    f"'{f.name}' ({f.label}) has {why} of data element '{element.code}' ({element.name}), whose "
                    f"authoritative source is '{element.source}': declare element '{element.code}' and reference "
                    f"or look it up there instead of collecting it again (once-only, art. 11, 13), or say why it "
                    "is this item's own data in collected_here")))
                break
    return findings


def _part_of_authority(item: Item, f: ItemField, source: FieldRef) -> bool:
    """The authoritative field itself, or the same field of a city or county item mapped onto the authority:
    its rows converge into the authoritative item (connected catalogues), so it is that source, not a copy."""
    return source.item in (item.code, item.maps_to) and f.name == source.field


def _resemblance(f: ItemField, element: DataElement, authority: ItemField) -> str:
    """What makes the field look like the element: its standard, its field name or its label."""
    if authority.standard is not None and f.standard is authority.standard:
        return f"the standard ({f.standard.value})"
    if f.name == authority.name:
        return "the field name"
    if f.label in (element.name, authority.label):
        return "the label"
    return ""


def _obtains_from_authority(item: Item, f: ItemField, source: FieldRef) -> bool:
    """The authority itself, a reference to the authority's key, or a look-up of the authority's field."""
    if item.code == source.item:
        return f.name == source.field
    return source in (f.references, f.lookup)


# --- look-ups through the shared store (art. 13) ------------------------------------------------
def _lookup_findings(file: str, item: Item, by_code: dict[str, Item]) -> list[Finding]:
    findings: list[Finding] = []
    referenced = {f.references.item for f in item.fields if f.references}
    for index, f in enumerate(item.fields):
        if f.lookup is None:
            continue
        message = source_problem(f.lookup, by_code)
        if not message and f.lookup.item == item.code:
            message = "an item cannot look up its own fields"
        if not message and f.lookup.item not in referenced:
            message = f"no field of this item references '{f.lookup.item}', so there is no key to look it up by"
        if not message and _field_type(by_code, f.lookup) is not f.type:
            message = f"'{f.lookup}' is not of type {f.type.value}"
        if message:
            findings.append(Finding(file, f"item '{item.code}'", f"fields[{index}].lookup", message))
    return findings


def _field_type(by_code: dict[str, Item], ref: FieldRef) -> FieldType | None:
    target = by_code[ref.item].field(ref.field)
    return target.type if target else None


# --- connected catalogues (art. 11, 19) ---------------------------------------------------------
def _mapping_findings(file: str, item: Item, by_code: dict[str, Item], connected: bool) -> list[Finding]:
    where = f"item '{item.code}'"
    if item.maps_to is None:
        if connected and item.level is not Level.PROVINCE:
            return [Finding(file, where, "maps_to", f"a {item.level.value}-level item must map onto a provincial "
                            "item (maps_to): connected catalogues (art. 11, 19)")]
        return []
    if item.level is Level.PROVINCE:
        return [Finding(file, where, "maps_to", "a province-level item is itself the provincial catalogue entry: "
                        "it maps onto nothing")]
    target = by_code.get(item.maps_to)
    if target is None:
        return [Finding(file, where, "maps_to", f"unknown provincial item '{item.maps_to}'")]
    if target.level is not Level.PROVINCE:
        return [Finding(file, where, "maps_to", f"'{target.code}' is a {target.level.value}-level item, "
                        "not a provincial one")]
    return [Finding(file, where, "maps_to", message) for message in incompatibilities(item, target)]


def incompatibilities(local: Item, provincial: Item) -> list[str]:
    """Why the local item's rows could not be converged into the provincial item's table."""
    messages = []
    for f in local.fields:
        target = provincial.field(f.name)
        if target is None:
            messages.append(f"field '{f.name}' is not in provincial item '{provincial.code}'")
        elif target.type is not f.type:
            messages.append(f"field '{f.name}' is {f.type.value} here but {target.type.value} "
                            f"in provincial item '{provincial.code}'")
    if local.primary_key != provincial.primary_key:
        messages.append(f"primary key ({', '.join(local.primary_key)}) differs from provincial item "
                        f"'{provincial.code}' ({', '.join(provincial.primary_key)})")
    missing = [f.name for f in provincial.fields if f.not_null and local.field(f.name) is None]
    messages += [f"provincial field '{name}' is required in '{provincial.code}' but missing here" for name in missing]
    return messages
