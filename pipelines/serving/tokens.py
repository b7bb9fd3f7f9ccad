"""API tokens: issued to a unit through the CLI, shown once, stored as their SHA-256, revoked from a moment on.

A token is 32 random bytes (``secrets.token_urlsafe``); its SHA-256 is what the store keeps and what a
request's token is looked up by. A fast hash suffices for random secrets of that length (no dictionary to
attack, unlike passwords), and it keeps the per-request check to one indexed look-up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, insert, select, update

from pipelines.store import as_utc

TOKEN_PREFIX = "gdt_"  # recognisable in a leaked log or a secret scanner


class TokenError(ValueError):
    """A token operation the registry refuses; the message names the token or unit."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who a valid token acts as; ``applications``: its unit's applications for the item the request names, read
    with the token in one query (``None``: not read)."""

    unit: str
    token_id: int
    item: str | None = None
    applications: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class TokenRecord:
    id: int
    unit: str
    label: str
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    def __str__(self) -> str:
        state = f"revoked {self.revoked_at.isoformat()} by {self.revoked_by}" if self.revoked_at else "active"
        return f"token {self.id} unit={self.unit} label={self.label!r} issued {self.issued_at.isoformat()}: {state}"


class TokenRegistry:
    def __init__(self, engine: Engine, table: Table, units: set[str]):
        self.engine = engine
        self.table = table
        self.units = units

    def issue(self, unit: str, label: str, issued_by: str, now: datetime) -> tuple[int, str]:
        """A new token for the unit: (its id, the token itself, which is never stored)."""
        if unit not in self.units:
            raise TokenError(f"unit {unit!r} is not registered in the catalogue")
        if not label.strip():
            raise TokenError("a token is issued to a named system or person (--label)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(self.table).values(
                token_hash=hash_token(token), unit=unit, label=label, issued_at=now, issued_by=issued_by,
            ).returning(self.table.c.id)).scalar_one()
        return int(new_id), token

    def revoke(self, token_id: int, revoked_by: str, now: datetime) -> TokenRecord:
        t = self.table
        with self.engine.begin() as conn:
            found = conn.execute(select(t.c.revoked_at).where(t.c.id == token_id)).first()
            if found is None:
                raise TokenError(f"no token {token_id}")
            if found.revoked_at is not None:
                raise TokenError(f"token {token_id} is already revoked")
            conn.execute(update(t).where(t.c.id == token_id).values(revoked_at=now, revoked_by=revoked_by))
        return next(r for r in self.tokens() if r.id == token_id)

    def tokens(self) -> list[TokenRecord]:
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.unit, t.c.label, t.c.issued_at, t.c.issued_by, t.c.revoked_at,
                                       t.c.revoked_by).order_by(t.c.id)).all()
        return [TokenRecord(int(r.id), r.unit, r.label, as_utc(r.issued_at), r.issued_by,
                            None if r.revoked_at is None else as_utc(r.revoked_at), r.revoked_by) for r in rows]

    def caller(self, token: str) -> Caller | None:
        """The unit a presented token acts as, or None (unknown or revoked): checked on every request."""
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.id, t.c.unit).where(
                t.c.token_hash == hash_token(token), t.c.revoked_at.is_(None))).first()
        return None if row is None else Caller(str(row.unit), int(row.id))
