from pathlib import Path

import pytest
import yaml

from pipelines.catalogue import Level, Standard, load_catalogue
from pipelines.catalogue.models import DatabaseCollection, Item
from tests.helpers import catalogue_problems, edit_yaml


def test_mini_catalogue_loads_into_frozen_models(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    assert [u.code for u in catalogue.units] == ["amr", "nn_water"]
    item = catalogue.item("enterprise")
    assert item.primary_key == ("credit_code",)
    assert item.field("credit_code").standard is Standard.USCC  # type: ignore[union-attr]
    assert catalogue.item("water_account").level is Level.CITY
    with pytest.raises(Exception, match="frozen"):
        item.name = "x"  # type: ignore[misc]


def test_bad_field_is_named_with_file_item_and_field(mini_catalogue_dir: Path) -> None:
    edit_yaml(mini_catalogue_dir, "items/amr.yaml", lambda d: d["items"][0]["fields"][2].update(standard="zipcode"))
    [problem] = catalogue_problems(mini_catalogue_dir)
    assert problem.startswith("items/amr.yaml: item 'enterprise': field 'fields[2].standard':")


def test_every_problem_is_listed_and_nothing_half_loaded(mini_catalogue_dir: Path) -> None:
    def break_amr(d: dict) -> None:
        d["items"][0]["fields"] = [dict(f, primary_key=False) for f in d["items"][0]["fields"]]
        d["items"][0]["unit"] = "ghost"

    edit_yaml(mini_catalogue_dir, "items/amr.yaml", break_amr)
    edit_yaml(mini_catalogue_dir, "items/nn_water.yaml", lambda d: d["items"][0].update(region="450000"))
    problems = catalogue_problems(mini_catalogue_dir)
    assert any("item 'enterprise'" in p and "no field is marked primary_key" in p for p in problems)
    assert any("items/nn_water.yaml: item 'water_account'" in p and "province-level code" in p for p in problems)


def test_unknown_unit_and_duplicate_codes(mini_catalogue_dir: Path) -> None:
    def duplicate(d: dict) -> None:
        twin = dict(d["items"][0])
        d["items"].append(twin)
        d["items"][0] = dict(d["items"][0], unit="nobody")

    edit_yaml(mini_catalogue_dir, "items/amr.yaml", duplicate)
    problems = catalogue_problems(mini_catalogue_dir)
    assert "items/amr.yaml: item 'enterprise': field 'unit': unknown unit 'nobody' (not in units.yaml)" in problems
    assert any("field 'code': item code already used in items/amr.yaml" in p for p in problems)


def test_conditional_sharing_needs_a_condition(mini_catalogue_dir: Path) -> None:
    edit_yaml(mini_catalogue_dir, "items/nn_water.yaml", lambda d: d["items"][0]["sharing"].pop("condition"))
    [problem] = catalogue_problems(mini_catalogue_dir)
    assert "item 'water_account': field 'sharing'" in problem
    assert "conditional sharing needs a condition" in problem


def test_unreadable_yaml_names_the_file(mini_catalogue_dir: Path) -> None:
    (mini_catalogue_dir / "items" / "broken.yaml").write_text("items: [unclosed\n", encoding="utf-8")
    [problem] = catalogue_problems(mini_catalogue_dir)
    assert problem.startswith("items/broken.yaml: catalogue: not readable YAML")


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    [problem] = catalogue_problems(tmp_path / "absent")
    assert problem.endswith("no such catalogue directory")


def test_database_collection_needs_an_env_var_name() -> None:
    base = yaml.safe_load((Path(__file__).parents[1] / "fixtures/mini/items/amr.yaml").read_text())["items"][0]
    item = Item.model_validate(dict(base, collection={"method": "database", "url_env": "AMR_DB", "query": "select 1"}))
    assert isinstance(item.collection, DatabaseCollection)
    with pytest.raises(ValueError, match="url_env"):
        Item.model_validate(dict(base, collection={"method": "database", "url_env": "lower", "query": "q"}))


def _add_licence_item(directory: Path, fields: list[dict]) -> None:
    licence = {
        "code": "licence", "name": "许可证", "abstract": "许可证信息", "unit": "amr", "obtained": "duty",
        "level": "province", "region": "450000", "update_cycle": "monthly",
        "sharing": {"type": "unconditional"}, "fields": fields,
    }
    edit_yaml(directory, "items/amr.yaml", lambda d: d["items"].append(licence))


def test_references_and_matches_name_an_authoritative_field(mini_catalogue_dir: Path) -> None:
    _add_licence_item(mini_catalogue_dir, [
        {"name": "licence_no", "label": "许可证号", "primary_key": True},
        {"name": "credit_code", "label": "统一社会信用代码",
         "references": {"item": "enterprise", "field": "credit_code"}},
        {"name": "holder_name", "label": "企业名称", "matches": {"item": "enterprise", "field": "name"}},
    ])
    licence = load_catalogue(mini_catalogue_dir).item("licence")
    assert str(licence.field("credit_code").references) == "enterprise.credit_code"  # type: ignore[union-attr]


def test_references_must_be_a_primary_key_and_matches_needs_a_reference(mini_catalogue_dir: Path) -> None:
    _add_licence_item(mini_catalogue_dir, [
        {"name": "licence_no", "label": "许可证号", "primary_key": True},
        {"name": "holder", "label": "企业名称", "references": {"item": "enterprise", "field": "name"}},
        {"name": "water", "label": "户主", "matches": {"item": "water_account", "field": "holder_id"}},
        {"name": "ghost", "label": "鬼", "references": {"item": "nothing", "field": "x"}},
    ])
    problems = catalogue_problems(mini_catalogue_dir)
    assert ("items/amr.yaml: item 'licence': field 'fields[1].references': "
            "'enterprise.name' is not the single primary key of 'enterprise'") in problems
    assert any("fields[2].matches" in p and "no field of this item references 'water_account'" in p
               for p in problems)
    assert any("fields[3].references" in p and "unknown item 'nothing'" in p for p in problems)


def test_committed_json_schemas_match_the_models_and_accept_the_fixture() -> None:
    import json

    import jsonschema

    from pipelines.catalogue.jsonschema import SCHEMA_DIR, catalogue_schemas

    fixture = Path(__file__).parents[1] / "fixtures" / "mini"
    for name, schema in catalogue_schemas().items():
        committed = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert committed == schema, f"{name} is stale: run `python -m pipelines catalogue-schema`"
    jsonschema.validate(yaml.safe_load((fixture / "units.yaml").read_text()), catalogue_schemas()["units.schema.json"])
    items = yaml.safe_load((fixture / "items" / "amr.yaml").read_text())
    jsonschema.validate(items, catalogue_schemas()["items.schema.json"])
    items["items"][0]["update_cycle"] = "fortnightly"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(items, catalogue_schemas()["items.schema.json"])


def test_parsed_files_are_cached_and_a_change_is_seen(mini_catalogue_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from pipelines.catalogue import loader

    monkeypatch.setattr(loader, "_cache_dir", lambda: tmp_path / "cache")
    first = load_catalogue(mini_catalogue_dir)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 4  # units, two items files, contractors
    assert load_catalogue(mini_catalogue_dir) == first
    edit_yaml(mini_catalogue_dir, "items/nn_water.yaml", lambda d: d["items"][0].update(name="供水户信息（新）"))
    assert load_catalogue(mini_catalogue_dir).item("water_account").name == "供水户信息（新）"


# --- codes that would collide with what the store derives from them ---------------------------------------------
@pytest.mark.parametrize("table", ["platform_ledger", "platform_quarantine", "platform_stage", "audit_log",
                                   "sharing_applications", "platform_runs", "sharing_audit"])
def test_an_item_code_naming_a_platform_table_is_refused(table: str, mini_catalogue_dir: Path) -> None:
    edit_yaml(mini_catalogue_dir, "items/amr.yaml", lambda d: d["items"][0].update(code=table))
    assert catalogue_problems(mini_catalogue_dir) == [
        f"items/amr.yaml: item '{table}': field 'code': '{table}' is the name of a platform table"]


def test_the_platform_tables_refused_are_the_schemas_own() -> None:
    """An independent reading of the names: every table the store and the sharing service create for a catalogue
    without items."""
    import sqlalchemy as sa

    from pipelines.catalogue.loader import _platform_table_names
    from pipelines.catalogue.models import Catalogue
    from pipelines.serving.tables import ensure_service_tables
    from pipelines.store import Store

    store = Store("sqlite://", Catalogue(units=(), items=()))
    try:
        store.ensure_tables()
        ensure_service_tables(store)
        assert _platform_table_names() == frozenset(sa.inspect(store.engine).get_table_names())
    finally:
        store.dispose()


def test_item_codes_equal_once_lower_cased_are_refused(mini_catalogue_dir: Path) -> None:
    """The code pattern admits lower case only, so 'Enterprise' beside 'enterprise' is refused by it, named."""
    edit_yaml(mini_catalogue_dir, "items/amr.yaml", lambda d: d["items"].append(dict(d["items"][0], code="Enterprise")))
    [problem] = catalogue_problems(mini_catalogue_dir)
    assert problem.startswith("items/amr.yaml: item 'Enterprise': field 'code': String should match pattern")


def test_the_lower_case_check_names_both_codes() -> None:
    """Behind the pattern: should it ever admit upper case, the folded forms still meet here."""
    from types import SimpleNamespace

    from pipelines.catalogue.loader import _case_collisions

    entries = [("items/a.yaml", SimpleNamespace(code="permit")), ("items/b.yaml", SimpleNamespace(code="Permit")),
               ("items/b.yaml", SimpleNamespace(code="licence"))]
    assert [str(p) for p in _case_collisions("item", entries)] == [  # type: ignore[arg-type]
        "items/b.yaml: item 'Permit': field 'code': equal to item 'permit' once lower-cased"]


def _rename_unit(directory: Path, old: str, new: str) -> None:
    def units(d: dict) -> None:
        d["units"] = [dict(u, code=new) if u["code"] == old else u for u in d["units"]]

    def items(d: dict) -> None:
        d["items"] = [dict(i, unit=new) for i in d["items"]]

    def contractors(d: dict) -> None:
        for contractor in d["contractors"]:
            contractor["entrustments"] = [dict(e, unit=new) if e["unit"] == old else e
                                          for e in contractor["entrustments"]]

    edit_yaml(directory, "units.yaml", units)
    edit_yaml(directory, "items/nn_water.yaml", items)
    edit_yaml(directory, "contractors.yaml", contractors)


def test_a_unit_code_whose_role_exceeds_63_bytes_is_refused(mini_catalogue_dir: Path) -> None:
    from pipelines.access.control import unit_role

    room = 63 - len(unit_role(""))  # "unit_" + code: 58 characters of code fill an identifier exactly
    _rename_unit(mini_catalogue_dir, "nn_water", "w" * (room + 1))
    role = unit_role("w" * (room + 1))
    assert catalogue_problems(mini_catalogue_dir) == [
        f"units.yaml: unit '{'w' * (room + 1)}': field 'code': its PostgreSQL role '{role}' would be 64 bytes, "
        f"more than the 63 an identifier holds: at most {room} characters"]


def test_a_unit_code_whose_role_is_exactly_63_bytes_loads(mini_catalogue_dir: Path) -> None:
    from pipelines.access.control import unit_role

    code = "w" * (63 - len(unit_role("")))
    _rename_unit(mini_catalogue_dir, "nn_water", code)
    assert len(unit_role(load_catalogue(mini_catalogue_dir).unit(code).code).encode()) == 63


def _write_divisions(directory: Path, divisions: list[dict]) -> None:
    (directory / "divisions.yaml").write_text(yaml.safe_dump({"divisions": divisions}, allow_unicode=True),
                                              encoding="utf-8")


def test_declared_divisions_load_with_their_extent(mini_catalogue_dir: Path) -> None:
    _write_divisions(mini_catalogue_dir, [{"code": "450100", "name": "南宁市", "bbox": [107.32, 22.22, 109.63, 23.53],
                                           "centroid": [108.48, 22.88]}])
    division = load_catalogue(mini_catalogue_dir).division("450100")
    assert division is not None
    assert (division.name, division.bbox, division.centroid) == ("南宁市", (107.32, 22.22, 109.63, 23.53),
                                                                 (108.48, 22.88))
    assert load_catalogue(mini_catalogue_dir).division("450200") is None


def test_a_division_whose_centroid_is_outside_its_box_or_declared_twice_is_named(mini_catalogue_dir: Path) -> None:
    box = {"code": "450100", "name": "南宁市", "bbox": [107.32, 22.22, 109.63, 23.53], "centroid": [108.48, 22.88]}
    _write_divisions(mini_catalogue_dir, [box, dict(box, code="450200", centroid=[120.0, 22.88]),
                                          dict(box, code="450300", bbox=[109.63, 22.22, 107.32, 23.53]), box])
    assert catalogue_problems(mini_catalogue_dir) == [
        "divisions.yaml: division '450200': Value error, centroid [120.0, 22.88] lies outside the bbox "
        "[107.32, 22.22, 109.63, 23.53]",
        "divisions.yaml: division '450300': Value error, bbox [109.63, 22.22, 107.32, 23.53] is not west < east "
        "within ±180 and south < north within ±90",
        "divisions.yaml: division '450100': field 'code': division is declared twice"]
