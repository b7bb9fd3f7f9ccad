"""GX Data Docs as a filesystem site under the data directory: one page per validation, rendered
with GX's own validation-results renderer, and an index page listing the newest pages per item.

Pages are rendered from the validation result after personal values in it are masked, because a
Data Docs site is read by people who may not see ID numbers, phone numbers or names.

GX's page template loads bootstrap, font-awesome, jQuery and more from public CDNs, which a government
network does not reach: the page would render unstyled. Each page is written with those links pointing
at ``static/`` in the site instead, filled from GX's own wheel (logo, favicon, styles) and from the
XStatic packages (bootstrap 4, font-awesome 6, jQuery 3.7). What has no packaged copy (bootstrap-table,
bootstrap-datepicker, the dark theme, vega) is left out: the tables render as plain bootstrap tables,
and a validation page draws no vega chart.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipelines.catalogue.models import Item
from pipelines.clock import utc_now
from pipelines.quality.masking import mask

_DROPPED = ("unexpected_list", "unexpected_index_list", "unexpected_index_query", "partial_unexpected_index_list")
_RENDERER: dict[str, Any] = {}
INDEX_PAGES = 20
STATIC = "static"
PAGE_DEPTH = 2  # validations/<item>/<page>.html: a page reaches the site's root through two ``..``
# The CDN assets of GX's page template (page.j2, js_script_imports.j2), by a fragment of their URL, and the
# local copy each becomes; a remote asset not named here is dropped, so a newer GX never reaches out.
LOCAL_ASSETS = {
    "bootstrap/4.3.1/css/bootstrap.min.css": "vendor/bootstrap/css/bootstrap.min.css",
    "bootstrap/4.3.1/js/bootstrap.min.js": "vendor/bootstrap/js/bootstrap.bundle.min.js",  # with popper
    "font-awesome/6.6.0/css/all.min.css": "vendor/font-awesome/css/all.min.css",
    "jquery-3.7.1.min.js": "vendor/jquery/jquery.min.js",
    "logo-long.png": "images/logo-long.png",
    "full_logo_dark.png": "images/logo-long.png",
}
_REMOTE_TAG = re.compile(r"<(link|script)\b[^>]*?\b(?:href|src)=\"(https?://[^\"]*)\"[^>]*>(?:\s*</script>)?", re.I)
_REMOTE_REF = re.compile(r"""(?<=src=")https?://[^"]*|(?<=url\(')https?://[^']*""", re.I)
_GX_RELATIVE = re.compile(r"""(?<=")(?:\.\./)+(?=(?:static/|index\.html))""")


def write_validation_page(docs_dir: Path, item: Item, result: Any) -> Path:
    """Masks the result in place (the caller has read what it needed) and writes its HTML page."""
    _mask_result(item, result)
    renderer, view = _renderers()
    fingerprint = str((result.meta or {}).get("batch_markers", {}).get("pandas_data_fingerprint", ""))[:12]
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    page = docs_dir / "validations" / item.code / f"{stamp}-{fingerprint or 'batch'}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    install_static(docs_dir)
    page.write_text(localize(view.render(renderer.render(result))), encoding="utf-8")
    return page


def site_path(page: Path) -> str:
    """A page's path inside the site, as a URL path: ``validations/<item>/<page>.html``."""
    return page.relative_to(page.parents[PAGE_DEPTH]).as_posix()


def localize(page_html: str, depth: int = PAGE_DEPTH) -> str:
    """The page with every CDN asset pointing at the site's ``static/`` (or dropped), and GX's relative
    links, written for its own deeper folder layout, pointing at this site's root."""
    root = "../" * depth

    def tag(match: re.Match[str]) -> str:
        local = _local_asset(match.group(2))
        if local is None:
            return ""
        attribute = "href" if match.group(1).lower() == "link" else "src"
        return (f'<link rel="stylesheet" href="{root}{STATIC}/{local}">' if attribute == "href"
                else f'<script src="{root}{STATIC}/{local}"></script>')  # no integrity: it hashed the CDN's file

    def reference(match: re.Match[str]) -> str:
        local = _local_asset(match.group(0))
        return f"{root}{STATIC}/{local}" if local else ""

    localized = _REMOTE_TAG.sub(tag, page_html)
    localized = _REMOTE_REF.sub(reference, localized)
    return _GX_RELATIVE.sub(root, localized)


def _local_asset(url: str) -> str | None:
    return next((local for fragment, local in LOCAL_ASSETS.items() if fragment in url.split("?")[0]), None)


def remote_assets(page_html: str) -> list[str]:
    """The remote URLs a browser would fetch to render the page (links a person may click are not)."""
    return [m.group(2) for m in _REMOTE_TAG.finditer(page_html)] + _REMOTE_REF.findall(page_html)


def static_sources() -> dict[str, Path]:
    """Where each folder of ``static/`` comes from: GX's wheel and the XStatic packages."""
    import great_expectations.render.view as gx_view
    import xstatic.pkg.bootstrap
    import xstatic.pkg.font_awesome
    import xstatic.pkg.jquery

    gx_static = Path(gx_view.__file__).parent / "static"
    return {"images": gx_static / "images", "styles": gx_static / "styles", "fonts": gx_static / "fonts",
            "vendor/bootstrap": Path(xstatic.pkg.bootstrap.BASE_DIR),
            "vendor/font-awesome": Path(xstatic.pkg.font_awesome.BASE_DIR),
            "vendor/jquery": Path(xstatic.pkg.jquery.BASE_DIR)}


# font-awesome's css reaches its fonts through ../webfonts; its less, scss and svgs are not needed.
_COPIED = {"vendor/bootstrap": ("css", "js"), "vendor/font-awesome": ("css", "webfonts")}


def install_static(docs_dir: Path) -> Path:
    """``static/`` in the site, copied once: a folder already there is left as it is."""
    static = docs_dir / STATIC
    for target, source in static_sources().items():
        parts = _COPIED.get(target)
        for folder in ((source / p for p in parts) if parts else (source,)):
            _copy_once(folder, static / target / (folder.name if parts else ""))
    return static


def _copy_once(source: Path, destination: Path) -> None:
    """Copied beside and renamed into place: worker processes writing pages at once never see half a folder."""
    if destination.exists():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".copy-", dir=destination.parent))
    try:
        shutil.copytree(source, scratch, dirs_exist_ok=True)
        scratch.rename(destination)
    except OSError:
        if not destination.exists():  # not another process's copy winning the rename: a real failure
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
    return mask(value, field)  # a missing value shows as missing (∅), as in the check metadata


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
    install_static(docs_dir)
    index.write_text("<!doctype html><meta charset='utf-8'><title>Data Docs</title>"
                     f"<link rel='stylesheet' href='{STATIC}/{LOCAL_ASSETS['bootstrap/4.3.1/css/bootstrap.min.css']}'>"
                     "<body class='container'><h1>Validation results</h1>" + "".join(sections), encoding="utf-8")
    return index
