"""What the boundary between platforms costs: the province's connected table rebuilt from a city's rows pulled
through the read-only database link (pipelines.federation.refresh_province, rows through Python), against the
baseline the single store allowed: the same rows copied inside one database (INSERT ... SELECT), in the same
process, on the embedded default (SQLite).

    .venv/bin/python benchmarks/federation_pull.py [--rows 100000] [--repeat 3]

Prints a markdown table: wall and CPU seconds (best of the repeats) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select  # noqa: E402

from pipelines import connected, federation  # noqa: E402
from pipelines.catalogue import load_catalogue  # noqa: E402
from pipelines.store import Store  # noqa: E402

GOVERNED = REPO / "tests" / "fixtures" / "governed"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def city_rows(count: int) -> list[dict[str, object]]:
    return [{"account_no": f"W{n:08d}", "holder_id": f"45010219800101{n % 10000:04d}", "phone": None,
             "_region": "450100", "_source_item": "nn_water_account", "_source_unit": "nn_water",
             "_submission_id": "s1", "_converged_at": NOW} for n in range(count)]


def best(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalogue = load_catalogue(GOVERNED)
    [rollup] = connected.rollups(catalogue)
    nanning = next(c for c in rollup.cities if c.city == "450100")
    with tempfile.TemporaryDirectory() as tmp:
        base = f"sqlite:///{tmp}/store.db"
        city = Store(federation.platform_store_url(base, "city_450100"), catalogue)
        province = Store(base, catalogue)
        for store in (city, province):
            store.ensure_tables([])
        source = connected.city_table(city, nanning)
        with connected.rebuilding(city, source) as conn:
            conn.execute(insert(source), city_rows(args.rows))

        def same_store() -> None:  # before: the province's table in the same database as the city's
            target = connected.province_table(city, rollup)
            with connected.rebuilding(city, target) as conn:
                conn.execute(insert(target).from_select([c.name for c in source.columns], select(*source.columns)))

        link = federation.DatabaseLink("city_450100", catalogue, federation.read_only_url(city.url))

        def through_the_link() -> None:
            refreshed = federation.refresh_province(province, rollup, {"city_450100": link}, NOW)
            assert refreshed.rows == args.rows, refreshed

        baseline = best(same_store, args.repeat)
        federated = best(through_the_link, args.repeat)
        link.dispose()
        city.dispose()
        province.dispose()
    print(f"{args.rows:,} rows of one city, best of {args.repeat}\n")
    print("| province table rebuilt | wall s | CPU s | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu) in (("inside one store (INSERT ... SELECT), baseline", baseline),
                              ("pulled through the read-only link", federated)):
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / baseline[0]:.1f} | {cpu / baseline[1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
