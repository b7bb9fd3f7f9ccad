"""Technical service units and their entrustments (art. 7): what check-catalogue refuses, when an
entrustment is in force, and who operates a run."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.catalogue import Entrustment, Work, load_catalogue
from pipelines.cli import main
from pipelines.entrustment import (
    CONTRACTOR_TAG,
    RUN_DATE_TAG,
    Operator,
    contractor_listing,
    local_day,
    operator_for,
    operator_of_run,
)
from tests.conftest import REPO
from tests.helpers import catalogue_problems, edit_yaml

JUNE = date(2026, 6, 15)


def edit(directory: Path, change: Callable[[Any], None]) -> None:
    edit_yaml(directory, "contractors.yaml", change)


def entrustment(unit: str = "amr", work: list[str] | None = None, valid_from: str = "2026-01-01",
                valid_until: str = "2026-12-31", reference: str = "ref-1") -> dict[str, Any]:
    return {"unit": unit, "work": work or ["collection"], "valid_from": valid_from, "valid_until": valid_until,
            "reference": reference}


def test_mini_contractors_load_with_their_entrustments(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    assert [c.code for c in catalogue.contractors] == ["gx_datatech", "nn_infoservice"]
    [amr] = catalogue.contractor("gx_datatech").entrustments  # type: ignore[union-attr]
    assert (amr.unit, amr.work, amr.valid_from, amr.valid_until) == (
        "amr", ("collection", "validation", "convergence"), date(2026, 1, 1), date(2026, 12, 31))
    assert catalogue.contractor("nobody") is None


def test_catalogue_without_contractors_file_has_none(mini_catalogue_dir: Path) -> None:
    (mini_catalogue_dir / "contractors.yaml").unlink()
    assert load_catalogue(mini_catalogue_dir).contractors == ()


def test_each_field_problem_names_file_contractor_and_field(mini_catalogue_dir: Path) -> None:
    def break_it(d: dict[str, Any]) -> None:
        d["contractors"][0]["credit_code"] = "91450100MA5KXW8D02"  # wrong check character
        d["contractors"][0]["entrustments"][0]["work"] = ["collection", "hosting"]
        d["contractors"][1]["entrustments"][0].update(valid_from="2025-06-01", valid_until="2025-05-31")

    edit(mini_catalogue_dir, break_it)
    assert catalogue_problems(mini_catalogue_dir) == [
        "contractors.yaml: contractor 'gx_datatech': field 'credit_code': Value error, '91450100MA5KXW8D02' is not "
        "a valid unified social credit code (GB 32100-2015)",
        "contractors.yaml: contractor 'gx_datatech': field 'entrustments[0].work[1]': Input should be 'collection', "
        "'validation', 'convergence' or 'sharing'",
        "contractors.yaml: contractor 'nn_infoservice': field 'entrustments[0].valid_until': Value error, "
        "valid_until 2025-05-31 is before valid_from 2025-06-01",
    ]


def test_unknown_unit_repeated_code_and_missing_list(mini_catalogue_dir: Path) -> None:
    def break_it(d: dict[str, Any]) -> None:
        d["contractors"][1]["entrustments"].append(entrustment(unit="ghost"))
        d["contractors"].append(dict(d["contractors"][0], entrustments=[]))

    edit(mini_catalogue_dir, break_it)
    assert catalogue_problems(mini_catalogue_dir) == [
        "contractors.yaml: contractor 'nn_infoservice': field 'entrustments[1].unit': unknown unit 'ghost' "
        "(not in units.yaml)",
        "contractors.yaml: contractor 'gx_datatech': field 'code': contractor code is used twice",
    ]
    (mini_catalogue_dir / "contractors.yaml").write_text("contractors: none\n", encoding="utf-8")
    assert catalogue_problems(mini_catalogue_dir) == [
        "contractors.yaml: catalogue: field 'contractors': expected a top-level 'contractors:' list"]


def test_two_contractors_may_not_hold_the_same_work_for_a_unit_at_once(mini_catalogue_dir: Path) -> None:
    def overlap(d: dict[str, Any]) -> None:
        d["contractors"][1]["entrustments"] += [
            entrustment("amr", ["validation", "sharing"], "2026-12-31", "2027-06-30", "南水信〔2026〕1号"),
            entrustment("amr", ["collection"], "2027-01-01", "2027-12-31"),  # starts the day after: fine
            entrustment("amr", ["sharing"], "2026-01-01", "2026-12-31"),  # work gx_datatech does not hold: fine
        ]

    edit(mini_catalogue_dir, overlap)
    assert catalogue_problems(mini_catalogue_dir) == [
        "contractors.yaml: contractor 'nn_infoservice': field 'entrustments[1]': contractor 'gx_datatech' "
        "(桂市监信委〔2026〕3号) is also entrusted with validation for unit 'amr' from 2026-12-31 to 2026-12-31: "
        "one operator at a time",
    ]


def test_a_contractor_may_renew_its_own_entrustment_with_an_overlap(mini_catalogue_dir: Path) -> None:
    edit(mini_catalogue_dir, lambda d: d["contractors"][0]["entrustments"].append(
        entrustment("amr", ["collection"], "2026-12-01", "2027-12-31", "renewal")))
    assert len(load_catalogue(mini_catalogue_dir).contractor("gx_datatech").entrustments) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(("day", "valid"), [
    (date(2025, 12, 31), False), (date(2026, 1, 1), True), (date(2026, 6, 30), True), (date(2026, 7, 1), False)])
def test_an_entrustment_is_valid_from_its_first_to_its_last_day(day: date, valid: bool) -> None:
    e = Entrustment(unit="amr", work=(Work.COLLECTION,), valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 30),
                    reference="r")
    assert e.valid_on(day) is valid


def test_tagged_contractor_is_judged_on_the_run_date(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    assert operator_for(catalogue, "amr", "gx_datatech", date(2026, 12, 31)) == Operator(
        "amr", "gx_datatech", date(2026, 12, 31))
    assert operator_for(catalogue, "amr", "gx_datatech", date(2027, 1, 1)).refusal == (
        "contractor gx_datatech has no valid entrustment for unit amr on 2027-01-01: "
        "expired on 2026-12-31 (桂市监信委〔2026〕3号)")
    assert operator_for(catalogue, "amr", "gx_datatech", date(2025, 12, 31)).refusal == (
        "contractor gx_datatech has no valid entrustment for unit amr on 2025-12-31: "
        "not yet in force, valid from 2026-01-01 (桂市监信委〔2026〕3号)")
    assert operator_for(catalogue, "nn_water", "gx_datatech", JUNE).refusal == (
        "contractor gx_datatech has no valid entrustment for unit nn_water on 2026-06-15: not entrusted")
    assert operator_for(catalogue, "nn_water", "nn_infoservice", JUNE).refusal == (
        "contractor nn_infoservice has no valid entrustment for unit nn_water on 2026-06-15: "
        "expired on 2025-12-31 (南水信〔2025〕12号)")
    assert operator_for(catalogue, "amr", "acme", JUNE).refusal == (
        "contractor acme has no valid entrustment for unit amr on 2026-06-15: "
        "unknown contractor (not in contractors.yaml)")


def test_entrusted_with_other_work_only_is_refused_for_collection(mini_catalogue_dir: Path) -> None:
    edit(mini_catalogue_dir, lambda d: d["contractors"][0]["entrustments"][0].update(work=["validation", "sharing"]))
    catalogue = load_catalogue(mini_catalogue_dir)
    assert operator_for(catalogue, "amr", "gx_datatech", JUNE).refusal == (
        "contractor gx_datatech has no valid entrustment for unit amr on 2026-06-15: "
        "not entrusted with collection (only sharing, validation)")


def test_untagged_run_is_operated_by_the_entrusted_contractor_or_the_unit(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    assert operator_for(catalogue, "amr", None, JUNE) == Operator("amr", "gx_datatech", JUNE)
    assert operator_for(catalogue, "amr", None, date(2027, 1, 1)) == Operator("amr", None, date(2027, 1, 1))
    assert operator_for(catalogue, "nn_water", None, date(2025, 12, 31)) == Operator(
        "nn_water", "nn_infoservice", date(2025, 12, 31))
    assert operator_for(catalogue, "nn_water", None, JUNE) == Operator("nn_water", None, JUNE)


def test_run_tags_name_the_operator_and_the_day(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    today = date(2030, 1, 1)
    assert operator_of_run(catalogue, "amr", {}, today) == Operator("amr", None, today)
    assert operator_of_run(catalogue, "amr", {RUN_DATE_TAG: "2026-06-15"}, today, run_date_allowed=True) == Operator(
        "amr", "gx_datatech", JUNE)
    assert operator_of_run(catalogue, "amr", {CONTRACTOR_TAG: "gx_datatech"}, today).refusal == (
        "contractor gx_datatech has no valid entrustment for unit amr on 2030-01-01: "
        "expired on 2026-12-31 (桂市监信委〔2026〕3号)")
    assert operator_of_run(catalogue, "amr", {CONTRACTOR_TAG: "gx_datatech", RUN_DATE_TAG: "15/06/2026"},
                           today) == Operator("amr", "gx_datatech", None,
                                              "run tag govdata/run-date='15/06/2026' is not a date (YYYY-MM-DD)")


def test_a_run_date_other_than_today_is_refused_unless_the_platform_allows_it(mini_catalogue_dir: Path) -> None:
    """An expired contractor must not pick a day on which its entrustment was still in force."""
    catalogue = load_catalogue(mini_catalogue_dir)
    today = date(2030, 1, 1)
    tags = {CONTRACTOR_TAG: "gx_datatech", RUN_DATE_TAG: "2026-06-15"}
    assert operator_of_run(catalogue, "amr", tags, today) == Operator(
        "amr", "gx_datatech", today, "run tag govdata/run-date=2026-06-15 would judge entrustments on 2026-06-15, "
        "not today (2030-01-01); only test and demo platforms allow it (GOVDATA_ALLOW_RUN_DATE=1)")
    assert operator_of_run(catalogue, "amr", {**tags, RUN_DATE_TAG: "2030-01-01"}, today).refusal == (
        "contractor gx_datatech has no valid entrustment for unit amr on 2030-01-01: "
        "expired on 2026-12-31 (桂市监信委〔2026〕3号)")  # today's date is judged as usual
    assert operator_of_run(catalogue, "amr", {CONTRACTOR_TAG: "x" * 300}, today).contractor == "x" * 64


def test_entrustment_days_are_the_province_s_calendar_days() -> None:
    # 2026-12-31 20:00 UTC is already 1 January 2027 in Guangxi
    assert local_day(datetime(2026, 12, 31, 20, tzinfo=UTC)) == date(2027, 1, 1)
    assert local_day(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)


def test_listing_says_whether_each_entrustment_is_in_force(mini_catalogue_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    listing = contractor_listing(load_catalogue(mini_catalogue_dir), JUNE)
    assert [(c["code"], [(e["unit"], e["status"]) for e in c["entrustments"]]) for c in listing] == [
        ("gx_datatech", [("amr", "valid")]), ("nn_infoservice", [("nn_water", "expired")])]
    assert main(["contractors", str(mini_catalogue_dir), "--as-of", "2025-06-15", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [e["status"] for c in printed for e in c["entrustments"]] == ["not yet valid", "valid"]
    assert main(["contractors", str(mini_catalogue_dir), "--as-of", "2026-06-15"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "technical service units and their entrustments on 2026-06-15:"
    assert text[2] == "gx_datatech  广西数据科技有限公司  91450100MA5KXW8D01"
    assert text[3].split() == ["amr", "collection,", "validation,", "convergence", "2026-01-01", "..", "2026-12-31",
                               "valid", "桂市监信委〔2026〕3号"]
    assert text[6].split() == ["nn_water", "collection", "2025-01-01", "..", "2025-12-31", "expired",
                               "南水信〔2025〕12号"]


def test_demo_contractors_validate_and_one_entrustment_has_expired() -> None:
    listing = contractor_listing(load_catalogue(REPO / "catalogue" / "demo"), date(2026, 11, 27))
    statuses = {(c["code"], e["unit"]): e["status"] for c in listing for e in c["entrustments"]}
    assert sorted(statuses) == [("gx_digigov", "gx_amr"), ("gx_digigov", "gx_civil"), ("gx_digigov", "gx_hrss"),
                                ("lz_smartdata", "lc_charity"), ("lz_smartdata", "lz_approval"),
                                ("nn_cityinfo", "nn_realestate"), ("nn_cityinfo", "nn_water")]
    assert [k for k, v in statuses.items() if v != "valid"] == [("nn_cityinfo", "nn_water")]


def test_contractors_schema_accepts_the_demo_file_and_rejects_unknown_work() -> None:
    import jsonschema

    from pipelines.catalogue.jsonschema import catalogue_schemas

    schema = catalogue_schemas()["contractors.schema.json"]
    document = yaml.safe_load((REPO / "catalogue" / "demo" / "contractors.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(document, default=str)), schema)
    document["contractors"][0]["entrustments"][0]["work"] = ["hosting"]
    with pytest.raises(jsonschema.ValidationError, match="'hosting' is not one of"):
        jsonschema.validate(json.loads(json.dumps(document, default=str)), schema)


def test_each_work_type_is_judged_against_the_entrustment(mini_catalogue_dir: Path) -> None:
    """Art. 7: collection, validation, convergence and sharing each need the entrustment of that work."""
    from pipelines.entrustment import NotEntrusted, require_entrusted, run_operators

    edit(mini_catalogue_dir, lambda d: d["contractors"][0]["entrustments"][0].update(work=["collection", "sharing"]))
    catalogue = load_catalogue(mini_catalogue_dir)
    tagged = run_operators(catalogue, "amr", {CONTRACTOR_TAG: "gx_datatech"}, JUNE)
    not_entrusted = ("contractor gx_datatech has no valid entrustment for unit amr on 2026-06-15: "
                     "not entrusted with {} (only collection, sharing)")
    assert tagged == {
        Work.COLLECTION: Operator("amr", "gx_datatech", JUNE, None, Work.COLLECTION),
        Work.VALIDATION: Operator("amr", "gx_datatech", JUNE, not_entrusted.format("validation"), Work.VALIDATION),
        Work.CONVERGENCE: Operator("amr", "gx_datatech", JUNE, not_entrusted.format("convergence"), Work.CONVERGENCE),
        Work.SHARING: Operator("amr", "gx_datatech", JUNE, None, Work.SHARING),
    }
    for work in (Work.COLLECTION, Work.SHARING):
        require_entrusted(tagged[work], work)
    for work in (Work.VALIDATION, Work.CONVERGENCE):
        with pytest.raises(NotEntrusted, match=f"^{work.value} refused: contractor gx_datatech"):
            require_entrusted(tagged[work], work)
    with pytest.raises(ValueError, match="operator of collection work passed to a validation step"):
        require_entrusted(tagged[Work.COLLECTION], Work.VALIDATION)
    untagged = run_operators(catalogue, "amr", {}, JUNE)  # the entrusted contractor where there is one, else the unit
    assert {w: (o.contractor, o.refusal) for w, o in untagged.items()} == {
        Work.COLLECTION: ("gx_datatech", None), Work.VALIDATION: (None, None), Work.CONVERGENCE: (None, None),
        Work.SHARING: ("gx_datatech", None)}
    refused_date = run_operators(catalogue, "amr", {RUN_DATE_TAG: "soon"}, JUNE)
    assert {o.refusal for o in refused_date.values()} == {f"run tag {RUN_DATE_TAG}='soon' is not a date (YYYY-MM-DD)"}
