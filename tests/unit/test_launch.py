"""The launcher's batches side by side: the instance's files are made before any worker process opens them."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines import launch
from pipelines.catalogue import load_catalogue
from pipelines.launch import RunOutcome
from pipelines.runplan import plan


class _Recorded(Executor):
    """Stands in for the worker processes: records what ran in them, in order."""

    def __init__(self, order: list[str]):
        self.order = order

    def map(self, fn: Any, *iterables: Any, **_: Any) -> Any:  # type: ignore[override]
        self.order.append("workers")
        return [RunOutcome(f"run-{n}", True, []) for n, _ in enumerate(zip(*iterables, strict=True))]

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise AssertionError("run_batches maps its batches")


def test_the_instance_is_made_before_the_workers_open_it(tmp_path: Path, mini_catalogue_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers making a fresh instance's SQLite files at once both stamp its schema version, and every later
    open of the instance fails ("more than one head"): the launcher makes them first."""
    catalogue = load_catalogue(mini_catalogue_dir)
    batches = plan(catalogue, catalogue.items, workers=2)
    assert len(batches) == 2
    order: list[str] = []
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @contextmanager
    def instance() -> Any:
        with dg.DagsterInstance.get() as made:
            order.append("instance")
            yield made

    monkeypatch.setattr(launch, "instance", instance)
    monkeypatch.setattr(launch, "_pool", lambda workers: _Recorded(order))
    outcomes = launch.run_batches(batches, 2, {}, "WARNING", progress=lambda _: None)
    assert order == ["instance", "workers"]
    assert [o.success for o in outcomes] == [True, True]
    assert (home / "history" / "runs.db").is_file()  # made by the launcher's own open, before the workers
    assert (home / "history" / "runs" / "index.db").is_file()
