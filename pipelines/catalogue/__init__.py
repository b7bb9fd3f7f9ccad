"""The government data catalogue: the single source of truth for everything the platform builds."""

from pipelines.catalogue.loader import CatalogueError, Problem, load_catalogue
from pipelines.catalogue.models import (
    Catalogue,
    FieldType,
    Item,
    ItemField,
    Level,
    Severity,
    SharingType,
    Standard,
    Unit,
    UpdateCycle,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "FieldType",
    "Item",
    "ItemField",
    "Level",
    "Problem",
    "Severity",
    "SharingType",
    "Standard",
    "Unit",
    "UpdateCycle",
    "load_catalogue",
]
