"""Province scale, in one run: each figure next to a baseline measured in the same run, as a ratio, with
CPU seconds beside wall time (these machines are shared: CPU is the figure to compare).

    .venv/bin/python benchmarks/province_scale.py [--items 5000] [--run-items 1000] [--rows 100]
                                                  [--webserver] [--skip-run] [--snapshot-parts]

1. Definitions for ``--items`` synthetic items: the first (cold) catalogue parse in a fresh process, the
   cached load, building the definitions and the code location's snapshot as the webserver receives it
   (deferred job snapshots), its size, and ``dagster definitions validate`` in a child process; the
   baseline is building the same number of bare ``AssetSpec``s; ``--snapshot-parts`` attributes the snapshot's
   bytes to asset and check nodes and their fields. ``--webserver`` also starts
   ``dagster-webserver`` with default settings and times the first answer to ``assetNodes``.
2. A run of ``--run-items`` items with a ``--rows``-row submission each through ``python -m pipelines run``
   (SQLite instance and store), then a second run with nothing new: the fixed cost. The baseline is a plain
   pandas pass of the same per-value rules over the same files.

Goals (the province-scale issue): definitions <= 3 s CPU, validate <= 15 s CPU, snapshot <= 25 MB,
assetNodes <= 30 s; the run <= 300 s wall and <= 0.2 s CPU per item.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOALS = {"definitions_cpu": 3.0, "validate_cpu": 15.0, "snapshot_mb": 25.0, "asset_nodes_s": 30.0,
         "run_wall": 300.0, "cpu_per_item": 0.2}


class Timer:
    """Wall and CPU seconds of this process and of the children it waited for."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _line(label: str, timer: Timer | None = None, extra: str = "", goal: str = "") -> None:
    times = f"{timer.wall:8.2f} s wall {timer.cpu:8.2f} s CPU" if timer else " " * 34
    print(f"  {label:<52} {times}  {extra}{('   ' + goal) if goal else ''}")


def _verdict(value: float, goal: float) -> str:
    return f"goal <= {goal:g}: {'met' if value <= goal else 'NOT met'}"


def definitions(items: int, tmp: Path, webserver: bool, parts: bool = False) -> None:
    import dagster as dg
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    from pipelines.catalogue import load_catalogue
    from pipelines.definitions import build_definitions
    from pipelines.demo.generator import generate_large_catalogue
    from resources.platform import PlatformResource

    print(f"\n1. definitions for {items} items")
    out = tmp / "catalogue"
    generate_large_catalogue(out, items=items)
    cold_home = tmp / "cold-home"
    cold_home.mkdir()
    with Timer() as cold:  # a fresh process with an empty parse cache: what a first deployment pays
        _child([sys.executable, "-c", f"from pipelines.catalogue import load_catalogue; load_catalogue({str(out)!r})"],
               env={**os.environ, "HOME": str(cold_home)})
    _line("first load in a fresh process (cold parse cache)", cold)
    with Timer() as cached:
        catalogue = load_catalogue(out)
    _line("load + validate the catalogue (cached parse)", cached)
    platform = PlatformResource(catalogue_dir=str(out), intake_dir=str(tmp / "i"), data_dir=str(tmp / "d"))
    with Timer() as built:
        defs = build_definitions(catalogue, platform, "sqlite")
        graph = defs.resolve_asset_graph()
    with Timer() as baseline:
        bare = [dg.AssetSpec(key=dg.AssetKey(["b", str(i)])) for i in range(3 * items)]
        dg.Definitions(assets=bare).resolve_asset_graph()
    print(f"  {len(graph.get_all_asset_keys())} assets, {len(graph.asset_check_keys)} checks")
    _line("build the definitions and the asset graph", built, f"{built.cpu / baseline.cpu:6.1f}x baseline",
          _verdict(built.cpu, GOALS["definitions_cpu"]))
    _line("baseline: the same number of bare AssetSpecs", baseline)
    with Timer() as snapped:
        text = serialize_value(RepositorySnap.from_def(defs.get_repository_def(), defer_snapshots=True))
    size = len(text)
    _line("the snapshot the webserver receives (serialized)", snapped, f"{size / 1e6:6.1f} MB",
          _verdict(size / 1e6, GOALS["snapshot_mb"]))
    if parts:
        snapshot_parts(text)
    env = {**os.environ, "GOVDATA_CATALOGUE_DIR": str(out), "GOVDATA_DATA_DIR": str(tmp / "d"),
           "GOVDATA_INTAKE_DIR": str(tmp / "i"), "DAGSTER_HOME": str(_home(tmp))}
    with Timer() as validated:
        _child([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], env=env)
    _line("dagster definitions validate (a child process)", validated, "",
          _verdict(validated.cpu, GOALS["validate_cpu"]))
    if webserver:
        seconds = _asset_nodes_seconds(env, "workspace.yaml")
        print(f"  {'dagster-webserver, default settings: assetNodes answered':<52} {seconds:8.2f} s wall"
              f"{' ' * 19}{_verdict(seconds, GOALS['asset_nodes_s'])}")
    platforms(catalogue, platform, env, tmp, webserver)


SNAPSHOT_NODES = {"external_asset_graph_data": "asset nodes", "external_asset_checks": "check nodes"}


def snapshot_parts(text: str, fields: int = 8) -> None:
    """Where the snapshot's bytes go: per kind of node, its count, bytes per node and its largest fields
    (each field's key and JSON value, as serialized), then the other top-level parts."""
    document = json.loads(text)
    for part, label in SNAPSHOT_NODES.items():
        nodes = document.get(part) or []
        by_field: dict[str, int] = {}
        for node in nodes:
            for name, value in node.items():
                by_field[name] = by_field.get(name, 0) + len(name) + len(json.dumps(value)) + 4
        total = sum(by_field.values())
        each = max(len(nodes), 1)
        print(f"    {label}: {len(nodes)}, {total / 1e6:.1f} MB, {total / each:.0f} B each; largest fields:")
        for name, count in sorted(by_field.items(), key=lambda kv: -kv[1])[:fields]:
            print(f"      {name:<34} {count / 1e6:6.2f} MB {count / each:6.0f} B per node")
    rest = {k: len(json.dumps(v)) for k, v in document.items() if k not in SNAPSHOT_NODES}
    print("    the rest: " + ", ".join(f"{k} {n / 1e6:.2f} MB" for k, n in sorted(rest.items(), key=lambda kv: -kv[1])
                                     if n > 10_000))


def platforms(catalogue: Any, platform: Any, env: dict[str, str], tmp: Path, webserver: bool) -> None:
    """The same catalogue as one code location per platform (pipelines.locations): the province's and
    each city's, federated by one workspace."""
    import yaml
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    from pipelines.definitions import build_definitions
    from pipelines.locations import workspace
    from pipelines.platforms import platform_names

    names = platform_names(catalogue)
    print(f"\n1b. the same {len(catalogue.items)} items as {len(names)} platforms' code locations")
    sizes: dict[str, float] = {}
    builds: dict[str, Timer] = {}
    for name in names:
        with Timer() as built:
            defs = build_definitions(catalogue, platform, "sqlite", name)
            defs.resolve_asset_graph()
        builds[name] = built
        snapshot = RepositorySnap.from_def(defs.get_repository_def(), defer_snapshots=True)
        sizes[name] = len(serialize_value(snapshot)) / 1e6
    largest = max(sizes, key=lambda n: sizes[n])
    slowest = max(builds, key=lambda n: builds[n].cpu)
    _line(f"build the slowest location ({slowest})", builds[slowest], "", _verdict(builds[slowest].cpu,
                                                                                   GOALS["definitions_cpu"]))
    print(f"  {'the largest snapshot (' + largest + ')':<52} {sizes[largest]:8.1f} MB{' ' * 23}"
          f"{_verdict(sizes[largest], GOALS['snapshot_mb'])}   all {len(names)}: {sum(sizes.values()):.1f} MB")
    path = tmp / "platforms.yaml"
    path.write_text(yaml.safe_dump(workspace(names), sort_keys=False), encoding="utf-8")
    with Timer() as validated:
        _child([str(BIN / "dagster"), "definitions", "validate", "-w", str(path)], env=env)
    _line(f"dagster definitions validate, {len(names)} locations", validated, "(CPU of every location)")
    if webserver:
        seconds = _asset_nodes_seconds(env, str(path))
        print(f"  {'dagster-webserver on them: assetNodes answered':<52} {seconds:8.2f} s wall"
              f"{' ' * 19}{_verdict(seconds, GOALS['asset_nodes_s'])}")


def _home(tmp: Path) -> Path:
    home = tmp / "dagster-home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return home


def _child(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{command[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def expected_nodes(env: dict[str, str]) -> int:
    """At least one node per catalogue item and stage."""
    from pipelines.catalogue import load_catalogue

    return 3 * len(load_catalogue(env["GOVDATA_CATALOGUE_DIR"]).items)


def _asset_nodes_seconds(env: dict[str, str], workspace_file: str) -> float:
    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen([str(BIN / "dagster-webserver"), "-w", workspace_file, "-h", "127.0.0.1", "-p",
                               str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = {"query": "{ assetNodes { id } }"}
    wanted = expected_nodes(env)
    try:
        while time.perf_counter() - started < 600:
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/graphql", json=query, timeout=120).json()
                nodes = answer.get("data", {}).get("assetNodes") or []
                if len(nodes) >= wanted:  # every location loaded, not only the first
                    return time.perf_counter() - started
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(1)
        return float("inf")
    finally:
        server.send_signal(signal.SIGINT)  # SIGTERM would leave its code server behind
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def run(items: int, rows: int, tmp: Path) -> None:
    from pipelines.catalogue import load_catalogue
    from pipelines.demo.generator import generate_large_catalogue

    print(f"\n2. a run of {items} items with a {rows}-row submission each (SQLite instance and store)")
    out, intake = tmp / "run-catalogue", tmp / "run-intake"
    generate_large_catalogue(out, items=items)
    _child([sys.executable, "-m", "pipelines.demo", "submissions", "--catalogue", str(out), "--intake", str(intake),
            "--rows", str(rows), "--faults", "0.05", "--manifest", str(tmp / "manifest.json")], env=dict(os.environ))
    env = {**os.environ, "GOVDATA_CATALOGUE_DIR": str(out), "GOVDATA_INTAKE_DIR": str(intake),
           "GOVDATA_DATA_DIR": str(tmp / "run-data"), "DAGSTER_HOME": str(_home(tmp))}
    baseline = _pandas_pass(load_catalogue(out), intake)
    command = [sys.executable, "-m", "pipelines", "run", "--quiet", "--no-inspect"]
    with Timer() as first:
        _child(command, env=env)
    with Timer() as idle:
        _child(command, env=env)  # nothing new: what a run costs whatever the catalogue holds
    per_item = (first.cpu - idle.cpu) / items
    _line("python -m pipelines run", first, _verdict(first.wall, GOALS["run_wall"]))
    _line("the same again with nothing new (fixed cost)", idle)
    _line("per item, fixed cost apart", None, f"{per_item:6.3f} s CPU  {per_item * items / baseline.cpu:6.1f}x "
          "baseline", _verdict(per_item, GOALS["cpu_per_item"]))
    _line("baseline: a plain pandas pass of the per-value rules", baseline)
    manifest = json.loads((tmp / "manifest.json").read_text(encoding="utf-8"))
    totals = manifest["totals"]
    print(f"  manifest: {totals['rows']} rows, {totals['expected_held_back']} expected held back")


def _pandas_pass(catalogue: Any, intake: Path) -> Timer:
    """Each file read with pandas and every value put through the platform's own per-value checks."""
    import pandas as pd

    from pipelines.standards import STANDARD_CHECKS, TYPE_CHECKS

    with Timer() as timer:
        for item in catalogue.items:
            path = intake / item.unit / f"{item.code}.csv"
            if not path.exists():
                continue
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            for f in item.fields:
                checks: list[Callable[[str], bool]] = [TYPE_CHECKS[f.type]]
                if f.standard is not None:
                    checks.append(STANDARD_CHECKS[f.standard])
                for check in checks:
                    frame[f.name].map(lambda v, c=check: not v or c(v)).sum()
            frame.duplicated(subset=list(item.primary_key)).sum()
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--run-items", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--webserver", action="store_true")
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument("--snapshot-parts", action="store_true",
                        help="attribute the snapshot's bytes to asset and check nodes and their fields")
    args = parser.parse_args()
    print(f"province scale on {os.cpu_count()} core(s), {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        definitions(args.items, Path(tmp), args.webserver, args.snapshot_parts)
        if not args.skip_run:
            run(args.run_items, args.rows, Path(tmp))


if __name__ == "__main__":
    main()
