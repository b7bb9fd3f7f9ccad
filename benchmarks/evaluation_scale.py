"""How long a month's evaluation takes for a large province: detection of violations, every unit's
scorecard, contractors and verdicts, from records held in memory (what the store readers return).

Baseline, in the same process: one pandas group-by of the same check history into pass rates per
unit and dimension, the least any scorecard has to compute. Figures are ratios to it, because these
machines are noisy. Usage: python benchmarks/evaluation_scale.py [--items 5000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.demo.generator import generate_large_catalogue
from pipelines.evaluation.config import EvaluationConfig
from pipelines.evaluation.periods import MONTH, period_of
from pipelines.evaluation.records import CheckResult, QuarantinedRow, Records, Submission
from pipelines.evaluation.service import evaluate_records
from pipelines.evaluation.violations import detect, settle

DIMENSIONS = ("accuracy", "timeliness", "integrity", "availability")
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def synthetic_records(catalogue: Catalogue, per_item: int, seed: int = 7) -> Records:
    """Per item: ``per_item`` submissions over November (one in 20 refused), 4 check results each,
    and 10 held rows on one submission in 10, half of them released by the next submission."""
    rng = random.Random(seed)
    submissions, checks, held = [], [], []
    for item in catalogue.items:
        for n in range(per_item):
            at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(24 * 27))
            sid = f"{item.code}/{n}"
            refused = n % 20 == 19
            reason = f"item '{item.code}' has a column not in the catalogue" if refused else None
            submissions.append(Submission(sid, item.code, item.unit, "rejected" if refused else "converged", at,
                                          100, 100 if refused else 3, reason, None if refused else at))
            checks += [CheckResult(item.code, item.unit, d, rng.random() > 0.1, rng.uniform(0.8, 1), at)
                       for d in DIMENSIONS]
            if n % 10 == 0:
                released = at + timedelta(days=2)
                held += [QuarantinedRow(sid, item.code, item.unit, at, released if k % 2 else None,
                                        f"{sid}-fix" if k % 2 else None) for k in range(10)]
    return Records(submissions=submissions, held=held, checks=checks)


def _timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _baseline(records: Records) -> float:
    frame = pd.DataFrame({"unit": [c.unit for c in records.checks], "dimension": [c.dimension for c in records.checks],
                          "pass_rate": [c.pass_rate for c in records.checks]})
    started = time.perf_counter()
    frame.groupby(["unit", "dimension"])["pass_rate"].mean()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--submissions-per-item", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate_large_catalogue(Path(tmp) / "catalogue", items=args.items)
        catalogue = load_catalogue(Path(tmp) / "catalogue")
    records = synthetic_records(catalogue, args.submissions_per_item)
    config, period = EvaluationConfig(), period_of(NOW.date(), MONTH)
    findings, detect_s = _timed(lambda: detect(records, config.correction_days, NOW))
    violations, settle_s = _timed(lambda: settle(findings, [], config.deadlines, NOW))
    evaluation, evaluate_s = _timed(lambda: evaluate_records(catalogue, records, violations, period, config, NOW))
    baseline = min(_baseline(records) for _ in range(3))
    print(f"{args.items} items, {len(catalogue.units)} units: {len(records.submissions)} submissions, "
          f"{len(records.checks)} check results, {len(records.held)} held rows -> {len(violations)} violations, "
          f"{len(evaluation.scorecards)} scorecards, {len(evaluation.verdicts)} verdicts")
    for label, seconds in (("detect violations", detect_s), ("settle violations", settle_s),
                           ("scorecards, contractors, verdicts, trend", evaluate_s),
                           ("baseline: pandas group-by of the checks", baseline)):
        print(f"  {label:<44} {seconds:8.3f} s")
    total = detect_s + settle_s + evaluate_s
    print(f"  {'evaluation total':<44} {total:8.3f} s")
    print(f"  {'ratio evaluation / baseline':<44} {total / baseline:8.1f}x")


if __name__ == "__main__":
    main()
