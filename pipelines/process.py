"""The three stages every catalogued item goes through: intake, validation, convergence.

Plain Python over the store (its ledger, quarantine, stage data and shared tables), so the CLI, the
tests, the Dagster assets and Celery workers on other machines run the same code. Each submission moves
through the ledger: received -> validated -> converged (or rejected at intake, or failed with its reason when its
validation or convergence raised). Each step is one transaction with everything it changes, and its ledger
update is the claim (a second run at once finds it taken), so a run killed anywhere is resumed by the next one
without a duplicate. Rows received = rows converged + rows held back, for every submission.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from pipelines import intake, progress, sharing
from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item, Work
from pipelines.clock import Clock, province_day
from pipelines.entrustment import Operator, require_entrusted
from pipelines.quality.context import StoreAuthority, contextual_results, is_correction, previous_rows
from pipelines.quality.corrections import has_open_rows, release_corrected
from pipelines.quality.masking import redacted
from pipelines.quality.outcome import ValidationOutcome, merge_results
from pipelines.store import HeldRow, Store
from pipelines.store.postgres import Written
from pipelines.store.stage import INTAKE, VALID, Packed, StageStore

log = logging.getLogger(__name__)
FAILURE_REASON_LENGTH = 500


class Validator(Protocol):
    def validate(self, item: Item, frame: pd.DataFrame, as_of: date) -> ValidationOutcome: ...


@dataclass
class Platform:
    catalogue: Catalogue
    intake_dir: Path
    data_dir: Path
    store: Store
    validator: Validator
    clock: Callable[[], datetime] = field(default_factory=Clock)  # UTC moments; days: province_day(clock())
    # item code -> the store holding its shared table, when authorities live on another platform (federation)
    authority: Callable[[str], Any] | None = None

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


def take_in(platform: Platform, item: Item, operator: Operator | None = None) -> IntakeReport:
    require_entrusted(operator, Work.COLLECTION)  # art. 7: NotEntrusted, before any file is touched
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
    try:
        _take_present_file(platform, item, submission, report)
    except FileNotFoundError:  # another run on the same intake moved it first: that run records it
        log.info("%s: taken by another run meanwhile; left to it", submission.path.name)


def _take_present_file(platform: Platform, item: Item, submission: intake.Submission,
                       report: IntakeReport) -> None:
    known = platform.store.ledger.known_digest(item.code, submission.digest)
    if known:  # also a re-run after a kill between the ledger row's commit and the archiving
        log.info("%s: identical to %s, already taken in; archived", submission.path.name, known)
        intake.archive(submission.path)
        report.duplicates.append(submission.path.name)
        return
    try:
        frame = intake.read_submission_chunks(submission.path, item, platform.stage.chunk_rows)
        sharing.refuse_carried(item, frame)  # art. 13, an item with carried_values: refuse
    except intake.SubmissionError as exc:
        report.rows_refused += _refuse(platform, item.code, submission.unit, submission.path, str(exc),
                                       exc if isinstance(exc, sharing.CarriedRefused) else None)
        report.refused.append((submission.path.name, str(exc)))
        return
    submission_id = platform.store.ledger.attempt_id(submission.id)
    if not _stage(platform, item, submission_id, intake.source_of(submission.path, frame), submission.digest,
                  frame):
        return
    intake.archive(submission.path)  # after its ledger row: a kill in between leaves a duplicate to archive
    report.accepted.append(submission_id)
    report.rows_received += len(frame)


def _pull(platform: Platform, item: Item, report: IntakeReport) -> None:
    assert isinstance(item.collection, DatabaseCollection)
    frame = intake.read_database(item)
    digest = intake.frame_digest(frame)
    if platform.store.ledger.latest_digest(item.code) == digest:  # unchanged since the last pull
        report.duplicates.append(f"db:{item.collection.url_env}")
        return
    submission_id = f"{item.code}/pull-{platform.clock():%Y%m%dT%H%M%S}/{digest[:12]}"
    try:
        sharing.refuse_carried(item, frame)  # art. 13, an item with carried_values: refuse
    except sharing.CarriedRefused as exc:
        _record_refusal(platform, exc, submission_id=submission_id, item=item.code, unit=item.unit,
                        source=f"db:{item.collection.url_env}", digest=digest, reason=str(exc), received=len(frame),
                        held_back=len(frame), received_at=platform.clock())
        report.rows_refused += len(frame)
        report.refused.append((f"db:{item.collection.url_env}", str(exc)))
        return
    if _stage(platform, item, submission_id, f"db:{item.collection.url_env}", digest, frame):
        report.accepted.append(submission_id)
        report.rows_received += len(frame)


def _stage(platform: Platform, item: Item, submission_id: str, source: str, digest: str,
           frame: pd.DataFrame | intake.Chunks) -> bool:
    """The ledger row (the claim), the intake stage data and its repeated-collection flags, in one transaction;
    False: another run has it. Values the platform obtains through sharing are discarded from each chunk before
    the stage data is written (art. 13): only how many each field carried is kept, as the flags."""
    now = platform.clock()
    stripper = sharing.LookupStripper(item)
    if isinstance(frame, intake.Chunks) and frame.count > 1:
        frames: Iterable[pd.DataFrame] = stripper.strip(
            progress.reported(frame, f"{submission_id}: intake", len(frame), len))
    else:  # one chunk: made now, a list, so that it is staged without a helper thread (StageStore.write)
        frames = list(stripper.strip(frame if isinstance(frame, intake.Chunks) else [frame]))
    taken = _commit_intake(platform, frames,
                           lambda: sharing.carried_rows(item, submission_id, stripper.carried, now),
                           submission_id=submission_id, item=item.code, unit=item.unit, source=source, digest=digest,
                           status="received", received=len(frame), received_at=now)
    if not taken:
        log.info("%s: another run took it in; left to it", submission_id)
    return taken


def _commit_intake(platform: Platform, frames: Iterable[pd.DataFrame], carried: Callable[[], list[dict[str, Any]]],
                   **entry: Any) -> bool:
    """``carried``: the flags, asked for once every chunk has been staged (they are counted as it goes)."""
    with platform.store.unit_of_work() as uow:
        if not uow.ledger.claim(**entry):
            return False
        uow.write_stage(entry["submission_id"], INTAKE, frames)
        uow.records.flag_carried(carried())
    return True


def _refuse(platform: Platform, item_code: str, unit: str, path: Path, reason: str,
            carried: sharing.CarriedRefused | None = None) -> int:
    """Set the whole file aside; its rows count as received and held back, with the reason (and, refused for
    carried look-up values, its repeated-collection flags).

    The ledger row first, then the move: a run killed in between leaves the row and the file, and the re-run
    finds the row (its key) already there and only finishes the move."""
    try:
        rows = intake.count_rows(path)
        digest = intake.file_digest(path)
    except FileNotFoundError:
        log.info("%s: set aside by another run meanwhile", path.name)
        return 0
    now = platform.clock()
    recorded = _record_refusal(
        platform, carried, submission_id=refusal_id(unit, item_code, path.name, digest),
        item=intake.bounded(item_code, intake.CODE_LENGTH), unit=unit, source=path.name, digest=digest,
        reason=reason, received=rows, held_back=rows, received_at=now,
    )
    if not recorded:
        log.info("%s/%s: refusal already recorded; finishing the move", unit, path.name)
    try:
        intake.move_aside(path, reason, now)
    except FileNotFoundError:
        log.info("%s: set aside by another run meanwhile", path.name)
        return 0
    log.warning("set aside %s/%s: %s", unit, path.name, reason)
    return rows


def _record_refusal(platform: Platform, carried: sharing.CarriedRefused | None, **entry: Any) -> bool:
    """The refusal's ledger row and its repeated-collection flags in one transaction; False: recorded already."""
    with platform.store.unit_of_work() as uow:
        if not uow.ledger.reject(**entry):
            return False
        if carried is not None:
            uow.records.flag_carried(carried.flags(entry["submission_id"], entry["received_at"]))
    return True


def refusal_id(unit: str, item_code: str, name: str, digest: str) -> str:
    """A refused file's ledger id, its folder first: the same bytes under the same name in two units' folders
    are two refusals (an accepted file's id needs no folder: its item belongs to one unit)."""
    return f"{intake.bounded(unit, intake.CODE_LENGTH)}/{intake.submission_id(item_code, name, digest)}"


# --- validation --------------------------------------------------------------------------------
def read_stage(stage: StageStore, submission_id: str, kind: str, item: Item) -> pd.DataFrame:
    return stage.read(submission_id, kind, item)


def read_stage_keys(stage: StageStore, submission_id: str, item: Item) -> pd.DataFrame:
    """Only the primary-key columns of the validated rows, cleaned the way the rows were when they were held back."""
    return stage.read(submission_id, VALID, item, columns=item.primary_key)


def validate(platform: Platform, item: Item, operator: Operator | None = None) -> ValidationReport:
    """Every received submission of the item, in received order; one that raises ends ``failed`` and the rest go
    on (SubmissionsFailed at the end); a lost connection is raised at once for the step to be retried."""
    require_entrusted(operator, Work.VALIDATION)  # art. 7: the submissions stay received for an entrusted run
    report = ValidationReport(item.code)
    as_of = province_day(platform.clock())  # record freshness is judged on the province's day
    authority = StoreAuthority(platform.store, platform.authority)
    failures: list[str] = []
    for entry in platform.store.ledger.submissions(item.code, status="received"):
        with _failing_as_submission(platform, entry["submission_id"], failures):
            _validate_one(platform, item, entry, as_of, authority, report)
    if failures:
        raise SubmissionsFailed(item.code, "validation", failures)
    return report


@dataclass
class _Checked:
    """What a submission's validation decided, before it is committed: the outcome, the rows to hold back (a
    list, or a generator over the stage chunks), the valid rows (a frame, or packed chunks) and the counts."""

    outcome: ValidationOutcome
    held: Iterable[HeldRow]
    valid: pd.DataFrame | list[Packed]
    carried: list[sharing.CarriedLookup]
    valid_rows: int
    held_back: int
    stale: int
    unverified: int


def _validate_one(platform: Platform, item: Item, entry: dict[str, Any], as_of: date, authority: StoreAuthority,
                  report: ValidationReport) -> None:
    sid = entry["submission_id"]
    context = _Context(previous_rows(platform.store.ledger.submissions(item.code), sid), is_correction(entry["source"]))
    sizes = platform.stage.chunk_sizes(sid, INTAKE)
    # a submission staged in one chunk is validated whole; a larger one a chunk at a time, with the same verdicts
    # (validators without ``chunked``, such as the tests' stand-ins, only ever see a submission whole)
    chunked = len(sizes) > 1 and hasattr(platform.validator, "chunked")
    checked = (_check_chunks(platform, item, sid, sum(sizes), as_of, authority, context) if chunked else
               _check_whole(platform, item, sid, as_of, authority, context))
    now = platform.clock()
    if not _commit_validation(platform, item, sid, checked.valid, checked.held,
                              sharing.carried_rows(item, sid, checked.carried, now), now,
                              valid=checked.valid_rows, held_back=checked.held_back, stale=checked.stale):
        log.info("%s: another run validated it first", sid)
        return
    carried = sharing.carried_of(platform.store, sid)
    report.outcomes.append((sid, checked.outcome))
    report.rows_valid += checked.valid_rows
    report.rows_held_back += checked.held_back
    report.rows_stale += checked.stale
    report.rows_unverified += checked.unverified
    report.repeated += [(sid, c) for c in carried]
    if checked.outcome.blocking_failures:
        report.blocked.append(sid)


@dataclass(frozen=True)
class _Context:
    previous: int | None  # rows of the item's previous full submission
    correction: bool


def _check_whole(platform: Platform, item: Item, sid: str, as_of: date, authority: StoreAuthority,
                 context: _Context) -> _Checked:
    submitted = read_stage(platform.stage, sid, INTAKE, item)
    # art. 13: obtained by sharing, not collected; discarded at intake (a submission received before that still
    # carries them here, and is flagged now)
    frame, carried_now = sharing.strip_lookups(item, submitted)
    outcome = platform.validator.validate(item, frame, as_of).extended(contextual_results(
        item, frame, authority, context.previous, correction=context.correction))
    unverified = sharing.unknown_keys(authority, item, frame)  # art. 14: online verification
    held = _held_rows(item, frame, outcome, unverified)
    valid = sharing.fill_lookups(authority, item, frame.drop(index=[h.row_no - 1 for h in held]))
    stale = len(outcome.warned_rows() - {h.row_no - 1 for h in held})
    return _Checked(outcome, held, valid, carried_now, len(valid), len(held), stale,
                    sum(1 for h in held if h.row_no - 1 in unverified))


def _check_chunks(platform: Platform, item: Item, sid: str, rows: int, as_of: date, authority: StoreAuthority,
                  context: _Context) -> _Checked:
    """``_check_whole``'s verdicts, reading one stage chunk at a time: the key columns of every row first (the
    key's uniqueness), then each chunk validated, its rows to hold back kept and its valid rows packed for the
    stage. Only a blocked submission (a failed table rule holds back every row) is read a second time."""
    run = platform.validator.chunked(item, as_of, rows)  # type: ignore[attr-defined]
    run.keys(_key_columns(platform.stage, sid, item))
    stripper = sharing.LookupStripper(item)
    held: list[HeldRow] = []
    valid: list[Packed] = []
    contextual: list[tuple[Any, ...]] = []
    offset = unverified_rows = 0
    chunks = progress.reported(platform.stage.read_chunks(sid, INTAKE, item), f"{sid}: validation",
                               rows, len)
    for frame in stripper.strip(chunks):
        results = contextual_results(item, frame, authority, context.previous, context.correction, rows, offset)
        contextual.append(results)
        unverified = {offset + r: why for r, why in sharing.unknown_keys(authority, item, frame).items()}
        unverified_rows += len(unverified)
        mine = _held_rows(item, frame, run.chunk(frame, offset).extended(results), unverified, offset)
        held += mine
        kept = frame.drop(index=[h.row_no - 1 - offset for h in mine])
        valid += platform.stage.pack(sharing.fill_lookups(authority, item, kept))
        offset += len(frame)
    outcome = run.outcome().extended(merge_results(rows, contextual))
    if outcome.blocking_failures:  # every row held back with the table rules' reasons; nothing valid
        nothing = platform.stage.pack(pd.DataFrame(columns=list(item.field_names)))
        return _Checked(outcome, _blocked_rows(platform, item, sid, outcome), nothing, stripper.carried, 0, rows, 0,
                        unverified_rows)
    stale = len(outcome.warned_rows() - {h.row_no - 1 for h in held})
    return _Checked(outcome, held, valid, stripper.carried, rows - len(held), len(held), stale, unverified_rows)


def _key_columns(stage: StageStore, sid: str, item: Item) -> pd.DataFrame:
    """The primary-key columns of every row of the submission, as validation sees them (look-ups discarded)."""
    keys = stage.read(sid, INTAKE, item, columns=item.primary_key)
    for name in keys.columns:
        field = item.field(name)
        if field is not None and field.lookup is not None:
            keys[name] = None
    return keys


def _blocked_rows(platform: Platform, item: Item, sid: str, outcome: ValidationOutcome) -> Iterator[HeldRow]:
    """Every row of a blocked submission, held back: read again a chunk at a time as the quarantine takes them."""
    offset = 0
    for frame in sharing.LookupStripper(item).strip(platform.stage.read_chunks(sid, INTAKE, item)):
        yield from _held_rows(item, frame, outcome, None, offset)
        offset += len(frame)


def _commit_validation(platform: Platform, item: Item, sid: str, valid_rows: pd.DataFrame | list[Packed],
                       held: Iterable[HeldRow], carried: list[dict[str, Any]], now: datetime, **counts: Any) -> bool:
    """A received submission validated: its claim (received -> validated, with ``counts``), its valid stage
    data, its quarantine rows and its repeated-collection flags, in ONE unit of work, so a run killed anywhere
    leaves it received with none of them. False: another run validated it first."""
    with platform.store.unit_of_work() as uow:
        if not uow.ledger.advance(sid, "received", "validated", validated_at=now, **counts):
            return False
        uow.write_stage(sid, VALID, valid_rows)
        uow.quarantine.hold(item, uow.ledger.unit_of(sid), sid, held, now)
        uow.records.flag_carried(carried)
    return True


class SubmissionsFailed(RuntimeError):
    """Submissions of an item that ended ``failed`` in this stage; the item's others went on."""

    def __init__(self, item: str, stage: str, failures: list[str]):
        self.failures = failures
        super().__init__(f"{item}: {len(failures)} submission(s) failed {stage}: " + "; ".join(failures))


@contextmanager
def _failing_as_submission(platform: Platform, submission_id: str, failures: list[str]) -> Iterator[None]:
    """An error of one submission ends it ``failed`` with its reason (personal data blotted out) instead of
    leaving it in progress for ever; a lost connection is re-raised: the submission is fine, the step retries.
    BaseException (a kill, KeyboardInterrupt) passes untouched: the transaction rolled back, the re-run resumes."""
    try:
        yield
    except Exception as exc:
        if platform.store.is_transient(exc):
            raise
        reason = redacted(f"{type(exc).__name__}: {exc}")[:FAILURE_REASON_LENGTH]
        log.error("%s failed: %s", submission_id, reason)
        platform.store.ledger.fail(submission_id, reason)
        failures.append(f"{submission_id}: {reason}")


def _held_rows(item: Item, frame: pd.DataFrame, outcome: ValidationOutcome,
               unverified: dict[int, list[str]] | None = None, offset: int = 0) -> list[HeldRow]:
    """``frame``: the submission, or its chunk whose first row is row ``offset``; ``outcome`` and ``unverified``
    number rows from the submission's first."""
    blocking = outcome.blocking_failures
    if blocking:
        reason = ["blocked: " + "; ".join(f"{r.rule.id}: {r.rule.description}" for r in blocking)]
        reasons = {offset + row: reason for row in range(len(frame))}
    else:
        reasons = outcome.row_reasons()
        for row, why in (unverified or {}).items():
            reasons[row] = [*reasons.get(row, []), *why]
    return [
        HeldRow(row_no=row + 1, key={k: frame.at[row - offset, k] for k in item.primary_key},
                reasons=why, record=frame.iloc[row - offset].to_dict())
        for row, why in sorted(reasons.items())
    ]


# --- convergence -------------------------------------------------------------------------------
def converge(platform: Platform, item: Item, operator: Operator | None = None) -> ConvergenceReport:
    """Every validated submission of the item, in received order, each in one transaction; one the store
    refuses ends ``failed`` and the rest go on (SubmissionsFailed at the end)."""
    require_entrusted(operator, Work.CONVERGENCE)  # art. 7: the submissions stay validated for an entrusted run
    report = ConvergenceReport(item.code)
    platform.store.ensure_tables([item])
    failures: list[str] = []
    for entry in platform.store.ledger.submissions(item.code, status="validated"):
        with _failing_as_submission(platform, entry["submission_id"], failures):
            _converge_one(platform, item, entry, report)
    report.table_rows = platform.store.shared.count_rows(item)
    if failures:
        raise SubmissionsFailed(item.code, "convergence", failures)
    return report


def _converge_one(platform: Platform, item: Item, entry: dict[str, Any], report: ConvergenceReport) -> None:
    sid = entry["submission_id"]
    now = platform.clock()
    # usually no other submission's row is held (its own never are released by it): then the stage data is not
    # read again
    keys = read_stage_keys(platform.stage, sid, item) if has_open_rows(platform.store, item.code, sid) else None
    if (entry.get("valid") or 0) > platform.stage.chunk_rows:  # one COPY and merge: a line before the wait
        progress.before(f"{sid}: converging", entry["valid"])
    written = _commit_convergence(platform, item, sid, entry["unit"], keys, now)
    if written is None:
        log.info("%s: another run converged it first", sid)
        return
    report.submissions.append(sid)
    report.rows_converged += written.rows


def _commit_convergence(platform: Platform, item: Item, sid: str, unit: str, keys: pd.DataFrame | None,
                        now: datetime) -> Written | None:
    """A validated submission into the shared table: its claim (validated -> converged), the merge, its audit
    row, its ledger counts and the quarantine rows it releases, in ONE unit of work. None: another run
    converged it first (the claim is the ledger row's update, which waits for that run's commit)."""
    rows = platform.store.shared.loadable(item, platform.stage.open_text(sid, VALID))
    with platform.store.unit_of_work() as uow:
        if not uow.ledger.advance(sid, "validated", "converged", converged_at=now):
            return None
        written = uow.shared.converge(item, rows, unit, sid, now)
        uow.ledger.update(sid, converged=written.rows, inserted=written.inserted, updated=written.updated)
        if keys is not None:
            release_corrected(uow.quarantine, item, sid, keys, now)
        # the stage was the submission's way here, and nothing reads it after: the shared table, the quarantine,
        # the ledger and the archived file hold what it carried (a million rows' stage is 130 MB, which stayed for ever)
        uow.clear_stage(sid)
    return written


def has_pending(platform: Platform, item: Item) -> bool:
    if isinstance(item.collection, DatabaseCollection):
        return True
    return any(intake.item_code_of(p) == item.code for p in intake.pending_files(platform.intake_dir, item.unit))
