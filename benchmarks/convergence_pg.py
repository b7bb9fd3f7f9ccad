"""Convergence throughput on PostgreSQL, next to ``psql \\copy`` and ``pandas.to_sql`` (a script, not a test).

    .venv/bin/python benchmarks/convergence_pg.py [--rows 1000000] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Makes N validated rows of 10 mixed columns (text, integer, decimal, boolean, date, datetime), writes
them as the validated stage data the pipeline converges (``StageStore.write``: compressed CSV chunks in
the store, timed too) and as a CSV file for psql, and loads the same rows, in the same run, into three
empty tables of the same DDL (primary key included) in a throwaway database:

- the project's convergence step: ``SharedTables.upsert_stage`` of the stage text stream (COPY into
  staging + typed merge, one transaction, audit row included), then again over the full table (every
  row an update);
- ``psql \\copy`` of the same CSV file straight into the table (the floor: no merge, no casts);
- ``pandas.DataFrame.to_sql`` (SQLAlchemy executemany).

Prints rows/s and the ratios against the targets (>= 50% of psql \\copy, >= 5x to_sql).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from pipelines.catalogue import Catalogue
from pipelines.catalogue.models import FieldType, Item, ItemField, Unit
from pipelines.store import Store

COLUMNS = [
    ItemField(name="record_id", label="记录编号", primary_key=True),
    ItemField(name="name", label="名称", required=True),
    ItemField(name="region", label="行政区划"),
    ItemField(name="amount", label="金额", type=FieldType.DECIMAL),
    ItemField(name="quantity", label="数量", type=FieldType.INTEGER),
    ItemField(name="active", label="是否有效", type=FieldType.BOOLEAN),
    ItemField(name="opened", label="开立日期", type=FieldType.DATE),
    ItemField(name="updated", label="更新时间", type=FieldType.DATETIME),
    ItemField(name="status", label="状态", values=("存续", "注销", "吊销")),
    ItemField(name="note", label="备注"),
]


def bench_catalogue(code: str) -> Catalogue:
    unit = Unit(code="amr", name="省市场监督管理局", kind="state_organ", level="province", region="450000")
    item = Item(code=code, name="基准测试", abstract="convergence benchmark", unit="amr", obtained="duty",
                level="province", region="450000", update_cycle="daily", sharing={"type": "unconditional"},
                fields=tuple(COLUMNS))
    return Catalogue(units=(unit,), items=(item,))


def make_rows(n: int) -> pd.DataFrame:
    """N validated rows as text, the way the validated stage file holds them."""
    rng = np.random.default_rng(20261127)
    ids = np.arange(n)
    days = rng.integers(0, 3650, n)
    seconds = rng.integers(0, 86400, n)
    opened = np.datetime64("2015-01-01") + days.astype("timedelta64[D]")
    updated = opened.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return pd.DataFrame({
        "record_id": np.char.add("R", ids.astype(str)),
        "name": np.char.add("企业名称", (ids % 99991).astype(str)),
        "region": rng.choice(["450102", "450103", "450105", "450202"], n),
        "amount": np.char.mod("%.2f", rng.uniform(0, 1e7, n)),
        "quantity": rng.integers(0, 100000, n).astype(str),
        "active": rng.choice(["true", "false"], n),
        "opened": np.datetime_as_string(opened, unit="D"),
        "updated": np.char.replace(np.datetime_as_string(updated, unit="s"), "T", " "),
        "status": rng.choice(["存续", "注销", "吊销"], n),
        "note": np.where(rng.random(n) < 0.3, "", "备注文本 some remark"),
    })


def timed(label: str, rows: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    rate = rows / elapsed
    print(f"  {label:<48} {elapsed:8.2f} s  {rate:12,.0f} rows/s", flush=True)
    return rate


def psql_copy(url: sa.URL, table: str, path: Path) -> None:
    columns = ", ".join(c.name for c in COLUMNS)
    command = f"\\copy {table} ({columns}) from '{path}' with (format csv, header true)"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host or "127.0.0.1",
                    "-p", str(url.port or 5432), "-U", url.username or "postgres", "-d", url.database or "",
                    "-c", command], check=True, env={"PGPASSWORD": url.password or "", "PATH": "/usr/bin:/bin"})


def clone_table(engine: sa.Engine, source: str, target: str) -> None:
    """Same columns, keys, NOT NULLs; the lineage columns get constant defaults so \\copy can load the file as is."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {target} (LIKE {source} INCLUDING ALL)")
        for column, default in (("_source_unit", "'amr'"), ("_submission_id", "'bench'"), ("_converged_at", "now()")):
            conn.exec_driver_sql(f"ALTER TABLE {target} ALTER COLUMN {column} SET DEFAULT {default}")


def run(admin_url: str, n: int, workdir: Path, to_sql_rows: int) -> None:
    name = f"govdata_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin_url).set(database=name)
    try:
        measure(url, n, workdir, to_sql_rows)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def measure(url: sa.URL, n: int, workdir: Path, to_sql_rows: int) -> None:
    print(f"making {n:,} rows x {len(COLUMNS)} columns ...", flush=True)
    frame = make_rows(n)
    path = workdir / "valid.csv"
    frame.to_csv(path, index=False)
    store = Store(url.render_as_string(hide_password=False), bench_catalogue("bench"))
    store.ensure_tables()
    item = store.catalogue.item("bench")
    target = "shared_province.bench"
    clone_table(store.engine, target, "shared_province.bench_psql")
    clone_table(store.engine, target, "shared_province.bench_to_sql")
    now = datetime.now(UTC)
    print(f"PostgreSQL {store.engine.dialect.server_version_info}, {n:,} rows, empty tables with a primary key:")
    copy_rate = timed("psql \\copy (CSV file -> table)", n, lambda: psql_copy(url, "shared_province.bench_psql", path))
    timed("stage: StageStore.write (validation's output)", n, lambda: store.stage.write("bench", "valid", frame))
    ours = timed("convergence: Store.upsert_stage (insert)", n,
                 lambda: store.shared.upsert_stage(item, store.stage.open_text("bench", "valid"), "amr", "bench-1",
                                                   now))
    again = timed("convergence: Store.upsert_stage (all updates)", n,
                  lambda: store.shared.upsert_stage(item, store.stage.open_text("bench", "valid"), "amr", "bench-2",
                                                    now))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE shared_province.bench")
    in_memory = timed("convergence: Store.upsert (DataFrame)", n,
                      lambda: store.shared.upsert(item, frame, "amr", "bench-3", now))
    # to_sql is ~20x slower: its rate is measured on the first to_sql_rows rows (rows/s is per row).
    to_sql_frame = frame.head(to_sql_rows).assign(_source_unit="amr", _submission_id="bench", _converged_at=now)
    to_sql_frame = to_sql_frame.replace({"": None})
    to_sql = timed(f"pandas.DataFrame.to_sql (executemany, {len(to_sql_frame):,} rows)", len(to_sql_frame),
                   lambda: to_sql_frame.to_sql(
        "bench_to_sql", store.engine, schema="shared_province", if_exists="append", index=False, chunksize=10000))
    with store.engine.connect() as conn:
        counts = [conn.exec_driver_sql(f"select count(*) from shared_province.{t}").scalar()
                  for t in ("bench", "bench_psql", "bench_to_sql")]
    store.dispose()
    assert counts == [n, n, len(to_sql_frame)], counts
    print("\nratios (convergence = upsert_stage, insert):")
    print(f"  convergence / psql \\copy  = {ours / copy_rate:6.2f}   (target >= 0.50: "
          f"{'met' if ours / copy_rate >= 0.5 else 'NOT met'})")
    print(f"  convergence / to_sql      = {ours / to_sql:6.2f}   (target >= 5: "
          f"{'met' if ours / to_sql >= 5 else 'NOT met'})")
    print(f"  all-updates merge / psql \\copy = {again / copy_rate:6.2f}")
    print(f"  upsert(DataFrame) / psql \\copy = {in_memory / copy_rate:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
                        help="an admin connection: a throwaway database is created and dropped")
    parser.add_argument("--to-sql-rows", type=int, default=200_000,
                        help="rows for the (slow) to_sql measurement; its rate is per row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govdata_bench_") as workdir:
        run(args.url, args.rows, Path(workdir), min(args.rows, args.to_sql_rows))


if __name__ == "__main__":
    main()
