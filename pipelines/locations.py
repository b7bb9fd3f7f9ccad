"""One Dagster code location per platform: ``platform_province``, ``platform_city_450100``, ...

A workspace names them as attributes of this module (``python -m pipelines workspace`` writes one for
the configured catalogue); each is built when Dagster loads it, never at import. ``pipelines.definitions``
stays the single location that holds every platform (the headless CLI, small deployments).
"""

from __future__ import annotations

from typing import Any

PREFIX = "platform_"


def location_attribute(platform: str) -> str:
    return f"{PREFIX}{platform}"


def __getattr__(name: str) -> Any:
    if not name.startswith(PREFIX):
        raise AttributeError(name)
    import dagster as dg

    platform = name.removeprefix(PREFIX)

    @dg.definitions
    def platform_definitions() -> dg.Definitions:
        from pipelines.definitions import built_once

        return built_once(platform)  # once per code server, though Dagster calls this twice while loading

    return platform_definitions


def workspace(platforms: list[str]) -> dict[str, Any]:
    """A workspace.yaml document federating the platforms' code locations."""
    return {"load_from": [{"python_module": {"module_name": __name__, "attribute": location_attribute(p),
                                             "working_directory": ".", "location_name": p}}
                          for p in platforms]}
