"""How long the code location takes to build for a large catalogue.

Prints CPU seconds of each phase for N items (default 5,000), up to the snapshot the webserver receives
(serialized, with its size: what the code server pays on every load), and, as a same-process baseline,
building the same number of bare AssetSpecs, so figures can be compared across noisy machines as ratios.
The first parse of the catalogue is cold only in a fresh cache (``benchmarks/province_scale.py`` measures
it in a fresh process); here it is labelled as not part of loading. Usage:
python benchmarks/definitions_load.py [--items 5000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import dagster as dg

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.demo.generator import generate_large_catalogue
from resources.platform import PlatformResource


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(label: str, results: dict[str, float], fn):  # type: ignore[no-untyped-def]
    started = _cpu()
    value = fn()
    results[label] = _cpu() - started
    return value


def _baseline(count: int, repeats: int = 3) -> float:
    """The fastest of a few repeats of the bare specs in definitions and their asset graph: a garbage
    collection in one of them would skew every ratio."""
    times = []
    for _ in range(repeats):
        started = _cpu()
        bare = [dg.AssetSpec(key=dg.AssetKey(["b", str(i)])) for i in range(count)]
        dg.Definitions(assets=bare).resolve_asset_graph()
        times.append(_cpu() - started)
    return min(times)


def _snapshot(definitions: dg.Definitions) -> int:
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    return len(serialize_value(RepositorySnap.from_def(definitions.get_repository_def(), defer_snapshots=True)))


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
        size = _timed("the snapshot the webserver receives", results, lambda: _snapshot(definitions))
        results["baseline: bare AssetSpecs, same count"] = _baseline(3 * args.items)
    loading = sum(v for k, v in results.items() if not k.startswith(("generate", "first", "baseline")))
    print(f"{args.items} items -> {len(graph.get_all_asset_keys())} assets, {len(graph.asset_check_keys)} checks, "
          f"a snapshot of {size / 1e6:.1f} MB")
    for label, seconds in results.items():
        print(f"  {label:<46} {seconds:8.2f} s CPU")
    print(f"  {'loading total':<46} {loading:8.2f} s CPU")
    baseline = results["baseline: bare AssetSpecs, same count"]
    print(f"  {'ratio loading / baseline':<46} {loading / baseline:8.1f}x")


if __name__ == "__main__":
    main()
