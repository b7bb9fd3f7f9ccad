"""The demo through Dagster's Celery executor on 1 worker and on 2 workers (a script, not a test).

    PYTHONPATH=. .venv/bin/python benchmarks/celery_workers.py [--rows N] [--no-in-process]

Generates the demo once; each configuration runs a fresh copy of its intake window against fresh
PostgreSQL databases (instance and store) and its own queue on RabbitMQ, exactly as
tests/celery/test_celery_workers.py does: workers in their own process groups, working and data
directories, started and ready before the clock starts. Prints per configuration the wall seconds of
the run, the launcher's CPU seconds and the workers' (their whole process trees, from /proc), and the
ratios; the in-process CLI run (SQLite store) is the reference. Every run's per-item counts are
checked against the generator's manifest, so the figures are of correct runs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.celery.cluster import (
    BROKER,
    Cluster,
    broker_problem,
    generate_demo,
    ledger_counts,
    manifest_counts,
    run_in_process,
    throwaway_database,
)
from tests.conftest import PG_ADMIN_URL

RUN_TIMEOUT = 1800


@dataclass(frozen=True)
class Figures:
    label: str
    wall: float
    launcher_cpu: float
    workers_cpu: tuple[float, ...]

    def line(self) -> str:
        workers = " + ".join(f"{c:.1f}" for c in self.workers_cpu) or "-"
        return (f"  {self.label:<22} wall {self.wall:7.1f} s   launcher CPU {self.launcher_cpu:6.1f} s   "
                f"workers CPU {workers} s")


def through_workers(base: Path, manifest: dict[str, Any], count: int) -> Figures:
    root = base / f"workers_{count}"
    shutil.copytree(base / "intake", root / "intake")
    with throwaway_database(PG_ADMIN_URL, "govdata_bench_instance") as instance_url, \
            throwaway_database(PG_ADMIN_URL, "govdata_bench_store") as store_url:
        cluster = Cluster(root, instance_url, store_url, manifest, broker=BROKER)
        try:
            cluster.prepare_instance()
            workers = [cluster.start_worker(f"w{n}") for n in range(1, count + 1)]
            for worker in workers:
                worker.wait_ready()
            started = time.perf_counter()
            done, launcher_cpu = cluster.launch(RUN_TIMEOUT)
            wall = time.perf_counter() - started
            workers_cpu = tuple(w.cpu_seconds() for w in workers)
        finally:
            cluster.stop()
        if done.returncode != 0:
            raise SystemExit(f"{count} worker(s): the run failed\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        _check(ledger_counts(store_url), manifest, f"{count} worker(s)")
    return Figures(f"{count} worker{'s' if count > 1 else ''}", wall, launcher_cpu, workers_cpu)


def in_process(base: Path, manifest: dict[str, Any]) -> Figures:
    root = base / "in_process"
    shutil.copytree(base / "intake", root / "intake")
    started = time.perf_counter()
    done, cpu = run_in_process(root, root / "intake", manifest, RUN_TIMEOUT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"in-process run failed\n{done.stderr[-3000:]}")
    _check(ledger_counts(f"sqlite:///{root / 'data' / 'shared_store.db'}"), manifest, "in process")
    return Figures("in process (SQLite)", wall, cpu, ())


def _check(counts: dict[str, tuple[int, int, int, int]], manifest: dict[str, Any], label: str) -> None:
    if counts != manifest_counts(manifest):
        raise SystemExit(f"{label}: per-item counts differ from the manifest")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="rows per item (default: the full demo)")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process reference run")
    args = parser.parse_args()
    problem = broker_problem(BROKER)
    if problem:
        raise SystemExit(problem)
    with tempfile.TemporaryDirectory(prefix="govdata_celery_bench_") as tmp:
        base = Path(tmp)
        manifest = generate_demo(base, args.rows)
        rows = sum(e["rows"] for e in manifest["items"].values())
        print(f"demo: {len(manifest['items'])} items, {rows:,} rows; broker {BROKER}; each worker --concurrency=1")
        figures = [] if args.no_in_process else [in_process(base, manifest)]
        one, two = through_workers(base, manifest, 1), through_workers(base, manifest, 2)
        figures += [one, two]
    for f in figures:
        print(f.line())
    print(f"\n  wall, 1 worker / 2 workers = {one.wall / two.wall:5.2f}")
    print(f"  workers' CPU, 2 workers / 1 worker = {sum(two.workers_cpu) / sum(one.workers_cpu):5.2f}")
    if not args.no_in_process:
        print(f"  wall, 2 workers / in process = {two.wall / figures[0].wall:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
