"""The three stages every catalogued item goes through: intake, validation, convergence.

Plain Python over the store (its ledger, quarantine, stage data and shared tables), so the CLI, the
tests, the Dagster assets and Celery workers on other machines run the same code. Each submission moves
through the ledger: received -> validated -> converged (or rejected at intake). Rows received = rows
converged + rows held back, for every submission.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from pipelines import intake, sharing
from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item
from pipelines.clock import Clock, province_day
from pipelines.quality.context import StoreAuthority, contextual_results, is_correction, previous_rows
from pipelines.quality.corrections import has_open_rows, release_corrected
from pipelines.quality.outcome import ValidationOutcome
from pipelines.store import HeldRow, SharedStore
from pipelines.store.stage import INTAKE, VALID, StageStore

log = logging.getLogger(__name__)


class Validator(Protocol):
    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome: ...


@dataclass
class Platform:
    catalogue: Catalogue
    intake_dir: Path
    data_dir: Path
    store: SharedStore
    validator: Validator
    clock: Callable[[], datetime] = field(default_factory=Clock)  # UTC moments; days: province_day(clock())

    @property
    def stage(self) -> StageStore:
        """Submissions' intake and validated rows, kept in the shared store: any worker reaches them."""
        return self.store.stage


@dataclass
class IntakeReport:
    item: str
    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    duplicates: list[str] = field(default_factory=list)
    rows_received: int = 0
    rows_refused: int = 0


@dataclass
class ValidationReport:
    item: str
    outcomes: list[tuple[str, ValidationOutcome]] = field(default_factory=list)
    rows_valid: int = 0
    rows_held_back: int = 0
    rows_stale: int = 0
    blocked: list[str] = field(default_factory=list)
    rows_unverified: int = 0  # held back: key not found in the authoritative source (art. 14)
    repeated: list[tuple[str, sharing.CarriedLookup]] = field(default_factory=list)  # (submission, carried)


@dataclass
class ConvergenceReport:
    item: str
    submissions: list[str] = field(default_factory=list)
    rows_converged: int = 0
    table_rows: int = 0


# --- intake ------------------------------------------------------------------------------------
def refuse_uncatalogued(platform: Platform, unit: str) -> list[intake.Refusal]:
    """Files in a unit's folder that name no item of that unit are set aside (art. 12)."""
    _, refused = intake.discover(platform.intake_dir, platform.catalogue, province_day(platform.clock()), unit=unit)
    mine = [r for r in refused if r.unit == unit and (r.item is None or r.item not in _items_of(platform, unit))]
    if unit == intake.window_steward(platform.catalogue):  # strays no unit owns, recorded exactly once
        owners = {u.code for u in platform.catalogue.units if platform.catalogue.items_of(u.code)}
        mine += [r for r in refused if r.unit not in owners]
    for refusal in mine:
        _refuse(platform, refusal.item or intake.item_code_of(refusal.path), refusal.unit, refusal.path,
                refusal.reason)
    return mine


def _items_of(platform: Platform, unit: str) -> set[str]:
    return {i.code for i in platform.catalogue.items_of(unit)}


def take_in(platform: Platform, item: Item) -> IntakeReport:
    report = IntakeReport(item.code)
    if isinstance(item.collection, DatabaseCollection):
        _pull(platform, item, report)
        return report
    accepted, refused = intake.discover(platform.intake_dir, platform.catalogue, province_day(platform.clock()),
                                        unit=item.unit, item=item.code)
    for refusal in (r for r in refused if r.item == item.code and r.unit == item.unit):
        report.rows_refused += _refuse(platform, item.code, refusal.unit, refusal.path, refusal.reason)
        report.refused.append((refusal.path.name, refusal.reason))
    for submission in (s for s in accepted if s.item == item.code):
        _take_file(platform, item, submission, report)
    return report


def _take_file(platform: Platform, item: Item, submission: intake.Submission, report: IntakeReport) -> None:
    known = platform.store.known_digest(item.code, submission.digest)
    if known:
        log.info("%s: identical to %s, already taken in; archived", submission.path.name, known)
        intake.archive(submission.path)
        report.duplicates.append(submission.path.name)
        return
    try:
        frame = intake.read_submission(submission.path, item)
    except intake.SubmissionError as exc:
        report.rows_refused += _refuse(platform, item.code, submission.unit, submission.path, str(exc))
        report.refused.append((submission.path.name, str(exc)))
        return
    _stage(platform, item, submission.id, intake.source_of(submission.path, frame), submission.digest, frame)
    intake.archive(submission.path)
    report.accepted.append(submission.id)
    report.rows_received += len(frame)


def _pull(platform: Platform, item: Item, report: IntakeReport) -> None:
    assert isinstance(item.collection, DatabaseCollection)
    frame = intake.read_database(item)
    digest = intake.frame_digest(frame)
    if platform.store.known_digest(item.code, digest):
        report.duplicates.append(f"db:{item.collection.url_env}")
        return
    submission_id = f"{item.code}/pull-{platform.clock():%Y%m%dT%H%M%S}/{digest[:12]}"
    _stage(platform, item, submission_id, f"db:{item.collection.url_env}", digest, frame)
    report.accepted.append(submission_id)
    report.rows_received += len(frame)


def _stage(platform: Platform, item: Item, submission_id: str, source: str, digest: str,
           frame: pd.DataFrame) -> None:
    platform.stage.write(submission_id, INTAKE, frame)
    platform.store.record_submission(
        submission_id=submission_id, item=item.code, unit=item.unit, source=source, digest=digest,
        status="received", received=len(frame), received_at=platform.clock(),
    )


def _refuse(platform: Platform, item_code: str, unit: str, path: Path, reason: str) -> int:
    """Set the whole file aside; its rows count as received and held back, with the reason."""
    rows = intake.count_rows(path)
    digest = intake.file_digest(path)
    now = platform.clock()
    intake.move_aside(path, reason, now)
    platform.store.record_submission(
        submission_id=intake.submission_id(item_code, path.name, digest),
        item=intake.bounded(item_code, intake.CODE_LENGTH), unit=unit, source=path.name, digest=digest,
        status="rejected", reason=reason, received=rows, held_back=rows, received_at=now,
    )
    log.warning("set aside %s/%s: %s", unit, path.name, reason)
    return rows


# --- validation --------------------------------------------------------------------------------
def read_stage(stage: StageStore, submission_id: str, kind: str, item: Item) -> pd.DataFrame:
    return stage.read(submission_id, kind, item)


def read_stage_keys(stage: StageStore, submission_id: str, item: Item) -> pd.DataFrame:
    """Only the primary-key columns of the validated rows, cleaned the way the rows were when they were held back."""
    return stage.read(submission_id, VALID, item, columns=item.primary_key)


def validate(platform: Platform, item: Item) -> ValidationReport:
    report = ValidationReport(item.code)
    as_of = province_day(platform.clock())  # record freshness is judged on the province's day
    authority = StoreAuthority(platform.store)
    for entry in platform.store.submissions(item.code, status="received"):
        sid = entry["submission_id"]
        submitted = read_stage(platform.stage, sid, INTAKE, item)
        frame, carried = sharing.strip_lookups(item, submitted)  # art. 13: obtained by sharing, not collected
        sharing.record_carried(platform.store, item, sid, carried, platform.clock())
        outcome = platform.validator.validate(item, frame, as_of).extended(contextual_results(
            item, frame, authority, previous_rows(platform.store.submissions(item.code), sid),
            correction=is_correction(entry["source"])))
        unverified = sharing.unknown_keys(authority, item, frame)  # art. 14: online verification
        held = _held_rows(item, submitted, outcome, unverified)
        valid = sharing.fill_lookups(authority, item, frame.drop(index=[h.row_no - 1 for h in held]))
        platform.stage.write(sid, VALID, valid)
        platform.store.hold_back(item, entry["unit"], sid, held, platform.clock())
        stale = len(outcome.warned_rows() - {h.row_no - 1 for h in held})
        platform.store.update_submission(sid, status="validated", valid=len(valid), held_back=len(held),
                                         stale=stale, validated_at=platform.clock())
        report.outcomes.append((sid, outcome))
        report.rows_valid += len(valid)
        report.rows_held_back += len(held)
        report.rows_stale += stale
        report.rows_unverified += sum(1 for h in held if h.row_no - 1 in unverified)
        report.repeated += [(sid, c) for c in carried]
        if outcome.blocking_failures:
            report.blocked.append(sid)
    return report


def _held_rows(item: Item, frame: pd.DataFrame, outcome: ValidationOutcome,
               unverified: dict[int, list[str]] | None = None) -> list[HeldRow]:
    blocking = outcome.blocking_failures
    if blocking:
        reason = ["blocked: " + "; ".join(f"{r.rule.id}: {r.rule.description}" for r in blocking)]
        reasons = {row: reason for row in range(len(frame))}
    else:
        reasons = outcome.row_reasons()
        for row, why in (unverified or {}).items():
            reasons[row] = [*reasons.get(row, []), *why]
    return [
        HeldRow(row_no=row + 1, key={k: frame.at[row, k] for k in item.primary_key},
                reasons=why, record=frame.iloc[row].to_dict())
        for row, why in sorted(reasons.items())
    ]


# --- convergence -------------------------------------------------------------------------------
def converge(platform: Platform, item: Item) -> ConvergenceReport:
    report = ConvergenceReport(item.code)
    platform.store.ensure_tables([item])
    for entry in platform.store.submissions(item.code, status="validated"):
        sid = entry["submission_id"]
        written = platform.store.upsert_stage(item, platform.stage.open_text(sid, VALID), entry["unit"], sid,
                                              platform.clock())
        if has_open_rows(platform.store, item.code):  # usually none: then the stage data is not read again
            release_corrected(platform.store, item, sid, read_stage_keys(platform.stage, sid, item), platform.clock())
        platform.store.update_submission(sid, status="converged", converged=written,
                                         converged_at=platform.clock())
        report.submissions.append(sid)
        report.rows_converged += written
    report.table_rows = platform.store.count_rows(item)
    return report


def has_pending(platform: Platform, item: Item) -> bool:
    if isinstance(item.collection, DatabaseCollection):
        return True
    return any(intake.item_code_of(p) == item.code for p in intake.pending_files(platform.intake_dir, item.unit))
