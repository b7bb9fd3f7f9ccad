"""The demo generator: a loadable demo catalogue, reproducible files, and a manifest that tells the truth.

The manifest is checked against counts re-derived here from the written files with an independent
reader (csv/openpyxl/json/sqlite3) and stdnum, not with the generator's own checks.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from stdnum.cn import ric, uscc

from pipelines import connected
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import (
    Catalogue,
    DatabaseCollection,
    FieldType,
    Item,
    Level,
    Obtained,
    SharingType,
    Standard,
    UnitKind,
    UpdateCycle,
)
from pipelines.demo import generate_demo, generate_large_catalogue
from pipelines.demo.__main__ import main
from pipelines.demo.generator import make_ric, make_uscc, org_code_check_char
from pipelines.standards import is_adcode

REPO = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO / "catalogue" / "demo"
AS_OF = date(2026, 11, 27)
HOLD_BACK = ("bad_check_digit", "missing_required", "duplicate_key", "out_of_set", "out_of_range", "unknown_key")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO_CATALOGUE)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One default-size run, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("demo")
    return generate_demo(DEMO_CATALOGUE, root / "intake", root / "data", as_of=AS_OF)


@pytest.fixture(scope="module")
def known(demo: dict[str, Any], catalogue: Catalogue) -> dict[str, set[str]]:
    """Authority -> the keys its shared table will hold: those of its rows that break no rule."""
    authorities = {f.references.item for i in catalogue.items for f in i.fields if f.references}
    keys = {}
    for code in authorities:
        item = catalogue.item(code)
        records = read_records(demo["items"][code], item)
        found = rederive(item, records, AS_OF, {})
        held = set().union(*(found[kind] for kind in HOLD_BACK))
        keys[code] = {r[item.primary_key[0]] for i, r in enumerate(records) if i not in held}
    return keys


# --- reading the files back, independently of the generator -----------------------------------
def read_records(entry: dict[str, Any], item: Item) -> list[dict[str, str]]:
    """Every data row as field name -> text ('' when empty), whatever the format."""
    path = Path(entry["file"])
    if entry["format"] == "sqlite":
        return read_sqlite(path, item)
    if entry["format"] == "json":
        document = json.loads(path.read_text("utf-8"))
        return [{k: "" if v is None else str(v) for k, v in r.items()} for r in document]
    table = read_xlsx(path) if entry["format"] == "xlsx" else read_csv(path, entry["encoding"])
    by_label = {f.label: f.name for f in item.fields}
    header = [by_label.get(h, h) for h in table[0]]
    return [dict(zip(header, row, strict=True)) for row in table[1:]]


def read_csv(path: Path, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def read_xlsx(path: Path) -> list[list[str]]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def read_sqlite(path: Path, item: Item) -> list[dict[str, str]]:
    assert isinstance(item.collection, DatabaseCollection)
    with sqlite3.connect(path) as db:
        cursor = db.execute(item.collection.query)
        names = [d[0] for d in cursor.description]
        return [{n: "" if v is None else str(v) for n, v in zip(names, row, strict=True)} for row in cursor]


def rederive(item: Item, records: list[dict[str, str]], as_of: date,
             known: dict[str, set[str]]) -> dict[str, set[int]]:
    """Row positions breaking each rule, from the catalogue, the values and the authorities' keys alone."""
    found: dict[str, set[int]] = {kind: set() for kind in (*HOLD_BACK, "stale")}
    for index, record in enumerate(records):
        for kind in row_rule_breaks(item, record, as_of):
            found[kind].add(index)
        if unknown_reference(item, record, known):
            found["unknown_key"].add(index)
    keys = [tuple(r[k] for k in item.primary_key) for r in records]
    counts = Counter(keys)
    found["duplicate_key"] = {i for i, key in enumerate(keys) if all(key) and counts[key] > 1}
    return found


def row_rule_breaks(item: Item, record: dict[str, str], as_of: date) -> set[str]:
    breaks = set()
    for f in item.fields:
        value = record[f.name]
        if not value:
            if f.required or f.primary_key:
                breaks.add("missing_required")
            continue
        if f.standard is Standard.USCC and not uscc.is_valid(value):
            breaks.add("bad_check_digit")
        if f.standard is Standard.RIC and not ric.is_valid(value):
            breaks.add("bad_check_digit")
        if f.values is not None and value not in f.values:
            breaks.add("out_of_set")
        if f.range is not None and not _within(float(value), f.range.min, f.range.max):
            breaks.add("out_of_range")
    stamp = record.get(item.timestamp_field or "")
    if stamp and date.fromisoformat(stamp) < as_of - item.update_cycle.max_age:
        breaks.add("stale")
    return breaks


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def unknown_reference(item: Item, record: dict[str, str], known: dict[str, set[str]]) -> bool:
    """A well-formed referencing value (a malformed one is the check-digit fault) the authority lacks."""
    return any(record[f.name] and _passes(f.standard, record[f.name])
               and record[f.name] not in known[f.references.item]
               for f in item.fields if f.references is not None)


def submitted_items(demo: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(code, e) for code, e in demo["items"].items() if not e["rejected_submission"]]


# --- the demo catalogue ------------------------------------------------------------------------
def test_demo_catalogue_covers_the_regulation(catalogue: Catalogue) -> None:
    assert len(catalogue.units) >= 6 and len(catalogue.items) >= 12
    assert {u.level for u in catalogue.units} == set(Level)
    assert {u.kind for u in catalogue.units} == set(UnitKind)
    assert {i.obtained for i in catalogue.items} == set(Obtained)
    assert {i.sharing.type for i in catalogue.items} == set(SharingType)
    assert {UpdateCycle.DAILY, UpdateCycle.WEEKLY, UpdateCycle.MONTHLY, UpdateCycle.QUARTERLY,
            UpdateCycle.YEARLY} <= {i.update_cycle for i in catalogue.items}
    assert all(is_adcode(u.region) for u in catalogue.units)
    assert all(u.owner == f"team:{u.code}" for u in catalogue.units)
    assert all(i.region == catalogue.unit(i.unit).region for i in catalogue.items)


def test_demo_catalogue_pulls_social_insurance_from_a_database(catalogue: Catalogue) -> None:
    collection = catalogue.item("social_insurance_enrolment").collection
    assert isinstance(collection, DatabaseCollection)
    assert collection.url_env == "GOVDATA_DEMO_HRSS_DB_URL"


# --- identifiers -------------------------------------------------------------------------------
def test_the_organization_code_check_character_matches_the_published_example() -> None:
    # credit codes and citizen IDs get their check characters from python-stdnum; GB 11714 is ours
    assert org_code_check_char("60003734") == "1"  # the organization code inside 91110000600037341L


def test_generated_identifiers_are_valid() -> None:
    import random

    rng = random.Random(1)
    assert all(uscc.is_valid(make_uscc(rng, "91", "450123")) for _ in range(200))
    assert all(ric.is_valid(make_ric(rng, "450222", date(1990, 5, 17), male=i % 2 == 0)) for i in range(200))


def test_valid_identifiers_pass_stdnum_and_injected_ones_fail(demo: dict[str, Any],
                                                              catalogue: Catalogue) -> None:
    checked = 0
    for code, entry in submitted_items(demo):
        item = catalogue.item(code)
        id_fields = [f for f in item.fields if f.standard in (Standard.USCC, Standard.RIC)]
        bad_rows = set(entry["fault_rows"]["bad_check_digit"])
        for index, record in enumerate(read_records(entry, item)):
            failing = [f.name for f in id_fields if not _passes(f.standard, record[f.name])]
            assert len(failing) == (1 if index in bad_rows else 0), (code, index, failing)
            checked += sum(1 for f in id_fields if record[f.name])
    assert checked > 5000


def _passes(standard: Standard | None, value: str) -> bool:
    if not value:
        return True  # empty is the required rule's business
    return uscc.is_valid(value) if standard is Standard.USCC else ric.is_valid(value)


def test_citizen_ids_match_region_birth_and_gender(demo: dict[str, Any], catalogue: Catalogue) -> None:
    entry = demo["items"]["resident_register"]
    records = read_records(entry, catalogue.item("resident_register"))
    faulty = {i for kind in HOLD_BACK for i in entry["fault_rows"][kind]}
    clean = [r for i, r in enumerate(records) if i not in faulty]
    adult = AS_OF - timedelta(days=18 * 365)
    for record in clean:
        citizen_id = record["citizen_id"]
        assert is_adcode(citizen_id[:6]) and citizen_id[:6] == record["household_region"]
        assert citizen_id[6:14] == record["birth_date"].replace("-", "")
        assert (int(citizen_id[16]) % 2 == 1) == (record["gender"] == "男")
        assert date(1955, 1, 1) <= date.fromisoformat(record["birth_date"]) <= adult


# --- the manifest ------------------------------------------------------------------------------
def test_manifest_counts_match_the_files(demo: dict[str, Any], catalogue: Catalogue,
                                        known: dict[str, set[str]]) -> None:
    for code, entry in submitted_items(demo):
        item = catalogue.item(code)
        records = read_records(entry, item)
        found = rederive(item, records, AS_OF, known)
        assert len(records) == entry["rows"], code
        for kind in HOLD_BACK:
            assert len(found[kind]) == entry["faults"][kind], (code, kind)
            assert found[kind] == set(entry["fault_rows"][kind]), (code, kind)
        assert found["stale"] == set(entry["fault_rows"]["stale"]), code
        assert len(found["stale"]) == entry["stale"], code
        held = set().union(*(found[k] for k in HOLD_BACK))
        assert len(held) == sum(entry["faults"].values()), f"{code}: a row carries more than one fault"
        assert entry["expected_held_back"] == len(held)
        assert entry["expected_valid"] == entry["rows"] - len(held)
        assert not found["stale"] & held, f"{code}: stale rows must be otherwise valid"


def test_every_fault_kind_is_exercised(demo: dict[str, Any]) -> None:
    totals = demo["totals"]
    assert all(totals["faults"][kind] > 0 for kind in HOLD_BACK)
    assert totals["stale"] > 0 and totals["rejected_submissions"] == 2
    assert totals["refusals"] == {"uncatalogued_column": 1, "expired_temporary_collection": 1}
    assert totals["rows"] >= 5000
    assert all(100 <= e["rows"] <= 1500 for e in demo["items"].values())
    assert totals["rows"] == totals["expected_held_back"] + totals["expected_valid"]


def test_duplicate_keys_count_every_row_of_the_key(demo: dict[str, Any], catalogue: Catalogue) -> None:
    entry = demo["items"]["social_insurance_enrolment"]  # a compound key
    item = catalogue.item("social_insurance_enrolment")
    keys = [tuple(r[k] for k in item.primary_key) for r in read_records(entry, item)]
    repeated = {k: n for k, n in Counter(keys).items() if n > 1}
    assert len(item.primary_key) == 2 and repeated
    assert sum(repeated.values()) == entry["faults"]["duplicate_key"]


def test_one_submission_has_an_uncatalogued_column(demo: dict[str, Any], catalogue: Catalogue) -> None:
    rejected = [(code, e) for code, e in demo["items"].items() if e["refusal"] == "uncatalogued_column"]
    assert len(rejected) == 1
    code, entry = rejected[0]
    header = read_csv(Path(entry["file"]), entry["encoding"])[0]
    assert set(header) - set(catalogue.item(code).field_names) == {"remark"}
    assert entry["expected_held_back"] == entry["rows"] and entry["expected_valid"] == 0
    assert sum(entry["faults"].values()) == 0 and entry["stale"] == 0


# --- formats and encodings ---------------------------------------------------------------------
def test_formats_and_encodings(demo: dict[str, Any]) -> None:
    kinds = Counter((e["format"], e["encoding"]) for e in demo["items"].values())
    assert kinds[("csv", "gbk")] >= 1 and kinds[("csv", "utf-8-sig")] >= 1
    assert kinds[("xlsx", "utf-8")] >= 1 and kinds[("json", "utf-8")] >= 1 and kinds[("sqlite", "utf-8")] == 1
    for code, entry in demo["items"].items():
        if entry["format"] != "sqlite":
            assert Path(entry["file"]).relative_to(Path(demo["intake"])) == Path(entry["unit"]) / Path(
                entry["file"]).name, code


def test_gbk_file_is_gbk_with_chinese_labels(demo: dict[str, Any], catalogue: Catalogue) -> None:
    gbk = [(code, e) for code, e in demo["items"].items() if e["encoding"] == "gbk"]
    assert gbk
    for code, entry in gbk:
        raw = Path(entry["file"]).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        header = next(csv.reader(io.StringIO(raw.decode("gbk"))))
        assert header == [f.label for f in catalogue.item(code).fields]


def test_utf8_bom_file_starts_with_the_bom(demo: dict[str, Any]) -> None:
    bom = [e for e in demo["items"].values() if e["encoding"] == "utf-8-sig"]
    assert bom and all(Path(e["file"]).read_bytes().startswith(b"\xef\xbb\xbf") for e in bom)


def test_json_is_a_list_of_records(demo: dict[str, Any], catalogue: Catalogue) -> None:
    for code, entry in demo["items"].items():
        if entry["format"] == "json":
            document = json.loads(Path(entry["file"]).read_text("utf-8"))
            assert isinstance(document, list) and list(document[0]) == list(catalogue.item(code).field_names)


def test_database_url_reads_with_the_catalogue_query(demo: dict[str, Any], catalogue: Catalogue) -> None:
    import sqlalchemy as sa

    item = catalogue.item("social_insurance_enrolment")
    assert isinstance(item.collection, DatabaseCollection)
    url = demo["env"]["GOVDATA_DEMO_HRSS_DB_URL"]
    assert url.startswith("sqlite:////") and Path(url.removeprefix("sqlite:///")).is_file()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(item.collection.query)).fetchall()
    finally:
        engine.dispose()
    assert len(rows) == demo["items"][item.code]["rows"]


def test_manifest_file_is_written(demo: dict[str, Any]) -> None:
    written = json.loads((Path(demo["data"]) / "demo_manifest.json").read_text("utf-8"))
    assert written == demo


# --- reproducibility ---------------------------------------------------------------------------
def _run(root: Path, seed: int) -> tuple[dict[str, bytes], dict[str, Any]]:
    manifest = generate_demo(DEMO_CATALOGUE, root / "intake", root / "data", seed=seed, as_of=AS_OF, rows=40)
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return files, manifest


def _without_paths(manifest: dict[str, Any], root: Path) -> str:
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True).replace(str(root), "<root>")


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first, first_manifest = _run(tmp_path / "a", seed=7)
    second, second_manifest = _run(tmp_path / "b", seed=7)
    assert any(name.endswith(".xlsx") for name in first) and "data/demo_sources/hrss.db" in first
    assert first.keys() == second.keys()
    for name in first:
        if name != "data/demo_manifest.json":  # it names its own directory
            assert first[name] == second[name], name
    assert _without_paths(first_manifest, tmp_path / "a") == _without_paths(second_manifest, tmp_path / "b")


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first, _ = _run(tmp_path / "a", seed=7)
    other, _ = _run(tmp_path / "b", seed=8)
    name = "intake/gx_psd/resident_register.csv"
    assert first[name] != other[name]


def test_rows_below_the_minimum_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_demo(DEMO_CATALOGUE, tmp_path / "i", tmp_path / "d", as_of=AS_OF, rows=5)


# --- the large catalogue -----------------------------------------------------------------------
def test_large_catalogue_loads(tmp_path: Path) -> None:
    result = generate_large_catalogue(tmp_path / "large", items=300, seed=3)
    loaded = load_catalogue(tmp_path / "large")
    assert result["items"] == len(loaded.items) == 300
    assert 90 <= len(loaded.units) <= 110
    assert {u.level for u in loaded.units} == set(Level) and {u.kind for u in loaded.units} == set(UnitKind)
    assert all(is_adcode(u.region) for u in loaded.units)
    assert all(5 <= len(i.fields) <= 15 for i in loaded.items)
    assert any(len(i.primary_key) > 1 for i in loaded.items)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,62}", i.code) for i in loaded.items)


def test_large_catalogue_is_reproducible(tmp_path: Path) -> None:
    generate_large_catalogue(tmp_path / "a", items=120, seed=3)
    generate_large_catalogue(tmp_path / "b", items=120, seed=3)
    files_a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.yaml")}
    files_b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.yaml")}
    assert files_a == files_b


# --- the command line --------------------------------------------------------------------------
def test_cli_generate_prints_the_database_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--catalogue", str(DEMO_CATALOGUE), "--intake", str(tmp_path / "intake"),
            "--data", str(tmp_path / "data"), "--seed", "5", "--as-of", "2026-11-27", "--rows", "30"]
    assert main(args) == 0
    out = capsys.readouterr().out
    database = (tmp_path / "data").resolve() / "demo_sources" / "hrss.db"
    assert f"export GOVDATA_DEMO_HRSS_DB_URL=sqlite:///{database}" in out
    manifest = json.loads((tmp_path / "data" / "demo_manifest.json").read_text("utf-8"))
    assert manifest["seed"] == 5 and all(e["rows"] == 30 for e in manifest["items"].values())


def test_cli_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "--items", "150", "--out", str(tmp_path / "cat"), "--seed", "2"]) == 0
    assert "150 items" in capsys.readouterr().out
    assert len(load_catalogue(tmp_path / "cat").items) == 150


def test_field_types_round_trip(demo: dict[str, Any], catalogue: Catalogue) -> None:
    """Clean rows parse as their catalogued types, whatever the file format did to them."""
    for code, entry in submitted_items(demo):
        item = catalogue.item(code)
        faulty = {i for kind in HOLD_BACK for i in entry["fault_rows"][kind]}
        for index, record in enumerate(read_records(entry, item)):
            if index in faulty:
                continue
            for f in item.fields:
                value = record[f.name]
                if value and f.type is FieldType.INTEGER:
                    assert re.fullmatch(r"-?\d+", value), (code, f.name, value)
                elif value and f.type is FieldType.DATE:
                    date.fromisoformat(value)


# --- governance (art. 11-14, 19) ---------------------------------------------------------------
def test_demo_catalogue_is_governed_and_connected(catalogue: Catalogue) -> None:
    assert catalogue.governance is not None and catalogue.governance.connected
    assert {e.code: str(e.source) for e in catalogue.governance.elements} == {
        "enterprise_key": "market_entity_registration.uscc",
        "enterprise_name": "market_entity_registration.entity_name",
        "resident_key": "resident_register.citizen_id", "resident_name": "resident_register.name"}
    assert all(i.maps_to for i in catalogue.items if i.level is not Level.PROVINCE)
    cities = {r.provincial.code: [c.city for c in r.cities] for r in connected.rollups(catalogue)}
    assert cities == {"building_permit": ["450200"], "charity_relief": ["450200"],
                      "drinking_water_quality": ["450100"], "farmland_subsidy": ["450100", "450200"],
                      "real_estate_title": ["450100"], "water_supply_account": ["450100"]}


def test_unknown_keys_are_well_formed_and_absent_from_the_authority(demo: dict[str, Any], catalogue: Catalogue,
                                                                    known: dict[str, set[str]]) -> None:
    referencing = [(code, e) for code, e in submitted_items(demo)
                   if any(f.references for f in catalogue.item(code).fields)]
    assert len(referencing) == 13
    for code, entry in referencing:
        item = catalogue.item(code)
        records = read_records(entry, item)
        assert entry["faults"]["unknown_key"] == max(1, round(0.01 * entry["rows"])), code
        for index in entry["fault_rows"]["unknown_key"]:
            record = records[index]
            unknown = [(f.standard, record[f.name]) for f in item.fields if f.references and record[f.name]
                       and record[f.name] not in known[f.references.item]]
            assert len(unknown) == 1, (code, index)
            assert _passes(*unknown[0]), (code, index, unknown)


def test_looked_up_names_are_carried_by_the_survey_and_recorded(demo: dict[str, Any], catalogue: Catalogue) -> None:
    carried = {code: e["repeated_collection"] for code, e in demo["items"].items() if "repeated_collection" in e}
    rows = demo["items"]["subsistence_allowance_survey"]["rows"]
    assert carried == {"subsistence_allowance_survey": [
        {"field": "applicant_name", "source": "resident_register.name", "rows": rows}]}
    assert demo["totals"]["repeated_collection_flags"] == 1
    records = read_records(demo["items"]["subsistence_allowance_survey"],
                           catalogue.item("subsistence_allowance_survey"))
    residents = {r["citizen_id"]: r["name"] for r in read_records(
        demo["items"]["resident_register"], catalogue.item("resident_register"))}
    # the names the unit typed are the authority's, which the platform will fill in anyway
    clean = [r for r in records if r["citizen_id"] in residents]
    assert clean and all(r["applicant_name"] == residents[r["citizen_id"]] for r in clean)


def test_temporary_collections_one_running_one_expired(demo: dict[str, Any]) -> None:
    temporary = {code: (e["temporary"]["status"], e["refusal"]) for code, e in demo["items"].items()
                 if "temporary" in e}
    assert temporary == {"relapse_risk_monitoring": ("active", None),
                         "returning_worker_survey": ("expired", "expired_temporary_collection")}
    expired = demo["items"]["returning_worker_survey"]
    assert (expired["expected_held_back"], expired["expected_valid"]) == (expired["rows"], 0)
