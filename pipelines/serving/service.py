"""The sharing service itself, without HTTP: authenticate, decide, query, mask, audit.

Every call ends in exactly one audit row, allowed or refused, with who asked, for which item, under which
application, with what key or filter and how many rows were served. A refusal is raised as ``Refused``
after its row is written; the HTTP layer only maps its kind to a status code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, select

from pipelines.catalogue.models import Item, ItemField
from pipelines.platforms import platform_of
from pipelines.quality.masking import mask
from pipelines.serving.audit import AuditChain, AuditEntry, query_text
from pipelines.serving.rules import Access, ApplicationState, decide
from pipelines.serving.tables import ServiceTables, ensure_service_tables
from pipelines.serving.tokens import Caller, TokenRegistry, hash_token
from pipelines.store import Store
from pipelines.values import InvalidValue, canonical, python_value, stored_text

MAX_PAGE = 1000
INTERFACE = "interface"
ANONYMOUS = "anonymous"
READ_EVENTS = ("read", "query", "verify", "extract")  # what "shared data used" counts (pipelines.evaluation)


class Refused(Exception):
    """A request the service does not answer: ``kind`` is unauthenticated, forbidden, not_found or invalid."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Page:
    item: str
    application_id: int | None
    records: list[dict[str, str | None]]
    limit: int
    offset: int


@dataclass(frozen=True)
class Verification:
    item: str
    found: bool
    mismatched: tuple[str, ...]

    @property
    def match(self) -> bool:
        return self.found and not self.mismatched


class SharingService:
    """The sharing service of one platform (art. 19: the province's and each city's platform is a carrier of
    sharing): ``platform`` names it, and it serves the items that platform hosts, from its own store; an item
    another platform hosts is answered "not here" with the platform that serves it. ``platform`` None serves
    every item of the store's catalogue (one store holding every item)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], platform: str | None = None):
        self.store = store
        self.catalogue = store.catalogue
        self.clock = clock
        self.platform = platform
        self.tables: ServiceTables = ensure_service_tables(store)
        # an item served before its first convergence answers with no rows, not with a missing table
        store.ensure_tables([i for i in self.catalogue.items if i.sharing.mode == INTERFACE and self.hosts(i)])
        self.tokens = TokenRegistry(store.engine, self.tables.tokens, {u.code for u in self.catalogue.units})
        self.audit = AuditChain(store.engine, self.tables.audit)

    @property
    def engine(self) -> Engine:
        return self.store.engine

    def hosts(self, item: Item) -> bool:
        return self.platform is None or platform_of(self.catalogue.unit(item.unit)) == self.platform

    # --- the requests ------------------------------------------------------------------------
    def caller(self, token: str | None, event: str, item: str | None, query: Mapping[str, Any]) -> Caller:
        found = self._caller_with_applications(token, item) if token else None
        if found is None:
            why = "no token presented" if not token else "unknown or revoked token"
            self.record_event(event, None, item, None, query, 0, False, why)
            raise Refused("unauthenticated", why)
        return found

    def _caller_with_applications(self, token: str, item: str | None) -> Caller | None:
        """The token's unit and, for the item named, its applications with their grants: one round trip."""
        if item is None:
            return self.tokens.caller(token)
        tokens, apps, grants = self.tables.tokens, self.store.tables.sharing_applications, self.tables.grants
        joined = tokens.outerjoin(apps, and_(apps.c.applicant == tokens.c.unit, apps.c.item == item)).outerjoin(
            grants, grants.c.application_id == apps.c.id)
        query = select(tokens.c.id.label("token_id"), tokens.c.unit, apps.c.id, apps.c.status, apps.c.valid_until,
                       grants.c.fields, grants.c.personal).select_from(joined).where(
            tokens.c.token_hash == hash_token(token), tokens.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        return Caller(str(rows[0].unit), int(rows[0].token_id), item,
                      tuple(_application_state(r) for r in rows if r.id is not None))

    def refuse_malformed(self, token: str | None, path: str, reason: str) -> None:
        """A request whose shape the API refused before the service saw it: audited all the same."""
        caller = self.tokens.caller(token) if token else None
        self.record_event("malformed", caller, None, None, {"path": path}, 0, False, reason)

    def readable_items(self, caller: Caller) -> list[tuple[Item, Access]]:
        now = self.clock()
        listed = [(i, self._access(caller, i, now)) for i in self.catalogue.items
                  if i.sharing.mode == INTERFACE and self.hosts(i)]
        allowed = [(i, a) for i, a in listed if a.allowed]
        self.record_event("list", caller, None, None, {}, len(allowed), True, "items readable through the interface")
        return allowed

    def read(self, caller: Caller, item_code: str, where: Mapping[str, str], limit: int = 100,
             offset: int = 0, event: str = "read") -> Page:
        query = {"where": dict(where), "limit": limit, "offset": offset}
        item, access = self._authorise(caller, item_code, event, query)
        try:
            conditions = self._conditions(item, access, where)
        except Refused as refused:
            self.record_event(event, caller, item.code, access.application_id, query, 0, False, refused.reason)
            raise
        table = self.store.tables.shared(item)
        columns = [table.c[f] for f in access.fields]
        statement = select(*columns).where(*conditions).order_by(
            *(table.c[k] for k in item.primary_key)).limit(min(limit, MAX_PAGE)).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(statement).all()
        records = [self.record_out(item, access, row._mapping) for row in rows]
        self.record_event(event, caller, item.code, access.application_id, query, len(records), True, access.reason)
        return Page(item.code, access.application_id, records, min(limit, MAX_PAGE), offset)

    def read_key(self, caller: Caller, item_code: str, key: str) -> Page:
        """One record by its primary key; composite keys are their values in key order, joined by commas."""
        item = self.catalogue.find_item(item_code)
        parts = key.split(",") if item is not None and len(item.primary_key) > 1 else [key]
        if item is not None and len(parts) != len(item.primary_key):
            reason = f"item {item.code}: the key has {len(item.primary_key)} parts ({', '.join(item.primary_key)})"
            self.record_event("read", caller, item.code, None, {"key": key}, 0, False, reason)
            raise Refused("invalid", reason)
        where = dict(zip(item.primary_key, parts, strict=True)) if item is not None else {}
        return self.read(caller, item_code, where, limit=1, offset=0)

    def verify(self, caller: Caller, item_code: str, key: Mapping[str, str],
               attributes: Mapping[str, str]) -> Verification:
        """Whether the key exists in the item and the attributes equal its values; no value is returned."""
        query = {"key": dict(key), "attributes": sorted(attributes)}  # the attributes' values stay out of the log
        item, access = self._authorise(caller, item_code, "verify", query)
        try:
            if set(key) != set(item.primary_key):
                raise Refused("invalid", f"item {item.code}: the key names {', '.join(item.primary_key)}")
            conditions = self._conditions(item, access, key)
            compared = {name: self._field(item, access, name) for name in attributes}
            wanted = {name: _canonical(item, f, attributes[name]) for name, f in compared.items()}
        except Refused as refused:
            self.record_event("verify", caller, item.code, access.application_id, query, 0, False, refused.reason)
            raise
        table = self.store.tables.shared(item)
        with self.engine.connect() as conn:
            row = conn.execute(select(*(table.c[n] for n in compared), table.c[item.primary_key[0]])
                               .where(*conditions)).first()
        found = row is not None
        mismatched = () if row is None else tuple(
            n for n, f in compared.items() if stored_text(f, row._mapping[n]) != wanted[n])
        verdict = "not found" if not found else ("match" if not mismatched else "no match")
        self.record_event("verify", caller, item.code, access.application_id, query, 0, True,
                     f"{access.reason}: {verdict}")
        return Verification(item.code, found, mismatched)

    # --- the rules -----------------------------------------------------------------------------
    def _authorise(self, caller: Caller, item_code: str, event: str, query: Mapping[str, Any]) -> tuple[Item, Access]:
        item = self.catalogue.find_item(item_code)
        if item is None:
            reason = f"item {item_code!r} is not in the catalogue"
            self.record_event(event, caller, item_code, None, query, 0, False, reason)
            raise Refused("not_found", reason)
        if not self.hosts(item):
            reason = (f"{item.code} is hosted by platform {platform_of(self.catalogue.unit(item.unit))}: "
                      f"its sharing service serves it, not {self.platform}'s")
            self.record_event(event, caller, item.code, None, query, 0, False, reason)
            raise Refused("not_found", reason)
        if item.sharing.mode != INTERFACE:
            reason = f"{item.code} is shared by {item.sharing.mode}, not through the interface"
            self.record_event(event, caller, item.code, None, query, 0, False, reason)
            raise Refused("forbidden", reason)
        access = self._access(caller, item, self.clock())
        if not access.allowed:
            self.record_event(event, caller, item.code, None, query, 0, False, access.reason)
            raise Refused("forbidden", access.reason)
        return item, access

    def _access(self, caller: Caller, item: Item, now: datetime) -> Access:
        preloaded = caller.applications if caller.item == item.code else None
        apps = self.applications(caller.unit, item.code) if preloaded is None else list(preloaded)
        return decide(item, caller.unit, apps, now)

    def applications(self, unit: str, item_code: str) -> list[ApplicationState]:
        """The unit's applications for the item with their grants, read at the moment of the request."""
        apps, grants = self.store.tables.sharing_applications, self.tables.grants
        query = (select(apps.c.id, apps.c.status, apps.c.valid_until, grants.c.fields, grants.c.personal)
                 .select_from(apps.outerjoin(grants, grants.c.application_id == apps.c.id))
                 .where(apps.c.applicant == unit, apps.c.item == item_code))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_application_state(r) for r in rows]

    def _field(self, item: Item, access: Access, name: str) -> ItemField:
        f = item.field(name)
        if f is None:
            raise Refused("invalid", f"item {item.code} has no field {name!r}")
        if name not in access.fields:
            raise Refused("forbidden", f"item {item.code} field {name}: not granted ({access.reason})")
        return f

    def _conditions(self, item: Item, access: Access, where: Mapping[str, str]) -> list[Any]:
        table = self.store.tables.shared(item)
        conditions = []
        for name, text in where.items():
            f = self._field(item, access, name)
            conditions.append(table.c[name] == python_value(f, _canonical(item, f, text)))
        return conditions

    def record_out(self, item: Item, access: Access, row: Any) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name in access.fields:
            f = item.field(name)
            assert f is not None  # access.fields are the item's own
            text = stored_text(f, row[name])
            out[name] = text if text is None or not f.personal or name in access.unmasked else mask(text, f)
        return out

    def record_event(self, event: str, caller: Caller | None, item: str | None, application_id: int | None,
                     query: Mapping[str, Any], rows: int, allowed: bool, reason: str, actor: str | None = None) -> None:
        unit = caller.unit if caller else None
        self.audit.append(AuditEntry(
            event=event, actor=actor or unit or ANONYMOUS, allowed=allowed, reason=reason, at=self.clock(), unit=unit,
            token_id=caller.token_id if caller and caller.token_id else None, item=item,
            application_id=application_id, query=query_text(dict(query)), rows=rows))


def _canonical(item: Item, f: ItemField, text: str) -> str | None:
    try:
        return canonical(f, text)
    except InvalidValue as exc:
        raise Refused("invalid", f"item {item.code} field {f.name}: {exc}") from exc


def _application_state(row: Any) -> ApplicationState:
    fields = None if row.fields is None else tuple(json.loads(row.fields))
    return ApplicationState(int(row.id), row.status, row.valid_until, fields, bool(row.personal))
