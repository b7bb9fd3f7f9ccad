"""Arrow text arrays as bytes: what the value model's checks and the open-data writers read of them directly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def text_bytes(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The UTF-8 bytes of the array's texts back to back, as they lie in its data buffer (a null adds none)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not len(texts):
        return np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset:texts.offset + len(texts) + 1]
    return np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
