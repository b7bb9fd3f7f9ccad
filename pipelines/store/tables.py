"""The store's tables by name: the platform's own and each item's shared table, in the dialect's schemas."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import MetaData, Table

from pipelines.catalogue.models import Item
from pipelines.store.schema import platform_schema, shared_schema, shared_table

_ADDING = threading.Lock()


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    dialect: str

    def shared(self, item: Item) -> Table:
        """The item's shared table, added to the metadata the first time it is asked for: a store is made per
        unit's step, and building all of a province's thousands of tables in each cost more than the step."""
        schema = shared_schema(item, self.dialect)
        key = f"{schema}.{item.code}" if schema else item.code
        with _ADDING:  # the sharing service asks from several threads
            table = self.metadata.tables.get(key)
            return table if table is not None else shared_table(item, self.metadata, self.dialect)

    def platform(self, name: str) -> Table:
        schema = platform_schema(self.dialect)
        return self.metadata.tables[f"{schema}.{name}" if schema else name]

    @property
    def ledger(self) -> Table:
        return self.platform("platform_ledger")

    @property
    def quarantine(self) -> Table:
        return self.platform("platform_quarantine")

    @property
    def check_results(self) -> Table:
        return self.platform("platform_check_results")

    @property
    def audit_log(self) -> Table:
        return self.platform("audit_log")

    @property
    def sharing_applications(self) -> Table:
        return self.platform("sharing_applications")

    @property
    def runs(self) -> Table:
        return self.platform("platform_runs")

    @property
    def violations(self) -> Table:
        return self.platform("platform_violations")

    @property
    def stage(self) -> Table:
        return self.platform("platform_stage")

    @property
    def repeated_collection(self) -> Table:
        return self.platform("platform_repeated_collection")

    def platform_tables(self) -> list[Table]:
        """Every table of the platform's own, in creation order."""
        return [self.ledger, self.quarantine, self.check_results, self.audit_log, self.sharing_applications,
                self.runs, self.violations, self.stage, self.repeated_collection,
                self.platform("platform_evaluations"), self.platform("platform_violation_dismissals")]
