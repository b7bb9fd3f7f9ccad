"""Check outcomes as Dagster asset-check results a quality officer can read in the UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.catalogue.models import Severity
from pipelines.quality.checks import DATA_DOCS, CheckOutcome

_SEVERITY = {Severity.ERROR: dg.AssetCheckSeverity.ERROR, Severity.WARNING: dg.AssetCheckSeverity.WARN}


def rules_table(outcome: CheckOutcome) -> str:
    header = ("| rule | result | severity | checked | unexpected | % | failing values (masked) |\n"
              "|---|---|---|---:|---:|---:|---|")
    rows = [
        f"| `{line.rule}` {line.description} | {'✅ pass' if line.success else '❌ fail'} | {line.severity} "
        f"| {line.checked} | {line.unexpected} | {line.unexpected_percent} | "
        f"{'<br>'.join(s.replace('|', '/') for s in line.sample)} |"
        for line in outcome.lines
    ]
    return "\n".join([header, *rows]) if rows else "no rules apply"


def check_metadata(outcome: CheckOutcome) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dimension": outcome.dimension.value,
        "stage": outcome.stage,
        "pass_rate": dg.MetadataValue.float(round(outcome.pass_rate, 6)),
        "rows_checked": dg.MetadataValue.int(outcome.rows_checked),
        "rows_failed": dg.MetadataValue.int(outcome.rows_failed),
        "rules": dg.MetadataValue.md(rules_table(outcome)),
        "rules_failed": dg.MetadataValue.int(sum(1 for line in outcome.lines if not line.success)),
    }
    for key, value in outcome.facts.items():
        metadata[key] = value
    if outcome.facts.get(DATA_DOCS):
        page = Path(outcome.facts[DATA_DOCS]).resolve()
        metadata[DATA_DOCS] = dg.MetadataValue.url(page.as_uri())
        metadata["data_docs_path"] = dg.MetadataValue.path(str(page))
    return metadata


def check_result(outcome: CheckOutcome, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=_SEVERITY[outcome.severity],
        metadata=check_metadata(outcome),
    )
