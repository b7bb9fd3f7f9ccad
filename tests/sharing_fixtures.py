"""A small sharing world on the demo catalogue: stores with rows, applications in every state, a live server."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.access import AccessControl
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.catalogue.models import Sharing, SharingType
from pipelines.clock import Clock
from pipelines.serving.service import SharingService
from pipelines.store import Store
from tests.conftest import REPO, make_ric, make_uscc

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(days=30)
SECRET = "household_secret"  # a not-shared item served by interface (the demo has none)
PEOPLE = [(make_ric(i), f"居民{i}", f"1380771{i:04d}") for i in range(1, 6)]
FIRMS = [(make_uscc(i), f"企业{i}") for i in range(1, 6)]


def sharing_catalogue() -> Catalogue:
    demo = load_catalogue(REPO / "catalogue" / "demo")
    register = demo.item("resident_register")
    secret = register.model_copy(update={"code": SECRET, "name": "户籍内部记录",
                                         "sharing": Sharing(type=SharingType.NOT_SHARED, mode="interface")})
    return Catalogue(units=demo.units, items=(*demo.items, secret), governance=demo.governance,
                     contractors=demo.contractors)


def _people() -> pd.DataFrame:
    return pd.DataFrame([[ric, name, "男", "汉族", "1985-06-12", "450103", f"南宁市青秀区{n}号", phone, "已婚", "正常",
                          "2026-11-01"] for n, (ric, name, phone) in enumerate(PEOPLE)],
                        columns=["citizen_id", "name", "gender", "ethnicity", "birth_date", "household_region",
                                 "address", "phone", "marital_status", "status", "updated_at"], dtype=object)


def _firms() -> pd.DataFrame:
    return pd.DataFrame([[code, name, "有限责任公司", f"法人{n}", "100.5", "2020-01-02", "450103", "南宁市", "530000",
                          "07713800000", "存续", "2026-11-01"] for n, (code, name) in enumerate(FIRMS)],
                        columns=["uscc", "entity_name", "entity_type", "legal_representative", "registered_capital",
                                 "established_date", "region_code", "address", "postcode", "phone", "status",
                                 "updated_at"], dtype=object)


def _water() -> pd.DataFrame:
    return pd.DataFrame([[f"W{n}", name, "居民生活用水", "南宁市", f"M{n}", phone, "12.5", "0", "2020-01-01", "正常",
                          "2026-11-01"] for n, (_, name, phone) in enumerate(PEOPLE)],
                        columns=["account_no", "customer_name", "customer_type", "address", "meter_no", "phone",
                                 "monthly_usage", "arrears", "opened_date", "status", "updated_at"], dtype=object)


def seeded_store(url: str) -> Store:
    store = Store(url, sharing_catalogue())
    cat = store.catalogue
    items = [cat.item(c) for c in ("resident_register", "market_entity_registration", SECRET,
                                   "water_supply_account", "drinking_water_quality")]
    store.ensure_tables(items)
    store.shared.upsert(cat.item("resident_register"), _people(), "gx_psd", "s-people", NOW)
    store.shared.upsert(cat.item(SECRET), _people(), "gx_psd", "s-secret", NOW)
    store.shared.upsert(cat.item("market_entity_registration"), _firms(), "gx_amr", "s-firms", NOW)
    store.shared.upsert(cat.item("water_supply_account"), _water(), "gx_housing", "s-water", NOW)
    return store


@dataclass
class MovableClock:
    """The platform's injected clock, moved by the test."""

    moment: datetime = NOW

    def clock(self) -> Clock:
        return Clock(lambda: self.moment)


@dataclass
class World:
    store: Store
    service: SharingService
    control: AccessControl
    time: MovableClock
    tokens: dict[str, str]
    applications: dict[str, int]
    url: str = ""


# reader unit -> the state of its application for resident_register (gx_psd's, conditional, interface)
STATES = {"gx_housing": "approved", "gx_hrss": "approved_personal", "gx_civil": "pending", "gx_agri": "refused",
          "gx_nr": "revoked", "gx_stats": "expired", "nn_water": "none"}


def build_world(store: Store, prefix: str) -> World:
    time_ = MovableClock()
    control = AccessControl(store, prefix=prefix)
    if control.roles:
        control.sync(NOW)
    service = SharingService(store, time_.clock())
    apps: dict[str, int] = {}
    for unit, state in STATES.items():
        if state == "none":
            continue
        personal = state == "approved_personal"
        fields = None if personal else ("citizen_id", "name", "status")
        app = control.apply(unit, "resident_register", "社会救助资格核查", UNTIL, NOW, fields, personal)
        apps[unit] = app
        if state in ("approved", "approved_personal", "revoked", "expired"):
            until = NOW + timedelta(hours=1) if state == "expired" else None
            control.approve(app, "省大数据局", NOW, valid_until=until)
        if state == "refused":
            control.refuse(app, "省大数据局", "目的不明确", NOW)
        if state == "revoked":
            control.revoke(app, "省大数据局", "项目结束", NOW)
    file_app = control.apply("gx_civil", "water_supply_account", "低保水费减免", UNTIL, NOW, ("account_no", "phone"))
    control.approve(file_app, "省大数据局", NOW)
    apps["water"] = file_app
    units = {*STATES, "gx_psd", "gx_amr"}
    tokens = {u: service.tokens.issue(u, f"{u} 业务系统", "test", NOW)[1] for u in sorted(units)}
    time_.moment = NOW + timedelta(hours=2)  # the "expired" application's hour is over; the others run a month
    return World(store, service, control, time_, tokens, apps)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(service: SharingService) -> Iterator[str]:
    """The app on real uvicorn in a thread, on a free loopback port; yields its base URL."""
    import uvicorn

    from pipelines.serving.api import create_app
    from pipelines.serving.server import uvicorn_config

    port = free_port()
    server = uvicorn.Server(uvicorn_config(create_app(service), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def new_prefix() -> str:
    return f"unit_{uuid.uuid4().hex[:6]}_"


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'shared_store.db'}"


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
