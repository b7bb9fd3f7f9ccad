"""Open data (art. 10): personal fields left out, personal data in free text blotted out, and a scan
of the published files that finds identity numbers, phone numbers and names when they slip through."""

import random
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import URIRef
from rdflib import namespace as rdfns
from stdnum.cn import ric

from pipelines import directory, opendata, opendata_text
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue, Item, ItemField, OpeningType, Standard
from pipelines.quality import masking
from tests.conftest import REPO, make_ric, make_uscc

DEMO = REPO / "catalogue" / "demo"
NOW = datetime(2026, 11, 27, 9, 30)
RESIDENT_ID = make_ric(17)
NAMES = ["韦建国", "覃秀英", "黄志明"]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO)


@pytest.fixture(scope="module")
def registration(catalogue: Catalogue) -> Item:
    return catalogue.item("market_entity_registration")


def shared_rows() -> pd.DataFrame:
    """Three converged registrations; the second address carries a mobile number and a citizen ID."""
    addresses = ["南宁市青秀区民族大道100号", f"南宁市兴宁区朝阳路8号 联系人13907710001 身份证{RESIDENT_ID}",
                 "柳州市城中区文惠路2号"]
    return pd.DataFrame({
        "uscc": [make_uscc(n) for n in (1, 2, 3)],
        "entity_name": ["南宁绿城科技有限公司", "邕江商贸有限公司", "柳工配件有限公司"],
        "entity_type": ["有限责任公司"] * 3, "legal_representative": NAMES,
        "registered_capital": [100.0, 50.5, 300.0], "established_date": ["2020-01-02"] * 3,
        "region_code": ["450103", "450102", "450202"], "address": addresses, "postcode": ["530022"] * 3,
        "phone": ["13877100001", "0771-5551234", "18977200002"], "status": ["存续"] * 3,
        "updated_at": ["2026-11-20"] * 3,
        "_source_unit": ["gx_amr"] * 3, "_submission_id": ["s1"] * 3, "_converged_at": [NOW] * 3,
    })


def test_only_items_marked_open_are_published(catalogue: Catalogue) -> None:
    published = {i.code for i in opendata.open_items(catalogue)}
    assert {"market_entity_registration", "water_quality_monitoring"} <= published
    assert catalogue.item("food_business_licence").opening.type.value == "conditional"  # needs an application
    assert "food_business_licence" not in published
    assert all(catalogue.item(code).opening.type.value == "open" for code in published)


def test_personal_fields_and_lineage_are_left_out(registration: Item) -> None:
    table, scrubbed = opendata.open_table(registration, shared_rows())
    assert opendata.withheld_fields(registration) == ["legal_representative", "phone"]
    assert list(table.columns) == ["uscc", "entity_name", "entity_type", "registered_capital", "established_date",
                                   "region_code", "address", "postcode", "status", "updated_at"]
    assert scrubbed == 2
    assert table.loc[1, "address"] == "南宁市兴宁区朝阳路8号 联系人" + "*" * 11 + " 身份证" + "*" * 18


def test_scrub_leaves_numbers_that_are_not_identities_alone() -> None:
    not_an_id = make_uscc(9)  # 18 characters, but a credit code
    assert opendata.scrub(f"许可证号 {not_an_id} 注册资本 100 万元，电话 0771-5551234") == (
        f"许可证号 {not_an_id} 注册资本 100 万元，电话 0771-5551234", 0)
    assert opendata.scrub("邮箱 li.ming@example.cn") == ("邮箱 " + "*" * len("li.ming@example.cn"), 1)


def test_published_files_hold_no_personal_data(catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    rows = shared_rows()
    publication = opendata.publish(catalogue, registration, rows, tmp_path, NOW)
    known = opendata.personal_values(registration, rows)
    assert known == {*NAMES, "13877100001", "0771-5551234", "18977200002"}
    assert publication.rows == 3 and publication.scrubbed == 2
    for path in (publication.csv, publication.json):
        assert opendata.find_personal_data(path, known) == []
    assert pd.read_csv(publication.csv, encoding="utf-8-sig", dtype=str)["uscc"].tolist() == [
        make_uscc(n) for n in (1, 2, 3)]


def test_the_scan_finds_what_would_have_leaked(registration: Item, tmp_path: Path) -> None:
    rows = shared_rows()
    leaked = tmp_path / "leaked.csv"
    rows.to_csv(leaked, index=False, encoding="utf-8-sig")
    findings = opendata.find_personal_data(leaked, opendata.personal_values(registration, rows))
    assert sorted(f.kind for f in findings) == [
        "citizen_id", "known_personal_value", "known_personal_value", "known_personal_value",
        "known_personal_value", "known_personal_value", "known_personal_value", "mobile", "mobile", "mobile"]
    assert all(RESIDENT_ID not in str(f) and "韦建国" not in str(f) for f in findings)  # the report leaks nothing


OPEN = {"market_entity_registration", "water_quality_monitoring"}


def test_the_index_keeps_other_items_on_a_subset_run(catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    water = catalogue.item("water_quality_monitoring")
    opendata.write_index(tmp_path, [opendata.publish(catalogue, water, opendata.empty_rows(water), tmp_path, NOW)],
                         [], OPEN)
    index = opendata.read_index(tmp_path)
    assert sorted(index) == ["market_entity_registration", "water_quality_monitoring"]
    assert index["market_entity_registration"] == {
        "item": "market_entity_registration", "unit": "gx_amr", "rows": 3, "csv": "market_entity_registration.csv",
        "json": "market_entity_registration.json", "withheld": ["legal_representative", "phone"], "scrubbed": 2,
        "published_at": "2026-11-27T09:30:00"}
    water_entry = index["water_quality_monitoring"]
    assert water_entry["rows"] == 0 and water_entry["withheld"] == ["sampler"]


def test_open_files_are_listed_as_distributions_and_conform(catalogue: Catalogue, registration: Item,
                                                            tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    graph = directory.dcat_graph(directory.entries(catalogue), opened=opendata.read_index(tmp_path))
    dataset = URIRef(f"{directory.DEFAULT_BASE}dataset/market_entity_registration")
    downloads = sorted(str(graph.value(d, rdfns.DCAT.downloadURL))
                       for d in graph.objects(dataset, rdfns.DCAT.distribution)
                       if graph.value(d, rdfns.DCAT.downloadURL) is not None)
    assert downloads == [f"{directory.DEFAULT_BASE}open/market_entity_registration.csv",
                         f"{directory.DEFAULT_BASE}open/market_entity_registration.json"]
    result = directory.validate(graph)
    assert result.conforms, result.report


def test_an_item_no_longer_open_is_taken_down_and_left_out_of_the_directory(
        catalogue: Catalogue, registration: Item, tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    index = opendata.read_index(tmp_path)
    opendata.write_index(tmp_path, [], [], {"water_quality_monitoring"})  # registration became conditional
    assert opendata.read_index(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]
    conditional = registration.model_copy(update={"opening": registration.opening.model_copy(
        update={"type": OpeningType.CONDITIONAL, "condition": "申请"})})
    entries = [directory.Entry(conditional, "市场监管局", None)]
    graph = directory.dcat_graph(entries, opened=index)  # a stale index must not list it either
    assert list(graph.subjects(rdfns.DCAT.downloadURL, None)) == []


def test_a_withdrawn_item_loses_its_files_and_its_entry(catalogue: Catalogue, registration: Item,
                                                         tmp_path: Path) -> None:
    opendata.write_index(tmp_path, [opendata.publish(catalogue, registration, shared_rows(), tmp_path, NOW)], [], OPEN)
    opendata.write_index(tmp_path, [], ["market_entity_registration"], OPEN)
    assert opendata.read_index(tmp_path) == {}
    assert not (tmp_path / "market_entity_registration.csv").exists()


def test_a_citizen_id_is_found_whatever_region_it_names(tmp_path: Path) -> None:
    # 4604 is a division that exists only since 2015: stdnum rejects it for someone born in 1990
    stale_region = "46040019900101123" + ric.calc_check_digit("460400199001011230")
    unknown_region = "45019919850612123" + ric.calc_check_digit("450199198506121230")
    for number in (stale_region, unknown_region):
        assert opendata.scrub(f"申请人 {number} 已核实") == (f"申请人 {'*' * 18} 已核实", 1)
        leaked = tmp_path / "leaked.csv"
        leaked.write_text(f"id,remark\n1,{number}\n", encoding="utf-8")
        assert [f.kind for f in opendata.find_personal_data(leaked)] == ["citizen_id"]
    not_a_date = "45010319851341123" + ric.calc_check_digit("450103198513411230")  # month 13
    assert opendata.scrub(not_a_date) == (not_a_date, 0)


def test_credit_codes_and_division_codes_are_not_scrubbed(catalogue: Catalogue, registration: Item) -> None:
    rows = shared_rows()
    digits_only = make_ric(5)  # an all-digit code that happens to be shaped like a citizen ID
    assert opendata.scrub(digits_only) == ("*" * 18, 1)  # in free text it would be blotted out
    rows.loc[0, "uscc"] = digits_only
    table, _ = opendata.open_table(registration, rows)
    assert digits_only in table["uscc"].tolist()  # a field with a standard holds nothing but that standard


# --- the scan at scale: one linear pass, every planted value found, nothing else --------------------
NAME_CHARS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢唐韦覃蒙莫廖陆黎蓝农潘邓苏卢钟甘"
FILLER = ("广西壮族自治区南宁市青秀区民族大道", "柳州市城中区文惠路", "桂林市秀峰区中山中路", "已核实无误",
          "按季度汇总报送", "补录", "")  # no character of NAME_CHARS, no digit: nothing here can be found


def known_names(rng: random.Random, n: int) -> list[str]:
    """Distinct three-character names: one can only contain another by being it."""
    names: set[str] = set()
    while len(names) < n:
        names.add("".join(rng.choice(NAME_CHARS) for _ in range(3)))
    return sorted(names)


def planted_table(rng: random.Random, rows: int, plants: dict[tuple[int, str], str]) -> pd.DataFrame:
    """Filler text in three columns, each planted value inside its cell at a random offset."""
    columns = {name: [FILLER[(i * (k + 3)) % len(FILLER)] for i in range(rows)]
               for k, name in enumerate(("entity_name", "address", "remark"))}
    for (row, column), value in plants.items():
        text = columns[column][row]
        at = rng.randint(0, len(text))
        columns[column][row] = f"{text[:at]}（{value}）{text[at:]}"
    return pd.DataFrame(columns)


def plant_positions(rng: random.Random, rows: int, values: list[str]) -> dict[tuple[int, str], str]:
    # one plant per row: two values side by side could spell a third across their boundary
    cells = [(r, rng.choice(("entity_name", "address", "remark"))) for r in rng.sample(range(rows), len(values))]
    return dict(zip(cells, values, strict=True))


def edition_of(table: pd.DataFrame) -> tuple[opendata.Edition, opendata.Publication]:
    staged = opendata.Edition(Item.model_construct(code="x"), table, {"dataset": "x", "fields": []}, 0)
    publication = opendata.Publication("x", "u", len(table), Path("x.csv"), Path("x.json"), (), 0, NOW)
    return staged, publication


def phone_numbers(rng: random.Random, n: int) -> list[str]:
    return sorted({f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(n)})


def test_the_scan_finds_every_planted_value_in_a_large_table() -> None:
    rng = random.Random(7)
    rows = 200_000
    known = known_names(rng, 20_000)
    planted_names = rng.sample(known, 300)
    planted_ids = sorted({make_ric(n, birth=f"19{60 + n % 40:02d}0{1 + n % 9}1{n % 9}") for n in range(60)})
    planted_phones = phone_numbers(rng, 60)
    table = planted_table(rng, rows, plant_positions(rng, rows, planted_names + planted_ids + planted_phones))
    scanner = opendata.PersonalScanner.of(known)
    text = opendata.rows_text(table)
    assert scanner.known_in(text) == set(planted_names)
    numbers = masking.personal_numbers(text)
    assert sorted(v for kind, v in numbers if kind == "citizen_id") == planted_ids
    assert sorted(v for kind, v in numbers if kind == "mobile") == planted_phones
    findings = opendata.scan_edition(*edition_of(table), scanner)
    assert Counter((f.file, f.kind) for f in findings) == {
        (file, kind): count for file in ("x.csv", "x.json")
        for kind, count in (("known_personal_value", 300), ("citizen_id", 60), ("mobile", 60))}


def test_clean_rows_give_no_finding() -> None:
    rng = random.Random(8)
    table = planted_table(rng, 50_000, {})
    table["capital"] = [float(i) * 1.5 for i in range(len(table))]  # numbers, but no mobile or ID shape
    assert opendata.scan_edition(*edition_of(table), opendata.PersonalScanner.of(known_names(rng, 5_000))) == []


def naive_find(path: Path, known: set[str]) -> list[opendata.Finding]:
    """The scan as it was: one substring search of the whole file per known value (the oracle)."""
    text = path.read_text(encoding="utf-8-sig")
    found = [opendata.Finding(path.name, kind, v[0] + "*" * (len(v) - 1)) for kind, v in masking.personal_numbers(text)]
    return found + [opendata.Finding(path.name, "known_personal_value", v[0] + "*" * (len(v) - 1))
                    for v in sorted(known) if v in text]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_scan_of_the_rows_equals_the_naive_scan_of_each_file(catalogue: Catalogue, registration: Item,
                                                                tmp_path: Path, seed: int) -> None:
    """Known values leaked into open columns; an ID-shaped code, a mobile number and an e-mail address in
    fields with a standard (never scrubbed), a mobile number as a capital: the one verdict over the rows
    finds what the old substring scan of each file finds (in column order, not the files' row order)."""
    rng = random.Random(seed)
    n = 400
    names = known_names(rng, n)
    rows = pd.DataFrame({
        "uscc": [make_ric(i) if i % 97 == 0 else "13977100123" if i == 7 else make_uscc(i) for i in range(n)],
        "entity_name": [f"{rng.choice(names)}商行" if rng.random() < 0.05 else f"企业{i}" for i in range(n)],
        "entity_type": ["有限责任公司"] * n, "legal_representative": names,
        "registered_capital": [13877100001.0 if i == 5 else 100.0 + i for i in range(n)],
        "established_date": ["2020-01-02"] * n, "region_code": ["450103"] * n,
        "address": [f"南宁市{rng.choice(names)}路{i}号" if rng.random() < 0.05 else "南宁市民族大道" for i in range(n)],
        "postcode": ["li.ming@example.cn" if i == 3 else "530022" for i in range(n)],
        "phone": phone_numbers(rng, n + 50)[:n], "status": ["存续"] * n,
        "updated_at": ["2026-11-20"] * n,
    })
    publication, findings = opendata.stage(catalogue, registration, rows, tmp_path, NOW)
    known = opendata.personal_values(registration, rows)
    oracle = naive_find(publication.csv, known) + naive_find(publication.json, known)
    assert sorted(findings, key=str) == sorted(oracle, key=str)
    assert {f.kind for f in findings} == {"citizen_id", "mobile", "email", "known_personal_value"}
    assert opendata.find_personal_data(publication.csv, known) == naive_find(publication.csv, known)


@pytest.mark.parametrize("chunk_rows", [1, 2, 50_000])
def test_the_json_written_in_chunks_holds_the_records_of_the_table(catalogue: Catalogue, registration: Item,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   chunk_rows: int) -> None:
    import json

    monkeypatch.setattr(opendata, "JSON_CHUNK_ROWS", chunk_rows)
    staged = opendata.edition(catalogue, registration, shared_rows(), NOW)
    publication = opendata.write_edition(staged, tmp_path, NOW)
    expected = {**staged.document, "records": json.loads(staged.table.to_json(orient="records", force_ascii=False,
                                                                               date_format="iso"))}
    assert json.loads(publication.json.read_text(encoding="utf-8")) == expected
    assert len(expected["records"]) == 3
    empty = opendata.write_edition(opendata.edition(catalogue, registration, opendata.empty_rows(registration), NOW),
                                   tmp_path / "empty", NOW)
    assert json.loads(empty.json.read_text(encoding="utf-8"))["records"] == []


@pytest.mark.parametrize("chunk_rows", [1, 2, 100_000])
def test_publishing_from_the_store_in_chunks_writes_what_the_whole_table_writes(
        catalogue: Catalogue, registration: Item, tmp_path: Path, chunk_rows: int) -> None:
    from pipelines.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}", catalogue)
    store.ensure_tables([registration])
    rows = shared_rows().sample(frac=1, random_state=3)  # stored out of key order
    store.shared.upsert(registration, rows.drop(columns=["_source_unit", "_submission_id", "_converged_at"]), "gx_amr",
                 "s1", NOW)
    whole, whole_findings = opendata.stage(catalogue, registration, store.shared.read_table(registration),
                                           tmp_path / "whole", NOW)
    chunked, chunked_findings = opendata.stage_from_store(catalogue, registration, store, tmp_path / "chunked", NOW,
                                                          chunk_rows=chunk_rows)
    assert chunked_findings == [] == whole_findings
    assert chunked.csv.read_bytes() == whole.csv.read_bytes()
    import json
    assert json.loads(chunked.json.read_text(encoding="utf-8")) == json.loads(whole.json.read_text(encoding="utf-8"))
    assert (chunked.rows, chunked.scrubbed) == (whole.rows, whole.scrubbed) == (3, 2)
    store.dispose()


@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_publishing_from_the_store_in_chunks_finds_what_the_whole_table_scan_finds(
        catalogue: Catalogue, registration: Item, tmp_path: Path, chunk_rows: int) -> None:
    from pipelines.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}", catalogue)
    store.ensure_tables([registration])
    rows = shared_rows().drop(columns=["_source_unit", "_submission_id", "_converged_at"])
    rows.loc[0, "entity_name"] = f"{NAMES[2]}个体工商户"  # a representative's name in a published field
    rows.loc[2, "region_code"] = RESIDENT_ID  # a citizen ID where no scrub looks (a standard field)
    rows.loc[1, "uscc"] = "13907710009"  # a mobile number's shape in the key
    rows["established_date"] = pd.to_datetime(rows["established_date"]).dt.date
    rows["updated_at"] = pd.to_datetime(rows["updated_at"]).dt.date
    with store.engine.begin() as conn:  # as a table loaded before the value model might hold them
        conn.execute(store.shared.table(registration).insert(), [
            {**r, "_source_unit": "gx_amr", "_submission_id": "s1", "_converged_at": NOW}
            for r in rows.to_dict(orient="records")])
    whole = opendata.stage(catalogue, registration, store.shared.read_table(registration), tmp_path / "whole", NOW)[1]
    chunked = opendata.stage_from_store(catalogue, registration, store, tmp_path / "chunked", NOW,
                                        chunk_rows=chunk_rows)[1]
    assert chunked == whole
    assert {f.kind for f in whole} == {"citizen_id", "mobile", "known_personal_value"}
    store.dispose()


_scan_text = st.text(st.sampled_from("0129ab张\x1f"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_scan_text, max_size=8), text=_scan_text)
def test_the_scanner_finds_what_a_substring_search_finds(values: list[str], text: str) -> None:
    """Digit-only values are looked up in the text's digit runs, the others in the automaton: together exactly
    the values that occur in the text (the oracle: one ``in`` per value)."""
    assert opendata.PersonalScanner.of(values).known_in(text) == {v for v in values if v and v in text}


def test_known_phone_numbers_are_found_among_many() -> None:
    rng = random.Random(9)
    known = phone_numbers(rng, 50_000) + known_names(rng, 100)
    planted = rng.sample(known[:-100], 20)
    text = "\x1f".join([f"电话{planted[0]}转8", *planted[1:], "913" + planted[1] + "7", "2026-12-01", "45641.06"])
    assert opendata.PersonalScanner.of(known).known_in(text) == set(planted)


_AWKWARD = ["", ",", '"', '""', "\r", "\n", "\r\n", "/", "\\", "=1+1", "'=x", "''+y", "-5", "@", "\x1e", "\x1f",
            "\x00", "\u2028", "a@b.cn 联系", "电话13812345678", "{", "}", "x,y", 'say "hi"']
_cell_texts = st.one_of(st.sampled_from(_AWKWARD), st.text(max_size=8))
_TEXT_FIELDS = (ItemField(name="k", label="键", primary_key=True, standard=Standard.POSTCODE),
                ItemField(name="note", label="备注"), ItemField(name="code", label="代码", standard=Standard.ADCODE))


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(_cell_texts, unique=True, max_size=8), data=st.data(), width=st.sampled_from([1, 3]))
def test_text_cells_are_written_as_the_frame_path_writes_them(keys: list[str], data: st.DataObject,
                                                              width: int) -> None:
    """The text path's CSV lines, JSON records and scanned cells, joined and quoted column by column, are the
    frame path's (pandas' to_csv through csv.writer, its to_json) of the same text cells, one column too."""
    fields = _TEXT_FIELDS[:width]
    item = Item.model_construct(code="x", fields=fields)
    keys = sorted(keys)  # the database's key order, which the text path is given
    columns = [keys] + [data.draw(st.lists(st.none() | _cell_texts, min_size=len(keys), max_size=len(keys)))
                        for _ in fields[1:]]
    frame = pd.DataFrame({f.name: pd.Series(column, dtype=object) for f, column in zip(fields, columns, strict=True)})
    table = pa.table({f.name: pa.array(column, pa.string()) for f, column in zip(fields, columns, strict=True)})
    [text] = opendata._text_parts(item, list(fields), [table])
    [reference] = opendata._frame_parts(item, [frame])
    scanned = [opendata._listed(cells) for cells in text.cells]  # an Arrow column's present cells
    assert replace(text, cells=scanned, distinct=[], numbers=None) == replace(reference, distinct=[])
    assert all(looked in (None, masking.may_hold_numbers(d)) for looked, d in zip(text.numbers or [], text.distinct,
                                                                                   strict=True))
    # each column's distinct cells joined, in a set's order: split again, the same pieces
    assert [sorted(d.split("\x1f")) for d in text.distinct] == [sorted(d.split("\x1f")) for d in reference.distinct]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False) | st.floats(-1e20, 1e20).map(lambda v: round(v, 2)), max_size=20))
def test_a_float_columns_csv_texts_are_what_the_frame_path_scans(values: list[float]) -> None:
    """numpy's text of a float (the CSV's, as pandas writes it) is the text the frame path scans (astype(str))."""
    floats = np.array(values, dtype=np.float64)
    assert opendata_text.float_texts(floats)[0] == pd.Series(floats).astype(str).tolist()


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(0, 7), max_size=6), rows=st.integers(1, 5))
def test_copied_batches_are_rechunked_into_tables_of_the_chunk_s_rows(sizes: list[int], rows: int) -> None:
    """Arrow's reader gives batches of its block's rows; the publication's chunks are read_sql's, of ``rows`` rows
    but the last: the same rows in the same order."""
    counter = iter(range(sum(sizes)))
    batches = [pa.record_batch([pa.array([str(next(counter)) for _ in range(n)], pa.string())], names=["k"])
               for n in sizes]
    tables = list(opendata_text._rechunked(batches, rows))
    whole, rest = divmod(sum(sizes), rows)
    assert [t.num_rows for t in tables] == [rows] * whole + ([rest] if rest else [])
    assert [cell for t in tables for cell in t.column("k").to_pylist()] == [str(n) for n in range(sum(sizes))]
