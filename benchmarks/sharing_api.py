"""Load on the sharing API: 50 concurrent clients in a second process for 20 s, key look-ups and verifications.

The server is real uvicorn on loopback in this process (so its CPU seconds are this process's); the clients are
``httpx.AsyncClient`` tasks in a child process. Half the requests read a resident by citizen ID under an approved
conditional application (token, application and audit on every request), half verify a credit code and name
against the market-entity register. Afterwards: exactly one new audit row per request, and the chain verifies.
Baseline in the same process: the same queries straight through SQLAlchemy Core, one connection, no HTTP, no
authorisation, no audit: what the service adds is the ratio. Targets (issue 12): >= 300 requests/s, p99 <= 300 ms,
0 errors, on SQLite and on PostgreSQL.

Usage: python benchmarks/sharing_api.py [--seconds 20] [--clients 50] [--rows 2000] [--store sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import PG_ADMIN_URL, make_ric, make_uscc  # noqa: E402
from tests.helpers import drop_roles  # noqa: E402
from tests.sharing_fixtures import build_world, live_server, new_prefix, seeded_store  # noqa: E402


def populate(store: Any, rows: int) -> tuple[list[str], list[tuple[str, str]]]:
    cat = store.catalogue
    people = [make_ric(i, birth=f"1985{1 + (i // 1000) % 12:02d}12") for i in range(10, 10 + rows)]
    frame = pd.DataFrame([[c, f"居民{n}", "女", "壮族", "1985-01-12", "450103", "南宁市", None, None, "正常",
                           "2026-11-01"] for n, c in enumerate(people)],
                         columns=[f.name for f in cat.item("resident_register").fields], dtype=object)
    store.shared.upsert(cat.item("resident_register"), frame, "gx_psd", "bench-people", pd.Timestamp.now("UTC"))
    firms = [(make_uscc(i), f"企业{i}") for i in range(10, 10 + rows)]
    firm_frame = pd.DataFrame([[u, n, "有限责任公司", "某", "1", "2020-01-01", "450103", "南宁", None, None, "存续",
                                "2026-11-01"] for u, n in firms],
                              columns=[f.name for f in cat.item("market_entity_registration").fields], dtype=object)
    store.shared.upsert(cat.item("market_entity_registration"), firm_frame, "gx_amr", "bench-firms",
                        pd.Timestamp.now("UTC"))
    return list(dict.fromkeys(people)), firms


# --- the clients (the child process) ---------------------------------------------------------------
async def _client(url: str, token: str, people: list[str], firms: list[list[str]], until: float,
                  latencies: list[float], errors: list[str], seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                if rng.random() < 0.5:
                    reply = await client.get(f"/v1/items/resident_register/records/{rng.choice(people)}")
                else:
                    code, name = rng.choice(firms)
                    reply = await client.post("/v1/items/market_entity_registration/verify",
                                              json={"key": {"uscc": code}, "attributes": {"entity_name": name}})
                ok = reply.status_code == 200 and (reply.json().get("count") == 1 or reply.json().get("match"))
                if not ok:
                    errors.append(f"{reply.status_code} {reply.text[:200]}")
            except Exception as exc:  # a failed request is counted, not fatal
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - started)


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + spec["seconds"]
    started = time.perf_counter()
    await asyncio.gather(*(_client(spec["url"], spec["token"], spec["people"], spec["firms"], until, latencies,
                                   errors, seed) for seed in range(spec["clients"])))
    ordered = sorted(latencies)
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "wall": time.perf_counter() - started, "cpu": time.process_time(),
            "p50": ordered[len(ordered) // 2], "p99": ordered[int(len(ordered) * 0.99)]}


def client_main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_load(spec))))


# --- the server side and the baseline ---------------------------------------------------------------
def baseline(store: Any, people: list[str], firms: list[tuple[str, str]], seconds: float) -> dict[str, float]:
    """The same key look-ups and verification selects through SQLAlchemy, one connection, for ``seconds``."""
    people_table = store.tables.shared(store.catalogue.item("resident_register"))
    firm_table = store.tables.shared(store.catalogue.item("market_entity_registration"))
    rng = random.Random(1)
    done = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with store.engine.connect() as conn:
        while time.perf_counter() - wall < seconds:
            if rng.random() < 0.5:
                conn.execute(select(people_table.c.citizen_id, people_table.c.name, people_table.c.status)
                             .where(people_table.c.citizen_id == rng.choice(people))).all()
            else:
                code, _ = rng.choice(firms)
                conn.execute(select(firm_table.c.entity_name).where(firm_table.c.uscc == code)).first()
            done += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"requests": done, "per_s": done / wall, "wall": wall, "cpu": cpu}


def run(kind: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    prefix = new_prefix()
    store = seeded_store(url)
    try:
        world = build_world(store, prefix)
        people, firms = populate(store, args.rows)
        before = world.service.audit.verify().rows
        with live_server(world.service) as base:
            spec = {"url": base, "token": world.tokens["gx_housing"], "people": people,
                    "firms": [list(f) for f in firms], "seconds": args.seconds, "clients": args.clients}
            cpu = time.process_time()
            child = subprocess.run([sys.executable, __file__, "--client"], input=json.dumps(spec), text=True,
                                   capture_output=True, check=True, timeout=args.seconds + 120)
            server_cpu = time.process_time() - cpu
        load = json.loads(child.stdout)
        chain = world.service.audit.verify()
        base_line = baseline(store, people, firms, min(args.seconds, 10))
    finally:
        store.dispose()
        if kind == "postgres":
            drop_roles(url, prefix)
    per_s = load["requests"] / load["wall"]
    return {"store": kind, "requests": load["requests"], "per_s": per_s, "p50_ms": load["p50"] * 1000,
            "p99_ms": load["p99"] * 1000, "errors": load["errors"], "first_errors": load["first_errors"],
            "audit_rows": chain.rows - before, "chain_intact": chain.intact, "server_cpu_s": server_cpu,
            "client_cpu_s": load["cpu"], "wall_s": load["wall"], "baseline": base_line,
            "service_cpu_ms_per_request": 1000 * server_cpu / max(load["requests"], 1),
            "baseline_cpu_ms_per_query": 1000 * base_line["cpu"] / max(base_line["requests"], 1)}


def report(r: dict[str, Any]) -> str:
    b = r["baseline"]
    return "\n".join([
        f"== {r['store']} ==",
        f"sharing API : {r['requests']} requests in {r['wall_s']:.1f} s wall = {r['per_s']:.0f} requests/s, "
        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['errors']} errors {r['first_errors'] or ''}",
        f"              server CPU {r['server_cpu_s']:.1f} s ({r['service_cpu_ms_per_request']:.2f} ms/request), "
        f"client CPU {r['client_cpu_s']:.1f} s (second process)",
        f"audit       : {r['audit_rows']} new rows for {r['requests']} requests, chain "
        f"{'verifies' if r['chain_intact'] else 'BROKEN'}",
        f"baseline    : SQLAlchemy select, one connection: {b['requests']} queries in {b['wall']:.1f} s wall = "
        f"{b['per_s']:.0f}/s, CPU {b['cpu']:.1f} s ({r['baseline_cpu_ms_per_query']:.3f} ms/query)",
        f"ratio       : API {r['per_s'] / b['per_s']:.3f} x the baseline's rate; "
        f"{r['service_cpu_ms_per_request'] / max(r['baseline_cpu_ms_per_query'], 1e-9):.1f} x its CPU per request",
        f"targets     : >=300/s {'met' if r['per_s'] >= 300 else 'MISSED'}, p99<=300 ms "
        f"{'met' if r['p99_ms'] <= 300 else 'MISSED'}, 0 errors {'met' if r['errors'] == 0 else 'MISSED'}, "
        f"one audit row per request {'met' if r['audit_rows'] == r['requests'] and r['chain_intact'] else 'MISSED'}",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main()
        return 0
    results = []
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run("sqlite", f"sqlite:///{tmp}/shared_store.db", args))
            print(report(results[-1]), flush=True)
    if args.store in ("postgres", "both"):
        name = f"govdata_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            results.append(run("postgres", sa.engine.make_url(PG_ADMIN_URL).set(database=name)
                               .render_as_string(hide_password=False), args))
            print(report(results[-1]), flush=True)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    met = all(r["per_s"] >= 300 and r["p99_ms"] <= 300 and r["errors"] == 0 and r["audit_rows"] == r["requests"]
              and r["chain_intact"] for r in results)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
