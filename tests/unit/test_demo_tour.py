"""``make demo``'s tour: each command called with its arguments and environment in one process, its exit code held
to the one expected, the environment as it was afterwards."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipelines.demo import tour
from pipelines.demo.__main__ import build_parser
from pipelines.demo.tour import Step, TourStopped, demo_environment, run_tour, steps


def test_each_step_sees_its_own_environment_and_the_process_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDATA_DATA_DIR", "mine")
    monkeypatch.delenv("GOVDATA_ALLOW_RUN_DATE", raising=False)
    seen: list[tuple[list[str], str | None, str | None]] = []

    def main(argv: Sequence[str]) -> int:
        seen.append((list(argv), os.environ.get("GOVDATA_DATA_DIR"), os.environ.get("GOVDATA_ALLOW_RUN_DATE")))
        return 0

    run_tour([Step("with", "m", ("a",), {"GOVDATA_DATA_DIR": "demo", "GOVDATA_ALLOW_RUN_DATE": "1"}),
              Step("without", "m", ("b", "c"), {"GOVDATA_DATA_DIR": None})], {"m": main}, out=lambda _: None)
    assert seen == [(["a"], "demo", "1"), (["b", "c"], None, None)]
    assert os.environ["GOVDATA_DATA_DIR"] == "mine" and "GOVDATA_ALLOW_RUN_DATE" not in os.environ


def test_an_unexpected_exit_stops_the_tour_naming_the_command() -> None:
    ran: list[str] = []

    def refuses(argv: Sequence[str]) -> int:
        ran.append(argv[0])
        raise SystemExit(2)  # argparse's way of refusing its arguments

    tour_steps = [Step("refused on purpose", "m", ("first",), exits=frozenset({2})),
                  Step("expected to succeed", "m", ("second", "--x"), {"A": "1"}),
                  Step("never reached", "m", ("third",))]
    with pytest.raises(TourStopped, match=r"^`A=1 python -m m second --x` exited with 2, not 0: the tour stops here$"):
        run_tour(tour_steps, {"m": refuses}, out=lambda _: None)
    assert ran == ["first", "second"]


def test_a_step_that_hides_its_errors_shows_none(capsys: pytest.CaptureFixture[str]) -> None:
    def noisy(argv: Sequence[str]) -> int:
        print(f"out {argv[0]}")
        print(f"traceback {argv[0]}", file=sys.stderr)
        return 1

    run_tour([Step("hidden", "m", ("one",), exits=frozenset({1}), hide_errors=True),
              Step("shown", "m", ("two",), exits=frozenset({1}))], {"m": noisy})
    printed = capsys.readouterr()
    assert printed.out == ("== hidden ==\n$ python -m m one\nout one\n\n== shown ==\n$ python -m m two\nout two\n")
    assert printed.err == "traceback two\n"


def test_the_tour_is_the_demo_in_order_with_the_makefiles_settings() -> None:
    demo = Path("var/demo")
    env = demo_environment(demo)
    assert env["GOVDATA_DEMO_HRSS_DB_URL"] == f"sqlite:///{Path.cwd() / 'var/demo/data/demo_sources/hrss.db'}"
    commands = [(s.module, s.args[0], s.exits, dict(s.env) == env) for s in steps(demo, history_months=2)]
    assert commands == [
        ("pipelines.demo", "history", {0}, True), ("pipelines.demo", "generate", {0}, False),
        ("pipelines", "run", {1}, True), ("pipelines", "run", {0}, True), ("pipelines.demo", "connected", {0}, True),
        ("pipelines", "repeated-collection", {0}, False), ("pipelines", "temporary-collections", {0}, False),
        ("pipelines", "directory", {0}, True), ("pipelines", "evaluate", {0, 1}, True)]
    assert [s.args[0] for s in steps(demo, history_months=0)][:2] == ["generate", "run"]
    for step in steps(demo, history_months=2):  # every demo command parses as its own CLI reads it
        if step.module == "pipelines.demo":
            assert build_parser().parse_args(list(step.args)).command == step.args[0]


def test_the_entry_points_are_the_cli_mains() -> None:
    from pipelines.cli import main as platform_main
    from pipelines.demo.__main__ import main as demo_main

    assert tour.entry_points() == {"pipelines": platform_main, "pipelines.demo": demo_main}
