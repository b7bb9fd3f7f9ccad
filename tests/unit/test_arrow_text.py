"""pipelines.arrow_text: an Arrow text array's bytes are its texts' UTF-8, back to back, for any slice of it."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.arrow_text import text_bytes


@settings(deadline=None)  # the first example pays pyarrow's first kernel calls
@given(texts=st.lists(st.none() | st.text(st.characters(codec="utf-8")), max_size=12), start=st.integers(0, 12),
       length=st.integers(0, 12), chunked=st.booleans())
def test_the_bytes_are_the_texts_utf_8_back_to_back(texts: list[str | None], start: int, length: int,
                                                   chunked: bool) -> None:
    array = pa.array(texts, pa.string()).slice(start, length)
    given_array = pa.chunked_array([array[: len(array) // 2], array[len(array) // 2:]], pa.string()) if chunked \
        else array
    expected = "".join(t for t in texts[start:start + length] if t is not None).encode("utf-8")
    assert text_bytes(given_array).tobytes() == expected
