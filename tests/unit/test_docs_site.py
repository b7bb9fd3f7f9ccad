"""Data Docs that a browser opens from the UI: served over HTTP (only the docs and the reports), linked
through GOVDATA_DOCS_URL, and styled from a local ``static/`` rather than public CDNs."""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import great_expectations.render.view as gx_view
import pytest
import requests

from assets.render import data_docs_url
from expectations.docs import LOCAL_ASSETS, STATIC, install_static, localize, remote_assets, site_path
from pipelines.docs_server import make_server, running
from resources.platform import Settings, docs_link

GX_TEMPLATES = Path(gx_view.__file__).parent / "templates"


def _gx_head() -> str:
    """The CDN links exactly as GX's own page template writes them: the independent source of what to replace."""
    return "".join((GX_TEMPLATES / name).read_text(encoding="utf-8") for name in ("page.j2", "js_script_imports.j2"))


def test_gx_templates_reference_the_cdn_assets_this_module_replaces() -> None:
    urls = remote_assets(_gx_head())
    # page.j2: bootstrap, bootstrap-table (2), datepicker, the dark theme; js_script_imports.j2: vega (3),
    # font-awesome, jQuery, popper, bootstrap, bootstrap-table (2), datepicker
    assert len(set(urls)) == 15
    assert {fragment for fragment in LOCAL_ASSETS if any(fragment in u for u in urls)} == {
        "bootstrap/4.3.1/css/bootstrap.min.css", "bootstrap/4.3.1/js/bootstrap.min.js",
        "font-awesome/6.6.0/css/all.min.css", "jquery-3.7.1.min.js"}


def test_a_localized_page_fetches_nothing_remote_and_every_local_asset_exists(tmp_path: Path) -> None:
    page = localize(_gx_head() + "<img src=\"https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
                    "logo-long.png?d=1\"><a href=\"../../../../../index.html\">Home</a>"
                    "<link rel=\"shortcut icon\" href=\"../../../../static/images/favicon.ico\"/>")
    assert remote_assets(page) == []
    assert "integrity=" not in page  # the CDN file's hash: the local copy would be refused
    install_static(tmp_path)
    page_dir = tmp_path / "validations" / "item"
    local = re.findall(r'(?:src|href)="(\.\./[^"]*)"', page)
    assert sorted(set(local)) == [
        "../../index.html", "../../static/images/favicon.ico", "../../static/images/logo-long.png",
        "../../static/vendor/bootstrap/css/bootstrap.min.css",
        "../../static/vendor/bootstrap/js/bootstrap.bundle.min.js", "../../static/vendor/font-awesome/css/all.min.css",
        "../../static/vendor/jquery/jquery.min.js"]
    missing = [p for p in local if p != "../../index.html" and not (page_dir / p).resolve().is_file()]
    assert missing == []
    # font-awesome's stylesheet reaches its fonts through ../webfonts
    fonts = re.findall(r"url\(\.\./webfonts/([^)]+)\)",
                       (tmp_path / STATIC / "vendor/font-awesome/css/all.min.css").read_text(encoding="utf-8"))
    assert fonts and all((tmp_path / STATIC / "vendor/font-awesome/webfonts" / f).is_file() for f in fonts)
    assert localize(page) == page  # written twice, the same


def test_static_is_copied_once_and_a_file_there_is_kept(tmp_path: Path) -> None:
    static = install_static(tmp_path)
    css = static / "vendor" / "bootstrap" / "css" / "bootstrap.min.css"
    assert css.read_text(encoding="utf-8").startswith("/*!\n * Bootstrap v4.")
    css.write_text("/* edited */", encoding="utf-8")
    install_static(tmp_path)
    assert css.read_text(encoding="utf-8") == "/* edited */"


def test_the_link_is_the_page_on_the_docs_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    page = tmp_path / "data" / "data_docs" / "validations" / "enterprise" / "20261201T000000Z-abc.html"
    assert site_path(page) == "validations/enterprise/20261201T000000Z-abc.html"
    monkeypatch.delenv("GOVDATA_DOCS_URL", raising=False)
    assert data_docs_url(page) == "http://127.0.0.1:3001/data_docs/validations/enterprise/20261201T000000Z-abc.html"
    monkeypatch.setenv("GOVDATA_DOCS_URL", "https://data.gx.gov.example/docs/")
    assert data_docs_url(page) == "https://data.gx.gov.example/docs/data_docs/validations/enterprise/20261201T000000Z-abc.html"
    assert docs_link("http://h:1", "reports/2026-11/report.html") == "http://h:1/reports/2026-11/report.html"
    assert docs_link("http://h:1/", "data_docs/a b.html") == "http://h:1/data_docs/a%20b.html"


def test_settings_read_the_docs_port_and_url() -> None:
    assert (Settings.from_env({}).docs_port, Settings.from_env({}).docs_url) == (3001, "http://127.0.0.1:3001/")
    settings = Settings.from_env({"GOVDATA_DOCS_PORT": "8081", "GOVDATA_DOCS_URL": "http://docs/"})
    assert (settings.docs_port, settings.docs_url) == (8081, "http://docs/")


def test_the_server_serves_the_docs_and_the_reports_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "data_docs").mkdir()
    (tmp_path / "data_docs" / "index.html").write_text("<h1>docs</h1>", encoding="utf-8")
    (tmp_path / "reports" / "2026-11").mkdir(parents=True)
    (tmp_path / "reports" / "2026-11" / "report.html").write_text("<h1>report</h1>", encoding="utf-8")
    (tmp_path / "shared_store.db").write_bytes(b"SQLite format 3\0 personal rows")
    (tmp_path / "quarantine").mkdir()
    (tmp_path / "quarantine" / "held.csv").write_text("id\n450103199001011234\n", encoding="utf-8")
    with running(make_server(tmp_path, "127.0.0.1", 0)) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        assert requests.get(f"{base}/data_docs/index.html", timeout=10).text == "<h1>docs</h1>"
        assert requests.get(f"{base}/reports/2026-11/report.html", timeout=10).text == "<h1>report</h1>"
        home = requests.get(f"{base}/", timeout=10, allow_redirects=False)
        assert (home.status_code, home.headers["Location"]) == (302, "/data_docs/index.html")
        for path in ("/shared_store.db", "/quarantine/held.csv", "/reports/../quarantine/held.csv",
                     "/data_docs/%2e%2e/shared_store.db", "/reports/..%2fshared_store.db", "/quarantine/"):
            answer = requests.get(base + path, timeout=10)
            assert answer.status_code == 404, path
            assert b"personal" not in answer.content and b"4501031990" not in answer.content
        for raw in ("/data_docs/../quarantine/held.csv", "/reports/./../quarantine/held.csv"):
            # http.client sends the path as written: no client-side clean-up of the dot segments
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            connection.request("GET", raw)
            answer = connection.getresponse()
            assert (answer.status, b"4501031990" in answer.read()) == (404, False), raw
            connection.close()
    with pytest.raises(requests.ConnectionError):  # stopped with the block
        requests.get(f"{base}/data_docs/index.html", timeout=5)


def test_the_directory_export_is_served_for_harvesters_as_turtle_and_json_ld(tmp_path: Path) -> None:
    """What a harvester registers (art. 18): the export the directory asset writes, fetched over HTTP and
    read back by rdflib to the same graph."""
    from rdflib import Graph
    from rdflib.compare import isomorphic

    from pipelines import directory
    from tests.unit.test_directory import demo_graph

    graph = demo_graph()
    directory.export(graph, tmp_path / "directory")
    with running(make_server(tmp_path, "127.0.0.1", 0)) as server:
        base = f"http://127.0.0.1:{server.server_port}/directory"
        turtle = requests.get(f"{base}/directory.ttl", timeout=10)
        jsonld = requests.get(f"{base}/directory.jsonld", timeout=10)
    assert (turtle.headers["Content-Type"], jsonld.headers["Content-Type"]) == (
        "text/turtle; charset=utf-8", "application/ld+json")
    assert isomorphic(Graph().parse(data=turtle.text, format="turtle"), graph)
    assert isomorphic(Graph().parse(data=jsonld.text, format="json-ld"), graph)
