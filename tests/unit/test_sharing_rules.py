"""The per-request access rule, as plain data: every sharing type against every application state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pipelines.catalogue.models import Sharing, SharingType
from pipelines.serving.rules import ApplicationState, decide
from tests.sharing_fixtures import sharing_catalogue

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
CATALOGUE = sharing_catalogue()
REGISTER = CATALOGUE.item("resident_register")  # gx_psd's, conditional
PERSONAL = {"citizen_id", "name", "address", "phone"}
STATUSES = ("pending", "approved", "refused", "revoked", "expired")


def test_owner_unconditional_and_not_shared() -> None:
    owner = decide(REGISTER, "gx_psd", [], NOW)
    assert (owner.allowed, owner.reason, owner.fields, owner.unmasked) == (
        True, "owner", REGISTER.field_names, frozenset(PERSONAL))
    open_item = REGISTER.model_copy(update={"sharing": Sharing(type=SharingType.UNCONDITIONAL, mode="interface")})
    anyone = decide(open_item, "nn_water", [], NOW)
    assert (anyone.allowed, anyone.fields, anyone.unmasked) == (True, REGISTER.field_names, frozenset())
    closed = REGISTER.model_copy(update={"sharing": Sharing(type=SharingType.NOT_SHARED)})
    approved = [ApplicationState(1, "approved", NOW + timedelta(days=1), None, True)]
    assert decide(closed, "gx_civil", approved, NOW).reason == "resident_register is not shared: only its owner " \
                                                                "gx_psd may read it"


applications = st.lists(st.builds(
    ApplicationState, id=st.integers(1, 50), status=st.sampled_from(STATUSES),
    valid_until=st.integers(-3, 3).map(lambda s: NOW + timedelta(seconds=s)),
    fields=st.none() | st.sets(st.sampled_from(REGISTER.field_names), min_size=1).map(tuple),
    personal=st.booleans()), max_size=4, unique_by=lambda a: a.id)


@given(applications)
def test_conditional_access_is_the_newest_approval_in_force_at_the_instant(apps: list[ApplicationState]) -> None:
    access = decide(REGISTER, "gx_civil", apps, NOW)
    in_force = [a for a in apps if a.status == "approved" and a.valid_until > NOW]  # valid_until itself is over
    assert access.allowed == bool(in_force)
    if not in_force:
        assert access.fields == () and access.application_id is None
        return
    chosen = max(in_force, key=lambda a: a.id)
    granted = set(REGISTER.field_names if chosen.fields is None else chosen.fields)
    assert access.application_id == chosen.id
    assert set(access.fields) == granted
    assert list(access.fields) == [f for f in REGISTER.field_names if f in granted]  # catalogue order
    assert access.unmasked == (frozenset(PERSONAL & granted) if chosen.personal else frozenset())
