"""What quality costs: GX validation per item (fixed cost per call) and per million rows, against a
plain-pandas baseline evaluating the same rules on the same frame in the same process, plus the
Data Docs page per validation and a full inspection of a 12-item province.

    .venv/bin/python benchmarks/quality_cost.py [--rows 100000] [--items 12] [--item-rows 5000]

Prints a markdown table; docs/quality.md records the figures of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from stdnum.cn import uscc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.catalogue import Catalogue, load_catalogue  # noqa: E402
from pipelines.catalogue.models import Item  # noqa: E402
from pipelines.standards import STANDARD_CHECKS, TYPE_CHECKS  # noqa: E402

TODAY = date.today().isoformat()


def make_uscc(serial: int) -> str:
    body = "91450100" + f"MA{serial:08d}"[:10]
    return body + uscc.calc_check_digit(body)


def enterprise_frame(rows: int) -> pd.DataFrame:
    """Mostly valid rows, one in fifty with a wrong value set entry, so failures are reported too."""
    return pd.DataFrame({
        "credit_code": [make_uscc(i) for i in range(rows)],
        "name": [f"企业{i}" for i in range(rows)],
        "region": ["450103"] * rows,
        "capital": [str(i % 1000) for i in range(rows)],
        "status": ["歇业" if i % 50 == 0 else "存续" for i in range(rows)],
        "updated_at": [TODAY] * rows,
    }, dtype=object)


def pandas_baseline(item: Item, frame: pd.DataFrame) -> int:
    """The same rules as the suite, by hand: the floor that any validation engine pays."""
    failures = int(frame.duplicated(subset=list(item.primary_key), keep=False).sum())
    for f in item.fields:
        column = frame[f.name]
        present = column.dropna().astype(str)
        failures += int(column.isna().sum()) if f.not_null else 0
        failures += int((~present.map(TYPE_CHECKS[f.type])).sum())
        if f.standard is not None:
            failures += int((~present.map(STANDARD_CHECKS[f.standard])).sum())
        if f.values is not None:
            failures += int((~present.isin(f.values)).sum())
    return failures


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) if repeat < 5 else statistics.median(times)


def per_item_and_per_row(item: Item, rows: int) -> dict[str, float]:
    from expectations.runner import GxValidator

    validator = GxValidator()
    small, large = enterprise_frame(10), enterprise_frame(rows)
    validator.validate(item, small, date.today())  # warm up: context, suite, metric registry
    gx_small = best_of(15, lambda: validator.validate(item, small, date.today()))
    gx_large = best_of(2, lambda: validator.validate(item, large, date.today()))
    pd_small = best_of(15, lambda: pandas_baseline(item, small))
    pd_large = best_of(2, lambda: pandas_baseline(item, large))
    with tempfile.TemporaryDirectory() as docs:
        documented = GxValidator(docs_dir=Path(docs))
        documented.validate(item, small, date.today())  # GX's Jinja environment loads once per process
        gx_docs = best_of(10, lambda: documented.validate(item, small, date.today()))
    return {"gx_call_ms": gx_small * 1000, "pandas_call_ms": pd_small * 1000,
            "docs_page_ms": (gx_docs - gx_small) * 1000,
            "gx_s_per_million": (gx_large - gx_small) / rows * 1e6,
            "pandas_s_per_million": (pd_large - pd_small) / rows * 1e6}


def province(base: Item, items: int) -> Catalogue:
    catalogue = load_catalogue(REPO / "tests" / "fixtures" / "mini")
    clones = tuple(base.model_copy(update={"code": f"item_{n:02d}"}) for n in range(items))
    return Catalogue(units=catalogue.units, items=clones)


def full_inspection(base: Item, items: int, item_rows: int) -> float:
    from expectations.runner import GxValidator
    from pipelines.process import Platform
    from pipelines.quality.inspection import inspect_item
    from pipelines.store import Store

    catalogue = province(base, items)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = Store(f"sqlite:///{data / 'store.db'}", catalogue)
        store.ensure_tables()
        now = datetime.now(UTC)
        for item in catalogue.items:
            store.shared.upsert(item, enterprise_frame(item_rows), "amr", f"{item.code}/bench", now)
            store.ledger.record(submission_id=f"{item.code}/bench", item=item.code, unit="amr", source="b.csv",
                                    digest="0", status="converged", received=item_rows, valid=item_rows,
                                    converged=item_rows, received_at=now)
        platform = Platform(catalogue=catalogue, intake_dir=data, data_dir=data, store=store,
                            validator=GxValidator(docs_dir=data / "data_docs"))
        started = time.perf_counter()
        for item in catalogue.items:
            inspect_item(platform, item)
        elapsed = time.perf_counter() - started
        store.dispose()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--item-rows", type=int, default=5_000)
    args = parser.parse_args()
    item = load_catalogue(REPO / "tests" / "fixtures" / "mini").item("enterprise")
    figures = per_item_and_per_row(item, args.rows)
    inspection = full_inspection(item, args.items, args.item_rows)
    print(f"item `enterprise`: {len(item.fields)} fields, frames of 10 and {args.rows:,} rows\n")
    print("| measure | GX | pandas baseline | ratio |\n|---|---:|---:|---:|")
    print(f"| fixed cost per validation call (10 rows) | {figures['gx_call_ms']:.1f} ms | "
          f"{figures['pandas_call_ms']:.1f} ms | {figures['gx_call_ms'] / figures['pandas_call_ms']:.1f}× |")
    print(f"| per million rows | {figures['gx_s_per_million']:.1f} s | {figures['pandas_s_per_million']:.1f} s | "
          f"{figures['gx_s_per_million'] / figures['pandas_s_per_million']:.1f}× |")
    print(f"| Data Docs page per validation | {figures['docs_page_ms']:.1f} ms | – | – |")
    print(f"| full inspection, {args.items} items × {args.item_rows:,} rows (4 dimensions, Data Docs) | "
          f"{inspection:.1f} s | – | – |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
