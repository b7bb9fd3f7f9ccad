"""No collection outside the catalogue (art. 12): the intake window's exact refusal reasons, temporary
collections included."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines import intake, process
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.quality.outcome import ValidationOutcome
from tests.conftest import MINI, REPO, make_ric, make_uscc
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


def test_a_temporary_collection_is_refused_before_the_day_it_starts(window: Path, tmp_path: Path) -> None:
    import shutil

    from tests.helpers import edit_yaml

    catalogue_dir = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, catalogue_dir)
    edit_yaml(catalogue_dir, "items/health.yaml", lambda d: next(
        i for i in d["items"] if i["code"] == "epidemic_visit")["temporary"].update(starts="2020-01-24"))
    catalogue = load_catalogue(catalogue_dir)
    accepted, refused = intake.discover(window, catalogue, date(2020, 1, 23))
    assert {r.path.name: r.reason for r in refused}["epidemic_visit.csv"] == (
        "temporary collection of item 'epidemic_visit' starts on 2020-01-24 (approved by 省政务数据管理局 for: "
        "突发公共卫生事件应急处置): no collection outside the catalogue (art. 12)")
    accepted, _ = intake.discover(window, catalogue, date(2020, 1, 24))  # the first day counts
    assert "epidemic_visit" in {s.item for s in accepted}


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


# --- what lies outside every item's files: recorded, never followed ------------------------------
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]
LONG_NAME = "enterprise__" + "a" * 230 + ".csv"  # 246 characters: more than _submission_id's 200


class NoValidation:
    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        raise AssertionError("the intake does not validate")


def enterprise_rows(n: int) -> list[list[str]]:
    return [[make_uscc(i), f"企业{i}", "450103", "1", "存续", "2026-11-01"] for i in range(n)]


def take_in_the_window(tmp_path: Path, store_url: str) -> list[tuple[Any, ...]]:
    """A window with strays of every kind and two awkward accepted files, as the unit runs take it in."""
    import openpyxl

    from pipelines.store import Store

    catalogue = load_catalogue(MINI)
    window = tmp_path / "intake"
    write_csv(window / "nobody" / "enterprise.csv", HEADER, enterprise_rows(2))
    write_csv(window / "stray.csv", HEADER, enterprise_rows(3))
    write_csv(window / "amr" / ".enterprise.csv", HEADER, enterprise_rows(4))
    write_csv(window / "amr" / LONG_NAME, HEADER, enterprise_rows(5))
    write_csv(tmp_path / "outside.csv", HEADER, enterprise_rows(6))
    (window / "amr" / "enterprise__link.csv").symlink_to(tmp_path / "outside.csv")
    book = openpyxl.Workbook()
    book.active.title = "一月"
    for values in [HEADER, *enterprise_rows(2)]:
        book.active.append(values)
    second = book.create_sheet("二月")
    for values in [HEADER, *enterprise_rows(5)[2:]]:
        second.append(values)
    book.save(window / "amr" / "enterprise__sheets.xlsx")
    store = Store(store_url, catalogue)
    store.ensure_tables()
    platform = process.Platform(catalogue, window, tmp_path / "data", store, NoValidation(), clock=lambda: NOW)
    try:
        for unit in ("nn_water", "amr"):  # amr, the catalogue's first unit with items, also takes the strays
            process.refuse_uncatalogued(platform, unit)
        process.take_in(platform, catalogue.item("enterprise"))
        return sorted((e["unit"], e["item"], e["source"], e["status"], e["received"], e["held_back"],
                       len(e["submission_id"])) for e in store.ledger.submissions())
    finally:
        store.dispose()


def expected_ledger() -> list[tuple[Any, ...]]:
    hashed = len("enterprise/") + 120 + 13
    return sorted([
        # a refusal's id starts with its folder (process.refusal_id)
        ("_window", "stray", "stray.csv", "rejected", 3, 3, len("_window/stray/stray.csv/") + 12),
        ("nobody", "enterprise", "enterprise.csv", "rejected", 2, 2, len("nobody/enterprise/enterprise.csv/") + 12),
        ("amr", ".enterprise", ".enterprise.csv", "rejected", 4, 4, len("amr/.enterprise/.enterprise.csv/") + 12),
        ("amr", "enterprise", "enterprise__link.csv", "rejected", 0, 0,
         len("amr/enterprise/enterprise__link.csv/") + 12),
        ("amr", "enterprise", LONG_NAME, "received", 5, 0, hashed),
        ("amr", "enterprise", "enterprise__sheets.xlsx (sheets '一月' + '二月')", "received", 5, 0,
         len("enterprise/enterprise__sheets.xlsx/") + 12),
    ])


def test_strays_are_recorded_once_links_are_not_followed_and_long_names_fit(tmp_path: Path) -> None:
    assert take_in_the_window(tmp_path, f"sqlite:///{tmp_path / 'store.db'}") == expected_ledger()
    rejected = tmp_path / "intake" / "amr" / "_rejected"
    assert (rejected / "enterprise__link.csv").is_symlink()
    assert "a symbolic link" in (rejected / "enterprise__link.csv.reason.txt").read_text(encoding="utf-8")
    assert (tmp_path / "intake" / "_rejected" / "stray.csv.reason.txt").exists()
    assert (tmp_path / "intake" / "nobody" / "_rejected" / "enterprise.csv").exists()


@pytest.mark.postgres
def test_long_names_and_strays_fit_the_ledger_on_postgresql(tmp_path: Path, pg_database: str) -> None:
    assert take_in_the_window(tmp_path, pg_database) == expected_ledger()


def test_the_units_to_run_include_the_steward_for_strays_and_units_with_only_links(tmp_path: Path) -> None:
    catalogue = load_catalogue(MINI)
    (tmp_path / "nn_water").mkdir()
    (tmp_path / "nn_water" / "water_account.csv").symlink_to("/etc/passwd")
    assert intake.units_to_run(tmp_path, catalogue) == {"nn_water"}
    assert intake.pending_files(tmp_path) == []  # the link is not stat'ed by the sensor's signature
    write_csv(tmp_path / "nobody" / "x.csv", ["a"], [["1"]])
    assert intake.window_steward(catalogue) == "amr"
    assert intake.units_to_run(tmp_path, catalogue) == {"nn_water", "amr"}


def test_the_same_refused_file_in_two_units_folders_is_two_refusals(tmp_path: Path) -> None:
    """The same bytes under the same name, refused in nn_water's folder (not its item) and in an uncatalogued
    unit's: one ledger row each, each with its own folder's rows; a re-run adds none."""
    from pipelines.store import Store

    catalogue = load_catalogue(MINI)
    window = tmp_path / "intake"
    for folder in ("nn_water", "nobody"):
        write_csv(window / folder / "enterprise.csv", HEADER, enterprise_rows(3))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", catalogue)
    store.ensure_tables()
    platform = process.Platform(catalogue, window, tmp_path / "data", store, NoValidation(), clock=lambda: NOW)
    try:
        for _ in range(2):
            for unit in ("nn_water", "amr"):  # amr takes the uncatalogued folder's strays
                process.refuse_uncatalogued(platform, unit)
        digest = {e["digest"] for e in store.ledger.submissions()}
        assert len(digest) == 1
        assert sorted((e["submission_id"], e["unit"], e["status"], e["received"]) for e in store.ledger.submissions()) \
            == [(f"nn_water/enterprise/enterprise.csv/{next(iter(digest))[:12]}", "nn_water", "rejected", 3),
                (f"nobody/enterprise/enterprise.csv/{next(iter(digest))[:12]}", "nobody", "rejected", 3)]
    finally:
        store.dispose()


def _judged_from_the_whole_window(window: Path, catalogue: Any, unit: str) -> list[Path]:
    """The oracle: every entry of the window listed, then kept as a unit's step judged them when it listed the
    whole window for each item: its own folder's and, for the steward, what no unit with items owns."""
    owners = {u.code for u in catalogue.units if catalogue.items_of(u.code)}
    steward = intake.window_steward(catalogue)
    return [path for folder, path in intake.window_entries(window)
            if folder == unit or (unit == steward and folder not in owners)]


def test_a_unit_step_judges_what_it_judged_when_the_whole_window_was_listed(tmp_path: Path) -> None:
    catalogue = load_catalogue(GOVERNED)
    window = tmp_path / "intake"
    write_csv(window / "health" / "epidemic_visit.csv", ["visit_no", "place"], [["V1", "商场"]])
    write_csv(window / "health" / "enterprise.csv", ["credit_code"], [["x"]])  # another unit's item
    write_csv(window / "health" / "_archive" / "epidemic_visit.csv", ["visit_no"], [["V0"]])  # done with
    write_csv(window / "amr" / "enterprise__b.csv", ["credit_code"], [["x"]])
    write_csv(window / "amr" / "enterprise__a.csv", ["credit_code"], [["y"]])
    write_csv(window / "nobody" / "enterprise.csv", ["credit_code"], [["x"]])  # no such unit: the steward's
    write_csv(window / ".health" / "licence.csv", ["a"], [["1"]])  # a hidden folder is a stray
    write_csv(window / "_rejected" / "old.csv", ["a"], [["1"]])  # the window's own folders are not looked in
    write_csv(window / "stray.csv", ["a"], [["1"]])
    write_csv(window / "housing", ["a"], [["1"]])  # a file named as a unit: a stray, not that unit's folder
    write_csv(tmp_path / "elsewhere" / "lz_water_account.csv", ["a"], [["1"]])
    (window / "lz_water").symlink_to(tmp_path / "elsewhere")  # a link named as a unit: never followed
    for unit in [*(u.code for u in catalogue.units), "nobody", ".health", "_rejected", intake.NO_UNIT]:
        for item in (None, "enterprise", "stray"):
            accepted, refused = intake.discover(window, catalogue, date(2020, 3, 31), unit=unit, item=item)
            judged = [p for p in _judged_from_the_whole_window(window, catalogue, unit)
                      if item is None or intake.item_code_of(p) == item]
            assert sorted([s.path for s in accepted] + [r.path for r in refused]) == sorted(judged)
            assert [s.path for s in accepted] == [p for p in judged if p in {s.path for s in accepted}]
        assert intake.pending_files(window, unit) == [
            path for folder, path in intake.window_entries(window) if folder == unit and intake.is_regular(path)]
    assert [s.path.name for s in intake.discover(window, catalogue, date(2020, 3, 31), unit="amr")[0]] == [
        "enterprise__a.csv", "enterprise__b.csv"]  # in the folder's order
