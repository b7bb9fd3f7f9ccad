"""check-catalogue enforces one number one source (art. 11), look-ups (art. 13), connected catalogues
(art. 11, 19) and temporary collections (art. 12), each problem naming file, item and field."""

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from tests.conftest import REPO
from tests.helpers import catalogue_problems, edit_yaml

GOVERNED = REPO / "tests" / "fixtures" / "governed"


@pytest.fixture
def governed(tmp_path: Path) -> Path:
    target = tmp_path / "governed"
    shutil.copytree(GOVERNED, target)
    return target


def licence_field(document: Any, name: str) -> dict[str, Any]:
    return next(f for f in document["items"][0]["fields"] if f["name"] == name)


def test_governed_catalogue_loads_with_its_elements(governed: Path) -> None:
    catalogue = load_catalogue(governed)
    assert catalogue.governance is not None and catalogue.governance.connected
    assert [str(e.source) for e in catalogue.governance.elements] == ["enterprise.credit_code", "enterprise.name"]
    assert catalogue.item("nn_water_account").maps_to == "water_account"
    assert catalogue.item("epidemic_visit").temporary.expires == date(2020, 3, 31)  # type: ignore[union-attr]


def test_second_item_collecting_an_element_is_told_to_reference_the_authority(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "enterprise_name").pop("lookup"))
    assert catalogue_problems(governed) == [
        "items/health.yaml: item 'licence': field 'fields[2].element': element 'enterprise_name' (企业名称) has its "
        "authoritative source in 'enterprise.name' (unit 'amr'): reference the authoritative item instead of "
        "collecting it again (one number, one source, art. 11)"
    ]


def test_key_element_collected_without_a_reference_is_refused(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "credit_code").pop("references"))
    found = catalogue_problems(governed)
    assert "items/health.yaml: item 'licence': field 'fields[1].element': element 'enterprise_key' " \
           "(统一社会信用代码) has its authoritative source in 'enterprise.credit_code' (unit 'amr'): " \
           "reference the authoritative item instead of collecting it again (one number, one source, art. 11)" in found
    # without the reference the look-up has no key to join on either
    assert ("items/health.yaml: item 'licence': field 'fields[2].lookup': no field of this item references "
            "'enterprise', so there is no key to look it up by") in found
    assert len(found) == 2


def test_unknown_element_and_bad_element_sources(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "legal_person").update(element="person_name"))

    def break_elements(d: dict[str, Any]) -> None:
        d["elements"].append({"code": "ghost", "name": "鬼", "source": {"item": "enterprise", "field": "nothing"}})
        d["elements"].append({"code": "holder", "name": "户主", "key_standard": "uscc",
                              "source": {"item": "water_account", "field": "holder_id"}})

    edit_yaml(governed, "governance.yaml", break_elements)
    assert catalogue_problems(governed) == [
        "governance.yaml: element 'ghost': field 'source': item 'enterprise' has no field 'nothing'",
        "governance.yaml: element 'holder': field 'source': the key of 'water_account' (account_no) is not a "
        "uscc field",
        "items/health.yaml: item 'licence': field 'fields[3].element': unknown element 'person_name' "
        "(not in governance.yaml)",
    ]


def test_governance_file_shape_errors_are_named(governed: Path) -> None:
    edit_yaml(governed, "governance.yaml", lambda d: d["elements"][0].pop("source"))
    assert catalogue_problems(governed) == ["governance.yaml: element 'enterprise_key': field 'source': Field required"]


def test_a_looked_up_field_is_never_required(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "enterprise_name").update(required=True))
    [problem] = catalogue_problems(governed)
    assert problem.startswith("items/health.yaml: item 'licence': field 'fields[2]':")
    assert problem.endswith("a looked-up field is filled from the shared store: it cannot be required or a key")


def test_a_looked_up_field_has_the_authoritys_type(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "enterprise_name").update(type="integer"))
    assert catalogue_problems(governed) == [
        "items/health.yaml: item 'licence': field 'fields[2].lookup': 'enterprise.name' is not of type integer"]


def test_unmapped_city_and_county_items_are_refused(governed: Path) -> None:
    edit_yaml(governed, "items/lz_water.yaml", lambda d: d["items"][0].pop("maps_to"))
    edit_yaml(governed, "items/wm_water.yaml", lambda d: d["items"][0].pop("maps_to"))
    assert catalogue_problems(governed) == [
        "items/lz_water.yaml: item 'lz_water_account': field 'maps_to': a city-level item must map onto a "
        "provincial item (maps_to): connected catalogues (art. 11, 19)",
        "items/wm_water.yaml: item 'wm_water_account': field 'maps_to': a county-level item must map onto a "
        "provincial item (maps_to): connected catalogues (art. 11, 19)",
    ]


def test_unconnected_catalogues_may_leave_items_unmapped(governed: Path) -> None:
    edit_yaml(governed, "items/lz_water.yaml", lambda d: d["items"][0].pop("maps_to"))
    edit_yaml(governed, "governance.yaml", lambda d: d.update(connected=False))
    assert load_catalogue(governed).item("lz_water_account").maps_to is None


def test_incompatible_mapping_gives_each_reason(governed: Path) -> None:
    def diverge(d: dict[str, Any]) -> None:
        fields = d["items"][0]["fields"]
        fields[0]["type"] = "integer"  # account_no: string in the province
        fields[1] = {"name": "owner", "label": "户主"}  # holder_id (required in the province) is gone
        fields[1]["primary_key"] = False

    edit_yaml(governed, "items/nn_water.yaml", diverge)
    assert catalogue_problems(governed) == [
        "items/nn_water.yaml: item 'nn_water_account': field 'maps_to': field 'account_no' is integer here but "
        "string in provincial item 'water_account'",
        "items/nn_water.yaml: item 'nn_water_account': field 'maps_to': field 'owner' is not in provincial item "
        "'water_account'",
        "items/nn_water.yaml: item 'nn_water_account': field 'maps_to': provincial field 'holder_id' is required "
        "in 'water_account' but missing here",
    ]


def test_mapping_targets_must_be_provincial_items(governed: Path) -> None:
    edit_yaml(governed, "items/nn_water.yaml", lambda d: d["items"][0].update(maps_to="lz_water_account"))
    edit_yaml(governed, "items/lz_water.yaml", lambda d: d["items"][0].update(maps_to="sewage"))
    edit_yaml(governed, "items/housing.yaml", lambda d: d["items"][0].update(maps_to="enterprise"))
    assert catalogue_problems(governed) == [
        "items/housing.yaml: item 'water_account': field 'maps_to': a province-level item is itself the provincial "
        "catalogue entry: it maps onto nothing",
        "items/lz_water.yaml: item 'lz_water_account': field 'maps_to': unknown provincial item 'sewage'",
        "items/nn_water.yaml: item 'nn_water_account': field 'maps_to': 'lz_water_account' is a city-level item, "
        "not a provincial one",
    ]


def test_temporary_collection_needs_reason_approver_and_expiry(governed: Path) -> None:
    edit_yaml(governed, "items/health.yaml", lambda d: d["items"][1]["temporary"].pop("approver"))
    edit_yaml(governed, "items/health.yaml", lambda d: d["items"][2]["temporary"].update(reason=""))
    assert catalogue_problems(governed) == [
        "items/health.yaml: item 'epidemic_visit': field 'temporary.approver': Field required",
        "items/health.yaml: item 'flood_relief': field 'temporary.reason': String should have at least 1 character",
    ]


def test_check_catalogue_cli_prints_the_problem_and_fails(governed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-catalogue", str(governed)]) == 0
    assert capsys.readouterr().out.strip() == f"ok: 6 units, 8 items in {governed}"
    edit_yaml(governed, "items/health.yaml", lambda d: licence_field(d, "enterprise_name").pop("lookup"))
    assert main(["check-catalogue", str(governed)]) == 2
    assert "reference the authoritative item instead of collecting it again" in capsys.readouterr().err



@pytest.mark.parametrize(("added", "resembles", "element"), [
    ({"name": "holder_code", "label": "持证单位代码", "standard": "uscc"}, "the standard (uscc)", "enterprise_key"),
    ({"name": "credit_code", "label": "机构代码"}, "the field name", "enterprise_key"),  # the authority's field name
    ({"name": "org_name", "label": "企业名称"}, "the label", "enterprise_name"),  # the element's name
])
def test_a_field_collecting_a_governed_element_undeclared_is_refused(governed: Path, added: dict[str, str],
                                                                      resembles: str, element: str) -> None:
    """Once-only at catalogue time (art. 11, 13): matched by standard, field name or label, without element,
    reference or look-up; named by file, item and field."""
    edit_yaml(governed, "items/health.yaml", lambda d: d["items"][0]["fields"].insert(3, added))
    if added["name"] == "credit_code":  # the item already has a credit_code (referenced): rename that one
        edit_yaml(governed, "items/health.yaml", lambda d: d["items"][0]["fields"][1].update(name="enterprise_code"))
    source = {"enterprise_key": "enterprise.credit_code", "enterprise_name": "enterprise.name"}[element]
    name = {"enterprise_key": "统一社会信用代码", "enterprise_name": "企业名称"}[element]
    assert catalogue_problems(governed) == [
        f"items/health.yaml: item 'licence': field 'fields[3]': '{added['name']}' ({added['label']}) has {resembles} "
        f"of data element '{element}' ({name}), whose authoritative source is '{source}': declare element "
        f"'{element}' and reference or look it up there instead of collecting it again (once-only, art. 11, 13), "
        "or say why it is this item's own data in collected_here"]


def test_a_declared_exception_passes(governed: Path) -> None:
    own = {"name": "holder_code", "label": "持证单位代码", "standard": "uscc",
           "collected_here": "the licence holder's code as printed on the licence, kept as issued"}
    edit_yaml(governed, "items/health.yaml", lambda d: d["items"][0]["fields"].insert(3, own))
    field = load_catalogue(governed).item("licence").field("holder_code")
    assert field is not None and field.collected_here == own["collected_here"]
    edit_yaml(governed, "items/health.yaml", lambda d: d["items"][0]["fields"][3].pop("collected_here"))
    assert len(catalogue_problems(governed)) == 1


def test_the_demo_catalogue_declares_its_own_credit_codes() -> None:
    demo = load_catalogue(REPO / "catalogue" / "demo")
    own = sorted((i.code, f.name) for i in demo.items for f in i.fields if f.collected_here)
    assert own == [("social_insurance_enrolment", "name"), ("social_organization_registration", "uscc"),
                   ("unemployment_registration", "name")]
