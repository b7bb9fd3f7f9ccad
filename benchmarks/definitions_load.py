"""How long the code location takes to build for a large catalogue.

Prints wall times of each phase for N items (default 5,000) and, as a same-process baseline, the
time to build the same number of bare AssetSpecs, so figures can be compared across noisy machines
as ratios. Usage: python benchmarks/definitions_load.py [--items 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dagster as dg

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.demo.generator import generate_large_catalogue
from resources.platform import PlatformResource


def _timed(label: str, results: dict[str, float], fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - started
    return value


def _baseline(count: int, repeats: int = 5) -> float:
    """The fastest of a few repeats: a garbage collection in one of them would skew every ratio."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        [dg.AssetSpec(key=dg.AssetKey(["b", str(i)])) for i in range(count)]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "catalogue"
        _timed("generate catalogue (not part of loading)", results,
               lambda: generate_large_catalogue(out, items=args.items))
        _timed("first load: parse YAML (not part of loading)", results, lambda: load_catalogue(out))
        # Every run process loads the catalogue again; from the second load on, parsed YAML is cached.
        catalogue = _timed("load + validate catalogue (cached YAML)", results, lambda: load_catalogue(out))
        resource = PlatformResource(catalogue_dir=str(out), intake_dir=tmp, data_dir=tmp)
        definitions = _timed("build definitions", results,
                             lambda: build_definitions(catalogue, resource, "sqlite"))
        graph = _timed("resolve asset graph", results, definitions.resolve_asset_graph)
        results["baseline: bare AssetSpecs, same count"] = _baseline(3 * args.items)
    loading = sum(v for k, v in results.items() if not k.startswith(("generate", "first", "baseline")))
    print(f"{args.items} items -> {len(graph.get_all_asset_keys())} assets, {len(graph.asset_check_keys)} checks")
    for label, seconds in results.items():
        print(f"  {label:<46} {seconds:8.2f} s")
    print(f"  {'loading total':<46} {loading:8.2f} s")
    baseline = results["baseline: bare AssetSpecs, same count"]
    print(f"  {'ratio loading / baseline':<46} {loading / baseline:8.1f}x")


if __name__ == "__main__":
    main()
