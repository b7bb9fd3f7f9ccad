"""A submission's life survives a kill at any commit boundary, two runs at once, and values the store refuses.

The run is "killed" by making a store method (or file move) raise ``Killed`` right after it did its work: a
BaseException, so nothing in the platform catches it, the way KeyboardInterrupt or a dying worker would. The
re-run must leave the store exactly as a run that was never interrupted: the ledger, the quarantine, the
shared table, the audit rows, the repeated-collection log, the stage data and the files in the window.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import delete, select, update

from pipelines import intake, process
from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import Item
from pipelines.quality.checks import reconciliation_check
from pipelines.quality.outcome import RuleResult, ValidationOutcome
from pipelines.quality.rules import rules_for
from pipelines.store import Store
from pipelines.store.ledger import Ledger
from pipelines.store.quarantine import Quarantine
from pipelines.store.shared import SharedTables
from pipelines.store.stage import StageStore
from tests.conftest import make_uscc
from tests.helpers import domain_platform, edit_yaml, write_csv

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HEADER = ["credit_code", "name", "region", "capital", "status", "updated_at"]


class Killed(BaseException):
    """The run dies here: not an Exception, so no handler in the platform sees it."""


class RequiredName:
    """The item's real ``required:name`` rule, evaluated in plain pandas: fast, and it holds rows back."""

    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
        rule = next(r for r in rules_for(item) if r.id == "required:name")
        failing = tuple(i for i, v in enumerate(frame["name"]) if v is None or v == "")
        result = RuleResult(rule, not failing, len(frame), len(failing), failing)
        return ValidationOutcome(item.code, len(frame), (result,))


def rows(start: int, n: int, name: str = "企业", capital: str = "1000") -> list[list[str]]:
    return [[make_uscc(i), f"{name}{i}", "450103", capital, "存续", "2026-11-01"] for i in range(start, start + n)]


def first_round(window: Path) -> None:
    """10 rows, 2 of them without a name (held back); and a file with an uncatalogued column (refused)."""
    batch = rows(0, 10)
    batch[3][1] = batch[7][1] = ""
    write_csv(window / "amr" / "enterprise.csv", HEADER, batch)
    write_csv(window / "amr" / "enterprise__extra.csv", [*HEADER, "remark"], [[*r, "x"] for r in rows(50, 3)])


def second_round(window: Path) -> None:
    """The two held rows corrected (released), two converged ones changed (updated), two new ones; and a file
    with a capital the store's numeric column refuses although the stub validation passes it (ends failed)."""
    fixed = [r for r in rows(0, 10, name="改") if r[0] in {make_uscc(i) for i in (0, 1, 3, 7)}] + rows(10, 2)
    write_csv(window / "amr" / "enterprise__fix.csv", HEADER, fixed)
    write_csv(window / "amr" / "enterprise__bad.csv", HEADER, rows(20, 3, capital="lots"))


ROUNDS = (first_round, second_round)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_database"))


def make_platform(catalogue_dir: Path, window: Path, store_url: str) -> process.Platform:
    return domain_platform(catalogue_dir, window, store_url, RequiredName(), clock=lambda: NOW)


def run_once(platform: process.Platform) -> None:
    """One unit run of the enterprise item: intake, validation, convergence (failed submissions are reported
    by SubmissionsFailed after the others went on; the unit run reports them as a failed check)."""
    item = platform.catalogue.item("enterprise")
    process.refuse_uncatalogued(platform, item.unit)
    process.take_in(platform, item)
    for stage in (process.validate, process.converge):
        with contextlib.suppress(process.SubmissionsFailed):
            stage(platform, item)


def state(platform: process.Platform) -> dict[str, Any]:
    """Everything a submission's life writes, without the autoincrement ids (a rolled-back insert on
    PostgreSQL consumes sequence values)."""
    store = platform.store
    item = platform.catalogue.item("enterprise")

    def table(t: Any, order: list[str]) -> list[tuple[Any, ...]]:
        columns = [c for c in t.columns if c.name != "id"]
        with store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*columns).order_by(*[t.c[o] for o in order]))]

    shared = store.tables.shared(item)
    return {
        "ledger": table(store.tables.ledger, ["submission_id"]),
        "quarantine": table(store.tables.quarantine, ["submission_id", "row_no"]),
        "shared": table(shared, ["credit_code"]),
        "audit": table(store.tables.audit_log, ["detail"]),
        "repeated": table(store.tables.repeated_collection, ["submission_id", "field"]),
        "stage": table(store.tables.stage, ["submission_id", "kind", "chunk_no"]),
        "files": sorted(str(p.relative_to(platform.intake_dir)) for p in platform.intake_dir.rglob("*")
                        if p.is_file()),
    }


def uninterrupted(catalogue_dir: Path, window: Path, store_url: str) -> dict[str, Any]:
    platform = make_platform(catalogue_dir, window, store_url)
    try:
        for put in ROUNDS:
            put(window)
            run_once(platform)
        return state(platform)
    finally:
        platform.store.dispose()


# (what to patch, attribute, which call dies): each is the last thing done before the kill
KILL_POINTS: dict[str, tuple[Any, str, int]] = {
    "stage (intake rows written, not committed)": (StageStore, "write", 1),
    "ledger (claimed and staged, file not archived)": (process, "_commit_intake", 1),
    "ledger of the second round": (process, "_commit_intake", 2),
    "archive (file archived)": (intake, "archive", 1),
    "refusal recorded, file not moved": (Ledger, "reject", 1),
    "move (file moved aside)": (intake, "move_aside", 1),
    "quarantine (held rows inserted, not committed)": (Quarantine, "hold", 1),
    "validation committed": (process, "_commit_validation", 1),
    "merge (rows merged, not committed)": (SharedTables, "_merge_rows", 1),
    "audit (audit row inserted, not committed)": (SharedTables, "_audit_convergence", 1),
    "release (quarantine rows released, not committed)": (process, "release_corrected", 1),
    "convergence committed": (process, "_commit_convergence", 1),
    "second convergence committed": (process, "_commit_convergence", 2),
    "failure recorded": (Ledger, "fail", 1),
}


def killing(real: Callable[..., Any], nth: int, fired: list[bool]) -> Callable[..., Any]:
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == nth and not fired:
            fired.append(True)
            raise Killed(f"killed after call {nth} of {real.__name__}")
        return result

    return wrapper


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_kill_at_any_commit_boundary_is_resumed_exactly(point: str, store_url: str, tmp_path: Path,
                                                           mini_catalogue_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    expected = uninterrupted(mini_catalogue_dir, tmp_path / "a" / "intake", store_url)
    wipe(store_url)

    owner, name, nth = KILL_POINTS[point]
    if name == "_merge_rows":  # the dialect's own merge, inside the convergence's transaction
        name = "_merge_text" if store_url.startswith("postgresql") else "_sqlite_merge"
    fired: list[bool] = []
    monkeypatch.setattr(owner, name, killing(getattr(owner, name), nth, fired))
    window = tmp_path / "b" / "intake"
    platform = make_platform(mini_catalogue_dir, window, store_url)
    try:
        for put in ROUNDS:
            put(window)
            try:
                run_once(platform)
            except Killed:
                platform.store.dispose()  # the process is gone, and its connections with it
                run_once(platform)  # the next run
        assert fired == [True], f"{point}: the kill point was never reached"
        got = state(platform)
    finally:
        platform.store.dispose()
    assert list(got) == list(expected)
    for part in expected:
        assert got[part] == expected[part], f"{point}: {part} differs from the uninterrupted run"


def wipe(store_url: str) -> None:
    """An empty store at the same URL for the second run (the schemas dropped, or the SQLite file removed)."""
    import sqlalchemy as sa

    if not store_url.startswith("postgresql"):
        Path(sa.engine.make_url(store_url).database or "").unlink()
        return
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        for schema in ("platform", "shared_province", "shared_city"):
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def test_the_uninterrupted_run_ends_every_submission_where_it_should(store_url: str, tmp_path: Path,
                                                                       mini_catalogue_dir: Path) -> None:
    """The oracle the fault test compares with, pinned: exact statuses and counts."""
    window = tmp_path / "intake"
    platform = make_platform(mini_catalogue_dir, window, store_url)
    try:
        for put in ROUNDS:
            put(window)
            run_once(platform)
        ledger = {e["source"]: e for e in platform.store.ledger.submissions("enterprise")}
        summary = {source: (e["status"], e["received"], e["held_back"], e["converged"], e["inserted"], e["updated"])
                   for source, e in ledger.items()}
        assert summary == {
            "enterprise.csv": ("converged", 10, 2, 8, 8, 0),
            "enterprise__extra.csv": ("rejected", 3, 3, 0, None, None),
            "enterprise__fix.csv": ("converged", 6, 0, 6, 4, 2),
            "enterprise__bad.csv": ("failed", 3, 0, 0, None, None),
        }
        assert ledger["enterprise__bad.csv"]["reason"].startswith(
            "InvalidValue" if store_url.startswith("sqlite") else "InvalidTextRepresentation")
        item = platform.catalogue.item("enterprise")
        assert platform.store.shared.count_rows(item) == 12
        released = [(h["row_no"], h["released_by"]) for h in platform.store.quarantine.held_rows("enterprise")]
        assert released == [(4, ledger["enterprise__fix.csv"]["submission_id"]),
                            (8, ledger["enterprise__fix.csv"]["submission_id"])]
        with platform.store.engine.connect() as conn:
            audits = conn.execute(select(platform.store.tables.audit_log.c.detail)).scalars().all()
        assert len(audits) == 2  # one per convergence, none for the failed one
    finally:
        platform.store.dispose()


# --- reconciliation against the table (art. 17) ------------------------------------------------
def finished_store(store_url: str, tmp_path: Path, catalogue_dir: Path) -> process.Platform:
    platform = make_platform(catalogue_dir, tmp_path / "intake", store_url)
    for put in ROUNDS:
        put(platform.intake_dir)
        run_once(platform)
    return platform


def reconcile(platform: process.Platform) -> dict[str, tuple[bool, tuple[str, ...]]]:
    item = platform.catalogue.item("enterprise")
    outcome = reconciliation_check(item, platform.store.ledger.submissions("enterprise"),
                                   platform.store.shared.rows_by_submission(item), NOW)
    return {line.rule: (line.success, line.sample) for line in outcome.lines}


def test_reconciliation_holds_the_ledger_to_the_table(store_url: str, tmp_path: Path,
                                                      mini_catalogue_dir: Path) -> None:
    platform = finished_store(store_url, tmp_path, mini_catalogue_dir)
    store, ledger = platform.store, platform.store.tables.ledger
    try:
        by_source = {e["source"]: e["submission_id"] for e in store.ledger.submissions("enterprise")}
        fix, bad = by_source["enterprise__fix.csv"], by_source["enterprise__bad.csv"]
        reason = store.ledger.submissions("enterprise", status="failed")[0]["reason"]
        assert reconcile(platform) == {
            "received_equals_converged_plus_held_back": (True, ()),
            "no_failed_submission": (False, (f"{bad}: {reason}",)),
            "no_stuck_submission": (True, ()),
            "converged_as_written": (True, ()),
            "table_rows_by_submission": (True, ()),
            "table_holds_every_insert": (True, ()),
        }
        # a hand-broken ledger: one converged row moved to held back, so received = converged + held back
        # still holds, but the database wrote 6 and the table holds 6 rows of it
        with store.engine.begin() as conn:
            conn.execute(update(ledger).where(ledger.c.submission_id == fix).values(converged=5, held_back=1))
        broken = reconcile(platform)
        assert broken["received_equals_converged_plus_held_back"] == (True, ())
        assert broken["converged_as_written"] == (False, (f"{fix}: 5 != 4 + 2",))
        assert broken["table_rows_by_submission"] == (False, (f"{fix}: 6 table row(s) > 5 converged",
                                                              f"{fix} (newest): 6 table row(s) != 5 converged"))
        with store.engine.begin() as conn:
            conn.execute(update(ledger).where(ledger.c.submission_id == fix).values(converged=6, held_back=0))
        # a row deleted from the table behind the platform's back
        table = store.tables.shared(platform.catalogue.item("enterprise"))
        with store.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.credit_code == make_uscc(5)))
        deleted = reconcile(platform)
        assert deleted["table_holds_every_insert"] == (False, ("the table holds 11 row(s), the merges inserted 12",))
        assert deleted["table_rows_by_submission"] == (True, ())
        # a lost update: a row of the newest submission overwritten by something that is not a submission
        with store.engine.begin() as conn:
            conn.execute(update(table).where(table.c.credit_code == make_uscc(10)).values(_submission_id="manual"))
        lost = reconcile(platform)
        assert lost["table_rows_by_submission"] == (False, ("manual: 1 table row(s), converged by no submission",
                                                            f"{fix} (newest): 5 table row(s) != 6 converged"))
    finally:
        store.dispose()


def test_a_submission_left_in_progress_by_an_earlier_run_is_stuck(store_url: str, tmp_path: Path,
                                                                  mini_catalogue_dir: Path) -> None:
    platform = make_platform(mini_catalogue_dir, tmp_path / "intake", store_url)
    try:
        first_round(platform.intake_dir)
        item = platform.catalogue.item("enterprise")
        process.take_in(platform, item)  # taken in, never validated
        [sid] = [e["submission_id"] for e in platform.store.ledger.submissions("enterprise", status="received")]
        later = reconciliation_check(item, platform.store.ledger.submissions("enterprise"), None,
                                     datetime(2026, 11, 21, tzinfo=UTC))
        stuck = {line.rule: (line.success, line.sample) for line in later.lines}["no_stuck_submission"]
        assert stuck == (False, (f"{sid}: still received since {NOW.isoformat()}",))
        assert not later.passed
    finally:
        platform.store.dispose()


# --- the SQLite upsert ---------------------------------------------------------------------------
def test_the_sqlite_upsert_updates_by_key_and_writes_its_audit_row(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}", load_catalogue(mini_catalogue_dir))
    store.ensure_tables()
    item = store.catalogue.item("enterprise")
    try:
        assert store.shared.upsert(item, pd.DataFrame(rows(0, 3), columns=HEADER), "amr", "s1", NOW) == 3
        assert store.shared.upsert(item, pd.DataFrame(rows(1, 3, name="新"), columns=HEADER), "amr", "s2", NOW) == 3
        table = store.shared.read_table(item).sort_values("credit_code")
        got = dict(zip(table["credit_code"], zip(table["name"], table["_submission_id"], strict=True), strict=True))
        assert got == {make_uscc(0): ("企业0", "s1"), make_uscc(1): ("新1", "s2"), make_uscc(2): ("新2", "s2"),
                       make_uscc(3): ("新3", "s2")}
        with store.engine.connect() as conn:
            log = store.tables.audit_log
            audit = conn.execute(select(log.c.action, log.c.unit, log.c.item, log.c.detail).order_by(log.c.id)).all()
        assert [tuple(a) for a in audit] == [
            ("converge", "amr", "enterprise", '{"submission_id": "s1", "rows": 3}'),
            ("converge", "amr", "enterprise", '{"submission_id": "s2", "rows": 3}')]
        assert store.shared.rows_by_submission(item) == {"s1": 1, "s2": 3}
    finally:
        store.dispose()


# --- two runs at once ----------------------------------------------------------------------------
def test_two_runs_at_once_on_one_intake_converge_each_submission_once(store_url: str, tmp_path: Path,
                                                                      mini_catalogue_dir: Path) -> None:
    window = tmp_path / "intake"
    for n in range(6):
        write_csv(window / "amr" / f"enterprise__{n}.csv", HEADER, rows(10 * n, 5))
    write_csv(window / "amr" / "enterprise__extra.csv", [*HEADER, "remark"], [[*r, "x"] for r in rows(90, 2)])
    platforms = [make_platform(mini_catalogue_dir, window, store_url) for _ in range(2)]
    start, errors = threading.Barrier(2), []

    def run(platform: process.Platform) -> None:
        try:
            start.wait()
            run_once(platform)
        except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = platforms[0].store
    try:
        assert errors == []
        ledger = store.ledger.submissions("enterprise")
        assert sorted((e["source"], e["status"], e["converged"]) for e in ledger) == [
            *[(f"enterprise__{n}.csv", "converged", 5) for n in range(6)], ("enterprise__extra.csv", "rejected", 0)]
        with store.engine.connect() as conn:
            audits = sorted(conn.execute(select(store.tables.audit_log.c.detail)).scalars())
        assert audits == sorted(f'{{"submission_id": "{e["submission_id"]}", "rows": 5}}' for e in ledger
                                if e["status"] == "converged")
        assert store.shared.count_rows(platforms[0].catalogue.item("enterprise")) == 30
        assert sorted(str(p.relative_to(window)) for p in window.rglob("*") if p.is_file()) == sorted(
            [f"amr/_archive/enterprise__{n}.csv" for n in range(6)]
            + ["amr/_rejected/enterprise__extra.csv", "amr/_rejected/enterprise__extra.csv.reason.txt"])
    finally:
        for platform in platforms:
            platform.store.dispose()


# --- duplicates only of accepted submissions -----------------------------------------------------
def test_a_refused_file_acceptable_later_is_taken_in_not_archived_as_a_duplicate(
        store_url: str, tmp_path: Path, mini_catalogue_dir: Path) -> None:
    window = tmp_path / "intake"
    content = [[*r, "备注"] for r in rows(0, 3)]
    write_csv(window / "amr" / "enterprise.csv", [*HEADER, "remark"], content)
    platform = make_platform(mini_catalogue_dir, window, store_url)
    try:
        run_once(platform)
    finally:
        platform.store.dispose()

    def add_remark(document: Any) -> None:
        document["items"][0]["fields"].append({"name": "remark", "label": "备注"})

    edit_yaml(mini_catalogue_dir, "items/amr.yaml", add_remark)
    write_csv(window / "amr" / "enterprise.csv", [*HEADER, "remark"], content)  # the same bytes again
    platform = make_platform(mini_catalogue_dir, window, store_url)
    try:
        run_once(platform)
        ledger = [(e["submission_id"], e["status"], e["converged"])
                  for e in platform.store.ledger.submissions("enterprise")]
        [digest] = {e["digest"] for e in platform.store.ledger.submissions("enterprise")}  # the same bytes
        accepted = intake.submission_id("enterprise", "enterprise.csv", digest)
        # the refusal's id names the folder it was refused in (process.refusal_id); the file taken in later
        # is a submission of its own
        assert ledger == [(f"amr/{accepted}", "rejected", 0), (accepted, "converged", 3)]
    finally:
        platform.store.dispose()


def test_a_pull_back_to_an_earlier_state_converges_again(store_url: str, tmp_path: Path, mini_catalogue_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def pulled(document: Any) -> None:
        document["items"][0]["collection"] = {"method": "database", "url_env": "AMR_DB_URL",
                                              "query": "select * from enterprise"}

    edit_yaml(mini_catalogue_dir, "items/amr.yaml", pulled)
    a = pd.DataFrame(rows(0, 3), columns=HEADER)
    b = pd.DataFrame(rows(0, 3, name="改"), columns=HEADER)
    states = iter([a, b, a, a])
    monkeypatch.setattr(intake, "read_database", lambda item: next(states))
    times = iter(datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3, 4))
    platform = make_platform(mini_catalogue_dir, tmp_path / "intake", store_url)
    try:
        for _ in range(4):
            now = next(times)
            platform.clock = lambda now=now: now  # type: ignore[misc]
            run_once(platform)
        ledger = [(e["received_at"].day, e["status"]) for e in platform.store.ledger.submissions("enterprise")]
        assert ledger == [(1, "converged"), (2, "converged"), (3, "converged")]  # the 4th equals the 3rd
        names = sorted(platform.store.shared.read_table(platform.catalogue.item("enterprise"))["name"])
        assert names == ["企业0", "企业1", "企业2"]
    finally:
        platform.store.dispose()


# --- transient errors are retried, not failed --------------------------------------------------------
def test_a_lost_connection_is_raised_for_the_retry_and_the_submission_stays_as_it_was(
        store_url: str, tmp_path: Path, mini_catalogue_dir: Path) -> None:
    from sqlalchemy.exc import OperationalError

    class LostConnection:
        def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"),
                                   connection_invalidated=True)

    platform = make_platform(mini_catalogue_dir, tmp_path / "intake", store_url)
    try:
        first_round(platform.intake_dir)
        item = platform.catalogue.item("enterprise")
        process.take_in(platform, item)
        platform.validator = LostConnection()
        with pytest.raises(OperationalError):
            process.validate(platform, item)
        assert {e["source"]: e["status"] for e in platform.store.ledger.submissions("enterprise")} == {
            "enterprise.csv": "received", "enterprise__extra.csv": "rejected"}
        assert platform.store.is_transient(ValueError("a bad value")) is False
    finally:
        platform.store.dispose()


def test_unit_steps_retry_lost_connections_only(mini_catalogue_dir: Path) -> None:
    import dagster as dg

    from assets.units import unit_asset

    catalogue = load_catalogue(mini_catalogue_dir)
    asset = unit_asset(catalogue, catalogue.unit("amr"), "sqlite")
    assert asset.op.retry_policy == dg.RetryPolicy(max_retries=2, delay=5)
