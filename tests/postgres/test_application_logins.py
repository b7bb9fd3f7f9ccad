"""On PostgreSQL an application's login stops authenticating at its valid_until (VALID UNTIL), set by the
platform through psycopg2.sql, and at the moment the application is revoked or expired."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pipelines.access import AccessControl
from tests.helpers import drop_roles
from tests.postgres.pgutil import NOW, rows
from tests.sharing_fixtures import new_prefix, seeded_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def control(pg_database: str) -> Iterator[AccessControl]:
    prefix = new_prefix()
    store = seeded_store(pg_database)
    access = AccessControl(store, prefix=prefix)
    access.sync(NOW)
    yield access
    store.dispose()
    drop_roles(pg_database, prefix)


def _valid_until(url: str, role: str) -> object:
    return rows(url, "select rolvaliduntil from pg_roles where rolname = :r", r=role)


def test_an_application_login_expires_with_the_application(control: AccessControl, pg_database: str) -> None:
    until = NOW + timedelta(days=30)
    app = control.apply("gx_housing", "resident_register", "住房保障资格核查", until, NOW)
    control.approve(app, "省大数据局", NOW)
    login = control.application_login(app, "s3cret-Pass", NOW)
    assert login == f"{control.prefix}gx_housing_app{app}"
    assert _valid_until(pg_database, login) == [(until,)]
    members = rows(pg_database, "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
                                "join pg_roles u on u.oid = m.member where u.rolname = :r", r=login)
    assert members == [(f"{control.prefix}gx_housing",)]
    # the login reads what the unit's role was granted by the approval
    engine = sa.create_engine(sa.engine.make_url(pg_database).set(username=login, password="s3cret-Pass"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from shared_province.resident_register").scalar_one() == 5
    engine.dispose()
    revoked_at = NOW + timedelta(days=2)
    control.revoke(app, "省大数据局", "项目结束", revoked_at)
    assert _valid_until(pg_database, login) == [(revoked_at,)]


def test_expiry_moves_the_login_to_the_moment_it_ran(control: AccessControl, pg_database: str) -> None:
    until = NOW + timedelta(days=1)
    app = control.apply("gx_civil", "resident_register", "低保核查", until, NOW)
    control.approve(app, "省大数据局", NOW)
    login = control.application_login(app, "another-Pass1", NOW)
    assert control.expire_applications(until) == [app]
    assert _valid_until(pg_database, login) == [(until,)]
    with pytest.raises(Exception, match="is expired, not approved"):
        control.application_login(app, "x", until)
