"""How fast the open-data personal-data scan is on a large publication.

The scan (``pipelines.opendata.scan_edition``) makes one pass over the rows both published files are
written from: shape-based detection (citizen IDs, mobile numbers, e-mail addresses) and one
Aho-Corasick automaton over the source rows' personal values. Baseline, in the same process: a plain
``set`` membership pass over the same cells (each cell looked up whole), the least a look-up of known
values can cost; figures are ratios to it, with CPU seconds beside wall time, because these machines
are noisy. ``--naive-rows`` also times the scan it replaced (one substring search of the text per
known value) on a smaller table, to show its quadratic cost.

Usage: python benchmarks/opendata_scan.py [--rows 1000000] [--naive-rows 20000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pandas as pd

from pipelines import opendata
from pipelines.catalogue.models import Item
from pipelines.quality.masking import personal_numbers

NAME_CHARS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢唐韦覃蒙莫廖陆黎蓝农潘邓苏卢钟甘伟强磊军勇杰涛明超刚华"
STREETS = ("民族大道", "朝阳路", "文惠路", "中山中路", "东葛路", "竹溪大道", "星光大道", "五一路")


def synthetic(rows: int, seed: int = 7) -> tuple[pd.DataFrame, list[str]]:
    """Published rows (name, address, remark, amount) and one withheld personal name per row."""
    rng = random.Random(seed)
    names = ["".join(rng.choices(NAME_CHARS, k=rng.choice((2, 3, 3)))) for _ in range(rows)]
    table = pd.DataFrame({
        "entity_name": [f"南宁{rng.choice(STREETS)}商贸有限公司{i}" for i in range(rows)],
        "address": [f"广西南宁市{rng.choice(STREETS)}{rng.randint(1, 399)}号" for _ in range(rows)],
        "remark": [rng.choice(("已核实", "补录", "按季度汇总报送", "")) for _ in range(rows)],
        "amount": [round(rng.uniform(0, 1e6), 2) for _ in range(rows)],
    })
    return table, names


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def edition_of(table: pd.DataFrame) -> tuple[opendata.Edition, opendata.Publication]:
    item = cast(Item, SimpleNamespace(code="bench"))  # the scan reads the table and the document only
    staged = opendata.Edition(item, table, {"dataset": "bench", "fields": []}, 0)
    publication = opendata.Publication("bench", "u", len(table), Path("bench.csv"), Path("bench.json"), (), 0,
                                       datetime(2026, 11, 27))
    return staged, publication


def set_baseline(table: pd.DataFrame, known: set[str]) -> int:
    cells = [str(v) for column in table.columns for v in table[column].dropna()]
    return sum(1 for cell in cells if cell in known)


def naive_scan(table: pd.DataFrame, known: set[str]) -> int:
    text = opendata.rows_text(table)
    return len(personal_numbers(text)) + sum(1 for v in known if v in text)


def report(label: str, rows: int, wall: float, cpu: float, baseline_wall: float) -> None:
    print(f"{label:34} {wall:8.2f} s wall {cpu:8.2f} s CPU {rows / wall:12,.0f} rows/s "
          f"{wall / baseline_wall:6.1f}x the set pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000, help="0 to skip the old scan")
    args = parser.parse_args()
    table, names = synthetic(args.rows)
    known = {n for n in names if len(n) >= 2}
    print(f"{args.rows:,} rows, {len(known):,} distinct known personal values, "
          f"{len(opendata.rows_text(table)) / 1e6:.1f} M characters of published text")
    _, base_wall, base_cpu = timed(lambda: set_baseline(table, known))
    report("baseline: set membership per cell", args.rows, base_wall, base_cpu, base_wall)
    scanner, build_wall, build_cpu = timed(lambda: opendata.PersonalScanner.of(known))
    report("automaton build", args.rows, build_wall, build_cpu, base_wall)
    findings, scan_wall, scan_cpu = timed(lambda: opendata.scan_edition(*edition_of(table), scanner))
    report("scan (rows text, shapes, automaton)", args.rows, scan_wall, scan_cpu, base_wall)
    report("build + scan", args.rows, build_wall + scan_wall, build_cpu + scan_cpu, base_wall)
    print(f"findings: {len(findings)}")
    if args.naive_rows:
        small, small_names = table.head(args.naive_rows), set(names[: args.naive_rows])
        _, small_base, _ = timed(lambda: set_baseline(small, small_names))
        _, naive_wall, naive_cpu = timed(lambda: naive_scan(small, small_names))
        small_scanner = opendata.PersonalScanner.of(small_names)
        _, new_wall, new_cpu = timed(lambda: opendata.scan_edition(*edition_of(small), small_scanner))
        report(f"old substring scan, {args.naive_rows:,} rows", args.naive_rows, naive_wall, naive_cpu, small_base)
        report(f"new scan, {args.naive_rows:,} rows", args.naive_rows, new_wall, new_cpu, small_base)


if __name__ == "__main__":
    main()
