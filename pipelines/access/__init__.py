"""Access control on the shared store (art. 3, 6): a PostgreSQL role per unit, sharing applications, audit."""

from pipelines.access.control import (
    AccessControl,
    AccessError,
    Application,
    expire_applications,
    unit_role,
)

__all__ = ["AccessControl", "AccessError", "Application", "expire_applications", "unit_role"]
