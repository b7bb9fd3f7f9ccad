"""The launcher's worker processes, forked from a fork server: they start with its imports, and their CPU is
counted as the launcher's children's once the pool is done (a benchmark of the run reads it there)."""

from __future__ import annotations

import resource

import pytest

from pipelines import launch
from pipelines.heap import THRESHOLDS
from tests.worker_tasks import burn, collector_thresholds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _burn_in_pool(preload: list[str], monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, float]]:
    monkeypatch.setattr(launch, "worker_preload", lambda: preload)
    pool = launch._pool(2)
    try:
        return list(pool.map(burn, [0.3, 0.3]))
    finally:
        pool.shutdown()
        launch._stop_fork_server()


def test_workers_start_with_the_preloaded_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [preloaded for preloaded, _ in _burn_in_pool(["wave"], monkeypatch)] == [True, True]
    assert [preloaded for preloaded, _ in _burn_in_pool([], monkeypatch)] == [False, False]


def test_the_workers_cpu_is_counted_as_the_launchers_children(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _children_cpu()
    results = _burn_in_pool([], monkeypatch)
    assert _children_cpu() - before >= sum(cpu for _, cpu in results)


def test_workers_collect_garbage_as_a_long_lived_heap_wants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "worker_preload", lambda: [])
    pool = launch._pool(2)
    try:
        assert list(pool.map(collector_thresholds, [0, 1])) == [THRESHOLDS, THRESHOLDS]
    finally:
        pool.shutdown()
        launch._stop_fork_server()
