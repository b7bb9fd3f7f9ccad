"""Who may read an item through the sharing service, decided per request at the moment of the request.

- the owner reads its own items whole;
- an unconditional-share item: every unit, every field, personal fields masked;
- a conditional-share item: only under an approved application of the unit for the item whose
  ``valid_until`` is after the moment of the request; the fields its grant names (all when none named),
  personal fields unmasked only when its purpose was granted them;
- a not-shared item: its owner alone.

Plain data in, a decision out: the same function answers the API, the file extracts and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.catalogue.models import Item, SharingType
from pipelines.clock import shown_time
from pipelines.store import as_utc

APPROVED = "approved"


@dataclass(frozen=True)
class ApplicationState:
    """A sharing application of one unit for one item, with what its grant names."""

    id: int
    status: str  # pending, approved, refused, revoked, expired
    valid_until: datetime
    fields: tuple[str, ...] | None = None  # None: every field
    personal: bool = False

    def in_force(self, now: datetime) -> bool:
        return self.status == APPROVED and as_utc(self.valid_until) > now


@dataclass(frozen=True)
class Access:
    allowed: bool
    reason: str
    application_id: int | None = None
    fields: tuple[str, ...] = ()
    unmasked: frozenset[str] = field(default_factory=frozenset)  # personal fields served as they are


def decide(item: Item, unit: str, applications: Sequence[ApplicationState], now: datetime) -> Access:
    """The unit's access to the item at ``now``; ``applications`` are the unit's for this item."""
    personal = frozenset(f.name for f in item.fields if f.personal)
    if item.unit == unit:
        return Access(True, "owner", None, item.field_names, personal)
    if item.sharing.type is SharingType.UNCONDITIONAL:
        return Access(True, "unconditional share", None, item.field_names, frozenset())
    if item.sharing.type is SharingType.NOT_SHARED:
        return Access(False, f"{item.code} is not shared: only its owner {item.unit} may read it")
    in_force = [a for a in applications if a.in_force(now)]
    if not in_force:
        return Access(False, _why_not(item, unit, applications, now))
    chosen = max(in_force, key=lambda a: a.id)  # the newest approval in force speaks for the request
    fields = item.field_names if chosen.fields is None else tuple(f for f in item.field_names if f in chosen.fields)
    unmasked = personal & set(fields) if chosen.personal else frozenset()
    return Access(True, f"approved sharing application {chosen.id}", chosen.id, fields, frozenset(unmasked))


def _why_not(item: Item, unit: str, applications: Sequence[ApplicationState], now: datetime) -> str:
    if not applications:
        return f"{item.code} is shared conditionally: {unit} holds no sharing application for it"
    latest = max(applications, key=lambda a: a.id)
    if latest.status == APPROVED:  # approved, but its time is over: judged now, not by the hourly job
        return f"sharing application {latest.id} expired at {shown_time(latest.valid_until)}"
    return f"sharing application {latest.id} is {latest.status}, not approved"
