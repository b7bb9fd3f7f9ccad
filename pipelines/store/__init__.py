"""The shared store: catalogue-generated tables, the ledger and the quarantine."""

from pipelines.store.store import HeldRow, SharedStore, normalise_url

__all__ = ["HeldRow", "SharedStore", "normalise_url"]
