"""Submissions for any catalogue (pipelines.demo.anycatalogue): on the synthetic large catalogue, the mini
fixture and the demo catalogue, every file reads back with the catalogue's columns; without faults every
value passes the platform's per-value checks and stdnum's own; with faults, re-checking each row here
counts what the manifest says; and a seed always gives the same bytes."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from stdnum.cn import ric, uscc

from pipelines import intake
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue, Item, ItemField, Standard
from pipelines.demo.__main__ import main
from pipelines.demo.anycatalogue import fresh_day, generate_submissions
from pipelines.demo.generator import generate_large_catalogue
from pipelines.sharing import authority_first
from pipelines.standards import STANDARD_CHECKS, TYPE_CHECKS
from tests.conftest import MINI, REPO
from tests.helpers import edit_yaml

AS_OF = date(2026, 11, 27)
STDNUM = {Standard.USCC: uscc.is_valid, Standard.RIC: ric.is_valid}  # the independent oracle


@pytest.fixture(scope="module")
def large_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("large")
    generate_large_catalogue(out, items=40)
    return out


@pytest.fixture(scope="module", params=["large", "mini", "demo"])
def catalogue_dir(request: pytest.FixtureRequest, large_dir: Path) -> Path:
    return {"large": large_dir, "mini": MINI, "demo": REPO / "catalogue" / "demo"}[request.param]


def generate(catalogue_dir: Path, out: Path, **options: Any) -> dict[str, Any]:
    return generate_submissions(catalogue_dir, out / "intake", as_of=AS_OF, manifest=out / "manifest.json",
                                **{"rows": 60, **options})


# --- re-checking each row, independently of the generator -----------------------------------------
def value_kinds(f: ItemField, value: str) -> set[str]:
    """The problems of one non-empty value: the platform's per-value checks and stdnum for identifiers."""
    kinds: set[str] = set()
    if f.standard in STDNUM:
        platform, oracle = STANDARD_CHECKS[f.standard](value), STDNUM[f.standard](value)
        assert platform == oracle, (f.name, value)  # the platform and stdnum agree on every value
        if not oracle:
            kinds.add("bad_check_digit")
    elif f.standard is not None and not STANDARD_CHECKS[f.standard](value):
        kinds.add("standard")
    if not TYPE_CHECKS[f.type](value):
        kinds.add("type")
    elif f.range is not None and not ((f.range.min is None or float(value) >= f.range.min)
                                      and (f.range.max is None or float(value) <= f.range.max)):
        kinds.add("out_of_range")
    if f.values is not None and value not in f.values:
        kinds.add("out_of_set")
    if f.max_length is not None and len(value) > f.max_length:
        kinds.add("max_length")
    return kinds


def row_kinds(item: Item, frame: pd.DataFrame, clean_values: dict[tuple[str, str], set[str]],
              as_of: date) -> list[set[str]]:
    found: list[set[str]] = [set() for _ in range(len(frame))]
    for f in item.fields:
        if f.lookup is not None:
            continue
        for i, value in enumerate(frame[f.name]):
            if value is None:
                if f.not_null:
                    found[i].add("missing_required")
                continue
            problems = value_kinds(f, value)
            found[i] |= problems
            # a malformed key is its check digit's fault; the platform gives both reasons for the one row
            ref = f.references
            if ref and not problems and value not in clean_values.get((ref.item, ref.field), set()):
                found[i].add("unknown_key")
            if f.name == item.timestamp_field and value[:10] < (as_of - item.update_cycle.max_age).isoformat():
                found[i].add("stale")
    duplicated = frame.duplicated(subset=list(item.primary_key), keep=False)
    for i in duplicated[duplicated].index:
        found[i].add("duplicate_key")
    return found


def recheck(catalogue: Catalogue, manifest: dict[str, Any], as_of: date) -> dict[str, list[set[str]]]:
    """Per item, each row's problems; an authority's values count only from its rows without problems."""
    clean_values: dict[tuple[str, str], set[str]] = {}
    out: dict[str, list[set[str]]] = {}
    for item in authority_first(tuple(i for i in catalogue.items if i.code in manifest["items"])):
        frame = intake.read_submission(Path(manifest["items"][item.code]["file"]), item)
        out[item.code] = kinds = row_kinds(item, frame, clean_values, as_of)
        clean = frame[[not k for k in kinds]]
        for f in item.fields:
            clean_values[(item.code, f.name)] = {v for v in clean[f.name] if v is not None}
    return out


# --- the tests ---------------------------------------------------------------------------------------
def test_every_file_reads_back_with_the_catalogue_columns(catalogue_dir: Path, tmp_path: Path) -> None:
    catalogue = load_catalogue(catalogue_dir)
    manifest = generate(catalogue_dir, tmp_path)
    submitted = {i.code for i in catalogue.items if i.collection.method == "submission"}
    assert set(manifest["items"]) == submitted
    assert set(manifest["skipped"]) == {i.code for i in catalogue.items} - submitted
    for code, entry in manifest["items"].items():
        item = catalogue.item(code)
        path = Path(entry["file"])
        assert path == tmp_path / "intake" / item.unit / f"{code}.csv"
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(raw.columns) == [f.name for f in item.fields if f.lookup is None]
        assert entry["omitted_lookups"] == [f.name for f in item.fields if f.lookup is not None]
        assert len(raw) == entry["rows"] == 60
        assert list(intake.read_submission(path, item).columns) == list(item.field_names)  # the platform's reader


def test_without_faults_every_value_is_valid(catalogue_dir: Path, tmp_path: Path) -> None:
    catalogue = load_catalogue(catalogue_dir)
    manifest = generate(catalogue_dir, tmp_path, faults=0.0)
    problems = recheck(catalogue, manifest, AS_OF)
    for code, entry in manifest["items"].items():
        assert [i for i, kinds in enumerate(problems[code]) if kinds] == [], code
        if entry["refused"]:  # an expired temporary collection: intake refuses the whole file
            assert catalogue.item(code).temporary is not None
            assert (entry["expected_valid"], entry["expected_held_back"]) == (0, entry["rows"])
        else:
            assert (entry["expected_valid"], entry["expected_held_back"], entry["fault_rows"]) == (60, 0, {})


def test_identifiers_pass_stdnum_and_references_resolve(tmp_path: Path) -> None:
    """On the demo catalogue: every credit code and citizen ID is valid for stdnum directly, a citizen ID's
    birth date is real and past, and every referencing value is a key the authority's file holds."""
    demo = REPO / "catalogue" / "demo"
    catalogue = load_catalogue(demo)
    manifest = generate(demo, tmp_path)
    frames = {code: pd.read_csv(e["file"], dtype=str, keep_default_na=False) for code, e in manifest["items"].items()}
    checked = Counter[str]()
    for code, frame in frames.items():
        for f in catalogue.item(code).fields:
            if f.standard in STDNUM and f.name in frame:
                values = [v for v in frame[f.name] if v]
                assert all(STDNUM[f.standard](v) for v in values), (code, f.name)
                checked[f.standard.value] += len(values)
            if f.standard is Standard.RIC and f.name in frame:
                assert all(date.fromisoformat(f"{v[6:10]}-{v[10:12]}-{v[12:14]}") < AS_OF for v in frame[f.name])
            if f.references is not None:
                held = set(frames[f.references.item][f.references.field])
                assert set(frame[f.name]) <= held, (code, f.name)
                checked["references"] += len(frame)
    submitted = [catalogue.item(code) for code in manifest["items"]]
    assert checked == {  # every value was looked at: 60 rows per field
        "uscc": 60 * sum(f.standard is Standard.USCC for i in submitted for f in i.fields),
        "ric": 60 * sum(f.standard is Standard.RIC for i in submitted for f in i.fields),
        "references": 60 * sum(f.references is not None for i in submitted for f in i.fields)}


def test_dates_are_fresh_for_each_update_cycle(large_dir: Path, tmp_path: Path) -> None:
    catalogue = load_catalogue(large_dir)
    manifest = generate(large_dir, tmp_path)
    stamped = [catalogue.item(code) for code in manifest["items"] if catalogue.item(code).timestamp_field]
    assert stamped
    for item in stamped:
        assert item.timestamp_field is not None
        days = pd.read_csv(manifest["items"][item.code]["file"], dtype=str)[item.timestamp_field]
        oldest = AS_OF - item.update_cycle.max_age
        assert all(oldest < date.fromisoformat(d[:10]) <= AS_OF for d in days), item.code


@pytest.mark.parametrize("rate", [0.1, 0.25])
def test_with_faults_the_manifest_counts_what_a_recheck_finds(catalogue_dir: Path, tmp_path: Path,
                                                             rate: float) -> None:
    catalogue = load_catalogue(catalogue_dir)
    manifest = generate(catalogue_dir, tmp_path, faults=rate)
    problems = recheck(catalogue, manifest, AS_OF)
    faulty_items = 0
    for code, entry in manifest["items"].items():
        kinds = problems[code]
        assert all(len(k) <= 1 for k in kinds), code  # one known fault per row
        by_kind: dict[str, list[int]] = {}
        for i, k in enumerate(kinds):
            for kind in k:
                by_kind.setdefault(kind, []).append(i)
        if entry["refused"]:
            assert (by_kind, entry["expected_held_back"]) == ({}, entry["rows"])
            continue
        assert by_kind == entry["fault_rows"], code
        held = sum(1 for k in kinds if k)
        assert (entry["expected_held_back"], entry["expected_valid"]) == (held, entry["rows"] - held)
        assert entry["held_back_by_kind"] == {kind: len(rows) for kind, rows in by_kind.items()}
        wanted = round(rate * entry["rows"])
        only_pairs = set(by_kind) == {"duplicate_key"}  # an item whose only fault is a duplicate key: whole pairs
        assert held == (wanted - wanted % 2 if only_pairs else wanted), code
        faulty_items += bool(held)
    assert faulty_items == sum(1 for e in manifest["items"].values() if not e["refused"])
    assert manifest["totals"]["expected_held_back"] == sum(e["expected_held_back"] for e in manifest["items"].values())


def test_every_fault_kind_is_injected_somewhere(large_dir: Path, tmp_path: Path) -> None:
    manifest = generate(large_dir, tmp_path, faults=0.2, rows=100)
    kinds = Counter(k for e in manifest["items"].values() for k in e["fault_rows"])
    assert set(kinds) == {"bad_check_digit", "missing_required", "out_of_set", "out_of_range", "duplicate_key"}


def test_a_seed_gives_the_same_bytes(large_dir: Path, tmp_path: Path) -> None:
    first = generate(large_dir, tmp_path / "a", faults=0.2, seed=5)
    second = generate(large_dir, tmp_path / "b", faults=0.2, seed=5)
    other = generate(large_dir, tmp_path / "c", faults=0.2, seed=6)

    def files(manifest: dict[str, Any]) -> dict[str, bytes]:
        return {code: Path(e["file"]).read_bytes() for code, e in manifest["items"].items()}

    assert files(first) == files(second)
    assert json.dumps(first).replace(str(tmp_path / "a"), "") == json.dumps(second).replace(str(tmp_path / "b"), "")
    assert all(files(first)[code] != files(other)[code] for code in first["items"])


def test_a_database_item_is_skipped_and_said_so(tmp_path: Path) -> None:
    manifest = generate(REPO / "catalogue" / "demo", tmp_path)
    assert manifest["skipped"] == {"social_insurance_enrolment": "collected from a database "
                                   "(GOVDATA_DEMO_HRSS_DB_URL), not submitted: no file written"}
    assert not (tmp_path / "intake" / "gx_hrss" / "social_insurance_enrolment.csv").exists()


def test_a_slice_brings_its_authorities(tmp_path: Path) -> None:
    """The demo's first two items read the resident register, which comes later in the catalogue."""
    manifest = generate(REPO / "catalogue" / "demo", tmp_path, items=2)
    assert list(manifest["items"]) == ["resident_register", "farmland_subsidy", "relapse_risk_monitoring"]
    assert [c for c, e in manifest["items"].items() if e.get("added_as_authority")] == ["resident_register"]


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submissions", "--catalogue", str(MINI), "--intake", str(tmp_path / "in"), "--rows", "40",
                 "--faults", "0.25", "--seed", "3", "--as-of", "2026-11-27", "--manifest",
                 str(tmp_path / "m.json")]) == 0
    manifest = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == "2026-11-27" and manifest["fault_rate"] == 0.25
    assert {c: (e["rows"], e["expected_held_back"]) for c, e in manifest["items"].items()} == {
        "enterprise": (40, 10), "water_account": (40, 10)}
    out = capsys.readouterr().out
    assert "total" in out and f"manifest: {tmp_path / 'm.json'}" in out


def test_a_stale_boundary_is_kept_clear() -> None:
    """Record dates stay a day inside the cycle: a run the day after as_of still finds them fresh."""
    item = load_catalogue(MINI).item("enterprise")
    rng = random.Random(1)
    days = {fresh_day(rng, item, AS_OF) for _ in range(2000)}
    assert (min(days), max(days)) == (AS_OF - timedelta(days=30), AS_OF)  # monthly: 31 days


def optional_reference(document: dict[str, Any]) -> None:
    """charity_relief's recipient ID becomes optional."""
    [item] = [i for i in document["items"] if i["code"] == "charity_relief"]
    [field] = [f for f in item["fields"] if f["name"] == "citizen_id"]
    field["required"] = False


def test_references_to_an_authority_pulled_from_a_database(tmp_path: Path) -> None:
    """With the resident register pulled from a database, nothing here holds its keys: required citizen
    IDs are made up and expected held back as unknown keys, an optional one is left empty."""
    catalogue_dir = tmp_path / "catalogue"
    shutil.copytree(REPO / "catalogue" / "demo", catalogue_dir)
    edit_yaml(catalogue_dir / "items", "gx_psd.yaml", lambda doc: doc["items"][0].update(
        collection={"method": "database", "url_env": "PSD_DB_URL", "query": "select * from residents"}))
    edit_yaml(catalogue_dir / "items", "gx_civil.yaml", optional_reference)
    catalogue = load_catalogue(catalogue_dir)
    manifest = generate(catalogue_dir, tmp_path / "out", faults=0.2)
    assert set(manifest["skipped"]) == {"resident_register", "social_insurance_enrolment"}
    problems = recheck(catalogue, manifest, AS_OF)
    readers = {i.code for i in catalogue.items if i.code in manifest["items"]
               and any(f.references and f.references.item == "resident_register" for f in i.fields)}
    unverifiable = {code for code, e in manifest["items"].items() if "unknown_key" in e["fault_rows"]}
    assert unverifiable == readers - {"charity_relief", "returning_worker_survey"}  # optional; refused
    for code in unverifiable:  # every row is held back already: no other fault is injected
        assert manifest["items"][code]["fault_rows"] == {"unknown_key": list(range(60))}
        assert problems[code] == [{"unknown_key"}] * 60
    charity = pd.read_csv(manifest["items"]["charity_relief"]["file"], dtype=str, keep_default_na=False)
    assert set(charity["citizen_id"]) == {""}
    assert manifest["items"]["charity_relief"]["expected_held_back"] == 12  # its own faults, 20 %


def with_matches_and_lookup(document: dict[str, Any]) -> None:
    """water_account gains the holder's company: a referencing key, a matched name and a looked-up status."""
    document["items"][0]["fields"] += [
        {"name": "company", "label": "单位信用代码", "standard": "uscc", "required": True,
         "references": {"item": "enterprise", "field": "credit_code"}},
        {"name": "company_name", "label": "单位名称", "matches": {"item": "enterprise", "field": "name"}},
        {"name": "company_status", "label": "单位登记状态", "lookup": {"item": "enterprise", "field": "status"}},
    ]


def mini_with_matches(tmp_path: Path) -> Path:
    catalogue_dir = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue_dir)
    edit_yaml(catalogue_dir / "items", "nn_water.yaml", with_matches_and_lookup)
    return catalogue_dir


@pytest.mark.parametrize("rate", [0.0, 0.2])
def test_matched_fields_copy_the_authority_row_and_lookups_are_left_out(tmp_path: Path, rate: float) -> None:
    catalogue_dir = mini_with_matches(tmp_path)
    manifest = generate(catalogue_dir, tmp_path / "out", faults=rate)
    assert list(manifest["items"]) == ["enterprise", "water_account"]  # the authority first
    enterprise = pd.read_csv(manifest["items"]["enterprise"]["file"], dtype=str, keep_default_na=False)
    held = {i for rows in manifest["items"]["enterprise"]["fault_rows"].values() for i in rows}
    names = {r.credit_code: r.name for i, r in enumerate(enterprise.itertuples()) if i not in held}
    water = pd.read_csv(manifest["items"]["water_account"]["file"], dtype=str, keep_default_na=False)
    assert "company_status" not in water.columns
    assert manifest["items"]["water_account"]["omitted_lookups"] == ["company_status"]
    faulty = {i for rows in manifest["items"]["water_account"]["fault_rows"].values() for i in rows}
    clean = water.drop(index=sorted(faulty))
    assert len(clean) == manifest["items"]["water_account"]["expected_valid"]
    assert set(clean["company"]) <= set(names)  # only keys that converge
    assert all(names[code] == name for code, name in zip(clean["company"], clean["company_name"], strict=True))
    assert len(set(clean["company"])) > 20  # drawn across the authority, not one row
