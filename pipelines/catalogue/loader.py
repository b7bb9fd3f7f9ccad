"""Load a catalogue directory into frozen models, all or nothing.

Layout: ``units.yaml`` (``units: [...]``) and ``items/*.yaml`` (``items: [...]``), one items file
per unit by convention; optional ``governance.yaml``, ``contractors.yaml`` (``contractors: [...]``) and
``divisions.yaml`` (``divisions: [...]``: the GB/T 2260 divisions' names and extents, for the directory).
Every problem names the file, the item and the field; loading stops with all problems listed, so a
half-valid catalogue is never used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipelines.catalogue.contractors import CONTRACTORS_FILE, contractor_findings
from pipelines.catalogue.governance import GOVERNANCE_FILE, governance_findings, source_problem
from pipelines.catalogue.models import Catalogue, Contractor, Division, Governance, Item, Unit

DIVISIONS_FILE = "divisions.yaml"

# libyaml's loader is about ten times faster; a province catalogue has thousands of items.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    file: str
    where: str  # "unit 'x'" / "item 'y'" / "catalogue"
    field: str
    message: str

    def __str__(self) -> str:
        field = f": field '{self.field}'" if self.field else ""
        return f"{self.file}: {self.where}{field}: {self.message}"


class CatalogueError(ValueError):
    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the catalogue has {len(self.problems)} problem(s):\n{lines}")


def load_catalogue(directory: str | Path) -> Catalogue:
    root = Path(directory)
    if not root.is_dir():
        raise CatalogueError([Problem(str(root), "catalogue", "", "no such catalogue directory")])
    problems: list[Problem] = []
    units = _load_units(root / "units.yaml", problems)
    items: list[tuple[str, Item]] = []
    item_files = sorted((root / "items").glob("*.yaml")) + sorted((root / "items").glob("*.yml"))
    if not item_files:
        problems.append(Problem(_rel(root / "items", root), "catalogue", "", "no items/*.yaml files"))
    for path in item_files:
        items.extend((_rel(path, root), item) for item in _load_models(path, root, "items", Item, problems))
    problems.extend(_cross_references([u for _, u in units], items))
    problems.extend(_name_collisions(units, items))
    governance = _load_governance(root / GOVERNANCE_FILE, problems)
    if not problems:  # governance rules read a catalogue whose items and references are already sound
        problems.extend(Problem(*finding) for finding in governance_findings(governance, items))
    contractors = _load_contractors(root / CONTRACTORS_FILE, problems)
    divisions = _load_divisions(root / DIVISIONS_FILE, problems)
    problems.extend(Problem(*finding) for finding in contractor_findings(contractors, {u.code for _, u in units}))
    if problems:
        raise CatalogueError(problems)
    return Catalogue(units=tuple(u for _, u in units), items=tuple(i for _, i in items), governance=governance,
                     contractors=tuple(contractors), divisions=tuple(divisions))


def _load_divisions(path: Path, problems: list[Problem]) -> list[Division]:
    """Optional: without divisions.yaml the directory names each division by its code alone."""
    if not path.is_file():
        return []
    divisions = _load_models(path, path.parent, "divisions", Division, problems)
    seen: set[str] = set()
    for division in divisions:
        if division.code in seen:
            problems.append(Problem(path.name, f"division '{division.code}'", "code", "division is declared twice"))
        seen.add(division.code)
    return divisions


def _load_contractors(path: Path, problems: list[Problem]) -> list[Contractor]:
    """Optional: without contractors.yaml every unit operates its own runs."""
    if not path.is_file():
        return []
    return _load_models(path, path.parent, "contractors", Contractor, problems)


def _load_governance(path: Path, problems: list[Problem]) -> Governance | None:
    """Optional: a catalogue without governance.yaml declares no data elements and need not connect."""
    if not path.is_file():
        return None
    try:
        document = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "catalogue", "", f"not readable YAML: {exc}"))
        return None
    try:
        return Governance.model_validate(document)
    except ValidationError as exc:
        problems.extend(Problem(path.name, _governance_label(document, err["loc"]), _loc(err["loc"][2:]), err["msg"])
                        if len(err["loc"]) > 2 and err["loc"][0] == "elements"
                        else Problem(path.name, "catalogue", _loc(err["loc"]), err["msg"])
                        for err in exc.errors())
        return None


def load_settings_file(path: Path, model: Any, where: str) -> Any:
    """An optional file validated whole into ``model`` (its defaults when the file is absent), with the
    catalogue's reading, caching and problem naming."""
    if not path.is_file():
        return model()
    try:
        document = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CatalogueError([Problem(path.name, where, "", f"not readable YAML: {exc}")]) from None
    if not isinstance(document, Mapping):
        raise CatalogueError([Problem(path.name, where, "", "expected a mapping")])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise CatalogueError([Problem(path.name, where, _loc(err["loc"]), err["msg"]) for err in exc.errors()]) \
            from None


def _governance_label(document: Any, loc: tuple[Any, ...]) -> str:
    elements = document.get("elements") if isinstance(document, Mapping) else None
    raw = elements[loc[1]] if isinstance(elements, list) and isinstance(loc[1], int) else None
    return _label("element", raw, loc[1] if isinstance(loc[1], int) else 0)


def _load_units(path: Path, problems: list[Problem]) -> list[tuple[str, Unit]]:
    root = path.parent
    if not path.is_file():
        problems.append(Problem(_rel(path, root), "catalogue", "", "missing units.yaml"))
        return []
    return [(_rel(path, root), u) for u in _load_models(path, root, "units", Unit, problems)]


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "govdata" / "catalogue"


def read_yaml(path: Path) -> Any:
    """YAML parsing dominates loading a large catalogue, and every Dagster run process loads it again:
    keep each parsed file as JSON, keyed by its content (reading bytes is cheap next to parsing them), so
    copies of one file share an entry and the cache grows only with distinct contents."""
    raw = path.read_bytes()
    cached = _cache_dir() / f"{hashlib.sha256(raw).hexdigest()}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    document = yaml.load(raw.decode("utf-8"), Loader=_YAML_LOADER)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(document, ensure_ascii=False, default=str), encoding="utf-8")
    except (OSError, TypeError, ValueError):
        pass  # a cache that cannot be written only costs speed
    return document


def _load_models(path: Path, root: Path, key: str, model: Any, problems: list[Problem]) -> list[Any]:
    name = _rel(path, root)
    try:
        document = read_yaml(path)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, "catalogue", "", f"not readable YAML: {exc}"))
        return []
    if not isinstance(document, Mapping) or not isinstance(document.get(key), list):
        problems.append(Problem(name, "catalogue", key, f"expected a top-level '{key}:' list"))
        return []
    kind = key[:-1]
    loaded = []
    for index, raw in enumerate(document[key]):
        label = _label(kind, raw, index)
        try:
            loaded.append(model.model_validate(raw))
        except ValidationError as exc:
            problems.extend(Problem(name, label, _loc(err["loc"]), err["msg"]) for err in exc.errors())
    return loaded


def _label(kind: str, raw: object, index: int) -> str:
    code = raw.get("code") if isinstance(raw, Mapping) else None
    return f"{kind} '{code}'" if code else f"{kind} #{index + 1}"


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "submission", "database") or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _cross_references(units: list[Unit], items: list[tuple[str, Item]]) -> list[Problem]:
    problems: list[Problem] = []
    unit_codes = {u.code: u for u in units}
    seen_units: set[str] = set()
    for unit in units:
        if unit.code in seen_units:
            problems.append(Problem("units.yaml", f"unit '{unit.code}'", "code", "unit code is used twice"))
        seen_units.add(unit.code)
    seen_items: dict[str, str] = {}
    for file, item in items:
        where = f"item '{item.code}'"
        if item.code in seen_items:
            problems.append(Problem(file, where, "code", f"item code already used in {seen_items[item.code]}"))
        seen_items.setdefault(item.code, file)
        if item.unit not in unit_codes:
            problems.append(Problem(file, where, "unit", f"unknown unit '{item.unit}' (not in units.yaml)"))
        elif unit_codes[item.unit].level is not item.level:
            unit = unit_codes[item.unit]
            message = f"unit '{unit.code}' is {unit.level.value}-level, item is {item.level.value}"
            problems.append(Problem(file, where, "level", message))
    by_code = {item.code: item for _, item in items}
    for file, item in items:
        problems.extend(_authority_problems(file, item, by_code))
    known = set(seen_items)
    for file, item in items:
        for index, related in enumerate(item.related):
            if related not in known:
                problems.append(
                    Problem(file, f"item '{item.code}'", f"related[{index}]", f"unknown item '{related}'")
                )
    return problems


# PostgreSQL cuts identifiers longer than this many bytes (NAMEDATALEN - 1) to size, so two long names would meet.
PG_IDENTIFIER_BYTES = 63


def _name_collisions(units: list[tuple[str, Unit]], items: list[tuple[str, Item]]) -> list[Problem]:
    """Codes that would clash with what the store derives from them: an item's table with a platform table (one
    namespace on SQLite), two codes one lower-case form, a unit's PostgreSQL role beyond an identifier's length."""
    from pipelines.access.control import unit_role  # the store's own derivations, imported when they are checked

    reserved = _platform_table_names()
    problems = [Problem(file, f"item '{item.code}'", "code", f"'{item.code}' is the name of a platform table")
                for file, item in items if item.code in reserved]
    problems += _case_collisions("unit", units) + _case_collisions("item", items)
    for file, unit in units:
        role = unit_role(unit.code)
        if len(role.encode()) > PG_IDENTIFIER_BYTES:
            problems.append(Problem(file, f"unit '{unit.code}'", "code",
                                    f"its PostgreSQL role '{role}' would be {len(role.encode())} bytes, more than "
                                    f"the {PG_IDENTIFIER_BYTES} an identifier holds: at most "
                                    f"{PG_IDENTIFIER_BYTES - len(unit_role('').encode())} characters"))
    return problems


def _platform_table_names() -> frozenset[str]:
    """The store's own tables, as pipelines/store/schema.py declares them: its metadata for no items."""
    from pipelines.store.schema import build_metadata

    return frozenset(t.name for t in build_metadata("sqlite").tables.values())


def _case_collisions(kind: str, entries: list[tuple[str, Unit]] | list[tuple[str, Item]]) -> list[Problem]:
    """PostgreSQL folds unquoted names and SQLite compares table names without case: ``Amr`` and ``amr`` are one
    (the code pattern admits lower case only, so this holds should that pattern ever widen)."""
    first: dict[str, str] = {}
    problems = []
    for file, entry in entries:
        folded = entry.code.casefold()
        if folded in first and first[folded] != entry.code:
            problems.append(Problem(file, f"{kind} '{entry.code}'", "code",
                                    f"equal to {kind} '{first[folded]}' once lower-cased"))
        first.setdefault(folded, entry.code)
    return problems


def _authority_problems(file: str, item: Item, by_code: dict[str, Item]) -> list[Problem]:
    """``references`` must name the single primary key of another item; ``matches`` one of its fields,
    reached through a field of this item that references the same authority."""
    problems: list[Problem] = []
    referenced = {f.references.item for f in item.fields if f.references}
    for index, f in enumerate(item.fields):
        where = f"item '{item.code}'"
        if f.references:
            message = _reference_problem(item, f.references, by_code, must_be_key=True)
            if message:
                problems.append(Problem(file, where, f"fields[{index}].references", message))
        if f.matches:
            message = _reference_problem(item, f.matches, by_code, must_be_key=False)
            if not message and f.matches.item not in referenced:
                message = f"no field of this item references '{f.matches.item}', so there is no row to compare with"
            if message:
                problems.append(Problem(file, where, f"fields[{index}].matches", message))
    return problems


def _reference_problem(item: Item, ref: Any, by_code: dict[str, Item], must_be_key: bool) -> str:
    if ref.item == item.code and item.code in by_code:
        return "an item cannot be its own authoritative source"
    problem = source_problem(ref, by_code)
    if problem:
        return problem
    if must_be_key and by_code[ref.item].primary_key != (ref.field,):
        return f"'{ref}' is not the single primary key of '{ref.item}'"
    return ""


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
