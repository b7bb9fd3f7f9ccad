"""One platform per province and per city (art. 19): which units each platform hosts.

A county builds no platform of its own: its units are hosted by its city's. Each platform is a Dagster code
location of its own (``pipelines.locations``), so a province of thousands of items is several snapshots
the webserver loads side by side instead of one that outgrows gRPC's message limit. Plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.catalogue.models import Catalogue, Item, Level, Unit
from pipelines.connected import city_of

PROVINCE = "province"


def platform_of(unit: Unit) -> str:
    """``province``, or ``city_<code>`` of the city hosting a city or county unit."""
    return PROVINCE if unit.level is Level.PROVINCE else city_platform(city_of(unit.region))


def platform_names(catalogue: Catalogue) -> list[str]:
    """The platforms that host an item: the province first, then the cities by code."""
    hosting = {platform_of(u) for u in catalogue.units if catalogue.items_of(u.code)}
    return sorted(hosting, key=lambda name: (name != PROVINCE, name))


class UnknownPlatform(ValueError):
    """A platform the catalogue does not have (a command's ``--platform``)."""


def require_platform(catalogue: Catalogue, name: str) -> None:
    names = platform_names(catalogue)
    if name not in names:
        raise UnknownPlatform(f"no platform {name!r}: the catalogue's are {', '.join(names)}")


@dataclass(frozen=True)
class Scope:
    """What one code location defines; ``platform`` None is every platform in one (the CLI, the tests)."""

    catalogue: Catalogue
    platform: str | None = None

    @property
    def province(self) -> bool:
        """The province's platform also holds what spans platforms: provincial connected tables, the
        directory, supervision and evaluation, access control."""
        return self.platform in (None, PROVINCE)

    def has_unit(self, unit: str) -> bool:
        return self.platform is None or platform_of(self.catalogue.unit(unit)) == self.platform

    def has_city(self, city: str) -> bool:
        return self.platform is None or self.platform == city_platform(city)

    @property
    def units(self) -> list[Unit]:
        return [u for u in self.catalogue.units if self.catalogue.items_of(u.code) and self.has_unit(u.code)]

    @property
    def items(self) -> list[Item]:
        return [i for i in self.catalogue.items if self.has_unit(i.unit)]


def city_platform(city: str) -> str:
    """The platform of a city, by its region code."""
    return f"city_{city}"


def hosted_catalogue(catalogue: Catalogue, platform: str) -> Catalogue:
    """The platform's slice of the catalogue: every unit (references name them), only the items it hosts."""
    items = tuple(Scope(catalogue, platform).items)
    return Catalogue(units=catalogue.units, items=items, governance=catalogue.governance,
                     contractors=catalogue.contractors, divisions=catalogue.divisions)
