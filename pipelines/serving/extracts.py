"""File sharing (mode ``file``): per approved application in force, an extract of the fields it grants.

Written to ``<data>/sharing/extracts/<applicant>/<item>.csv`` (personal fields masked unless granted), the
file replaced whole each time, and one ``extract`` row in the audit chain per file with its row count. An
application no longer in force gets no new extract and its old file is removed.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from pipelines.catalogue.models import SharingType
from pipelines.clock import Clock
from pipelines.serving.rules import decide
from pipelines.serving.service import SharingService
from pipelines.serving.tokens import Caller
from pipelines.store import Store

EXTRACTS = Path("sharing") / "extracts"
PLATFORM = "platform"


@dataclass(frozen=True)
class Extract:
    applicant: str
    item: str
    application_id: int | None
    rows: int
    path: Path


def write_extracts(store: Store, data_dir: Path, now: datetime, platform: str | None = None) -> list[Extract]:
    """``platform``: only the items it hosts (its store holds their tables and applications)."""
    service = SharingService(store, Clock.fixed(now), platform)
    apps = store.tables.sharing_applications
    with store.engine.connect() as conn:
        pairs = sorted({(r.applicant, r.item) for r in conn.execute(select(apps.c.applicant, apps.c.item))})
    written = []
    for applicant, code in pairs:
        item = store.catalogue.find_item(code)
        if item is None or item.sharing.mode != "file" or item.sharing.type is not SharingType.CONDITIONAL \
                or not service.hosts(item):
            continue
        target = data_dir / EXTRACTS / applicant / f"{code}.csv"
        access = decide(item, applicant, service.applications(applicant, code), now)
        if not access.allowed:
            target.unlink(missing_ok=True)
            continue
        table = store.tables.shared(item)
        with store.engine.connect() as conn:
            rows = conn.execute(select(*(table.c[f] for f in access.fields))
                                .order_by(*(table.c[k] for k in item.primary_key))).all()
        records = [service.record_out(item, access, r._mapping) for r in rows]
        _write_csv(target, list(access.fields), records)
        service.record_event("extract", Caller(applicant, 0), code, access.application_id,
                             {"file": str(target.relative_to(data_dir))}, len(records), True, access.reason, PLATFORM)
        written.append(Extract(applicant, code, access.application_id, len(records), target))
    return written


def _write_csv(target: Path, header: list[str], records: list[dict[str, str | None]]) -> None:
    """Whole or not at all: written beside the target, then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".csv.partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(records)
    os.replace(partial, target)
