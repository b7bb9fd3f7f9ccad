"""Unit roles read what they were granted and are refused the rest, by PostgreSQL itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import psycopg2
import pytest
import sqlalchemy as sa

from pipelines.access import AccessControl, AccessError, expire_applications
from pipelines.catalogue import Catalogue
from pipelines.catalogue.models import Item, ItemField, Sharing, SharingType
from tests.helpers import drop_roles
from tests.postgres.pgutil import NOW, enterprise_frame, mini, rows, store_on

pytestmark = pytest.mark.postgres


def _catalogue() -> Catalogue:
    """Mini plus a not-shared amr item: unconditional, conditional and not-shared all present."""
    base = mini()
    kept = base.item("enterprise").model_dump(exclude={"fields", "sharing", "code", "name", "timestamp_field"})
    secret = Item(**{**kept,
                     "code": "inspection", "name": "执法检查记录", "sharing": Sharing(type=SharingType.NOT_SHARED),
                     "fields": (ItemField(name="case_no", label="案件编号", primary_key=True),)})
    return Catalogue(units=base.units, items=(*base.items, secret))


@pytest.fixture
def access(pg_database: str) -> Iterator[AccessControl]:
    prefix = f"unit_{uuid.uuid4().hex[:6]}_"  # roles are cluster-wide: keep this test's own
    store = store_on(pg_database, _catalogue())
    control = AccessControl(store, prefix=prefix)
    control.sync(NOW)
    for unit in ("amr", "nn_water"):
        control.create_login(unit, f"{prefix}{unit}_login")
    store.shared.upsert(store.catalogue.item("enterprise"), enterprise_frame(4), "amr", "s1", NOW)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("insert into shared_city.water_account values "
                             "('W1', '450103198506120011', null, 'nn_water', 's', now())")
        conn.exec_driver_sql("insert into shared_province.inspection values ('C1', 'amr', 's', now())")
    yield control
    store.dispose()
    drop_roles(pg_database, prefix)


def _count_as(url: str, login: str, table: str) -> int:
    """Connect as the unit's login role and count a shared table; PermissionDenied when refused."""
    as_unit = sa.engine.make_url(url).set(username=login)
    engine = sa.create_engine(as_unit)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(f"select count(*) from {table}").scalar_one())
    except sa.exc.ProgrammingError as exc:
        raise exc.orig from None  # type: ignore[misc]
    finally:
        engine.dispose()


def test_units_read_unconditional_and_own_items_and_are_refused_the_rest(access: AccessControl,
                                                                         pg_database: str) -> None:
    water = f"{access.prefix}nn_water_login"
    amr = f"{access.prefix}amr_login"
    assert _count_as(pg_database, water, "shared_province.enterprise") == 4  # unconditional
    assert _count_as(pg_database, water, "shared_city.water_account") == 1  # its own, conditional
    assert _count_as(pg_database, amr, "shared_province.inspection") == 1  # its own, not shared
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        _count_as(pg_database, amr, "shared_city.water_account")  # conditional, no application
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        _count_as(pg_database, water, "shared_province.inspection")  # not shared
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
        _count_as(pg_database, water, "platform.platform_ledger")  # the platform's own tables


def test_approved_application_grants_and_expiry_revokes(access: AccessControl, pg_database: str) -> None:
    amr = f"{access.prefix}amr_login"
    app_id = access.apply("amr", "water_account", "核验企业用水", NOW + timedelta(days=30), NOW)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _count_as(pg_database, amr, "shared_city.water_account")  # pending is not enough
    approved = access.approve(app_id, "南宁市大数据发展局 张三", NOW)
    assert (approved.status, approved.approver) == ("approved", "南宁市大数据发展局 张三")
    assert _count_as(pg_database, amr, "shared_city.water_account") == 1
    assert expire_applications(access.store, NOW + timedelta(days=29), prefix=access.prefix) == []
    assert _count_as(pg_database, amr, "shared_city.water_account") == 1
    assert expire_applications(access.store, NOW + timedelta(days=30), prefix=access.prefix) == [app_id]
    assert access.application(app_id).status == "expired"
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _count_as(pg_database, amr, "shared_city.water_account")
    assert access.sync(NOW + timedelta(days=31)) == []  # nothing drifted: sync changes nothing


def test_revoke_ends_access_and_every_change_is_audited(access: AccessControl, pg_database: str) -> None:
    role = f"{access.prefix}amr"
    app_id = access.apply("amr", "water_account", "核验", NOW + timedelta(days=5), NOW)
    access.approve(app_id, "approver-1", NOW)
    access.revoke(app_id, "approver-1", "purpose fulfilled", NOW + timedelta(days=1))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _count_as(pg_database, f"{access.prefix}amr_login", "shared_city.water_account")
    trail = rows(pg_database, "select action, actor, unit, item, detail from platform.audit_log "
                              "where item = 'water_account' order by id")
    assert [(a, actor, u) for a, actor, u, _, _ in trail] == [
        ("grant", "platform", "nn_water"),  # owner, at the first sync
        ("apply", "amr", "amr"),
        ("approve", "approver-1", "amr"),
        ("grant", "platform", "amr"),
        ("revoke_application", "approver-1", "amr"),
        ("revoke", "platform", "amr"),
    ]
    assert json.loads(trail[3][4]) == {"reason": "approved sharing application", "role": role}
    assert json.loads(trail[5][4]) == {"reason": f"application {app_id} revoked", "role": role}
    converge = rows(pg_database, "select actor, unit, item from platform.audit_log where action = 'converge'")
    assert converge == [("platform", "amr", "enterprise")]
    grants = rows(pg_database, "select item, count(*) from platform.audit_log where action = 'grant' "
                               "group by item order by item")
    assert grants == [("enterprise", 2), ("inspection", 1), ("water_account", 2)]


def test_applications_follow_the_sharing_type(access: AccessControl) -> None:
    later = NOW + timedelta(days=1)
    with pytest.raises(AccessError, match="shared unconditionally"):
        access.apply("nn_water", "enterprise", "x", later, NOW)
    with pytest.raises(AccessError, match="not shared: only its owner amr may read it"):
        access.apply("nn_water", "inspection", "x", later, NOW)
    with pytest.raises(AccessError, match="owns water_account"):
        access.apply("nn_water", "water_account", "x", later, NOW)
    with pytest.raises(AccessError, match="purpose"):
        access.apply("amr", "water_account", " ", later, NOW)
    app_id = access.apply("amr", "water_account", "x", later, NOW)
    access.refuse(app_id, "approver", "no legal basis", NOW)
    with pytest.raises(AccessError, match="is refused, not pending"):
        access.approve(app_id, "approver", NOW)
