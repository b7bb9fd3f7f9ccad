"""What the boundary between platforms costs: the province's connected table rebuilt from a city's rows pulled
through the read-only database link (pipelines.federation.refresh_province, rows through Python), against the
baseline the single store allowed: the same rows copied inside one database (INSERT ... SELECT), in the same
process, on the embedded default (SQLite) or on PostgreSQL (two throwaway databases on the server, the city's read
through the read-only link role it grants, dropped afterwards).

    .venv/bin/python benchmarks/federation_pull.py [--rows 100000] [--repeat 3] [--postgres URL]

Prints a markdown table: wall and CPU seconds (best of the repeats) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pipelines import connected, federation  # noqa: E402
from pipelines.catalogue import load_catalogue  # noqa: E402
from pipelines.catalogue.models import Item  # noqa: E402
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


class RowsOnly:
    """The link seen through its protocol alone (``pull``): the rows pass through Python."""

    def __init__(self, link: federation.DatabaseLink):
        self.platform = link.platform
        self._link = link

    def pull(self, item: Item, since: datetime | None = None) -> federation.Pull:
        return self._link.pull(item, since)


@contextmanager
def province_url(postgres: str | None) -> Iterator[str]:
    """The province's store URL (the city's is derived from it): a SQLite file in a temporary directory, or a
    throwaway PostgreSQL database dropped afterwards with the city's."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/store.db"
        return
    from psycopg2 import sql

    name = f"govdata_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url
    finally:
        with admin.connect() as conn:
            raw = conn.connection.dbapi_connection
            for database in (name, f"{name}_city_450100"):
                conn.exec_driver_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database)).as_string(raw))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="an administrator's URL of a PostgreSQL server (e.g. postgresql+psycopg2://postgres@"
                             "127.0.0.1:5432/postgres) instead of SQLite")
    args = parser.parse_args()
    catalogue = load_catalogue(GOVERNED)
    [rollup] = connected.rollups(catalogue)
    nanning = next(c for c in rollup.cities if c.city == "450100")
    with province_url(args.postgres) as base:
        city_url = federation.platform_store_url(base, "city_450100")
        federation.ensure_database(city_url)
        city = Store(city_url, catalogue)
        province = Store(base, catalogue)
        for store in (city, province):
            store.ensure_tables([])
        source = connected.city_table(city, nanning)
        with connected.rebuilding(city, source) as conn:
            conn.execute(insert(source), city_rows(args.rows))
        federation.grant_link(city, [source])  # PostgreSQL: the link role may read it, as the city's asset grants

        def same_store() -> None:  # before: the province's table in the same database as the city's
            target = connected.province_table(city, rollup)
            with connected.rebuilding(city, target) as conn:
                conn.execute(insert(target).from_select([c.name for c in source.columns], select(*source.columns)))

        link = federation.DatabaseLink("city_450100", catalogue, federation.read_only_url(city.url))

        def through(pulling: federation.PlatformLink) -> Callable[[], None]:
            def run() -> None:
                refreshed = federation.refresh_province(province, rollup, {"city_450100": pulling}, NOW)
                assert refreshed.rows == args.rows, refreshed
            return run

        baseline = best(same_store, args.repeat)
        measured = [("pulled through the read-only link", best(through(link), args.repeat))]
        if city.dialect == "postgresql":  # the link's COPY against its protocol's Python rows, what it did before
            measured.insert(0, ("pulled through the link as Python rows (`pull`)", best(through(RowsOnly(link)),
                                                                                         args.repeat)))
            measured[1] = ("pulled through the link as COPY text (`pull_copy`)", measured[1][1])
        link.dispose()
        city.dispose()
        province.dispose()
    print(f"{args.rows:,} rows of one city, best of {args.repeat}, on {city.dialect} "
          "(CPU: this process's; on PostgreSQL the servers' own CPU is not in it)\n")
    print("| province table rebuilt | wall s | CPU s | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu) in (("inside one store (INSERT ... SELECT), baseline", baseline), *measured):
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / baseline[0]:.1f} | {cpu / baseline[1]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
