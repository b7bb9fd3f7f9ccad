"""Art. 13 per item: a submission carrying values of looked-up fields is either converged without them (``strip``,
the default) or refused whole at intake (``refuse``), and flagged as repeated collection either way; on SQLite and
PostgreSQL, since the refusal's ledger row and its flags are written in one transaction of the store."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from pipelines import process
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.quality.outcome import ValidationOutcome
from pipelines.sharing import carried_log
from pipelines.store import Store
from tests.conftest import REPO, make_uscc
from tests.helpers import catalogue_problems, domain_platform, edit_yaml, write_csv

GOVERNED = REPO / "tests" / "fixtures" / "governed"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LICENCE = ["licence_no", "credit_code", "enterprise_name", "legal_person"]
REASON = ("carries values the platform obtains through sharing, refused (art. 13, carried_values: refuse): "
          "企业名称 (enterprise_name): 2 value(s), obtained through sharing from enterprise.name")


class PassAll:
    """No rule fails: what is held back here is held by the platform's own steps (keys, look-ups)."""

    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        return ValidationOutcome(item.code, len(frame), ())


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_database"))


def catalogue_with(tmp_path: Path, **licence: object) -> Path:
    directory = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, directory)
    edit_yaml(directory / "items", "health.yaml", lambda doc: doc["items"][0].update(licence))
    return directory


def platform_on(catalogue_dir: Path, store_url: str, window: Path) -> process.Platform:
    return domain_platform(catalogue_dir, window, store_url, PassAll(), clock=lambda: NOW)


def converge_enterprises(platform: process.Platform) -> None:
    write_csv(platform.intake_dir / "amr" / "enterprise.csv", ["credit_code", "name", "legal_person"],
              [[make_uscc(i), f"企业{i}", f"法人{i}"] for i in range(3)])
    run(platform, "enterprise")


def run(platform: process.Platform, code: str) -> process.IntakeReport:
    item = platform.catalogue.item(code)
    report = process.take_in(platform, item)
    process.validate(platform, item)
    process.converge(platform, item)
    return report


def licence_rows(names: tuple[str, ...] = ("自填名称", "自填名称", "", "", "")) -> list[list[str]]:
    return [[f"L{n}", make_uscc(n), name, "某人"] for n, name in enumerate(names)]


def stage_rows(store: Store, submission_id: str) -> int:
    stage = store.tables.stage
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(stage)
                                .where(stage.c.submission_id == submission_id)).scalar_one())


def test_refuse_sets_the_whole_submission_aside_naming_the_field_and_its_source(tmp_path: Path,
                                                                                store_url: str) -> None:
    platform = platform_on(catalogue_with(tmp_path, carried_values="refuse"), store_url, tmp_path / "intake")
    converge_enterprises(platform)
    write_csv(platform.intake_dir / "health" / "licence.csv", LICENCE, licence_rows())

    report = run(platform, "licence")

    assert (report.accepted, report.refused, report.rows_refused) == ([], [("licence.csv", REASON)], 5)
    [entry] = platform.store.ledger.submissions("licence")
    assert (entry["status"], entry["reason"], entry["received"], entry["held_back"]) == ("rejected", REASON, 5, 5)
    assert (entry["converged"] or 0) == 0
    [flag] = carried_log(platform.store)
    assert (flag["submission_id"], flag["unit"], flag["field"], flag["source"], flag["rows"]) == (
        entry["submission_id"], "health", "enterprise_name", "enterprise.name", 2)
    assert stage_rows(platform.store, entry["submission_id"]) == 0  # nothing of it was staged
    assert platform.store.shared.count_rows(platform.catalogue.item("licence")) == 0
    rejected = platform.intake_dir / "health" / "_rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["licence.csv", "licence.csv.reason.txt"]
    assert f"reason: {REASON}" in (rejected / "licence.csv.reason.txt").read_text(encoding="utf-8")
    platform.store.dispose()


def test_refuse_takes_in_a_submission_that_carries_nothing(tmp_path: Path, store_url: str) -> None:
    platform = platform_on(catalogue_with(tmp_path, carried_values="refuse"), store_url, tmp_path / "intake")
    converge_enterprises(platform)
    write_csv(platform.intake_dir / "health" / "licence.csv", LICENCE, licence_rows(("",) * 5))

    report = run(platform, "licence")

    assert (len(report.accepted), report.refused) == (1, [])
    [entry] = platform.store.ledger.submissions("licence")
    # L3, L4: enterprises the authority does not know (art. 14); the rest get their names looked up
    assert (entry["status"], entry["received"], entry["converged"], entry["held_back"]) == ("converged", 5, 3, 2)
    table = platform.store.shared.read_table(platform.catalogue.item("licence")).sort_values("licence_no")
    assert table["enterprise_name"].tolist() == ["企业0", "企业1", "企业2"]
    assert carried_log(platform.store) == []
    platform.store.dispose()


def test_a_refused_carrying_submission_opens_a_repeated_collection_violation_a_clean_one_rectifies(
        tmp_path: Path, store_url: str) -> None:
    from pipelines.evaluation.records import read_records
    from pipelines.evaluation.violations import detect

    platform = platform_on(catalogue_with(tmp_path, carried_values="refuse"), store_url, tmp_path / "intake")
    converge_enterprises(platform)
    write_csv(platform.intake_dir / "health" / "licence.csv", LICENCE, licence_rows())
    run(platform, "licence")
    platform.clock = lambda: NOW + timedelta(hours=1)  # the unit sends it again an hour later, without names
    write_csv(platform.intake_dir / "health" / "licence__again.csv", LICENCE, licence_rows(("",) * 5))
    run(platform, "licence")

    refused, clean = platform.store.ledger.submissions("licence")
    assert (refused["status"], clean["status"]) == ("rejected", "converged")
    [finding] = [f for f in detect(read_records(platform.store), 7, NOW + timedelta(hours=2)) if f.item == "licence"]
    assert (finding.kind, finding.unit, finding.subject, finding.detail, finding.rectified_by) == (
        "repeated_collection", "health", refused["submission_id"], "carried enterprise_name, obtained through sharing",
        clean["submission_id"])
    platform.store.dispose()


def test_strip_the_default_converges_without_the_carried_values_and_flags_them(tmp_path: Path,
                                                                              store_url: str) -> None:
    directory = catalogue_with(tmp_path)
    assert load_catalogue(directory).item("licence").carried_values == "strip"
    platform = platform_on(directory, store_url, tmp_path / "intake")
    converge_enterprises(platform)
    write_csv(platform.intake_dir / "health" / "licence.csv", LICENCE, licence_rows())

    report = run(platform, "licence")

    assert (len(report.accepted), report.refused) == (1, [])
    [entry] = platform.store.ledger.submissions("licence")
    assert (entry["status"], entry["received"], entry["converged"], entry["held_back"]) == ("converged", 5, 3, 2)
    table = platform.store.shared.read_table(platform.catalogue.item("licence")).sort_values("licence_no")
    assert table["enterprise_name"].tolist() == ["企业0", "企业1", "企业2"]  # the authority's, not 自填名称
    [flag] = carried_log(platform.store)
    assert (flag["submission_id"], flag["field"], flag["rows"]) == (entry["submission_id"], "enterprise_name", 2)
    platform.store.dispose()


def test_refuse_sets_aside_a_database_pull_that_carries_looked_up_values(tmp_path: Path, store_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "health_system.db"
    with sqlite3.connect(source) as conn:
        conn.execute("create table licences (licence_no text, credit_code text, enterprise_name text, "
                     "legal_person text)")
        conn.executemany("insert into licences values (?, ?, ?, ?)", [tuple(r) for r in licence_rows()])
    monkeypatch.setenv("HEALTH_DB_URL", f"sqlite:///{source}")
    collection = {"method": "database", "url_env": "HEALTH_DB_URL", "query": "select * from licences"}
    platform = platform_on(catalogue_with(tmp_path, carried_values="refuse", collection=collection), store_url,
                           tmp_path / "intake")
    converge_enterprises(platform)

    report = run(platform, "licence")

    assert (report.accepted, report.refused, report.rows_refused) == ([], [("db:HEALTH_DB_URL", REASON)], 5)
    [entry] = platform.store.ledger.submissions("licence")
    assert (entry["status"], entry["source"], entry["received"], entry["held_back"]) == (
        "rejected", "db:HEALTH_DB_URL", 5, 5)
    [flag] = carried_log(platform.store)
    assert (flag["submission_id"], flag["field"], flag["rows"]) == (entry["submission_id"], "enterprise_name", 2)
    platform.store.dispose()


def test_refuse_on_an_item_without_a_looked_up_field_is_a_catalogue_problem(tmp_path: Path) -> None:
    directory = tmp_path / "catalogue"
    shutil.copytree(GOVERNED, directory)
    edit_yaml(directory / "items", "health.yaml", lambda doc: doc["items"][1].update(carried_values="refuse"))
    assert catalogue_problems(directory) == [
        "items/health.yaml: item 'epidemic_visit': Value error, carried_values: refuse concerns looked-up fields, "
        "and no field has a lookup"]
