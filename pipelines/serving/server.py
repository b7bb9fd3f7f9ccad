"""Serving the sharing API with uvicorn on the platform's store (the one ``GOVDATA_STORE_URL`` names)."""

from __future__ import annotations

from typing import Any

from pipelines.clock import Clock
from pipelines.store import Store


def build_app(store: Store, clock: Clock | None = None) -> Any:
    from pipelines.serving.api import create_app
    from pipelines.serving.service import SharingService

    return create_app(SharingService(store, clock or Clock()))


def uvicorn_config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    # one process: the audit chain's head is kept in it (another process would only retry, not fork the chain);
    # the access log stays off, every request is in the audit chain instead
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)


def serve(store: Store, host: str, port: int) -> None:
    import uvicorn

    uvicorn.Server(uvicorn_config(build_app(store), host, port)).run()
