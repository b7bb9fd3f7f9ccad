"""Check outcomes as Dagster asset-check results a quality officer can read in the UI.

A stage's check carries its dimensions: a table with one row per dimension, one with every rule, and
per dimension a pass flag and a pass rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.catalogue.models import Severity
from pipelines.quality.checks import DATA_DOCS, CheckOutcome

NO_RULES = "no rule was evaluated: nothing was received"
DIMENSIONS_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("dimension", "string"), dg.TableColumn("result", "string"),
    dg.TableColumn("pass_rate", "float"), dg.TableColumn("rows_checked", "int"),
    dg.TableColumn("rows_failed", "int"), dg.TableColumn("rules_failed", "int"),
])
RULES_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("dimension", "string"), dg.TableColumn("rule", "string"),
    dg.TableColumn("description", "string"), dg.TableColumn("result", "string"),
    dg.TableColumn("severity", "string"), dg.TableColumn("checked", "int"), dg.TableColumn("unexpected", "int"),
    dg.TableColumn("unexpected_percent", "float"), dg.TableColumn("failing_values_masked", "string"),
])


def _result(passed: bool) -> str:
    return "✅ pass" if passed else "❌ fail"


def dimensions_table(outcomes: Sequence[CheckOutcome]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(schema=DIMENSIONS_SCHEMA, records=[
        dg.TableRecord({"dimension": o.dimension.value, "result": _result(o.passed),
                        "pass_rate": round(o.pass_rate, 6), "rows_checked": o.rows_checked,
                        "rows_failed": o.rows_failed,
                        "rules_failed": sum(1 for line in o.lines if not line.success)})
        for o in outcomes
    ])


def rules_table(outcomes: Sequence[CheckOutcome]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(schema=RULES_SCHEMA, records=[
        dg.TableRecord({"dimension": o.dimension.value, "rule": line.rule, "description": line.description,
                        "result": _result(line.success), "severity": line.severity, "checked": line.checked,
                        "unexpected": line.unexpected, "unexpected_percent": line.unexpected_percent,
                        # one value per line: the UI's markdown dropped <br> and ran them together
                        "failing_values_masked": "\n".join(line.sample)})
        for o in outcomes for line in o.lines
    ])


def dimension_figures(outcomes: Sequence[CheckOutcome]) -> dict[str, Any]:
    """Per dimension a flag and a pass rate: numbers the UI plots over time and the summary reads."""
    figures: dict[str, Any] = {}
    for o in outcomes:
        figures[f"{o.dimension.value}_passed"] = dg.MetadataValue.bool(o.passed)
        figures[f"{o.dimension.value}_pass_rate"] = dg.MetadataValue.float(round(o.pass_rate, 6))
    return figures


def check_metadata(stage: str, outcomes: Sequence[CheckOutcome]) -> dict[str, Any]:
    rules = sum(len(o.lines) for o in outcomes)
    metadata: dict[str, Any] = {
        "stage": stage,
        "dimensions": dimensions_table(outcomes),
        **dimension_figures(outcomes),
        "rows_checked": dg.MetadataValue.int(max((o.rows_checked for o in outcomes), default=0)),
        "rules_evaluated": dg.MetadataValue.int(rules),
        "rules_failed": dg.MetadataValue.int(sum(1 for o in outcomes for line in o.lines if not line.success)),
        "rules": rules_table(outcomes) if rules else dg.MetadataValue.text(NO_RULES),
    }
    for outcome in outcomes:
        for key, value in outcome.facts.items():
            metadata.setdefault(key, value)
    docs = next((o.facts[DATA_DOCS] for o in outcomes if o.facts.get(DATA_DOCS)), None)
    if docs:
        page = Path(docs).resolve()
        metadata[DATA_DOCS] = dg.MetadataValue.url(data_docs_url(page))
        metadata["data_docs_path"] = dg.MetadataValue.path(str(page))
    return metadata


def data_docs_url(page: Path) -> str:
    """The page on the docs web server (GOVDATA_DOCS_URL): a browser refuses a file:// link from the UI."""
    from expectations.docs import site_path
    from resources.platform import DATA_DOCS as SITE
    from resources.platform import Settings

    return Settings.from_env().docs_link(f"{SITE}/{site_path(page)}")


def stage_severity(outcomes: Sequence[CheckOutcome]) -> dg.AssetCheckSeverity:
    failed_errors = any(not o.passed and o.severity is Severity.ERROR for o in outcomes)
    return dg.AssetCheckSeverity.ERROR if failed_errors else dg.AssetCheckSeverity.WARN


def stage_check_result(asset_key: dg.AssetKey, check_name: str, stage: str,
                       outcomes: Sequence[CheckOutcome]) -> dg.AssetCheckResult:
    """One stage's check: passed when every dimension passed."""
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=check_name, passed=all(o.passed for o in outcomes),
        severity=stage_severity(outcomes), metadata=check_metadata(stage, outcomes),
    )


def failed_stage_result(asset_key: dg.AssetKey, check_name: str, stage: str, reason: str) -> dg.AssetCheckResult:
    """The stage could not run for this item (the store refused a value, a connection was lost, ...)."""
    return dg.AssetCheckResult(asset_key=asset_key, check_name=check_name, passed=False,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"stage": stage, "failure": dg.MetadataValue.text(reason)})
