"""GX Data Docs as a filesystem site under the data directory: one page per validation, rendered
with GX's own validation-results renderer, and an index page listing the newest pages per item.

Pages are rendered from the validation result after personal values in it are masked, because a
Data Docs site is read by people who may not see ID numbers, phone numbers or names.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pipelines.catalogue.models import Item
from pipelines.clock import utc_now
from pipelines.quality.masking import mask

_DROPPED = ("unexpected_list", "unexpected_index_list", "unexpected_index_query", "partial_unexpected_index_list")
_RENDERER: dict[str, Any] = {}
INDEX_PAGES = 20


def write_validation_page(docs_dir: Path, item: Item, result: Any) -> Path:
    """Masks the result in place (the caller has read what it needed) and writes its HTML page."""
    _mask_result(item, result)
    renderer, view = _renderers()
    fingerprint = str((result.meta or {}).get("batch_markers", {}).get("pandas_data_fingerprint", ""))[:12]
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    page = docs_dir / "validations" / item.code / f"{stamp}-{fingerprint or 'batch'}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(view.render(renderer.render(result)), encoding="utf-8")
    return page


def _renderers() -> tuple[Any, Any]:
    """GX's Jinja environment costs seconds to load: load it once per process."""
    if not _RENDERER:
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        _RENDERER["page"] = ValidationResultsPageRenderer()
        _RENDERER["view"] = DefaultJinjaPageView()
    return _RENDERER["page"], _RENDERER["view"]


def _mask_result(item: Item, result: Any) -> None:
    for expectation_result in result.results:
        detail = expectation_result.result
        if not detail:
            continue
        for key in _DROPPED:
            detail.pop(key, None)
        column = expectation_result.expectation_config.kwargs.get("column")
        field = item.field(column) if column else None
        if column is None:  # the row contract, compound keys: rows of several fields, each masked by its own
            rows = detail.get("partial_unexpected_list") or []
            detail["partial_unexpected_list"] = [
                {c: _mask(v, item.field(c)) for c, v in row.items()} for row in rows if isinstance(row, dict)]
            detail.pop("partial_unexpected_counts", None)
            continue
        if "partial_unexpected_list" in detail:
            detail["partial_unexpected_list"] = [_mask(v, field) for v in detail["partial_unexpected_list"]]
        if "partial_unexpected_counts" in detail:
            detail["partial_unexpected_counts"] = [{"value": _mask(c["value"], field), "count": c["count"]}
                                                   for c in detail["partial_unexpected_counts"]]


def _mask(value: Any, field: Any) -> Any:
    return value if value is None else mask(str(value), field)


def build_index(docs_dir: Path) -> Path:
    """``index.html``: per item, links to its newest validation pages, newest first."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for item_dir in sorted(p for p in (docs_dir / "validations").glob("*") if p.is_dir()):
        pages = sorted(item_dir.glob("*.html"), reverse=True)[:INDEX_PAGES]
        links = "".join(f'<li><a href="validations/{item_dir.name}/{p.name}">{html.escape(p.stem)}</a></li>'
                        for p in pages)
        sections.append(f"<h2>{html.escape(item_dir.name)}</h2><ul>{links}</ul>")
    index = docs_dir / "index.html"
    index.write_text("<!doctype html><meta charset='utf-8'><title>Data Docs</title><h1>Validation results</h1>"
                     + "".join(sections), encoding="utf-8")
    return index
