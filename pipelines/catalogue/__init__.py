"""The government data catalogue: the single source of truth for everything the platform builds."""

from pipelines.catalogue.loader import CatalogueError, Problem, load_catalogue
from pipelines.catalogue.models import (
    Catalogue,
    Contractor,
    Entrustment,
    FieldType,
    Item,
    ItemField,
    Level,
    Severity,
    SharingType,
    Standard,
    Unit,
    UpdateCycle,
    Work,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Contractor",
    "Entrustment",
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
    "Work",
    "load_catalogue",
]
