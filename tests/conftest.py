"""Shared fixtures: small catalogues, identities stdnum accepts, and a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stdnum.cn import ric, uscc

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "fixtures" / "mini"
PG_ADMIN_URL = os.environ.get("GOVDATA_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def make_uscc(serial: int, region: str = "450100") -> str:
    body = f"91{region}" + f"MA{serial:07d}"[:9]
    return body + uscc.calc_check_digit(body)


def make_ric(serial: int, region: str = "450103", birth: str = "19850612") -> str:
    body = f"{region}{birth}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


@pytest.fixture
def mini_catalogue_dir(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(MINI, target)
    return target


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})"
        if os.environ.get("GOVDATA_REQUIRE_POSTGRES"):
            pytest.fail(message + "; GOVDATA_REQUIRE_POSTGRES is set, so this is a failure")
        pytest.skip(message)
    return PG_ADMIN_URL


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh database per test (the province's store), dropped afterwards with the city platforms' databases
    the run created beside it (``<name>_city_<code>``, pipelines.federation)."""
    import sqlalchemy as sa

    from tests.helpers import drop_database_and_platforms

    name = f"govdata_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        drop_database_and_platforms(admin, name)
        admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_database" in getattr(item, "fixturenames", ()) or "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
