"""The SQLite load of validated stage text (``SharedTables.loadable``): each cell read by the value model straight
from the stage text gives the values that reading the text with pandas and canonicalising it first gave."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import intake
from pipelines.catalogue.models import FieldType
from pipelines.outputs import CSV_LINE_END
from pipelines.store.shared import stage_frame, stage_records
from pipelines.store.stage import StageText
from pipelines.values import InvalidValue, python_value
from tests import value_oracle, value_strategies

ITEM = value_oracle.catalogue().item("water_account")
FIELDS = {f.name: f for f in ITEM.fields}


VALID_FORMS = {  # each type's cells as units type them, padded or in full-width characters
    FieldType.STRING: st.text(max_size=8),
    FieldType.INTEGER: value_strategies.integers.flatmap(value_strategies.integer_forms),
    FieldType.DECIMAL: value_strategies.decimals.flatmap(value_strategies.decimal_forms),
    FieldType.BOOLEAN: value_strategies.booleans,
    FieldType.DATE: value_strategies.dates.flatmap(value_strategies.date_forms),
    FieldType.DATETIME: value_strategies.datetimes.flatmap(value_strategies.datetime_forms),
}


# a row: a key and a cell of every type; the text column also takes cells a CSV reader may trip on
CELLS = {value_oracle.COLUMNS[t]: st.one_of(st.none(), forms.flatmap(value_strategies.typed))
         for t, forms in VALID_FORMS.items()}
CELLS[value_oracle.COLUMNS[FieldType.STRING]] = st.one_of(CELLS[value_oracle.COLUMNS[FieldType.STRING]],
                                                          st.text(alphabet='a,"\r\n \x00企', max_size=5))
ROWS = st.lists(st.fixed_dictionaries({value_oracle.KEY: st.text(alphabet="k0123", min_size=1, max_size=4),
                                       **CELLS}), max_size=6)
SPOILT = st.one_of(st.none(), st.tuples(st.sampled_from(list(CELLS)), value_strategies.NOISE))


def _read_before(text: str) -> list[dict[str, Any]]:
    """The oracle, how the load read the stage before: pandas' reading of the whole text canonicalised again
    (``stage_frame``), then the value model of every cell, row by row."""
    return [{name: python_value(FIELDS[name], value) for name, value in record.items() if name in FIELDS}
            for record in stage_frame(ITEM, io.StringIO(text)).to_dict(orient="records")]


def _loaded(read: Any) -> tuple[str, Any]:
    try:
        return "loaded", read()
    except InvalidValue as exc:  # a cell no validation accepted: the load refuses it, with the same reason
        return "refused", str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, canonical=st.booleans(), chunks=st.integers(1, 3), spoilt=SPOILT)
def test_stage_rows_load_as_the_canonicalised_frame_loaded(rows: list[dict[str, str | None]], canonical: bool,
                                                           chunks: int, spoilt: tuple[str, str] | None) -> None:
    """``canonical``: the stage text as validation writes it (the intake's canonical text); otherwise cells as
    sent. ``spoilt``: the last row's cell is noise, which no validated stage holds but which the load must
    read (or refuse) the same way all the same."""
    if spoilt is not None and rows:
        rows[-1][spoilt[0]] = spoilt[1]
    frame = pd.DataFrame(rows, columns=[value_oracle.KEY, *CELLS], dtype=object)
    frame = intake.normalise(frame, ITEM) if canonical else frame
    parts = [frame.iloc[n::chunks] for n in range(chunks)]  # the stage's chunks, each a CSV with its header
    texts = [part.to_csv(index=False, lineterminator=CSV_LINE_END) for part in parts]
    whole = texts[0] + "".join(text.split("\n", 1)[1] for text in texts[1:])
    new = _loaded(lambda: stage_records(ITEM, StageText(iter(texts))).records)
    old = _loaded(lambda: _read_before(whole))
    assert new == old
    if new[0] == "loaded":  # every row written is a row read: a cell's "\r" or "\n" splits none
        assert len(new[1]) == len(frame)
