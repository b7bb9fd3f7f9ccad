"""Rules evaluated outside GX (comparison, resolvable references, row counts), submission freshness
and the per-unit, per-dimension quality summary: built to pass and built to fail, exact counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import FieldRef, Item, ItemField, QualityPolicy
from pipelines.quality.context import contextual_results, is_correction, previous_rows
from pipelines.quality.inspection import quality_summary, submission_freshness, summary_markdown
from pipelines.quality.rules import Dimension, rules_for
from tests.conftest import make_uscc

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


class FakeAuthority:
    """The registry: three enterprises, keyed by credit code."""

    def __init__(self) -> None:
        self.names = {make_uscc(i): f"企业{i}" for i in range(3)}

    def keys(self, ref: FieldRef) -> set[str]:
        return set(self.names)

    def values(self, key: FieldRef, value: FieldRef) -> Mapping[str, str | None]:
        return self.names


def licence_item(mini: Path, **quality: object) -> Item:
    enterprise = load_catalogue(mini).item("enterprise")
    ref = FieldRef(item="enterprise", field="credit_code")
    return enterprise.model_copy(update={
        "code": "licence", "timestamp_field": None, "quality": QualityPolicy(**quality),  # type: ignore[arg-type]
        "fields": (
            ItemField(name="licence_no", label="许可证号", primary_key=True),
            ItemField(name="credit_code", label="统一社会信用代码", references=ref),
            ItemField(name="holder_name", label="持证人", personal=True,
                      matches=FieldRef(item="enterprise", field="name")),
        ),
    })


def licences(rows: list[tuple[str, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["licence_no", "credit_code", "holder_name"], dtype=object)


def by_rule(results: tuple) -> dict:
    return {r.rule.id: r for r in results}


def test_authority_rules_are_declared_with_their_dimension_and_severity(mini_catalogue_dir: Path) -> None:
    rules = {r.id: r for r in rules_for(licence_item(mini_catalogue_dir))}
    assert rules["matches:holder_name"].dimension is Dimension.ACCURACY
    assert rules["matches:holder_name"].holds_back_rows
    assert rules["matches:holder_name"].columns == ("credit_code", "holder_name")
    assert rules["resolvable_reference:credit_code"].dimension is Dimension.INTEGRITY
    # Online verification (holding back unknown keys) is not this rule's job: it only measures.
    assert not rules["resolvable_reference:credit_code"].holds_back_rows


def test_comparison_with_the_registry_passes_on_matching_names(mini_catalogue_dir: Path) -> None:
    frame = licences([("L1", make_uscc(0), "企业0"), ("L2", make_uscc(1), "企业1"), ("L3", None, None)])
    results = by_rule(contextual_results(licence_item(mini_catalogue_dir), frame, FakeAuthority()))
    assert results["matches:holder_name"].success and results["matches:holder_name"].unexpected_count == 0
    assert results["resolvable_reference:credit_code"].success


def test_comparison_fails_on_other_names_and_counts_unknown_keys(mini_catalogue_dir: Path) -> None:
    frame = licences([("L1", make_uscc(0), "企业0"), ("L2", make_uscc(1), "别的公司"), ("L3", make_uscc(2), "另一家"),
                      ("L4", make_uscc(9), "查无此企")])
    results = by_rule(contextual_results(licence_item(mini_catalogue_dir), frame, FakeAuthority()))
    matches, resolvable = results["matches:holder_name"], results["resolvable_reference:credit_code"]
    assert (matches.success, matches.unexpected_count, matches.failing_rows) == (False, 2, (1, 2))
    assert (resolvable.success, resolvable.unexpected_count, resolvable.failing_rows) == (False, 1, (3,))
    # holder_name is personal: the sample keeps the first character only, on both sides.
    assert matches.sample[0] == f"row 2: {make_uscc(1)}: 别*** ≠ 企**"


def test_row_count_bounds_and_change_against_the_previous_submission(mini_catalogue_dir: Path) -> None:
    item = licence_item(mini_catalogue_dir, min_rows=2, max_rows=3, max_row_change=0.5)
    one_row = licences([("L1", make_uscc(0), "企业0")])
    failing = by_rule(contextual_results(item, one_row, None, previous=10))
    assert not failing["row_count"].success and failing["row_count"].unexpected_count == 1
    assert not failing["row_change"].success
    assert failing["row_change"].observed == "1 rows against 10 in the previous submission (-90.0%)"
    two_rows = licences([("L1", make_uscc(0), "企业0"), ("L2", make_uscc(1), "企业1")])
    passing = by_rule(contextual_results(item, two_rows, None, previous=3))
    assert passing["row_count"].success and passing["row_change"].success
    correction = by_rule(contextual_results(item, one_row, None, previous=10, correction=True))
    assert correction["row_count"].success and correction["row_change"].success


def test_corrections_are_not_the_baseline_for_the_row_change() -> None:
    ledger = [{"submission_id": "a", "status": "converged", "source": "licence.csv", "received": 100},
              {"submission_id": "b", "status": "converged", "source": "licence__correction-1.csv", "received": 4},
              {"submission_id": "c", "status": "received", "source": "licence__june.csv", "received": 98}]
    assert is_correction("licence__correction-1.csv") and not is_correction("licence__june.csv")
    assert previous_rows(ledger, "c") == 100


def test_freshness_of_the_last_submission_follows_the_update_cycle(mini_catalogue_dir: Path) -> None:
    item = load_catalogue(mini_catalogue_dir).item("enterprise")  # monthly: 31 days
    recent = [{"status": "converged", "received_at": (NOW - timedelta(days=30)).replace(tzinfo=None)},
              {"status": "rejected", "received_at": NOW}]
    assert submission_freshness(item, recent, NOW).success
    stale = submission_freshness(item, recent[:1], NOW + timedelta(days=2))
    assert (stale.success, stale.severity, stale.sample) == (False, "warning", ("last submission 32 day(s) ago",))
    assert submission_freshness(item, [], NOW).sample == ("no submission yet",)


def test_quality_summary_per_unit_and_dimension(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    checks = [
        {"unit": "amr", "item": "enterprise", "dimension": "accuracy", "passed": False, "pass_rate": 0.8},
        {"unit": "amr", "item": "enterprise", "dimension": "accuracy", "passed": True, "pass_rate": 1.0},
        {"unit": "amr", "item": "enterprise", "dimension": "integrity", "passed": True, "pass_rate": 1.0},
        {"unit": "nn_water", "item": "water_account", "dimension": "availability", "passed": True,
         "pass_rate": 1.0},
    ]
    rows = quality_summary(catalogue, checks)
    assert [(r["unit"], r["dimension"], r["checks"], r["passed"], r["failed"], r["pass_rate"], r["failed_items"])
            for r in rows] == [("amr", "accuracy", 2, 1, 1, 0.9, ["enterprise"]),
                               ("amr", "integrity", 1, 1, 0, 1.0, []),
                               ("nn_water", "availability", 1, 1, 0, 1.0, [])]
    assert "| 省市场监督管理局 (`amr`) | accuracy | 2 | 1 | 1 | 90.00% | enterprise |" in summary_markdown(rows)


