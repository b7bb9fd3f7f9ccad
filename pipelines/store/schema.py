"""Store tables generated from the catalogue, plus the platform's own ledger and quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from pipelines.catalogue.models import FieldType, Item, Level
from pipelines.values import column_type

LINEAGE_COLUMNS = ("_source_unit", "_submission_id", "_converged_at")


def lineage_values(unit: str, submission_id: str, now: datetime) -> dict[str, Any]:
    """Where each converged row came from: the lineage columns of every shared table."""
    return dict(zip(LINEAGE_COLUMNS, (unit, submission_id, now), strict=True))

# Each type's column is the value model's (pipelines.values), beside its parse and load cast.
COLUMN_TYPES: dict[FieldType, TypeEngine[Any]] = {t: column_type(t) for t in FieldType}


def shared_schema(item: Item, dialect: str) -> str | None:
    """PostgreSQL keeps a schema per platform level; SQLite has one namespace.

    Counties have no platform of their own (art. 19): their tables live in the city store.
    """
    return level_schema(Level.CITY if item.level is Level.COUNTY else item.level, dialect)


def level_schema(level: Level, dialect: str) -> str | None:
    return f"shared_{level.value}" if dialect == "postgresql" else None


def platform_schema(dialect: str) -> str | None:
    return "platform" if dialect == "postgresql" else None


def shared_table(item: Item, metadata: MetaData, dialect: str) -> Table:
    columns: list[Column[Any]] = [
        Column(f.name, COLUMN_TYPES[f.type], nullable=not f.not_null, comment=f.label) for f in item.fields
    ]
    lineage: list[Column[Any]] = [
        Column("_source_unit", String(64), nullable=False, comment="source unit"),
        Column("_submission_id", String(200), nullable=False, comment="submission id"),
        Column("_converged_at", DateTime(timezone=True), nullable=False, comment="converged at"),
    ]
    return Table(
        item.code, metadata, *columns, *lineage, PrimaryKeyConstraint(*item.primary_key),
        schema=shared_schema(item, dialect), comment=f"{item.name}: {item.abstract}",
    )


def ledger_write_columns() -> list[Column[Any]]:
    """Ledger columns added after the ledger existed: nullable, so a live ledger takes them (ALTER ADD)."""
    return [Column("inserted", Integer, comment="rows the merge inserted (new keys)"),
            Column("updated", Integer, comment="rows the merge updated (keys already in the table)")]


def platform_tables(metadata: MetaData, dialect: str) -> tuple[Table, Table, Table]:
    schema = platform_schema(dialect)
    ledger = Table(
        "platform_ledger", metadata,
        Column("submission_id", String(300), primary_key=True),
        Column("item", String(64), nullable=False, index=True),
        Column("unit", String(64), nullable=False),
        Column("source", Text, nullable=False),
        Column("digest", String(64), nullable=False),
        Column("status", String(16), nullable=False, index=True),
        Column("reason", Text),
        Column("received", Integer, nullable=False, default=0),
        Column("valid", Integer, nullable=False, default=0),
        Column("held_back", Integer, nullable=False, default=0),
        Column("converged", Integer, nullable=False, default=0),
        # What the merge reported writing (NULL: converged before these were recorded); the reconciliation
        # holds the shared table to them: converged = inserted + updated, table rows = sum of inserted.
        *ledger_write_columns(),
        Column("stale", Integer, nullable=False, default=0),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("validated_at", DateTime(timezone=True)),
        Column("converged_at", DateTime(timezone=True)),
        schema=schema,
        comment="one row per submission: rows received = converged + held back; status received, validated, "
                "converged (or rejected at intake, or failed with its reason)",
    )
    quarantine = Table(
        "platform_quarantine", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("submission_id", String(300), nullable=False, index=True),
        Column("item", String(64), nullable=False, index=True),
        Column("unit", String(64), nullable=False, index=True),
        Column("row_no", Integer, nullable=False, comment="1-based data row in the submission"),
        Column("record_key", Text, comment="primary key values, JSON"),
        Column("reasons", Text, nullable=False),
        Column("record", Text, nullable=False, comment="the row as submitted, JSON"),
        Column("held_at", DateTime(timezone=True), nullable=False),
        Column("released_by", String(300), comment="the submission whose corrected row replaced it"),
        Column("released_at", DateTime(timezone=True)),
        schema=schema,
        comment="rows held back, with the reason per row (correction lists are made from this)",
    )
    checks = Table(
        "platform_check_results", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("check_name", String(200), nullable=False, index=True),
        Column("item", String(64), nullable=False, index=True),
        Column("unit", String(64), nullable=False, index=True),
        Column("stage", String(16), nullable=False),
        Column("dimension", String(16), nullable=False),
        Column("passed", Boolean, nullable=False),
        Column("severity", String(8), nullable=False),
        Column("pass_rate", Float, nullable=False),
        Column("rows_checked", Integer, nullable=False),
        Column("rows_failed", Integer, nullable=False),
        Column("detail", Text, comment="failed rules, JSON"),
        Column("run_id", String(64)),
        Column("checked_at", DateTime(timezone=True), nullable=False),
        schema=schema,
        comment="every quality check result: the quality history inspections and scorecards read",
    )
    return ledger, quarantine, checks


def access_tables(metadata: MetaData, dialect: str) -> tuple[Table, Table]:
    """The audit trail (art. 3) and the sharing applications between units (art. 6)."""
    schema = platform_schema(dialect)
    audit = Table(
        "audit_log", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("action", String(32), nullable=False, index=True, comment="grant, revoke, converge, apply, ..."),
        Column("actor", String(200), nullable=False, comment="who did it: the platform, an approver, a unit"),
        Column("unit", String(64), index=True, comment="the unit concerned (grantee, applicant, source)"),
        Column("item", String(64), index=True),
        Column("detail", Text, comment="JSON"),
        schema=schema,
        comment="every grant, revoke and convergence on the shared store",
    )
    applications = Table(
        "sharing_applications", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("applicant", String(64), nullable=False, index=True, comment="the applying unit"),
        Column("item", String(64), nullable=False, index=True),
        Column("purpose", Text, nullable=False),
        Column("status", String(16), nullable=False, index=True,
               comment="pending, approved, refused, revoked, expired"),
        Column("approver", String(200)),
        Column("valid_until", DateTime(timezone=True), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False),
        Column("decided_at", DateTime(timezone=True)),
        Column("ended_at", DateTime(timezone=True), comment="when it was revoked or expired"),
        Column("note", Text),
        schema=schema,
        comment="conditional-share applications: a grant lasts while approved and not past valid_until",
    )
    return audit, applications


def run_tables(metadata: MetaData, dialect: str) -> Table:
    """Who operated each unit's part of each run and how it ended (art. 7, 8): what contractors are judged on."""
    return Table(
        "platform_runs", metadata,
        Column("run_id", String(64), primary_key=True),
        Column("unit", String(64), primary_key=True),
        Column("contractor", String(64), index=True, comment="the operating technical service unit; NULL: the unit"),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("run_date", Date, comment="the day the operator's entrustment was judged on (province time)"),
        Column("finished_at", DateTime(timezone=True), comment="NULL while running or when the run never finished"),
        Column("status", String(16), nullable=False, index=True, comment="succeeded, failed, refused"),
        Column("reason", Text, comment="why it failed or was refused"),
        schema=platform_schema(dialect),
        comment="one row per run and unit asset execution, with its operator",
    )


def violation_tables(metadata: MetaData, dialect: str) -> Table:
    """Violations found in the records (art. 8), each with its deadline and rectification."""
    return Table(
        "platform_violations", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(32), nullable=False, index=True,
               comment="out_of_catalogue, expired_temporary, repeated_collection, overdue_correction"),
        Column("unit", String(64), nullable=False, index=True),
        Column("item", String(64), nullable=False),
        Column("subject", String(300), nullable=False, comment="the submission it concerns"),
        Column("detail", Text),
        Column("opened_at", DateTime(timezone=True), nullable=False),
        Column("deadline", DateTime(timezone=True), nullable=False),
        Column("status", String(16), nullable=False, index=True, comment="open, overdue, rectified"),
        Column("closed_at", DateTime(timezone=True)),
        Column("closed_by", String(300), comment="the submission that corrected it"),
        Column("escalated_at", DateTime(timezone=True), comment="first found overdue"),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("kind", "unit", "subject", name="uq_platform_violations_subject"),
        schema=platform_schema(dialect),
        comment="violations and their rectification: re-detection updates, never duplicates",
    )


def evaluation_tables(metadata: MetaData, dialect: str) -> tuple[Table, Table]:
    """Published periods (art. 9) and dismissed violations (art. 8): decisions of the management institution,
    kept so that a later evaluation neither moves a verdict nor re-opens a dismissed violation."""
    published = Table(
        "platform_evaluations", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("period", String(16), nullable=False, index=True, comment="2026-10 or 2026-W44"),
        Column("revision", Integer, nullable=False, comment="1: the publication; 2 and on: re-issues"),
        Column("published_at", DateTime(timezone=True), nullable=False),
        Column("reason", Text, comment="why it was re-issued; NULL for the first publication"),
        Column("changes", Text, nullable=False, comment="JSON: verdicts that changed from the previous revision"),
        Column("content", Text, nullable=False, comment="JSON: scorecards, contractors, verdicts, trend"),
        UniqueConstraint("period", "revision", name="uq_platform_evaluations_revision"),
        schema=platform_schema(dialect),
        comment="a period's evaluation as published, and each explicit re-issue with its reason",
    )
    dismissed = Table(
        "platform_violation_dismissals", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(32), nullable=False),
        Column("unit", String(64), nullable=False),
        Column("subject", String(300), nullable=False),
        Column("dismissed_at", DateTime(timezone=True), nullable=False),
        Column("dismissed_by", String(300), nullable=False, comment="the management institution's officer"),
        Column("reason", Text, nullable=False),
        UniqueConstraint("kind", "unit", "subject", name="uq_platform_violation_dismissals_subject"),
        schema=platform_schema(dialect),
        comment="violations dismissed by the data management institution, with the reason",
    )
    return published, dismissed


def stage_tables(metadata: MetaData, dialect: str) -> tuple[Table, Table]:
    """State a run leaves for its later steps, in the store so a worker on any machine reads it.

    ``platform_stage``: each submission's intake and validated rows in chunks (each an Arrow IPC stream of its
    text columns, ``pipelines.store.stage``), written in one transaction and read back one chunk at a time.
    ``platform_repeated_collection``: the submissions carrying looked-up values (art. 13), one row per field.
    """
    stage = Table(
        "platform_stage", metadata,
        Column("submission_id", String(300), primary_key=True),
        Column("kind", String(16), primary_key=True, comment="intake: as taken in; valid: as validated"),
        Column("chunk_no", Integer, primary_key=True, comment="0, 1, ...: the rows in submission order"),
        Column("rows", Integer, nullable=False),
        Column("data", LargeBinary, nullable=False,
               comment="an Arrow IPC stream of the chunk's text columns (zstd above a megabyte)"),
        schema=platform_schema(dialect),
        comment="stage data of submissions between intake, validation and convergence",
    )
    repeated = Table(
        "platform_repeated_collection", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("item", String(64), nullable=False, index=True),
        Column("unit", String(64), nullable=False, index=True),
        Column("submission_id", String(300), nullable=False),
        Column("field", String(64), nullable=False),
        Column("source", String(200), nullable=False, comment="the item.field the value is looked up from"),
        Column("rows", Integer, nullable=False, comment="values the submission carried"),
        Column("flagged_at", DateTime(timezone=True), nullable=False),
        schema=platform_schema(dialect),
        comment="submissions that carried values the platform obtains by sharing (art. 13)",
    )
    return stage, repeated


def build_metadata(dialect: str) -> MetaData:
    """The platform's own tables; each item's shared table joins when first asked for (``Tables.shared``)."""
    metadata = MetaData()
    platform_tables(metadata, dialect)
    stage_tables(metadata, dialect)
    access_tables(metadata, dialect)
    run_tables(metadata, dialect)
    violation_tables(metadata, dialect)
    evaluation_tables(metadata, dialect)
    sharing_service_tables(metadata, dialect)
    return metadata


def sharing_service_tables(metadata: MetaData, dialect: str) -> tuple[Table, Table, Table]:
    """The sharing service (pipelines/serving): API tokens, what each application grants, the chained audit.

    ``sharing_tokens``: one row per token a unit was issued, only its SHA-256 kept (the secret is shown once).
    ``sharing_grants``: the fields a sharing application grants (NULL: all) and whether its purpose needs the
    personal fields unmasked; one row per application, written with it.
    ``sharing_audit``: every request to the service and its decision, every application decision, grant and
    revoke; append-only, each row carrying the hash of the previous one (``seq`` 1, 2, ...; the unique
    ``prev_hash`` refuses a second row after the same one, so concurrent writers cannot fork the chain).
    """
    schema = platform_schema(dialect)
    tokens = Table(
        "sharing_tokens", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("token_hash", String(64), nullable=False, unique=True, comment="sha256 hex of the token"),
        Column("unit", String(64), nullable=False, index=True, comment="the unit the token acts as"),
        Column("label", String(200), nullable=False, comment="the system or person it was issued to"),
        Column("issued_at", DateTime(timezone=True), nullable=False),
        Column("issued_by", String(200), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        Column("revoked_by", String(200)),
        schema=schema,
        comment="API tokens of the sharing service, stored hashed; a revoked token is refused from that moment",
    )
    grants = Table(
        "sharing_grants", metadata,
        Column("application_id", Integer, primary_key=True),
        Column("fields", Text, comment="JSON list of the granted field names; NULL: every field"),
        Column("personal", Boolean, nullable=False, default=False,
               comment="the purpose needs the personal fields: served unmasked"),
        schema=schema,
        comment="what a sharing application grants: fields, and personal fields unmasked or not",
    )
    audit = Table(
        "sharing_audit", metadata,
        Column("seq", Integer, primary_key=True, autoincrement=False, comment="1, 2, ... with no gap"),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("event", String(32), nullable=False, index=True,
               comment="read, verify, list, extract, refused, or an application's apply/approve/refuse/grant/..."),
        Column("actor", String(200), nullable=False, comment="the unit (API), the approver, or the platform"),
        Column("unit", String(64), index=True, comment="the unit concerned: the reader, the applicant"),
        Column("token_id", Integer),
        Column("item", String(64), index=True),
        Column("application_id", Integer),
        Column("query", Text, comment="the request's key or filter, JSON"),
        Column("rows", Integer, nullable=False, default=0),
        Column("allowed", Boolean, nullable=False),
        Column("reason", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False, unique=True),
        Column("hash", String(64), nullable=False),
        schema=schema,
        comment="the sharing audit chain: python -m pipelines audit verify recomputes every hash",
    )
    return tokens, grants, audit
