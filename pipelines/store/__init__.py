"""The shared store: catalogue-generated tables, the ledger and the quarantine."""

from pipelines.store.store import HeldRow, SharedStore, as_utc, normalise_url, quarantine_key

__all__ = ["HeldRow", "SharedStore", "as_utc", "normalise_url", "quarantine_key"]
