"""``make demo``'s tour: each command called with its arguments and environment in one process, its exit code held
to the one expected, the environment as it was afterwards."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipelines.demo import tour
from pipelines.demo.__main__ import build_parser
from pipelines.demo.tour import Step, TourStopped, demo_environment, run_tour, steps

REPO = Path(__file__).resolve().parents[2]


def test_every_step_runs_with_the_settings_and_the_process_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDATA_DATA_DIR", "mine")
    monkeypatch.delenv("GOVDATA_ALLOW_RUN_DATE", raising=False)
    seen: list[tuple[list[str], str | None, str | None]] = []

    def main(argv: Sequence[str]) -> int:
        seen.append((list(argv), os.environ.get("GOVDATA_DATA_DIR"), os.environ.get("GOVDATA_ALLOW_RUN_DATE")))
        return 0

    run_tour([Step("one", "m", ("a",)), Step("two", "m", ("b", "c"))], {"m": main},
             {"GOVDATA_DATA_DIR": "demo dir", "GOVDATA_ALLOW_RUN_DATE": "1"}, out=lambda _: None)
    assert seen == [(["a"], "demo dir", "1"), (["b", "c"], "demo dir", "1")]
    assert os.environ["GOVDATA_DATA_DIR"] == "mine" and "GOVDATA_ALLOW_RUN_DATE" not in os.environ


def test_an_unexpected_exit_stops_the_tour_naming_the_command() -> None:
    ran: list[str] = []

    def refuses(argv: Sequence[str]) -> int:
        ran.append(argv[0])
        raise SystemExit(2)  # argparse's way of refusing its arguments

    tour_steps = [Step("refused on purpose", "m", ("first",), exits=frozenset({2})),
                  Step("expected to succeed", "m", ("second", "--x")),
                  Step("never reached", "m", ("third",))]
    with pytest.raises(TourStopped, match=r"^`python -m m second --x` exited with 2, not 0: the tour stops here$"):
        run_tour(tour_steps, {"m": refuses}, {}, out=lambda _: None)
    assert ran == ["first", "second"]


def test_a_step_that_hides_its_errors_shows_none(capsys: pytest.CaptureFixture[str]) -> None:
    def noisy(argv: Sequence[str]) -> int:
        print(f"out {argv[0]}")
        print(f"traceback {argv[0]}", file=sys.stderr)
        return 1

    run_tour([Step("hidden", "m", ("one",), exits=frozenset({1}), hide_errors=True),
              Step("shown", "m", ("two",), exits=frozenset({1}))], {"m": noisy}, {"A": "a b"})
    printed = capsys.readouterr()
    assert printed.out == ("the demo platform's settings, which every command below runs with (export them to run "
                           "one by hand):\n$ export A='a b'\n\n"
                           "== hidden ==\n$ python -m m one\nout one\n\n== shown ==\n$ python -m m two\nout two\n\n")
    assert printed.err == "traceback two\n"


def test_the_tour_is_the_demo_in_order_with_the_makefiles_settings() -> None:
    demo = Path("var/demo")
    env = demo_environment(demo)
    assert env["GOVDATA_DEMO_HRSS_DB_URL"] == f"sqlite:///{Path.cwd() / 'var/demo/data/demo_sources/hrss.db'}"
    assert set(env) == {"GOVDATA_CATALOGUE_DIR", "GOVDATA_INTAKE_DIR", "GOVDATA_DATA_DIR", "GOVDATA_ALLOW_RUN_DATE",
                        "GOVDATA_DEMO_HRSS_DB_URL"}
    commands = [(s.module, s.args[0], s.exits) for s in steps(demo, history_months=2)]
    assert commands == [
        ("pipelines.demo", "history", {0}), ("pipelines.demo", "generate", {0}), ("pipelines", "run", {1}),
        ("pipelines", "run", {0}), ("pipelines.demo", "connected", {0}), ("pipelines", "repeated-collection", {0}),
        ("pipelines", "temporary-collections", {0}), ("pipelines", "directory", {0}), ("pipelines", "evaluate", {0, 1})]
    assert [s.args[0] for s in steps(demo, history_months=0)][:2] == ["generate", "run"]
    for step in steps(demo, history_months=2):  # every demo command parses as its own CLI reads it
        if step.module == "pipelines.demo":
            assert build_parser().parse_args(list(step.args)).command == step.args[0]


def test_the_entry_points_are_the_cli_mains() -> None:
    from pipelines.cli import main as platform_main
    from pipelines.demo.__main__ import main as demo_main

    assert tour.entry_points() == {"pipelines": platform_main, "pipelines.demo": demo_main}


def test_the_settings_are_the_makefiles_demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Makefile's DEMO_ENV (its run, summary and ui targets) and the tour's settings name the same platform."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assigned = re.search(r"^DEMO_ENV := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    demo_dir = re.search(r"^DEMO_DIR := (.+)$", makefile, re.MULTILINE)
    assert assigned is not None and demo_dir is not None
    text = assigned.group(1).replace("\\\n", " ").replace("$(DEMO_DIR)", demo_dir.group(1))
    make_env = dict(pair.split("=", 1) for pair in text.replace("$(CURDIR)", str(REPO)).split())
    monkeypatch.chdir(REPO)  # make's directory
    assert make_env == demo_environment(Path(demo_dir.group(1)))
