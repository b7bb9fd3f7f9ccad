from pathlib import Path

from pipelines.catalogue import Severity, load_catalogue
from pipelines.catalogue.models import QualityPolicy
from pipelines.quality.checks import check_name, check_plan
from pipelines.quality.rules import Dimension, rules_for


def test_rules_follow_the_catalogue(mini_catalogue_dir: Path) -> None:
    item = load_catalogue(mini_catalogue_dir).item("enterprise")
    rules = {r.id: r for r in rules_for(item)}
    assert rules["standard:credit_code"].dimension is Dimension.ACCURACY
    assert rules["unique_key"].columns == ("credit_code",)
    assert rules["range:capital"].params == {"min_value": 0, "max_value": 100000000}
    assert rules["value_set:status"].params["value_set"] == ["存续", "注销", "吊销"]
    assert rules["fresh_records:updated_at"].severity is Severity.WARNING
    assert rules["fresh_records:updated_at"].params["max_age_days"] == 31
    assert not rules["fresh_records:updated_at"].holds_back_rows
    assert rules["required:name"].holds_back_rows


def test_catalogue_overrides_severity(mini_catalogue_dir: Path) -> None:
    item = load_catalogue(mini_catalogue_dir).item("enterprise")
    relaxed = item.model_copy(update={"quality": QualityPolicy(severity={"value_set:status": Severity.WARNING})})
    rules = {r.id: r for r in rules_for(relaxed)}
    assert rules["value_set:status"].severity is Severity.WARNING
    assert rules["standard:credit_code"].severity is Severity.ERROR


def test_check_plan_has_a_timeliness_check_only_with_a_timestamp(mini_catalogue_dir: Path) -> None:
    catalogue = load_catalogue(mini_catalogue_dir)
    assert ("validated", Dimension.TIMELINESS) in check_plan(catalogue.item("enterprise"))
    assert ("validated", Dimension.TIMELINESS) not in check_plan(catalogue.item("water_account"))
    assert check_name("shared", "enterprise", "availability") == "shared_enterprise_availability"
