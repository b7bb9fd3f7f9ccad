"""A missing value shows as missing (∅) wherever masked values are shown: masked, it would read like a value."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.catalogue import load_catalogue
from pipelines.catalogue.models import ItemField, Standard
from pipelines.quality import masking
from pipelines.quality.corrections import masked_preview
from pipelines.quality.masking import MISSING, mask
from tests.conftest import MINI, make_ric

RIC = ItemField(name="id", label="身份证号", standard=Standard.RIC, personal=True)
PHONE = ItemField(name="phone", label="电话", standard=Standard.PHONE, personal=True)
NAME = ItemField(name="holder", label="姓名", personal=True)
PLAIN = ItemField(name="status", label="状态")


@pytest.mark.parametrize("field", [RIC, PHONE, NAME, PLAIN, None])
@pytest.mark.parametrize("value", [None, float("nan"), pd.NA, pd.NaT, "", "   ", MISSING])
def test_a_missing_value_is_shown_as_missing_not_masked(value: object, field: ItemField | None) -> None:
    assert mask(value, field) == "∅"


def test_present_values_are_masked_as_before() -> None:
    assert [mask("450103198506120072", RIC), mask("13807710000", PHONE), mask("张三丰", NAME), mask("存续", PLAIN),
            mask("张", NAME), mask(7, None)] == ["450103********0072", "138****0000", "张**", "存续", "*", "7"]


def water_frame() -> pd.DataFrame:
    """Row 2 has no holder ID (required, personal); row 3 has one with a wrong check digit."""
    good = make_ric(1)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    return pd.DataFrame({"account_no": ["A1", "A2", "A3"], "holder_id": [good, None, bad],
                         "phone": ["13807710000", None, "13807710001"]}, dtype=object)


def test_rule_samples_and_data_docs_show_the_missing_holder_id_as_missing(tmp_path: Path) -> None:
    from expectations.runner import GxValidator

    item = load_catalogue(MINI).item("water_account")
    outcome = GxValidator(docs_dir=tmp_path).validate(item, water_frame(), date(2026, 11, 1))
    samples = {r.rule.id: r.sample for r in outcome.results if not r.success}
    bad = make_ric(1)[:-1] + ("0" if make_ric(1)[-1] != "0" else "1")
    assert samples == {"required:holder_id": ("row 2: ∅",), "standard:holder_id": (f"row 3: {mask(bad, RIC)}",)}
    page = html.unescape(re.sub(r"<[^>]+>", " ", Path(outcome.docs).read_text(encoding="utf-8")))
    # the row contract's sampled rows on the page: the missing ID and phone as missing, not as None or "*"
    assert "{'account_no': 'A2', 'holder_id': '∅', 'phone': '∅'}" in page


def test_the_correction_preview_shows_missing_cells_as_missing() -> None:
    catalogue = load_catalogue(MINI)
    frame = water_frame().iloc[[1]].assign(row_no=2, reasons="required: 户主身份证号 is present")
    preview = masked_preview(catalogue, {"water_account": frame})
    assert preview.splitlines()[4] == "| 2 | required: 户主身份证号 is present | A2 | ∅ | ∅ |"


_digits_and_at = st.text(st.sampled_from("0123456789１２３٣@.a-x广 "), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_digits_and_at, st.text(max_size=40)))
def test_a_text_that_cannot_hold_numbers_holds_none(text: str) -> None:
    """may_hold_numbers (redact's and the open-data scan's quick look) never passes over what the patterns find."""
    if not masking.may_hold_numbers(text):
        assert masking.personal_numbers(text) == []
        assert masking.redact(text) == (text, 0)
    assert masking.may_hold_numbers(text) == bool(re.search(r"\d{11}|@", text))
