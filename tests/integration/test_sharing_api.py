"""The sharing service over HTTP on real uvicorn, on SQLite and on PostgreSQL: each sharing type and mode,
every application state, expiry at the exact instant, masking by purpose, verification, the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from pipelines.serving.audit import AuditChain
from tests.helpers import drop_roles
from tests.sharing_fixtures import (
    FIRMS,
    PEOPLE,
    SECRET,
    UNTIL,
    World,
    bearer,
    build_world,
    live_server,
    new_prefix,
    seeded_store,
    sqlite_url,
)

PERSON = PEOPLE[0][0]


@pytest.fixture(scope="module")
def pg_module_database(pg_server: str) -> Iterator[str]:
    """One throwaway database for the module's PostgreSQL world."""
    import uuid

    name = f"govdata_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :n "
                                 "and pid <> pg_backend_pid()"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    prefix = new_prefix()
    if request.param == "postgres":
        url = request.getfixturevalue("pg_module_database")
    else:
        url = sqlite_url(tmp_path_factory.mktemp("sharing"))
    store = seeded_store(url)
    built = build_world(store, prefix)
    with live_server(built.service) as base:
        built.url = base
        yield built
    store.dispose()
    if request.param == "postgres":
        drop_roles(url, prefix)


def get(world: World, unit: str, path: str) -> httpx.Response:
    return httpx.get(world.url + path, headers=bearer(world.tokens[unit]), timeout=10)


def post(world: World, unit: str, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(world.url + path, json=body, headers=bearer(world.tokens[unit]), timeout=10)


REGISTER = f"/v1/items/resident_register/records/{PERSON}"


@pytest.mark.parametrize(("unit", "status", "detail"), [
    ("gx_psd", 200, None),  # the owner
    ("gx_housing", 200, None),  # approved, in force
    ("gx_hrss", 200, None),  # approved with personal fields
    ("gx_civil", 403, "sharing application 3 is pending, not approved"),
    ("gx_agri", 403, "sharing application 4 is refused, not approved"),
    ("gx_nr", 403, "sharing application 5 is revoked, not approved"),
    ("gx_stats", 403, "sharing application 6 expired at 2026-11-20 11:00 +08:00"),
    ("nn_water", 403, "resident_register is shared conditionally: nn_water holds no sharing application for it"),
])
def test_conditional_item_by_application_state(world: World, unit: str, status: int, detail: str | None) -> None:
    answer = get(world, unit, REGISTER)
    assert answer.status_code == status, answer.text
    if detail is not None:
        assert answer.json() == {"detail": detail}
    else:
        assert [r["citizen_id"] for r in answer.json()["records"]] in ([PERSON], ["450103********" + PERSON[-4:]])


def test_fields_and_masking_follow_the_grant(world: World) -> None:
    ric, name, phone = PEOPLE[0]
    granted = get(world, "gx_housing", REGISTER).json()
    assert granted["application"] == world.applications["gx_housing"]
    assert granted["records"] == [{"citizen_id": ric[:6] + "*" * 8 + ric[-4:], "name": name[0] + "**",
                                   "status": "正常"}]
    personal = get(world, "gx_hrss", REGISTER).json()["records"][0]
    assert (personal["citizen_id"], personal["name"], personal["phone"]) == (ric, name, phone)
    owner = get(world, "gx_psd", REGISTER).json()["records"][0]
    assert owner == personal
    # filtering on a field the grant does not name would let the filter read it: refused
    refused = post(world, "gx_housing", "/v1/items/resident_register/query", {"where": {"phone": phone}})
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("item resident_register field phone: not granted "
                                        f"(approved sharing application {world.applications['gx_housing']})")


def test_unconditional_not_shared_and_other_modes(world: World) -> None:
    firms = get(world, "nn_water", "/v1/items/market_entity_registration/records?limit=3").json()
    assert [r["uscc"] for r in firms["records"]] == sorted(code for code, _ in FIRMS)[:3]
    assert {r["legal_representative"] for r in firms["records"]} == {"法**"}  # personal, masked for every unit
    assert get(world, "gx_amr", "/v1/items/market_entity_registration/records?limit=1").json()["records"][0][
        "legal_representative"].startswith("法人")
    secret = get(world, "gx_housing", f"/v1/items/{SECRET}/records/{PERSON}")
    assert (secret.status_code, secret.json()["detail"]) == (403, f"{SECRET} is not shared: only its owner gx_psd "
                                                                  "may read it")
    assert get(world, "gx_psd", f"/v1/items/{SECRET}/records/{PERSON}").status_code == 200
    by_file = get(world, "gx_civil", "/v1/items/water_supply_account/records")
    assert (by_file.status_code, by_file.json()["detail"]) == (
        403, "water_supply_account is shared by file, not through the interface")
    assert get(world, "gx_civil", "/v1/items/no_such_item/records").status_code == 404
    listed = {e["item"]: e for e in get(world, "gx_housing", "/v1/items").json()}
    assert "resident_register" in listed and SECRET not in listed
    assert listed["resident_register"]["fields"] == ["citizen_id", "name", "status"]


def test_authentication(world: World) -> None:
    assert httpx.get(world.url + REGISTER, timeout=10).status_code == 401
    assert httpx.get(world.url + REGISTER, headers=bearer("gdt_made-up"), timeout=10).status_code == 401
    token_id, token = world.service.tokens.issue("gx_psd", "short-lived", "test", world.time.moment)
    assert httpx.get(world.url + REGISTER, headers=bearer(token), timeout=10).status_code == 200
    world.service.tokens.revoke(token_id, "test", world.time.moment)
    assert httpx.get(world.url + REGISTER, headers=bearer(token), timeout=10).status_code == 401


def test_an_application_ends_at_valid_until_by_the_clock(world: World) -> None:
    before = world.time.moment
    try:
        world.time.moment = UNTIL - timedelta(seconds=1)
        assert get(world, "gx_housing", REGISTER).status_code == 200
        world.time.moment = UNTIL
        ended = get(world, "gx_housing", REGISTER)
        assert (ended.status_code, ended.json()["detail"]) == (
            403, f"sharing application {world.applications['gx_housing']} expired at 2026-12-20 10:00 +08:00")
        world.time.moment = UNTIL + timedelta(seconds=1)
        assert get(world, "gx_housing", REGISTER).status_code == 403
    finally:
        world.time.moment = before


@pytest.mark.parametrize(("key", "attributes", "answer"), [
    (PEOPLE[1][0], {"name": PEOPLE[1][1]}, {"found": True, "match": True, "mismatched": []}),
    (PEOPLE[1][0], {"name": "别人"}, {"found": True, "match": False, "mismatched": ["name"]}),
    (PEOPLE[1][0], {}, {"found": True, "match": True, "mismatched": []}),
    ("450103198506129995", {"name": PEOPLE[1][1]}, {"found": False, "match": False, "mismatched": []}),
])
def test_verification_answers_without_data(world: World, key: str, attributes: dict[str, str],
                                           answer: dict[str, object]) -> None:
    if key.endswith("9995"):
        from stdnum.cn import ric

        key = key[:17] + ric.calc_check_digit(key[:17] + "0")
    reply = post(world, "gx_housing", "/v1/items/resident_register/verify",
                 {"key": {"citizen_id": key}, "attributes": attributes})
    assert reply.json() == {"item": "resident_register", **answer}


def test_verification_refuses_bad_keys_and_ungranted_fields(world: World) -> None:
    bad = post(world, "gx_housing", "/v1/items/resident_register/verify", {"key": {"citizen_id": "123"}})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("item resident_register field citizen_id:")
    hidden = post(world, "gx_housing", "/v1/items/resident_register/verify",
                  {"key": {"citizen_id": PERSON}, "attributes": {"phone": PEOPLE[0][2]}})
    assert hidden.status_code == 403


def test_every_request_is_audited_and_an_edit_is_detected(world: World) -> None:
    chain: AuditChain = world.service.audit
    before = chain.verify()
    assert before.intact, before.problems
    get(world, "gx_housing", REGISTER)
    get(world, "nn_water", REGISTER)
    httpx.get(world.url + REGISTER, timeout=10)
    rows = list(chain.rows())[before.rows:]
    assert [(r["event"], r["unit"], r["item"], r["allowed"], r["rows"]) for r in rows] == [
        ("read", "gx_housing", "resident_register", True, 1),
        ("read", "nn_water", "resident_register", False, 0),
        ("read", None, "resident_register", False, 0)]
    assert rows[0]["application_id"] == world.applications["gx_housing"]
    assert rows[2]["reason"] == "no token presented"
    # applications and their decisions are in the same chain
    events = {(r["event"], r["application_id"]) for r in chain.rows()}
    assert ("refuse", world.applications["gx_agri"]) in events
    assert ("revoke_application", world.applications["gx_nr"]) in events
    table = chain.table
    edited_seq = rows[1]["seq"]
    with world.store.engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.seq == edited_seq).values(allowed=True))
    assert chain.verify().problems == (f"sharing_audit: row {edited_seq} field hash does not match its content "
                                       "(row edited)",)
    with world.store.engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.seq == edited_seq).values(allowed=False))
        conn.execute(sa.delete(table).where(table.c.seq == rows[0]["seq"]))
    problems = chain.verify().problems
    assert problems[0] == f"sharing_audit: row {edited_seq} follows row {edited_seq - 2} (rows missing between)"
    assert len(problems) == 2 and "prev_hash" in problems[1]
