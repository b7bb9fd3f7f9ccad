"""A small static web server for what people read beside the Dagster UI: the Data Docs site
(``<data>/data_docs/``), the supervision reports (``<data>/reports/``) and the resource directory's DCAT
export (``<data>/directory/``, the address a harvester registers, art. 18).

Only those folders are served: the data directory also holds the SQLite shared store, the stage
data and the quarantine, which carry personal values. A browser refuses ``file://`` links from an
``http://`` page, which is why the check metadata links here instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SERVED = ("data_docs", "reports", "directory")
HOME = "/data_docs/index.html"


class DocsHandler(SimpleHTTPRequestHandler):
    """Files under the served folders; anything else is a 404, whatever ``..`` it carries."""

    # Every text file here is UTF-8 (Chinese names): say so, or a client guesses Latin-1.
    extensions_map = {  # noqa: RUF012 - the base class declares it an instance attribute
        **SimpleHTTPRequestHandler.extensions_map, ".html": "text/html; charset=utf-8",
        ".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
        ".json": "application/json; charset=utf-8", ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8", ".ttl": "text/turtle; charset=utf-8",
        ".jsonld": "application/ld+json"}

    def do_GET(self) -> None:
        if self._redirect_home():
            return
        if not self._allowed():
            self.send_error(HTTPStatus.NOT_FOUND, "not served")
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._redirect_home():
            return
        if not self._allowed():
            self.send_error(HTTPStatus.NOT_FOUND, "not served")
            return
        super().do_HEAD()

    def _redirect_home(self) -> bool:
        if urlsplit(self.path).path not in ("", "/"):
            return False
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", HOME)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _allowed(self) -> bool:
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path)).resolve()
        return any(target.is_relative_to(root / folder) for folder in SERVED)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the Dagster UI's own log is what a person watches in this terminal."""


def make_server(data_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = partial(DocsHandler, directory=str(data_dir))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """The (bound) server in a thread of this process, stopped and its socket closed when the block ends."""
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
