"""Checks pushed down into PostgreSQL through GX's SQL datasource, on a table with known faults."""

from __future__ import annotations

import pytest

from expectations.sql import SqlChecker, pushed_down_lines
from pipelines.catalogue.models import FieldType, ItemField, Standard, ValueRange
from pipelines.quality.checks import availability_check, with_lines
from pipelines.quality.rules import Dimension
from tests.conftest import make_ric
from tests.postgres.pgutil import mini, store_on, with_fields

pytestmark = pytest.mark.postgres

FIELDS = [
    ItemField(name="account_no", label="户号", primary_key=True),
    ItemField(name="holder_id", label="户主身份证号", standard=Standard.RIC, personal=True, required=True),
    ItemField(name="phone", label="联系电话", standard=Standard.PHONE),
    ItemField(name="status", label="状态", values=("正常", "停用")),
    ItemField(name="score", label="评分", type=FieldType.INTEGER, range=ValueRange(min=0, max=100)),
    ItemField(name="tag", label="标签", max_length=3),
]
OK = make_ric(1)
ROWS = [  # faults: key W1 twice; holder null x3 and "123"; phone "12345", "abc"; status 注销x; score -1, 101; tag abcd
    ("W1", OK, "13807710001", "正常", 10, "ab"),
    ("W1", OK, "13807710002", "正常", 20, "ab"),
    ("W3", None, None, "停用", 0, "abc"),
    ("W4", None, "12345", None, 100, None),
    ("W5", None, "abc", "正常", -1, "a"),
    ("W6", "123", "13807710006", "注销x", 101, "abcd"),
    ("W7", OK, "13807710007", "正常", None, "a"),
    ("W8", OK, "0771-5551234", "正常", 50, "a"),
    ("W9", OK, "13807710009", "停用", 50, "a"),
    ("W10", OK, "13807710010", "正常", 50, "a"),
]


@pytest.fixture
def faulty(pg_database: str):  # type: ignore[no-untyped-def]
    """The table as a legacy migration left it: no key constraint, nulls where the catalogue forbids them."""
    store = store_on(pg_database, with_fields(mini(), "water_account", FIELDS))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("alter table shared_city.water_account drop constraint water_account_pkey")
        conn.exec_driver_sql("alter table shared_city.water_account alter column holder_id drop not null")
        for row in ROWS:
            conn.exec_driver_sql("insert into shared_city.water_account values (%s, %s, %s, %s, %s, %s, "
                                 "'nn_water', 's1', now())", row)
    yield store
    store.dispose()


def test_exact_unexpected_counts_come_from_postgresql(faulty) -> None:  # type: ignore[no-untyped-def]
    item = faulty.catalogue.item("water_account")
    results = {r.rule.id: r for r in SqlChecker(faulty.url).run(item, "shared_city", "water_account")}
    counts = {rule: (r.success, r.element_count, r.unexpected_count) for rule, r in results.items()}
    assert counts == {
        "row_count": (True, 1, 0),
        "unique_key": (False, 10, 2),
        "not_null:account_no": (True, 10, 0),
        "not_null:holder_id": (False, 10, 3),
        "regex:holder_id": (False, 10, 1),
        "regex:phone": (False, 10, 2),
        "in_set:status": (False, 10, 1),
        "between:score": (False, 10, 2),
        "max_length:tag": (False, 10, 1),
    }
    assert results["row_count"].observed == 10
    assert results["regex:holder_id"].sample == ("***",)  # personal data is masked in what comes back
    assert sorted(results["regex:phone"].sample) == ["***", "*****"]  # phones too, by standard


def test_pushed_down_lines_join_the_shared_stage_checks(faulty) -> None:  # type: ignore[no-untyped-def]
    item = faulty.catalogue.item("water_account")
    lines = pushed_down_lines(item, faulty)
    assert [line.rule for line in lines[Dimension.AVAILABILITY]] == ["sql:row_count"]
    assert sum(1 for line in lines[Dimension.INTEGRITY] if not line.success) == 7
    outcome = with_lines(availability_check(item, faulty), lines[Dimension.AVAILABILITY])
    assert outcome.passed and outcome.rows_checked == 4  # exists, schema, answers, row count
    assert outcome.facts["table_rows"] == 10


def test_checks_run_as_sql_not_in_pandas(faulty) -> None:  # type: ignore[no-untyped-def]
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    batch = SqlChecker(faulty.url)._batch("shared_city", "water_account")
    assert isinstance(batch.data.execution_engine, SqlAlchemyExecutionEngine)


def _one_pass(store, item):  # type: ignore[no-untyped-def]
    """The oracle: GX's own results of the whole suite in one SUMMARY pass, as SqlResults."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from expectations.sql import SAMPLE_SIZE, _result
    from pipelines.quality.store_rules import store_rules

    rules = store_rules(item)
    suite = gx.ExpectationSuite(name="oracle", expectations=[
        getattr(gxe, r.expectation)(**r.kwargs, meta={"rule_id": r.id}) for r in rules])
    batch = SqlChecker(store.url)._batch("shared_city", "water_account")
    result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE})
    by_id = {r.expectation_config.meta["rule_id"]: r for r in result.results}
    return [_result(by_id[r.id], r, item) for r in rules]


def _comparable(results):  # type: ignore[no-untyped-def]
    return [(r.rule.id, r.success, r.element_count, r.unexpected_count, r.observed, sorted(r.sample)) for r in results]


@pytest.mark.parametrize("clean", [False, True], ids=["faulty", "clean"])
def test_two_passes_give_what_one_summary_pass_gives(faulty, clean) -> None:  # type: ignore[no-untyped-def]
    """Only failed rules are asked for counts and samples: what comes back is GX's one full pass, exactly."""
    if clean:
        with faulty.engine.begin() as conn:
            conn.exec_driver_sql("delete from shared_city.water_account where account_no in ('W1','W3','W4','W5','W6')")
    item = faulty.catalogue.item("water_account")
    two = SqlChecker(faulty.url).run(item, "shared_city", "water_account")
    assert _comparable(two) == _comparable(_one_pass(faulty, item))
    assert all(r.success for r in two) is clean
