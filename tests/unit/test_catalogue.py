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
