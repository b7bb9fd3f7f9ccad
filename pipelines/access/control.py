"""Who may read which shared table, enforced by PostgreSQL itself (art. 3, 6).

Every unit has a NOLOGIN group role ``unit_<code>``; people and services log in with their own
roles that are members of it. What a unit role may SELECT follows from the catalogue and the
sharing applications, and the platform keeps the live grants equal to that:

- its own items, whatever their sharing type;
- every unconditional-share item;
- a conditional-share item while an approved application of the unit for it has not expired;
- nothing else (not-shared items stay with their owner).

Every grant and revoke the platform makes, and every application decision, goes to
``platform.audit_log`` and to the sharing audit chain (``pipelines.serving.audit``) in the same transaction
as the change itself. On the SQLite store there are no roles: applications are kept all the same, and the
sharing service (``pipelines.serving``) enforces them per request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2 import sql
from sqlalchemy import Connection, insert, select, text, update

from pipelines.catalogue.models import Item, SharingType
from pipelines.serving.audit import AuditChain, AuditEntry
from pipelines.serving.tables import ensure_service_tables
from pipelines.store import Store, as_utc
from pipelines.store.postgres import execute, table_name

DEFAULT_PREFIX = "unit_"
PLATFORM = "platform"
ACTIVE = "approved"
REFUSALS = ("refuse", "revoke", "revoke_application", "expire")  # decisions that end or deny a read


class AccessError(ValueError):
    """An application or a decision the rules do not allow; the message says which rule."""


def unit_role(unit: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}{unit}"


@dataclass(frozen=True)
class Application:
    id: int
    applicant: str
    item: str
    purpose: str
    status: str
    approver: str | None
    valid_until: datetime
    applied_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    note: str | None


class AccessControl:
    """Sharing applications on any store; on PostgreSQL also the grants that follow from them. ``prefix``
    namespaces the roles (tests use their own). Every decision is also appended to the sharing audit chain."""

    def __init__(self, store: Store, prefix: str = DEFAULT_PREFIX):
        self.store = store
        self.catalogue = store.catalogue
        self.prefix = prefix
        self.roles = store.dialect == "postgresql"  # database roles and grants exist on PostgreSQL only
        tables = ensure_service_tables(store)
        self.grants = tables.grants
        self.chain = AuditChain(store.engine, tables.audit)

    def _need_roles(self) -> None:
        if not self.roles:
            raise AccessError("database roles and grants need the PostgreSQL store (GOVDATA_STORE_URL=postgresql://..."
                              "); on SQLite the sharing service (python -m pipelines sharing serve) enforces access")

    def role(self, unit: str) -> str:
        return unit_role(unit, self.prefix)

    # --- the wanted state ---------------------------------------------------------------------
    def _active_applications(self, conn: Connection, now: datetime) -> set[tuple[str, str]]:
        apps = self.store.tables.sharing_applications
        query = select(apps.c.applicant, apps.c.item).where(apps.c.status == ACTIVE, apps.c.valid_until > now)
        return {(r.applicant, r.item) for r in conn.execute(query)}

    def _reason(self, unit: str, item: Item, active: set[tuple[str, str]]) -> str | None:
        """Why the unit may read the item, or None when it may not."""
        if item.unit == unit:
            return "owner"
        if item.sharing.type is SharingType.UNCONDITIONAL:
            return "unconditional share"
        if item.sharing.type is SharingType.CONDITIONAL and (unit, item.code) in active:
            return "approved sharing application"
        return None

    def _granted(self, conn: Connection) -> set[tuple[str, str]]:
        """(role, schema.table) pairs that hold SELECT on a shared table right now."""
        found = conn.execute(text(
            "select r.rolname, n.nspname || '.' || c.relname from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace cross join lateral aclexplode(c.relacl) a "
            "join pg_roles r on r.oid = a.grantee "
            "where n.nspname like 'shared\\_%' and a.privilege_type = 'SELECT' and starts_with(r.rolname, :p)"
        ), {"p": self.prefix})
        return {(role, table) for role, table in found}

    # --- keeping the live grants equal to the wanted state -------------------------------------
    def sync(self, now: datetime, items: list[Item] | None = None) -> list[str]:
        """Create missing roles and tables, then grant and revoke until every unit reads exactly what it may."""
        self._need_roles()
        items = list(items if items is not None else self.catalogue.items)
        self.store.ensure_tables(items)
        with self.store.engine.begin() as conn:
            self._ensure_roles(conn, now)
            return self._settle(conn, items, now)

    def _ensure_roles(self, conn: Connection, now: datetime) -> None:
        existing = {r for (r,) in conn.execute(text("select rolname from pg_roles where starts_with(rolname, :p)"),
                                               {"p": self.prefix})}
        schemas = sorted({self.store.tables.shared(i).schema or "" for i in self.catalogue.items})
        for unit in self.catalogue.units:
            role = self.role(unit.code)
            if role not in existing:
                execute(conn, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
                self._audit(conn, now, "create_role", PLATFORM, unit.code, None, {"role": role})
            for schema in schemas:
                execute(conn, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                               sql.Identifier(role)))

    def _settle(self, conn: Connection, items: list[Item], now: datetime, why: str = "") -> list[str]:
        if not self.roles:
            return []
        active = self._active_applications(conn, now)
        granted = self._granted(conn)
        done = []
        for item in items:
            table = self.store.tables.shared(item)
            name = f"{table.schema}.{table.name}"
            for unit in self.catalogue.units:
                role, reason = self.role(unit.code), self._reason(unit.code, item, active)
                has = (role, name) in granted
                if reason and not has:
                    execute(conn, sql.SQL("GRANT SELECT ON {} TO {}").format(table_name(table), sql.Identifier(role)))
                    self._audit(conn, now, "grant", PLATFORM, unit.code, item.code, {"role": role, "reason": reason})
                    done.append(f"grant {role} {name}: {reason}")
                elif has and not reason:
                    execute(conn, sql.SQL("REVOKE SELECT ON {} FROM {}").format(table_name(table),
                                                                               sql.Identifier(role)))
                    self._audit(conn, now, "revoke", PLATFORM, unit.code, item.code,
                                {"role": role, "reason": why or "no longer entitled"})
                    done.append(f"revoke {role} {name}")
        return done

    # --- sharing applications ------------------------------------------------------------------
    def apply(self, applicant: str, item_code: str, purpose: str, valid_until: datetime, now: datetime,
              fields: tuple[str, ...] | None = None, personal: bool = False) -> int:
        """A unit asks to read a conditional-share item, for a purpose, until a date: the fields it names (all
        when none), and the personal ones unmasked only when ``personal`` (its purpose needs them)."""
        item = self._shareable(applicant, item_code)
        if not purpose.strip():
            raise AccessError("an application must state its purpose (art. 6)")
        unknown = sorted(set(fields or ()) - set(item.field_names))
        if unknown:
            raise AccessError(f"item {item_code} has no field {', '.join(unknown)}")
        if valid_until <= now:
            raise AccessError(f"valid_until {valid_until.isoformat()} is not after {now.isoformat()}")
        apps = self.store.tables.sharing_applications
        with self.store.engine.begin() as conn:
            new_id = conn.execute(insert(apps).values(
                applicant=applicant, item=item.code, purpose=purpose, status="pending", valid_until=valid_until,
                applied_at=now).returning(apps.c.id)).scalar_one()
            conn.execute(insert(self.grants).values(
                application_id=new_id, fields=None if fields is None else json.dumps(list(fields)), personal=personal))
            self._audit(conn, now, "apply", applicant, applicant, item.code,
                        {"application": new_id, "purpose": purpose, "valid_until": valid_until.isoformat(),
                         "fields": None if fields is None else list(fields), "personal": personal})
        return int(new_id)

    def _shareable(self, applicant: str, item_code: str) -> Item:
        item = self.catalogue.find_item(item_code)
        if item is None:
            raise AccessError(f"item {item_code!r} is not in the catalogue")
        if applicant not in {u.code for u in self.catalogue.units}:
            raise AccessError(f"unit {applicant!r} is not registered")
        if item.unit == applicant:
            raise AccessError(f"{applicant} owns {item_code}: it reads it without an application")
        if item.sharing.type is SharingType.UNCONDITIONAL:
            raise AccessError(f"{item_code} is shared unconditionally: every unit reads it without an application")
        if item.sharing.type is SharingType.NOT_SHARED:
            raise AccessError(f"{item_code} is not shared: only its owner {item.unit} may read it")
        return item

    def approve(self, application_id: int, approver: str, now: datetime,
                valid_until: datetime | None = None) -> Application:
        """Approve a pending application; the platform grants the read in the same transaction."""
        if not approver.strip():
            raise AccessError("an approval names its approver")
        with self.store.engine.begin() as conn:
            app = self._pending(conn, application_id)
            until = valid_until or app.valid_until
            if until <= now:
                raise AccessError(f"application {application_id} would already have expired ({until.isoformat()})")
            self._set(conn, application_id, status=ACTIVE, approver=approver, decided_at=now, valid_until=until)
            self._audit(conn, now, "approve", approver, app.applicant, app.item,
                        {"application": application_id, "valid_until": until.isoformat()})
            self._settle(conn, [self.catalogue.item(app.item)], now)
        return self.application(application_id)

    def refuse(self, application_id: int, approver: str, reason: str, now: datetime) -> Application:
        with self.store.engine.begin() as conn:
            app = self._pending(conn, application_id)
            self._set(conn, application_id, status="refused", approver=approver, decided_at=now, note=reason)
            self._audit(conn, now, "refuse", approver, app.applicant, app.item,
                        {"application": application_id, "reason": reason})
        return self.application(application_id)

    def revoke(self, application_id: int, actor: str, reason: str, now: datetime) -> Application:
        """End an approved application early; the read goes unless another approval still covers it."""
        with self.store.engine.begin() as conn:
            app = self._load(conn, application_id)
            if app.status != ACTIVE:
                raise AccessError(f"application {application_id} is {app.status}, not approved")
            self._set(conn, application_id, status="revoked", ended_at=now, note=reason)
            self._end_login(conn, app.applicant, application_id, now)
            self._audit(conn, now, "revoke_application", actor, app.applicant, app.item,
                        {"application": application_id, "reason": reason})
            self._settle(conn, [self.catalogue.item(app.item)], now, why=f"application {application_id} revoked")
        return self.application(application_id)

    def expire_applications(self, now: datetime) -> list[int]:
        """Applications past valid_until end; the platform revokes the reads they carried."""
        apps = self.store.tables.sharing_applications
        with self.store.engine.begin() as conn:
            due = conn.execute(select(apps.c.id, apps.c.applicant, apps.c.item).where(
                apps.c.status.in_(("pending", ACTIVE)), apps.c.valid_until <= now).order_by(apps.c.id)).all()
            for row in due:
                self._set(conn, row.id, status="expired", ended_at=now)
                self._end_login(conn, row.applicant, row.id, now)
                self._audit(conn, now, "expire", PLATFORM, row.applicant, row.item, {"application": row.id})
            items = sorted({row.item for row in due})
            found = [self.catalogue.find_item(i) for i in items]
            self._settle(conn, [item for item in found if item is not None], now, why="application expired")
        return [int(row.id) for row in due]

    def application(self, application_id: int) -> Application:
        with self.store.engine.connect() as conn:
            return self._load(conn, application_id)

    def applications(self, status: str | None = None) -> list[Application]:
        apps = self.store.tables.sharing_applications
        query = select(apps).order_by(apps.c.id)
        if status is not None:
            query = query.where(apps.c.status == status)
        with self.store.engine.connect() as conn:
            return [_application(r._mapping) for r in conn.execute(query)]

    def _load(self, conn: Connection, application_id: int) -> Application:
        apps = self.store.tables.sharing_applications
        row = conn.execute(select(apps).where(apps.c.id == application_id)).first()
        if row is None:
            raise AccessError(f"no sharing application {application_id}")
        return _application(row._mapping)

    def _pending(self, conn: Connection, application_id: int) -> Application:
        app = self._load(conn, application_id)
        if app.status != "pending":
            raise AccessError(f"application {application_id} is {app.status}, not pending")
        return app

    def _set(self, conn: Connection, application_id: int, **values: Any) -> None:
        apps = self.store.tables.sharing_applications
        conn.execute(update(apps).where(apps.c.id == application_id).values(**values))

    # --- logins and the audit trail ------------------------------------------------------------
    def application_login(self, application_id: int, password: str, now: datetime) -> str:
        """A login for the system an approved application serves: a member of the applicant's role whose
        password PostgreSQL itself refuses from the application's valid_until on (``VALID UNTIL``), before any
        expiry job runs; revoking the application moves that moment to the revocation. (Under ``trust``
        authentication PostgreSQL checks no password, so no expiry either: production uses scram-sha-256.)"""
        self._need_roles()
        with self.store.engine.begin() as conn:
            app = self._load(conn, application_id)
            if app.status != ACTIVE:
                raise AccessError(f"application {application_id} is {app.status}, not approved")
            login = self.application_role(app.applicant, application_id)
            execute(conn, sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {} IN ROLE {}")
                    .format(sql.Identifier(login), sql.Literal(password), sql.Literal(app.valid_until.isoformat()),
                            sql.Identifier(self.role(app.applicant))))
            self._audit(conn, now, "create_login", PLATFORM, app.applicant, app.item,
                        {"application": application_id, "role": login, "valid_until": app.valid_until.isoformat()})
        return login

    def application_role(self, unit: str, application_id: int) -> str:
        return f"{self.role(unit)}_app{application_id}"

    def _end_login(self, conn: Connection, unit: str, application_id: int, now: datetime) -> None:
        """The application's login, if it has one, stops authenticating now."""
        if not self.roles:
            return
        login = self.application_role(unit, application_id)
        if conn.execute(text("select 1 from pg_roles where rolname = :r"), {"r": login}).first() is None:
            return
        execute(conn, sql.SQL("ALTER ROLE {} VALID UNTIL {}").format(sql.Identifier(login),
                                                                     sql.Literal(now.isoformat())))

    def create_login(self, unit: str, login: str, password: str | None = None) -> str:
        """A login role that acts as the unit (a member of its group role)."""
        self._need_roles()
        secret = sql.SQL("") if password is None else sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        with self.store.engine.begin() as conn:
            execute(conn, sql.SQL("CREATE ROLE {} LOGIN{} IN ROLE {}").format(
                sql.Identifier(login), secret, sql.Identifier(self.role(unit))))
        return login

    def _audit(self, conn: Connection, now: datetime, action: str, actor: str, unit: str | None,
               item: str | None, detail: dict[str, Any]) -> None:
        text_detail = json.dumps(detail, ensure_ascii=False, sort_keys=True)
        conn.execute(insert(self.store.tables.audit_log).values(
            at=now, action=action, actor=actor, unit=unit, item=item, detail=text_detail))
        application = detail.get("application")
        self.chain.append_in(conn, AuditEntry(
            event=action, actor=actor, allowed=action not in REFUSALS, reason=str(detail.get("reason") or action),
            at=now, unit=unit, item=item, application_id=None if application is None else int(application),
            query=text_detail))


def _application(row: Any) -> Application:
    """SQLite hands its moments back without their zone: they are UTC, as written."""
    values: dict[str, Any] = {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
    return Application(**values)


def expire_applications(store: Store, now: datetime, prefix: str = DEFAULT_PREFIX) -> list[int]:
    """End every sharing application past its valid_until and revoke what it granted."""
    return AccessControl(store, prefix).expire_applications(now)
