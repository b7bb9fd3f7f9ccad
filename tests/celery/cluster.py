"""A throwaway Celery deployment of the platform (deploy/celery) for the test and the benchmark.

Each worker is a separate process group with its own working directory, DAGSTER_HOME and data directory;
what it shares with the launcher is exactly what the deployment allows: the PostgreSQL instance and store
databases, the broker (on a queue of its own, so stray workers cannot take its tasks) and the intake window.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.helpers import drop_database_and_platforms

REPO = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO / "catalogue" / "demo"
DEPLOY = REPO / "deploy" / "celery"
BIN = Path(sys.executable).parent
BROKER = os.environ.get("GOVDATA_TEST_CELERY_BROKER", "pyamqp://guest@127.0.0.1:5672//")
READY_TIMEOUT = 120
STOP_TIMEOUT = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def broker_problem(url: str = BROKER) -> str | None:
    """Why the broker does not answer, or None when it does (a TCP connect: the AMQP login comes later)."""
    parsed = sa.engine.make_url(url.replace("pyamqp://", "amqp://", 1))
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5672), timeout=5):
            return None
    except OSError as exc:
        return f"RabbitMQ not reachable at {url} ({exc})"


@contextmanager
def throwaway_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (psycopg2 URL), dropped afterwards with whatever is still connected to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(drivername="postgresql+psycopg2", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_database_and_platforms(admin, name)  # and the city platforms' made beside it
        admin.dispose()


def generate_demo(root: Path, rows: int | None) -> dict[str, Any]:
    """``python -m pipelines.demo generate`` into root/intake and root/sources; returns its manifest."""
    command = [sys.executable, "-m", "pipelines.demo", "generate", "--catalogue", str(DEMO_CATALOGUE),
               "--intake", str(root / "intake"), "--data", str(root / "sources")]
    subprocess.run([*command, *(["--rows", str(rows)] if rows else [])], cwd=REPO, env=_base_env(), check=True,
                   capture_output=True, timeout=300)
    return json.loads((root / "sources" / "demo_manifest.json").read_text(encoding="utf-8"))


@dataclass
class Worker:
    name: str
    cwd: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def hostname_prefix(self) -> str:
        return f"{self.name}@"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n{self.tail()}")
            if " ready." in self.log.read_text(encoding="utf-8", errors="replace"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"worker {self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker's whole process tree (dagster-celery, celery, its pool)."""
        return sum(_cpu_of(pid) for pid in _tree(self.process.pid))

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the worker's process group (a warm shutdown), then SIGKILL if it has not ended."""
        if self.process.poll() is not None:
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    root: Path
    instance_url: str
    store_url: str
    manifest: dict[str, Any]
    broker: str = BROKER
    queue: str = field(default_factory=lambda: f"govdata_test_{uuid.uuid4().hex[:10]}")
    workers: list[Worker] = field(default_factory=list)

    @property
    def intake(self) -> Path:
        return self.root / "intake"

    def env(self, place: Path) -> dict[str, str]:
        """The environment of one process of the deployment, whose own files are all under ``place``."""
        home = place / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        return {**_base_env(), **self.manifest["env"], "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": self.instance_url,
                "GOVDATA_STORE_URL": self.store_url, "GOVDATA_CATALOGUE_DIR": str(DEMO_CATALOGUE),
                "GOVDATA_INTAKE_DIR": str(self.intake), "GOVDATA_DATA_DIR": str(place / "data"),
                "GOVDATA_EXECUTOR": "celery", "GOVDATA_CELERY_BROKER": self.broker,
                "GOVDATA_CELERY_QUEUE": self.queue}

    def prepare_instance(self) -> None:
        """``dagster instance migrate`` once, as a deployment does before its workers start: two workers
        starting on an empty instance database both create its tables, and one of them fails."""
        place = self.root / "setup"
        place.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=place, env=self.env(place),
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"dagster instance migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start_worker(self, name: str) -> Worker:
        cwd = self.root / "workers" / name
        cwd.mkdir(parents=True)
        log = cwd / "worker.log"
        command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                   "-y", str(DEPLOY / "celery.yaml"), "-q", self.queue, "-n", name, "--loglevel", "INFO",
                   "--", "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=cwd, env=self.env(cwd), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own group: stopped as one, by its id
        worker = Worker(name, cwd, process, log)
        self.workers.append(worker)
        return worker

    def launch(self, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
        """``python -m pipelines run --executor celery``; returns the result and the launcher's CPU seconds."""
        place = self.root / "launcher"
        place.mkdir(parents=True, exist_ok=True)
        return run_measured([sys.executable, "-m", "pipelines", "run", "--executor", "celery", "--no-inspect",
                             "--quiet"], place, self.env(place), timeout)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def run_in_process(root: Path, intake: Path, manifest: dict[str, Any],
                   timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """The same run with the CLI's in-process execution, on a SQLite store of its own: the oracle."""
    env = {**_base_env(), **manifest["env"], "GOVDATA_CATALOGUE_DIR": str(DEMO_CATALOGUE),
           "GOVDATA_INTAKE_DIR": str(intake), "GOVDATA_DATA_DIR": str(root / "data")}
    root.mkdir(parents=True, exist_ok=True)
    return run_measured([sys.executable, "-m", "pipelines", "run", "--no-inspect", "--quiet"], root, env, timeout)


def run_measured(command: list[str], cwd: Path, env: dict[str, str],
                 timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run to the end; the CPU seconds it and its reaped children used (RUSAGE_CHILDREN grows by them)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ledger_counts(store_url: str) -> dict[str, tuple[int, int, int, int]]:
    """Per item: rows received, converged, held back and stale, summed over the ledgers of every platform's
    store (the province's URL given, each city's beside it: pipelines.federation.platform_store_url)."""
    from pipelines.catalogue import load_catalogue
    from pipelines.federation import platform_store_url
    from pipelines.platforms import platform_names

    counts: dict[str, tuple[int, int, int, int]] = {}
    for platform in platform_names(load_catalogue(DEMO_CATALOGUE)):
        engine = sa.create_engine(platform_store_url(store_url, platform))
        schema = "platform." if engine.dialect.name == "postgresql" else ""
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "select item, sum(received), sum(converged), sum(held_back), sum(stale) "
                    f"from {schema}platform_ledger group by item order by item")).all()
        finally:
            engine.dispose()
        counts |= {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}
    return dict(sorted(counts.items()))


def manifest_counts(manifest: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {code: (e["rows"], e["expected_valid"], e["expected_held_back"], e["stale"])
            for code, e in sorted(manifest["items"].items())}


def _base_env() -> dict[str, str]:
    """A clean environment: PATH, the repository on the import path, no GOVDATA_/DAGSTER_ settings leaking in."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")}
    # the venv's bin first: dagster-celery starts the worker as `celery` found on PATH
    path = os.pathsep.join([str(BIN), keep.get("PATH", "/usr/bin:/bin")])
    return {**keep, "PATH": path, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # already gone
        os.killpg(pid, sig)  # the group the worker leads (start_new_session): its id is the worker's pid


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def _cpu_of(pid: int) -> float:
    """utime + stime + the reaped children's cutime + cstime, from /proc/<pid>/stat (fields 14-17)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 onwards
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
