"""The entry points set the garbage collector for a long-lived heap before they do anything else."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.demo import __main__ as demo_main
from pipelines.heap import THRESHOLDS


@pytest.fixture
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("default_collector")
def test_the_cli_sets_the_collector() -> None:
    assert cli.main(["check-catalogue", "catalogue/demo"]) == 0
    assert gc.get_threshold() == THRESHOLDS


@pytest.mark.usefixtures("default_collector")
def test_the_demo_sets_the_collector(tmp_path: Path) -> None:
    assert demo_main.main(["catalogue", "--out", str(tmp_path), "--items", "3"]) == 0
    assert gc.get_threshold() == THRESHOLDS
