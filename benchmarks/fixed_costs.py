"""Two costs every run pays, each against its baseline in the same process, with CPU seconds:

1. The resource directory of ``--items`` synthetic items: its Turtle as the export writes it against rdflib's own
   serializer of the same graph (the baseline; the bytes must be equal), then JSON-LD and the DCAT-AP SHACL
   validation beside them (what else the directory step pays, once per run, growing with the catalogue).
2. GX's validation call on ``--validations`` of those items' 100-row submissions: the row contract's
   configuration made once (``expectations.custom.ExpectRowsToSatisfyContract``) against GX making it anew each
   time it asks (the baseline: GX's own property), the outcomes equal; then one item's whole validation call
   (``GxValidator.validate`` with its Data Docs page) against a plain pandas pass of the same rules on the same
   frames (the floor: no GX, no page).

    .venv/bin/python benchmarks/fixed_costs.py [--items 1000] [--validations 60] [--gx-only]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    result = call()
    return result, time.perf_counter() - wall, _cpu() - cpu


def _line(label: str, wall: float, cpu: float, extra: str = "") -> None:
    print(f"  {label:<56} {wall:8.2f} s wall {cpu:8.2f} s CPU  {extra}")


def directory_costs(catalogue_dir: Path, out: Path) -> None:
    from pipelines import directory
    from pipelines.catalogue import load_catalogue

    catalogue = load_catalogue(catalogue_dir)
    graph, wall, cpu = timed(lambda: directory.dcat_graph(directory.entries(catalogue, {}, {}),
                                                          divisions=catalogue.divisions))
    print(f"\n1. the directory of {len(catalogue.items)} items: {len(graph)} triples")
    _line("build the graph", wall, cpu)
    baseline, base_wall, base_cpu = timed(lambda: graph.serialize(format="turtle", encoding="utf-8"))
    _line("baseline: rdflib's own Turtle", base_wall, base_cpu)
    with directory_turtle_only():
        _, wall, cpu = timed(lambda: directory.export(graph, out))
    same = (out / "directory.ttl").read_bytes() == baseline
    _line("the export's Turtle", wall, cpu, f"{base_cpu / cpu:6.1f}x faster, the same bytes: {same}")
    _, wall, cpu = timed(lambda: graph.serialize(format="json-ld", encoding="utf-8", indent=2,
                                                 context=directory.CONTEXT))
    _line("its JSON-LD", wall, cpu)
    result, wall, cpu = timed(lambda: directory.validate(graph))
    _line("SHACL validation against DCAT-AP (pyshacl)", wall, cpu,
          f"conforms: {result.conforms}, {result.warnings} warnings")


@contextmanager
def directory_turtle_only() -> Iterator[None]:
    """The export without its JSON-LD, so that the Turtle alone is timed."""
    from rdflib import Graph

    serialize = Graph.serialize

    def turtle_only(self: Graph, *args: Any, **kwargs: Any) -> Any:
        return None if kwargs.get("format") == "json-ld" else serialize(self, *args, **kwargs)

    Graph.serialize = turtle_only  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Graph.serialize = serialize  # type: ignore[method-assign]


def validation_costs(catalogue_dir: Path, intake: Path, validations: int) -> None:
    import pandas as pd
    from great_expectations.expectations.expectation import MulticolumnMapExpectation

    from expectations.custom import ExpectRowsToSatisfyContract
    from expectations.runner import GxValidator
    from pipelines.catalogue import load_catalogue

    by_code = {item.code: item for item in load_catalogue(catalogue_dir).items}
    pairs = []
    for path in sorted(intake.glob("*/*.csv"))[:validations]:
        item = by_code[path.stem]  # the generator names each file by its item
        pairs.append((item, pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)))
    as_of = date(2026, 12, 1)
    print(f"\n2. GX's validation call, {len(pairs)} items' 100-row submissions, each validated 3 times")

    def run() -> list[Any]:
        validator = GxValidator()  # suites built anew: each run pays the same
        return [validator.validate(item, frame, as_of).results for _ in range(3) for item, frame in pairs]

    GxValidator().validate(*pairs[0], as_of)  # the process's one GX context, made before either is timed

    made_once = ExpectRowsToSatisfyContract.configuration
    ExpectRowsToSatisfyContract.configuration = MulticolumnMapExpectation.configuration  # type: ignore[misc]
    try:
        baseline, base_wall, base_cpu = timed(run)
    finally:
        ExpectRowsToSatisfyContract.configuration = made_once  # type: ignore[misc]
    calls = len(baseline)
    _line("baseline: GX makes the configuration each time", base_wall, base_cpu,
          f"{base_cpu / calls * 1000:6.1f} ms CPU per call")
    results, wall, cpu = timed(run)
    _line("the row contract's configuration made once", wall, cpu,
          f"{cpu / calls * 1000:6.1f} ms CPU per call, {base_cpu / cpu:4.2f}x faster, outcomes equal: "
          f"{results == baseline}")
    validate_against_pandas(pairs, as_of)


def validate_against_pandas(pairs: list[tuple[Any, Any]], as_of: date, rounds: int = 3) -> None:
    """CPU per ``GxValidator.validate`` call (a warm validator, its suites built, a Data Docs page per call),
    beside the same rules in plain pandas on the same frames, the two interleaved round by round."""
    from expectations.runner import GxValidator

    with tempfile.TemporaryDirectory() as docs:
        validator = GxValidator(docs_dir=Path(docs))
        agree = all(_row_failures(validator.validate(item, frame, as_of)) == _row_failures_of(pandas_rules(
            item, frame, as_of)) for item, frame in pairs)  # and the suites built before either is timed
        gx_wall = gx_cpu = floor_wall = floor_cpu = 0.0
        for _ in range(rounds):
            _, wall, cpu = timed(lambda: [validator.validate(item, frame, as_of) for item, frame in pairs])
            gx_wall, gx_cpu = gx_wall + wall, gx_cpu + cpu
            _, wall, cpu = timed(lambda: [pandas_rules(item, frame, as_of) for item, frame in pairs])
            floor_wall, floor_cpu = floor_wall + wall, floor_cpu + cpu
    calls = rounds * len(pairs)
    print(f"  one validation call of a 100-row submission, per call ({calls} calls):")
    _per_call("baseline: the same rules in plain pandas", floor_wall / calls, floor_cpu / calls)
    _per_call("GxValidator.validate, with its Data Docs page", gx_wall / calls, gx_cpu / calls,
              f"{gx_cpu / floor_cpu:5.1f}x the pandas CPU, the same failing rows: {agree}")


def _row_failures(outcome: Any) -> dict[str, list[int]]:
    return {r.rule.id: sorted(r.failing_rows) for r in outcome.results if r.rule.row_level}


def _row_failures_of(failing: dict[str, list[int]]) -> dict[str, list[int]]:
    return {rule_id: rows for rule_id, rows in failing.items() if rule_id != "columns"}


def _per_call(label: str, wall: float, cpu: float, extra: str = "") -> None:
    print(f"  {label:<56} {wall * 1000:8.1f} ms wall {cpu * 1000:7.1f} ms CPU  {extra}")


def pandas_rules(item: Any, frame: Any, as_of: date) -> dict[str, list[int]]:
    """Failing rows per rule of the item's suite, in plain pandas with the contract's own predicates."""
    from datetime import timedelta

    from expectations.custom import contract_rules, contract_text, present_passes, recent_mask, rule_mask
    from pipelines.quality.rules import Kind, rules_for

    frame = frame.reset_index(drop=True)
    failing: dict[str, list[int]] = {}
    for rule in rules_for(item):
        if rule.contextual:
            continue
        if rule.kind is Kind.COLUMNS:
            failing[rule.id] = [] if set(frame.columns) == set(rule.columns) else [-1]
            continue
        if rule.kind is Kind.UNIQUE_KEY:
            keys = frame[list(rule.columns)]
            passed = ~(keys.duplicated(keep=False) & keys.notna().all(axis=1))
        elif rule.kind is Kind.FRESH_RECORDS:
            oldest = as_of - timedelta(days=rule.params["max_age_days"])
            passed = present_passes(frame[rule.columns[0]], lambda values, oldest=oldest: recent_mask(values, oldest))
        else:
            [params] = contract_rules(contract_text([{"kind": rule.kind.value, **rule.params}]))
            passed = rule_mask(params, frame[rule.columns[0]])
        failing[rule.id] = frame.index[~passed.to_numpy()].tolist()
    return failing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--validations", type=int, default=60)
    parser.add_argument("--gx-only", action="store_true", help="leave out the directory's costs")
    args = parser.parse_args()
    from pipelines.demo.generator import generate_large_catalogue

    with tempfile.TemporaryDirectory() as tmp:
        catalogue, intake = Path(tmp) / "catalogue", Path(tmp) / "intake"
        generate_large_catalogue(catalogue, items=args.items)
        subprocess.run([sys.executable, "-m", "pipelines.demo", "submissions", "--catalogue", str(catalogue),
                        "--intake", str(intake), "--rows", "100", "--faults", "0.05"], cwd=REPO, check=True,
                       capture_output=True)
        print(f"fixed costs, {date.today().isoformat()}")
        if not args.gx_only:
            directory_costs(catalogue, Path(tmp) / "directory")
        validation_costs(catalogue, intake, args.validations)


if __name__ == "__main__":
    main()
