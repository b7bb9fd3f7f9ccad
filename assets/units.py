"""One subsettable multi-asset per unit, carrying each selected item through its stages, then writing the
unit's correction list."""


import json
from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.factory import asset_key, shared_metadata, unit_specs
from assets.quality import corrections_key, corrections_result, corrections_spec
from assets.render import check_metadata, failed_stage_result, stage_check_result
from pipelines import entrustment, process
from pipelines.catalogue.models import Catalogue, Item, Unit, Work
from pipelines.quality import checks as qc
from pipelines.quality import inspection
from pipelines.quality.masking import redacted
from pipelines.sharing import authority_first
from resources.platform import DATA_DOCS, PlatformResource

Event = dg.MaterializeResult | dg.AssetCheckResult
INCIDENT_LENGTH = 500
STAGE_WORK = {qc.INTAKE: Work.COLLECTION, qc.VALIDATED: Work.VALIDATION, qc.SHARED: Work.CONVERGENCE}
# No "from __future__ import annotations" here: Dagster reads the context and resource annotations at runtime.


def unit_asset(catalogue: Catalogue, unit: Unit, store_kind: str) -> dg.AssetsDefinition:
    specs: list[dg.AssetSpec] = []
    check_specs: list[dg.AssetCheckSpec] = []
    for item_specs, item_checks in unit_specs(catalogue, unit, store_kind):
        specs += item_specs
        check_specs += item_checks
    specs.append(corrections_spec(unit))

    @dg.multi_asset(
        # No description: Dagster shows an op's description on every spec without one (15,000 at 5,000 items).
        name=f"{unit.code}__pipeline", specs=specs, check_specs=check_specs, can_subset=True,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5),  # lost connections; item failures are not retried
    )
    def _pipeline(context: dg.AssetExecutionContext, platform: PlatformResource) -> Iterator[Event]:
        if not context.selected_asset_keys:  # only the shared checks: the regular inspection, not a unit's run
            yield from run_unit(context, platform.platform_of_unit(unit.code), catalogue, unit)
            return
        yield from operated_run(context, platform.platform_of_unit(unit.code), catalogue, unit,
                                platform.run_date_allowed)

    return _pipeline


class StepsRefused(dg.Failure):
    """Steps of a unit's run its operator is not entrusted with (art. 7): recorded as the run's incident."""


def operated_run(context: dg.AssetExecutionContext, platform: process.Platform, catalogue: Catalogue,
                 unit: Unit, run_date_allowed: bool = False) -> Iterator[Event]:
    """The unit's part of the run, recorded with its operator; refused before any work when the tagged
    contractor holds no entrustment in force for collection (art. 7), so the intake files stay where they
    are; a later step (validation, convergence) it is not entrusted with does not run, and the run ends
    refused with the reason."""
    run_id = context.run.run_id
    started = platform.clock()
    operators = entrustment.run_operators(catalogue, unit.code, context.run.tags, entrustment.local_day(started),
                                          run_date_allowed)
    operator = operators[entrustment.UNIT_RUN_WORK]
    if operator.refusal:
        platform.store.records.record_run(run_id, unit.code, operator.contractor, started, started, "refused",
                                          operator.refusal, operator.day)
        raise dg.Failure(description=operator.refusal, allow_retries=False, metadata={
            "unit": unit.code, "contractor": operator.contractor or "", "run_date": str(operator.day or "")})
    context.log.info(f"{unit.code}: operated by {operator.contractor or 'the unit itself'}")
    platform.store.records.start_run(run_id, unit.code, operator.contractor, started, operator.day)
    try:
        yield from run_unit(context, platform, catalogue, unit, operators)
    except StepsRefused as exc:
        platform.store.records.finish_run(run_id, unit.code, platform.clock(), "refused", incident_reason(exc))
        raise
    except Exception as exc:
        platform.store.records.finish_run(run_id, unit.code, platform.clock(), "failed", incident_reason(exc))
        raise
    platform.store.records.finish_run(run_id, unit.code, platform.clock(), "succeeded")


def incident_reason(exc: BaseException) -> str:
    """What the supervision reports show of a failure: personal data a message may carry blotted out."""
    text = (exc.description or "") if isinstance(exc, dg.Failure) else f"{type(exc).__name__}: {exc}"
    return redacted(text)[:INCIDENT_LENGTH]


def run_unit(context: dg.AssetExecutionContext, platform: process.Platform, catalogue: Catalogue,
             unit: Unit, operators: dict[Work, entrustment.Operator] | None = None) -> Iterator[Event]:
    """Every selected item of the unit, each on its own: one item's failure is reported as a failed check of
    that item's stage and the unit goes on with the next item (raised at the end, so the step still fails).
    A shared check selected without its asset is the regular inspection of that table."""
    selected = context.selected_asset_keys
    if selected:
        for refusal in process.refuse_uncatalogued(platform, unit.code):
            context.log.warning(f"set aside {refusal.path.name}: {refusal.reason}")
    checks = {k.name for k in context.selected_asset_check_keys}
    failed: list[str] = []
    refused: list[str] = []
    for item in authority_first(catalogue.items_of(unit.code)):
        stages = [s for s in qc.STAGES if asset_key(s, item) in selected]
        if qc.SHARED not in stages and qc.stage_check_name(qc.SHARED, item.code) in checks:
            stages.append(qc.INSPECTION)
        for stage in stages:
            operator = operators.get(STAGE_WORK[stage]) if operators and stage in STAGE_WORK else None
            try:
                yield from STAGE_RUNNERS[stage](context, platform, item, operator)
            except entrustment.NotEntrusted as exc:
                context.log.error(f"{item.code}: {exc}; its later stages wait for an entrusted operator")
                refused.append(f"{item.code} ({stage}): {exc}")
                name = qc.stage_check_name(stage, item.code)
                if name in checks:
                    yield failed_stage_result(asset_key(stage, item), name, stage, incident_reason(exc))
                break
            except Exception as exc:
                if platform.store.is_transient(exc):  # a lost connection: the step's retry policy runs it again
                    raise
                reason = incident_reason(exc)
                context.log.error(f"{item.code}: the {stage} stage failed, the unit goes on: {reason}")
                failed.append(f"{item.code} ({stage}): {reason}")
                name = qc.stage_check_name(_check_stage(stage), item.code)
                if name in checks:
                    yield failed_stage_result(asset_key(_check_stage(stage), item), name, stage, reason)
                break  # the item's later stages wait for the next run
    if corrections_key(unit.code) in selected:  # what is held back now, a failed item's earlier rows included
        yield corrections_result(platform, catalogue, unit)
    if selected and platform.data_dir is not None:
        from expectations.docs import build_index

        build_index(platform.data_dir / DATA_DOCS)  # once per unit run, not per validation
    if refused:
        raise StepsRefused(description=f"{len(refused)} item(s) of {unit.code} refused: " + "; ".join(refused + failed),
                           metadata={"refused_items": dg.MetadataValue.json(refused)}, allow_retries=False)
    if failed:
        # Not retried as a whole: the items that succeeded are done, a failed one is retried on the next run.
        raise dg.Failure(description=f"{len(failed)} item(s) of {unit.code} failed: " + "; ".join(failed),
                         metadata={"failed_items": dg.MetadataValue.json(failed)}, allow_retries=False)


def _check_stage(stage: str) -> str:
    """The inspection evaluates the shared stage's check; the intake has none (its outcome is metadata of its
    materialization), so an intake that failed is reported on the validated stage's check it holds up."""
    return {qc.INSPECTION: qc.SHARED, qc.INTAKE: qc.VALIDATED}.get(stage, stage)


def _record(context: dg.AssetExecutionContext, platform: process.Platform, item: Item, stage: str,
            outcomes: list[qc.CheckOutcome]) -> Iterator[dg.AssetCheckResult]:
    """The dimensions' outcomes go to the quality history one by one; the stage's check carries them all (the
    intake's materialization carries its own)."""
    now = platform.clock()
    platform.store.records.record_checks([
        {"check_name": o.name, "item": item.code, "unit": item.unit, "stage": o.stage,
         "dimension": o.dimension.value, "passed": o.passed, "severity": o.severity.value,
         "pass_rate": o.pass_rate, "rows_checked": o.rows_checked, "rows_failed": o.rows_failed,
         "detail": json.dumps([line.rule for line in o.lines if not line.success]), "run_id": context.run.run_id,
         "checked_at": now}
        for o in outcomes
    ])
    if stage == qc.INTAKE:
        return
    checked = _check_stage(stage)
    yield stage_check_result(asset_key(checked, item), qc.stage_check_name(checked, item.code), stage, outcomes)


def _intake(context: dg.AssetExecutionContext, platform: process.Platform, item: Item,
            operator: entrustment.Operator | None = None) -> Iterator[Event]:
    report = process.take_in(platform, item, operator)
    if not (report.accepted or report.refused or report.duplicates):
        context.log.info(f"{item.code}: no new submissions")
        return
    for name, reason in report.refused:
        context.log.warning(f"{item.code}: set aside {name}: {reason}")
    metadata: dict[str, Any] = {
        "dagster/row_count": report.rows_received,
        "submissions_accepted": len(report.accepted),
        "submissions_refused": len(report.refused),
        "duplicates_skipped": len(report.duplicates),
        "rows_refused": report.rows_refused,
        "refusals": dg.MetadataValue.md("\n".join(f"- `{n}`: {r}" for n, r in report.refused) or "none"),
    }
    outcome = qc.intake_check(item, report.rows_received, report.refused, report.rows_refused,
                              len(report.accepted) + len(report.refused))
    yield dg.MaterializeResult(asset_key=asset_key(qc.INTAKE, item),
                               metadata={**check_metadata(qc.INTAKE, [outcome]), **metadata})
    yield from _record(context, platform, item, qc.INTAKE, [outcome])


def _validated(context: dg.AssetExecutionContext, platform: process.Platform, item: Item,
               operator: entrustment.Operator | None = None) -> Iterator[Event]:
    report = process.validate(platform, item, operator)
    if not report.outcomes:
        # As for the shared output: a skipped output would skip the unit's correction list downstream,
        # whenever one of its items had nothing new (a quiet cycle, a refused file).
        yield dg.MaterializeResult(asset_key=asset_key(qc.VALIDATED, item), metadata={
            "dagster/row_count": 0, "rows_valid": 0, "rows_held_back": 0, "submissions_validated": 0})
        return
    for sid in report.blocked:
        context.log.error(f"{item.code}: {sid} failed a blocking rule; none of its rows converge")
    outcomes = qc.validation_checks(item, [o for _, o in report.outcomes])
    yield dg.MaterializeResult(asset_key=asset_key(qc.VALIDATED, item), metadata={
        "dagster/row_count": report.rows_valid,
        "rows_valid": report.rows_valid,
        "rows_held_back": report.rows_held_back,
        "rows_stale": report.rows_stale,
        "submissions_blocked": len(report.blocked),
        "rows_not_in_authoritative_source": report.rows_unverified,
        "repeated_collection_flags": len(report.repeated),
        **{f"pass_rate_{o.dimension.value}": dg.MetadataValue.float(round(o.pass_rate, 6)) for o in outcomes},
    })
    for sid, carried in report.repeated:
        context.log.warning(f"{item.code}: {sid} carried {carried.rows} value(s) of {carried.field}, which is "
                            f"obtained through sharing from {carried.source}: flagged and replaced (art. 13)")
    yield from _record(context, platform, item, qc.VALIDATED, outcomes)


def _shared(context: dg.AssetExecutionContext, platform: process.Platform, item: Item,
            operator: entrustment.Operator | None = None) -> Iterator[Event]:
    report = process.converge(platform, item, operator)
    if not report.submissions:
        # A skipped output skips every downstream step of the run (online verification, look-ups, connected
        # stores, the directory), so the unchanged table is published with nothing newly converged.
        yield dg.MaterializeResult(asset_key=asset_key(qc.SHARED, item), metadata={
            **_table_metadata(item), "dagster/row_count": report.table_rows, "rows_converged": 0,
            "submissions_converged": 0})
        return
    yield dg.MaterializeResult(asset_key=asset_key(qc.SHARED, item), metadata={
        **_table_metadata(item),
        "dagster/row_count": report.table_rows,
        "rows_converged": report.rows_converged,
        "submissions_converged": len(report.submissions),
    })
    outcomes = [qc.availability_check(item, platform.store),
                qc.reconciliation_check(item, platform.store.ledger.submissions(item.code),
                                        platform.store.shared.rows_by_submission(item), platform.clock())]
    if platform.store.dialect == "postgresql":  # the table's own checks run inside PostgreSQL
        from expectations.sql import pushed_down_lines

        pushed = pushed_down_lines(item, platform.store)
        outcomes = [qc.with_lines(o, pushed.get(o.dimension, [])) for o in outcomes]
    yield from _record(context, platform, item, qc.SHARED, outcomes)


def _table_metadata(item: Item) -> dict[str, Any]:
    """The UI shows the latest materialization's column schema as the table's columns."""
    return {**shared_metadata(item), "unit": item.unit}


def _inspect(context: dg.AssetExecutionContext, platform: process.Platform, item: Item,
             operator: entrustment.Operator | None = None) -> Iterator[Event]:
    """The regular inspection (art. 15): the shared table again in all four dimensions."""
    yield from _record(context, platform, item, qc.INSPECTION, inspection.inspect_item(platform, item))


STAGE_RUNNERS = {qc.INTAKE: _intake, qc.VALIDATED: _validated, qc.SHARED: _shared, qc.INSPECTION: _inspect}
