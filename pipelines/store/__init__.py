"""The store: catalogue-generated shared tables, the ledger, the quarantine and the platform's records, as
repositories behind one unit of work (``Store.unit_of_work``)."""

from pipelines.store.quarantine import HeldRow, quarantine_key
from pipelines.store.store import Store, as_utc, normalise_url
from pipelines.store.unit import UnitOfWork

__all__ = ["HeldRow", "Store", "UnitOfWork", "as_utc", "normalise_url", "quarantine_key"]
