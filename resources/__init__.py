"""Dagster resources of the government data platform."""

from resources.platform import PlatformResource, Settings

__all__ = ["PlatformResource", "Settings"]
