"""The sharing service as an operator runs it: tokens through the CLI, `sharing serve` as its own process
(what `make serve` starts), `audit verify` finding an edited row, file extracts per approved application."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pipelines.access import AccessControl
from pipelines.catalogue import load_catalogue
from pipelines.serving.extracts import write_extracts
from pipelines.serving.tables import service_tables
from pipelines.store import Store
from tests.conftest import REPO
from tests.sharing_fixtures import NOW, PEOPLE, UNTIL, bearer, free_port, seeded_store, sqlite_url


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "GOVDATA_CATALOGUE_DIR": str(REPO / "catalogue" / "demo"), "GOVDATA_DATA_DIR": str(tmp),
            "GOVDATA_STORE_URL": "", "PYTHONPATH": str(REPO)}


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=REPO, env=_env(tmp), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`python -m pipelines sharing serve` on a fresh data directory (the embedded default store)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pipelines", "sharing", "serve", "--port", str(port)],
                              cwd=REPO, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {server.communicate()[0]}")
            time.sleep(0.2)
        yield tmp_path, url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tokens_from_the_cli_against_the_served_api(served: tuple[Path, str]) -> None:
    tmp, url = served
    issued = cli(tmp, "sharing", "token", "issue", "gx_civil", "--label", "低保审核系统", "--by", "省大数据局")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("gdt_")
    listed = cli(tmp, "sharing", "token", "list").stdout
    assert "unit=gx_civil label='低保审核系统'" in listed and token not in listed  # the secret is never shown again
    store = Store(sqlite_url(tmp), load_catalogue(REPO / "catalogue" / "demo"))
    with store.engine.connect() as conn:
        assert token not in str(conn.execute(sa.select(service_tables(store).tokens)).all())
    store.dispose()
    items = httpx.get(f"{url}/v1/items", headers=bearer(token), timeout=10)
    assert items.status_code == 200
    # the province's unconditional interface items: Nanning's water_quality_monitoring is its own service's
    assert {e["item"] for e in items.json()} == {"market_entity_registration", "drinking_water_quality"}
    empty = httpx.get(f"{url}/v1/items/market_entity_registration/records", headers=bearer(token), timeout=10)
    assert empty.json()["records"] == []
    assert cli(tmp, "sharing", "token", "revoke", "1", "--by", "省大数据局").returncode == 0
    assert httpx.get(f"{url}/v1/items", headers=bearer(token), timeout=10).status_code == 401
    assert cli(tmp, "sharing", "token", "issue", "no_such_unit", "--label", "x", "--by", "y").returncode == 4
    openapi = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert "/v1/items/{item}/verify" in openapi["paths"]


def test_audit_verify_finds_an_edited_row(tmp_path: Path) -> None:
    store = seeded_store(sqlite_url(tmp_path))
    control = AccessControl(store)
    app = control.apply("gx_housing", "resident_register", "住房保障资格核查", UNTIL, NOW)
    control.refuse(app, "省大数据局", "目的不明确", NOW)
    intact = cli(tmp_path, "audit", "verify")
    assert (intact.returncode, intact.stdout.split(":")[0]) == (0, "audit chain intact")
    assert " 2 rows" in intact.stdout
    audit = service_tables(store).audit
    with store.engine.begin() as conn:
        conn.execute(sa.update(audit).where(audit.c.seq == 2).values(reason="approved"))
    broken = cli(tmp_path, "audit", "verify")
    assert broken.returncode == 3
    assert broken.stderr.strip() == "sharing_audit: row 2 field hash does not match its content (row edited)"
    store.dispose()


def test_file_extracts_follow_the_application(tmp_path: Path) -> None:
    store = seeded_store(sqlite_url(tmp_path))
    control = AccessControl(store)
    app = control.apply("gx_civil", "water_supply_account", "低保水费减免", UNTIL, NOW, ("account_no", "phone"))
    control.apply("gx_agri", "water_supply_account", "未批准", UNTIL, NOW)  # pending: no extract
    assert write_extracts(store, tmp_path, NOW) == []  # nothing approved yet
    control.approve(app, "省大数据局", NOW)
    (extract,) = write_extracts(store, tmp_path, NOW)
    assert (extract.applicant, extract.item, extract.application_id, extract.rows) == (
        "gx_civil", "water_supply_account", app, len(PEOPLE))
    assert extract.path == tmp_path / "sharing" / "extracts" / "gx_civil" / "water_supply_account.csv"
    with extract.path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {"account_no": "W0", "phone": PEOPLE[0][2][:3] + "****" + PEOPLE[0][2][-4:]}
    assert write_extracts(store, tmp_path, UNTIL) == []  # its valid_until has come: no extract, the old one gone
    assert not extract.path.exists()
    store.dispose()
