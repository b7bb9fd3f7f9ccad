"""PostgreSQL as the value model's independent oracle: any text the validator accepts for a type goes through
the real load (COPY of its canonical text into the stage, the merge's cast into the typed column) and reads
back as the value the stdlib reads its canonical text as. A text the model accepted that the server's cast
refused (an ISO week date, full-width digits) would halt the item's merge: here it fails the test."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.catalogue.models import FieldType
from tests import value_strategies as vs
from tests.postgres.pgutil import store_on
from tests.value_oracle import catalogue, expected, load_and_read

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_database: str):  # type: ignore[no-untyped-def]
    store = store_on(pg_database, catalogue())
    yield store
    store.dispose()


@pytest.mark.parametrize("field_type", list(FieldType), ids=str)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_accepted_text_loads_through_the_real_cast_and_reads_back_canonical(pg_store: object, field_type: FieldType,
                                                                           data: st.DataObject) -> None:
    texts = data.draw(st.lists(vs.texts_for(field_type), max_size=15))
    for text, back in load_and_read(pg_store, field_type, texts):  # type: ignore[arg-type]
        want = expected(field_type, text)
        assert back == want, (text, back)
        if field_type is FieldType.DECIMAL:  # numeric(24, 6) kept every digit: nothing was rounded away
            assert isinstance(back, Decimal) and back.normalize() == Decimal(text).normalize()


def test_the_forms_that_used_to_halt_the_merge_are_held_back_before_it(pg_store: object) -> None:
    # accepted by the old validation (date.fromisoformat, \d), refused by PostgreSQL's casts: now never loaded
    assert load_and_read(pg_store, FieldType.DATE, ["2026-W44-1", "2026-305"]) == []  # type: ignore[arg-type]
    loaded = load_and_read(pg_store, FieldType.DECIMAL, ["１２.５", "1e3", "1000.0"])  # type: ignore[arg-type]
    assert loaded == [("12.5", Decimal("12.500000")), ("1000", Decimal("1000.000000")),
                      ("1000", Decimal("1000.000000"))]
