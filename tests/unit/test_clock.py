"""One clock: moments in UTC, days in the province (Asia/Shanghai). A temporary collection that expired on
31 March is refused from 1 April 00:00 Beijing time (31 March 16:00 UTC), record freshness is judged on the
province's day, and what people read carries the province's time with its offset."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines import entrustment, process
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Catalogue, Item
from pipelines.clock import PROVINCE_TZ, Clock, province_day, shown_time
from pipelines.evaluation import periods
from pipelines.quality.outcome import ValidationOutcome
from pipelines.store import Store
from tests.conftest import REPO
from tests.helpers import write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"
BEFORE_MIDNIGHT = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 March in Shanghai
AFTER_MIDNIGHT = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)  # 03:00 on 1 April in Shanghai


class RecordingValidator:
    """Every rule passes; the day each validation was judged on is kept."""

    def __init__(self) -> None:
        self.days: list[date] = []

    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        self.days.append(as_of)
        return ValidationOutcome(item.code, len(frame), ())


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    """The governed fixture with its expired temporary collection moved to 31 March 2026."""
    target = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, target)
    health = target / "items" / "health.yaml"
    text = health.read_text(encoding="utf-8")
    assert text.count("expires: 2020-03-31") == 1
    health.write_text(text.replace("expires: 2020-03-31", "expires: 2026-03-31"), encoding="utf-8")
    return target


def _platform(tmp_path: Path, catalogue: Catalogue, moment: datetime,
              validator: RecordingValidator | None = None) -> process.Platform:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", catalogue)
    store.ensure_tables()
    return process.Platform(catalogue, tmp_path / "intake", tmp_path / "data", store,
                            validator or RecordingValidator(), clock=Clock.fixed(moment))


def _take_in_epidemic_visit(tmp_path: Path, catalogue_dir: Path, moment: datetime) -> process.IntakeReport:
    catalogue = load_catalogue(catalogue_dir)
    write_csv(tmp_path / "intake" / "health" / "epidemic_visit.csv", ["visit_no", "place"], [["V1", "商场"]])
    platform = _platform(tmp_path, catalogue, moment)
    try:
        return process.take_in(platform, catalogue.item("epidemic_visit"))
    finally:
        platform.store.dispose()


def test_the_province_day_turns_at_shanghai_midnight() -> None:
    assert province_day(BEFORE_MIDNIGHT) == date(2026, 3, 31)
    assert province_day(AFTER_MIDNIGHT) == date(2026, 4, 1)
    assert province_day(datetime(2026, 3, 31, 16, 0)) == date(2026, 4, 1)  # a zoneless store moment is UTC
    assert Clock.fixed(AFTER_MIDNIGHT).today() == date(2026, 4, 1) and Clock.fixed(AFTER_MIDNIGHT)() == AFTER_MIDNIGHT


def test_one_timezone_constant_for_periods_and_the_clock() -> None:
    assert periods.REPORTING_TZ is PROVINCE_TZ and PROVINCE_TZ.key == "Asia/Shanghai"
    assert entrustment.local_day(AFTER_MIDNIGHT) == periods.reporting_day(AFTER_MIDNIGHT) == date(2026, 4, 1)


def test_a_clock_keeps_moments_in_utc_whatever_zone_it_is_given() -> None:
    shanghai = AFTER_MIDNIGHT.astimezone(PROVINCE_TZ)
    now = Clock.fixed(shanghai).now()
    assert now == AFTER_MIDNIGHT and now.tzinfo is UTC


def test_the_expired_collection_is_refused_at_three_in_the_morning_of_1_april(tmp_path: Path,
                                                                              catalogue_dir: Path) -> None:
    report = _take_in_epidemic_visit(tmp_path, catalogue_dir, AFTER_MIDNIGHT)
    assert report.accepted == [] and [name for name, _ in report.refused] == ["epidemic_visit.csv"]
    assert report.refused[0][1].startswith("temporary collection of item 'epidemic_visit' expired on 2026-03-31")


def test_the_collection_is_accepted_a_minute_before_shanghai_midnight(tmp_path: Path, catalogue_dir: Path) -> None:
    report = _take_in_epidemic_visit(tmp_path, catalogue_dir, BEFORE_MIDNIGHT)
    assert report.refused == [] and report.rows_received == 1
    assert [sid.rsplit("/", 1)[0] for sid in report.accepted] == ["epidemic_visit/epidemic_visit.csv"]


def test_the_reason_file_shows_the_province_time_with_its_offset(tmp_path: Path, catalogue_dir: Path) -> None:
    _take_in_epidemic_visit(tmp_path, catalogue_dir, AFTER_MIDNIGHT)
    reason = (tmp_path / "intake" / "health" / "_rejected" / "epidemic_visit.csv.reason.txt").read_text("utf-8")
    assert reason.splitlines()[:2] == ["file: epidemic_visit.csv", "refused at: 2026-04-01 03:00 +08:00"]
    assert shown_time(datetime(2026, 12, 31, 16, 30)) == "2027-01-01 00:30 +08:00"


def test_record_freshness_is_judged_on_the_province_day(tmp_path: Path, catalogue_dir: Path) -> None:
    catalogue = load_catalogue(catalogue_dir)
    write_csv(tmp_path / "intake" / "health" / "flood_relief.csv", ["batch_no", "goods"], [["B1", "沙袋"]])
    validator = RecordingValidator()
    platform = _platform(tmp_path, catalogue, AFTER_MIDNIGHT, validator)
    try:
        item = catalogue.item("flood_relief")
        assert len(process.take_in(platform, item).accepted) == 1
        process.validate(platform, item)
    finally:
        platform.store.dispose()
    assert validator.days == [date(2026, 4, 1)]  # UTC says 31 March


# The product reads the wall clock in one place. `datetime.now(` without a zone, `date.today()` and
# `datetime.utcnow(` / `datetime.today(` give the machine's (or UTC's) day, not the province's.
WALL_CLOCK = re.compile(r"\bdate\.today\(|\bdatetime\.(now|utcnow|today)\(")
PRODUCT = ("pipelines", "assets", "resources", "expectations")


def test_nothing_but_the_clock_module_reads_the_wall_clock() -> None:
    found = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
             for folder in PRODUCT for path in sorted((REPO / folder).rglob("*.py"))
             if path != REPO / "pipelines" / "clock.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if WALL_CLOCK.search(line)]
    assert found == []
    assert WALL_CLOCK.search((REPO / "pipelines" / "clock.py").read_text(encoding="utf-8"))  # the scan sees it
