"""The audit chain: every request to the sharing service and every decision, append-only, each row carrying
the hash of the one before, so that an edited, inserted or deleted row breaks the chain at that row.

A row's hash is SHA-256 over its sequence number, the previous row's hash and its fields as canonical JSON.
Writers serialize in-process on a lock and across processes on the unique ``prev_hash``: a writer whose
remembered head is stale is refused by the database and retries on the real head.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from pipelines.store import as_utc

GENESIS = "0" * 64  # the previous hash of the first row
RETRIES = 20  # a stale head is refused by the unique prev_hash; each retry reads the real one


@dataclass(frozen=True)
class AuditEntry:
    event: str
    actor: str
    allowed: bool
    reason: str
    at: datetime
    unit: str | None = None
    token_id: int | None = None
    item: str | None = None
    application_id: int | None = None
    query: str | None = None
    rows: int = 0

    def values(self) -> dict[str, Any]:
        return {"at": as_utc(self.at).astimezone(UTC), "event": self.event, "actor": self.actor, "unit": self.unit,
                "token_id": self.token_id, "item": self.item, "application_id": self.application_id,
                "query": self.query, "rows": self.rows, "allowed": self.allowed, "reason": self.reason}


def query_text(query: dict[str, Any]) -> str:
    return json.dumps(query, ensure_ascii=False, sort_keys=True, default=str)


def row_hash(seq: int, prev_hash: str, values: dict[str, Any]) -> str:
    """The hash a row must carry: over its position, its predecessor and every field (the moment in UTC ISO)."""
    fields = {**values, "at": as_utc(values["at"]).astimezone(UTC).isoformat(), "allowed": bool(values["allowed"]),
              "rows": int(values["rows"])}
    material = json.dumps([seq, prev_hash, fields], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class _Ticket:
    """One entry waiting to be written, and then its seq or the error that kept it out."""

    def __init__(self, entry: AuditEntry):
        self.entry = entry
        self.seq: int | None = None
        self.error: Exception | None = None


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


class AuditChain:
    def __init__(self, engine: Engine, table: Table):
        self.engine = engine
        self.table = table
        self._lock = threading.Lock()  # the writer's
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []  # entries waiting for the next group commit
        self._head: tuple[int, str] | None = None  # (seq, hash) of the last row this process knows

    def append(self, entry: AuditEntry) -> int:
        """Write the entry, committed before this returns; returns its sequence number.

        Group commit: concurrent requests queue their entries, and whichever holds the writer's lock writes
        every queued entry in one transaction (one fsync on SQLite for many requests); the others find theirs
        written when they get the lock. Each request still waits for its own row to be committed."""
        ticket = _Ticket(entry)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._lock:
            if ticket.seq is None and ticket.error is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.seq is not None
        return ticket.seq

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            for _ in range(RETRIES):
                with self.engine.connect() as conn:
                    head = self._head or self._read_head(conn)
                    rows = self._rows_after(head, [t.entry for t in batch])
                    try:
                        conn.execute(insert(self.table), rows)
                        conn.commit()
                    except IntegrityError:  # another process appended after our head: read it again
                        conn.rollback()
                        self._head = None
                        continue
                for ticket, row in zip(batch, rows, strict=True):
                    ticket.seq = row["seq"]
                self._head = (rows[-1]["seq"], rows[-1]["hash"])
                return
            raise RuntimeError(f"audit chain: no append after {RETRIES} attempts (table {self.table.name})")
        except Exception as exc:  # every request of the batch learns that its row was not written
            for ticket in batch:
                ticket.error = exc

    def append_in(self, conn: Connection, entry: AuditEntry) -> int:
        """Write the entry inside the caller's transaction (an application decision and its audit commit together)."""
        if conn.dialect.name == "postgresql":  # other writers wait for this transaction rather than fork the chain
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_lock_key(self.table)})")
        with self._lock:
            seq, _ = self._insert(conn, self._read_head(conn), entry)
            self._head = None  # the caller may still roll back: the next append reads the head again
        return seq

    def _insert(self, conn: Connection, head: tuple[int, str], entry: AuditEntry) -> tuple[int, str]:
        """Insert the row after ``head``; returns the new head."""
        (row,) = self._rows_after(head, [entry])
        conn.execute(insert(self.table).values(**row))
        return row["seq"], row["hash"]

    @staticmethod
    def _rows_after(head: tuple[int, str], entries: list[AuditEntry]) -> list[dict[str, Any]]:
        """The rows that chain the entries after ``head``, each with its seq, prev_hash and hash."""
        rows = []
        seq, prev = head
        for entry in entries:
            seq, values = seq + 1, entry.values()
            digest = row_hash(seq, prev, values)
            rows.append({"seq": seq, "prev_hash": prev, "hash": digest, **values})
            prev = digest
        return rows

    def _read_head(self, conn: Connection) -> tuple[int, str]:
        t = self.table
        row = conn.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))

    def rows(self) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            for row in conn.execute(select(self.table).order_by(self.table.c.seq)):
                yield dict(row._mapping)

    def verify(self) -> ChainReport:
        """Recompute every hash from the first row: a row edited, inserted or deleted is named by its seq."""
        problems: list[str] = []
        expected_seq, prev, count = 1, GENESIS, 0
        for row in self.rows():
            count += 1
            seq = int(row["seq"])
            if seq != expected_seq:
                problems.append(f"{self.table.name}: row {seq} follows row {expected_seq - 1} (rows missing between)")
            if row["prev_hash"] != prev:
                problems.append(f"{self.table.name}: row {seq} field prev_hash does not match row {seq - 1}'s hash "
                                f"(a row before it was edited, removed or inserted)")
            fields = {k: row[k] for k in AuditEntry.__dataclass_fields__}
            if row_hash(seq, row["prev_hash"], fields) != row["hash"]:
                problems.append(f"{self.table.name}: row {seq} field hash does not match its content (row edited)")
            expected_seq, prev = seq + 1, row["hash"]
        return ChainReport(count, prev, tuple(problems))


def _lock_key(table: Table) -> int:
    """A stable advisory-lock key per audit table."""
    return int.from_bytes(hashlib.sha256(table.fullname.encode()).digest()[:4], "big")
