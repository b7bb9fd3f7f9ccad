"""Where the column readers pay off: one column read by them and by the scalar reader, at several lengths.

``pipelines.column_values`` reads a column with a dozen pandas calls whatever its length; the scalar value
model (``pipelines.values``) costs a Python call per distinct cell. A run of many small submissions reads
every column of every submission several times, so the crossover sets ``column_values.SCALAR_BELOW``, the
length below which the platform reads cell by cell. Baseline: the scalar reader on the same cells, in the
same process. CPU milliseconds per column (the machines are shared), best of ``--repeat``.

Usage: python benchmarks/column_readers.py [--lengths 100,300,1000,2000,5000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from functools import partial

import pandas as pd

from pipelines import column_values
from pipelines.catalogue.models import FieldType, ItemField
from pipelines.values import canonical_column


def _cpu_ms(read: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        read()
        best = min(best, time.process_time() - started)
    return best * 1000


def _cells(field_type: FieldType, length: int, rng: random.Random) -> list[str]:
    make = {
        FieldType.DATE: lambda: f"20{rng.randint(10, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        FieldType.DATETIME: lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23)}:05",
        FieldType.INTEGER: lambda: str(rng.randint(0, 10**9)),
        FieldType.DECIMAL: lambda: f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}",
        FieldType.STRING: lambda: f"name {rng.randint(0, 10**9)}",
    }[field_type]
    return [make() for _ in range(length)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="100,300,1000,2000,5000")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    kept = column_values.SCALAR_BELOW
    column_values.SCALAR_BELOW = 0  # the column readers on every length
    print(f"{'type':<10} {'cells':>6} {'column readers':>15} {'scalar (baseline)':>18} {'ratio':>7}")
    try:
        for length in (int(n) for n in args.lengths.split(",")):
            for field_type in (FieldType.STRING, FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE,
                               FieldType.DATETIME):
                field = ItemField(name="v", label="值", type=field_type)
                cells = _cells(field_type, length, rng)
                column = pd.Series(cells, dtype=object)
                fast = _cpu_ms(partial(column_values.canonical_series, field, column), args.repeat)
                scalar = _cpu_ms(partial(canonical_column, field, cells), args.repeat)
                print(f"{field_type.value:<10} {length:>6} {fast:>12.2f} ms {scalar:>15.2f} ms {fast / scalar:>6.2f}x")
    finally:
        column_values.SCALAR_BELOW = kept
    print(f"column_values.SCALAR_BELOW = {kept}: shorter columns are read cell by cell")


if __name__ == "__main__":
    main()
