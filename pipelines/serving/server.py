"""Serving one platform's sharing API with uvicorn on that platform's store (``GOVDATA_STORE_URL`` names the
province's; each city's is named from it, ``Settings.platform_store_url``)."""

from __future__ import annotations

from typing import Any

from pipelines.clock import Clock
from pipelines.store import Store


def build_app(store: Store, clock: Clock | None = None, platform: str | None = None) -> Any:
    """``platform``: the platform whose items this service serves (None: every item the store's catalogue has)."""
    from pipelines.serving.api import create_app
    from pipelines.serving.service import SharingService

    return create_app(SharingService(store, clock or Clock(), platform))


def uvicorn_config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    # one process: the audit chain's head is kept in it (another process would only retry, not fork the chain);
    # the access log stays off, every request is in the audit chain instead
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)


def serve(store: Store, host: str, port: int, platform: str | None = None) -> None:
    import uvicorn

    uvicorn.Server(uvicorn_config(build_app(store, platform=platform), host, port)).run()
