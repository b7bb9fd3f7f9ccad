"""A real browser on what a quality officer opens: ``python -m pipelines ui`` on the mini pipeline, the
Dagster UI in Debian's chromium (driven by Playwright, never with a browser of Playwright's own), a
check's ``data_docs`` link followed to its page on the docs server, styled from the site's local CSS with
no request leaving the machine, and everything stopped by one SIGINT.

Needs ``/usr/bin/chromium`` (``apt-get install chromium fonts-wqy-microhei``); without it the test skips,
or fails when GOVDATA_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pytest
import requests

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from resources.platform import PlatformResource
from tests.conftest import REPO
from tests.helpers import run_pipeline, write_csv
from tests.integration.test_pipeline_mini import HEADER, enterprise_rows
from tests.integration.test_ui_signal import _descendants, _free_port
from tests.integration.test_webserver import _check, _wait_for_code_location

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOOPBACK = "127.0.0.1"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.webserver]


def _playwright() -> Any:
    problem = None if CHROMIUM.is_file() else f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = problem or "the playwright package is missing (pip install playwright)"
    if problem:
        if os.environ.get("GOVDATA_REQUIRE_BROWSER") == "1":
            pytest.fail(problem + "; GOVDATA_REQUIRE_BROWSER=1, so this is a failure")
        pytest.skip(problem)
    return sync_playwright


@dataclass(frozen=True)
class Ui:
    url: str
    docs_url: str
    data: Path
    process: subprocess.Popen


@pytest.fixture
def ui(tmp_path: Path, mini_catalogue_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ui]:
    home, intake, data = tmp_path / "dagster_home", tmp_path / "intake", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    write_csv(intake / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    port, docs_port = _free_port(), _free_port()
    docs_url = f"http://{LOOPBACK}:{docs_port}/"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("GOVDATA_DOCS_URL", docs_url)  # what the checks of this run link to
    resource = PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(intake), data_dir=str(data))
    definitions = build_definitions(load_catalogue(mini_catalogue_dir), resource, "sqlite")
    with dg.DagsterInstance.get() as instance:
        assert run_pipeline(definitions, instance).success
        assert definitions.resolve_job_def("supervision_reports").execute_in_process(instance=instance).success
    env = {**os.environ, "DAGSTER_HOME": str(home), "GOVDATA_CATALOGUE_DIR": str(mini_catalogue_dir),
           "GOVDATA_INTAKE_DIR": str(intake), "GOVDATA_DATA_DIR": str(data), "GOVDATA_DOCS_URL": docs_url,
           "GOVDATA_DOCS_PORT": str(docs_port)}
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "ui", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_code_location(f"http://{LOOPBACK}:{port}", process)
        yield Ui(f"http://{LOOPBACK}:{port}", docs_url, data, process)
    finally:
        if process.poll() is None:
            family = _descendants(process.pid)
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                for pid in (process.pid, *family):
                    _kill(pid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Requests:
    """Every request the page makes; any not to the loopback address is aborted and remembered."""

    def __init__(self) -> None:
        self.remote: list[str] = []
        self.local: list[str] = []

    def route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOOPBACK or url.startswith(("data:", "blob:")):
            self.local.append(url)
            route.continue_()
        else:
            self.remote.append(url)
            route.abort()


def _bootstrap_body_font(data: Path) -> str:
    """The body font bootstrap's own stylesheet declares: what a page styled by it must compute."""
    css = (data / "data_docs" / "static" / "vendor" / "bootstrap" / "css" / "bootstrap.min.css").read_text(
        encoding="utf-8")
    return re.search(r"body\{[^}]*?font-family:([^;}]+)", css).group(1)  # type: ignore[union-attr]


def _fonts(family: str) -> list[str]:
    return [f.strip().strip('"').strip("'") for f in family.split(",")]


def test_a_check_links_to_its_data_docs_page_which_renders_styled_offline(ui: Ui, tmp_path: Path) -> None:
    sync_playwright = _playwright()
    validated = _check(ui.url, ["validated", "amr", "enterprise_validated"], "validated_enterprise")
    links = {e["label"]: e.get("url") for e in validated["evaluation"]["metadataEntries"]}
    docs_link = links["data_docs"]
    assert docs_link.startswith(f"{ui.docs_url}data_docs/validations/enterprise/") and docs_link.endswith(".html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            seen = Requests()
            page.route("**/*", seen.route)
            # The UI itself, on the validated asset's checks: the check and its metadata are there.
            page.goto(f"{ui.url}/assets/validated/amr/enterprise_validated?view=checks", wait_until="domcontentloaded")
            page.get_by_text("validated_enterprise").first.wait_for(timeout=120_000)
            page.screenshot(path=str(tmp_path / "ui_checks.png"), full_page=True)

            ui_remote = list(seen.remote)
            seen.remote.clear()
            answer = page.goto(docs_link, wait_until="networkidle")
            assert answer is not None and answer.status == 200
            styles = page.evaluate("""() => ({
                body: getComputedStyle(document.body).fontFamily,
                navbar: getComputedStyle(document.querySelector('nav.navbar')).display,
                table: getComputedStyle(document.querySelector('table.table.table-sm td')).paddingTop,
                sheets: [...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length]),
                jquery: typeof window.jQuery === 'function' ? window.jQuery.fn.jquery : null,
                modal: typeof (window.jQuery && window.jQuery.fn.modal),
            })""")
            shot = tmp_path / "data_docs.png"
            page.screenshot(path=str(shot), full_page=True)
            crumb = page.locator(".breadcrumb-item.active").inner_text().strip()
        finally:
            browser.close()

    assert seen.remote == [], f"the Data Docs page reached out: {seen.remote}"
    assert _fonts(styles["body"]) == _fonts(_bootstrap_body_font(ui.data))  # bootstrap's font, not the default
    # bootstrap's .navbar{display:flex} and .table-sm td{padding:.3rem} (a browser's own: block and 1px)
    assert (styles["navbar"], styles["table"]) == ("flex", "4.8px")
    # the stylesheets the page loaded: exactly the two local copies, each read (rules, not an error page)
    assert {urlsplit(href).path for href, rules in styles["sheets"] if rules} == {
        "/data_docs/static/vendor/bootstrap/css/bootstrap.min.css",
        "/data_docs/static/vendor/font-awesome/css/all.min.css"}
    assert (styles["jquery"], styles["modal"]) == ("3.7.1", "function")  # bootstrap's js on the local jQuery
    assert all(urlsplit(u).path.startswith("/data_docs/") for u in seen.local if u.startswith(ui.docs_url))
    assert crumb == "Validations / enterprise.contract / __none__"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The UI asked nothing outside either (the in-app links to docs.dagster.io are not fetched).
    assert ui_remote == [], f"the Dagster UI reached out: {ui_remote}"

    report = next((ui.data / "reports").glob("*/report.html"))
    served = requests.get(f"{ui.docs_url}reports/{report.parent.name}/report.html", timeout=30)
    assert (served.status_code, served.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert served.text == report.read_text(encoding="utf-8")

    family = _descendants(ui.process.pid)
    ui.process.send_signal(signal.SIGINT)
    assert ui.process.wait(timeout=90) == 0
    deadline = time.monotonic() + 30  # a code server's last log lines can take a moment on a loaded machine
    while {p for p in family if Path(f"/proc/{p}").exists()} and time.monotonic() < deadline:
        time.sleep(1)
    assert not {p for p in family if Path(f"/proc/{p}").exists()}, "processes left after SIGINT"
    for url in (ui.url, ui.docs_url):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)
