"""No collection outside the catalogue (art. 12): the intake window's exact refusal reasons, temporary
collections included."""

from datetime import date
from pathlib import Path

import pytest

from pipelines import intake
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from tests.conftest import REPO, make_ric
from tests.helpers import write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"


@pytest.fixture
def window(tmp_path: Path) -> Path:
    write_csv(tmp_path / "health" / "epidemic_visit.csv", ["visit_no", "place"], [["V1", "商场"]])
    write_csv(tmp_path / "health" / "flood_relief.csv", ["batch_no", "goods"], [["B1", "沙袋"]])
    write_csv(tmp_path / "health" / "secret_survey.csv", ["a"], [["1"]])
    write_csv(tmp_path / "health" / "enterprise.csv", ["credit_code"], [["x"]])
    return tmp_path


def reasons(window: Path, today: date | None) -> dict[str, str]:
    _, refused = intake.discover(window, load_catalogue(GOVERNED), today)
    return {r.path.name: r.reason for r in refused}


def test_uncatalogued_items_and_other_units_items_are_refused_with_the_reason(window: Path) -> None:
    assert reasons(window, date(2020, 3, 31)) == {
        "secret_survey.csv": "item 'secret_survey' is not in the catalogue: no collection outside the catalogue "
                             "(art. 12)",
        "enterprise.csv": "item 'enterprise' belongs to unit 'amr', not 'health'",
    }


def test_a_temporary_collection_is_refused_the_day_after_it_expires(window: Path) -> None:
    accepted, _ = intake.discover(window, load_catalogue(GOVERNED), date(2020, 3, 31))
    assert sorted(s.item for s in accepted) == ["epidemic_visit", "flood_relief"]  # the last day still counts
    assert reasons(window, date(2020, 4, 1))["epidemic_visit.csv"] == (
        "temporary collection of item 'epidemic_visit' expired on 2020-03-31 (approved by 省政务数据管理局 for: "
        "突发公共卫生事件应急处置): no collection outside the catalogue (art. 12)")
    assert "flood_relief.csv" not in reasons(window, date(2099, 12, 31))
    assert "flood_relief.csv" in reasons(window, date(2100, 1, 1))


def refusal_of(path: Path, item: Item) -> str:
    with pytest.raises(intake.SubmissionError) as caught:
        intake.read_submission(path, item)
    return str(caught.value)


def test_uncatalogued_columns_are_refused_with_the_reason(tmp_path: Path) -> None:
    item = load_catalogue(GOVERNED).item("flood_relief")
    path = write_csv(tmp_path / "health" / "flood_relief.csv", ["batch_no", "goods", "remark", "phone"],
                     [["B1", "沙袋", "备注", "1"]])
    assert refusal_of(path, item) == (
        "uncatalogued column(s) remark, phone: no collection outside the catalogue (art. 12)")


def test_a_file_without_its_header_row_is_refused_without_echoing_its_first_record(tmp_path: Path) -> None:
    item = load_catalogue(GOVERNED).item("flood_relief")
    first_record = ["B1", "韦小宝", make_ric(3), "13812345678"]
    path = write_csv(tmp_path / "health" / "flood_relief.csv", first_record, [["B2", "覃大", make_ric(4), ""]])
    assert refusal_of(path, item) == (
        "none of the 4 column headers is a catalogued field or label: is the header row missing?")


def test_personal_data_in_an_extra_header_is_not_repeated_in_the_reason(tmp_path: Path) -> None:
    item = load_catalogue(GOVERNED).item("flood_relief")
    path = write_csv(tmp_path / "health" / "flood_relief.csv", ["batch_no", "goods", "联系人13812345678"],
                     [["B1", "沙袋", "x"]])
    assert refusal_of(path, item) == (
        "uncatalogued column(s) 联系人***********: no collection outside the catalogue (art. 12)")
