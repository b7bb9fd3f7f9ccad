"""Personal information masking for anything a person reads outside the store (reports, metadata)."""

from __future__ import annotations

from pipelines.catalogue.models import ItemField, Standard


def mask(value: str, field: ItemField | None) -> str:
    if field is None or value is None:
        return value
    if field.standard is Standard.RIC:
        return _keep_ends(value, 6, 4)
    if field.standard is Standard.PHONE:
        return _keep_ends(value, 3, 4)
    if field.personal:
        return _keep_ends(value, 1, 0)
    return value


def _keep_ends(value: str, head: int, tail: int) -> str:
    text = str(value)
    if len(text) <= head + tail:
        return "*" * len(text)
    hidden = len(text) - head - tail
    return text[:head] + "*" * hidden + (text[-tail:] if tail else "")
