"""``make demo``: the demo's commands one after another, each printed as a newcomer would type it, run in this one
process.

Each command is the CLI's own entry point (``python -m pipelines ...``, ``python -m pipelines.demo ...``) called
with its arguments, every one with the demo platform's settings (printed first, as ``export`` lines); a newcomer
can run any of them by hand afterwards, as printed. Run as eight processes they paid their imports eight times
(Dagster, GX, pandas, SQLAlchemy: 2-9 s CPU each, about 20 s of the demo's 50); here once. A command whose exit
code is not the one the tour expects stops the tour with the command named.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Main = Callable[[Sequence[str]], int]
HRSS_URL_ENV = "GOVDATA_DEMO_HRSS_DB_URL"  # the url_env of the demo catalogue's database pull (gx_hrss)


@dataclass(frozen=True)
class Step:
    """One command of the tour: under ``title``, ``python -m <module> <args>``, expected to exit with one of
    ``exits``; ``hide_errors``: its standard error is not shown (a refused run's traceback is the point being
    made, told by the title)."""

    title: str
    module: str
    args: tuple[str, ...]
    exits: frozenset[int] = frozenset({0})
    hide_errors: bool = False

    @property
    def command(self) -> str:
        return f"python -m {self.module} {shlex.join(self.args)}"


class TourStopped(RuntimeError):
    """A command of the tour exited otherwise than expected: the demo's results would not be the demo's."""


def demo_environment(demo_dir: Path) -> dict[str, str]:
    """What the Makefile's DEMO_ENV sets: the demo's catalogue, intake and data directories, its runs allowed a
    date (the season of history, --as-of), the HRSS database its catalogue pulls from."""
    from pipelines.demo.generator import sqlite_url
    from pipelines.entrustment import ALLOW_RUN_DATE_ENV
    from resources.platform import ENV_CATALOGUE, ENV_DATA, ENV_INTAKE

    data = demo_dir / "data"
    return {ENV_CATALOGUE: "catalogue/demo", ENV_INTAKE: str(demo_dir / "intake"), ENV_DATA: str(data),
            ALLOW_RUN_DATE_ENV: "1", HRSS_URL_ENV: sqlite_url(data / "demo_sources" / "hrss.db")}


def steps(demo_dir: Path, history_months: int) -> list[Step]:
    """The demo's commands in the order ``make demo`` has always run them."""
    intake, data = str(demo_dir / "intake"), str(demo_dir / "data")
    where = ("--catalogue", "catalogue/demo", "--intake", intake, "--data", data)
    history = [Step(f"a season of history: {history_months} month(s) before this one, 20 rows per item, clock in each "
                    "month", "pipelines.demo", ("history", "--months", str(history_months), *where))]
    return [
        *(history if history_months else []),
        Step("today", "pipelines.demo", ("generate", *where)),
        Step("a contractor whose entrustment expired tries to run nn_water: refused, nothing touched (art. 7)",
             "pipelines", ("run", "--contractor", "nn_cityinfo", "--unit", "nn_water", "--quiet"),
             exits=frozenset({1}), hide_errors=True),
        Step("the run", "pipelines", ("run",)),
        Step("platforms, each its own store, and the connected stores: county -> city -> province (art. 11, 19)",
             "pipelines.demo", ("connected", "--catalogue", "catalogue/demo", "--data", data)),
        Step("repeated collection (art. 13)", "pipelines", ("repeated-collection", "catalogue/demo", "--data", data)),
        Step("temporary collections (art. 12)", "pipelines", ("temporary-collections", "catalogue/demo")),
        Step("resource directory (art. 18)", "pipelines",
             ("directory", "catalogue/demo", "--out", str(demo_dir / "data" / "directory"), "--data", data)),
        Step("supervision and evaluation: scorecards, contractors, violations, verdicts (art. 7-9, 15)", "pipelines",
             ("evaluate",), exits=frozenset({0, 1})),  # 1: some unit fails, as the demo intends
    ]


def entry_points() -> dict[str, Main]:
    """The CLI's mains, imported when the tour starts (each imports what its commands need)."""
    from pipelines.cli import main as platform_main
    from pipelines.demo.__main__ import main as demo_main

    return {"pipelines": platform_main, "pipelines.demo": demo_main}


def run_tour(tour: Sequence[Step], mains: Mapping[str, Main], settings: Mapping[str, str],
             out: Callable[[str], None] = print) -> None:
    """Every step with ``settings`` in the environment (as it was again afterwards), stopping at the first whose
    exit code is not one it expects."""
    out("the demo platform's settings, which every command below runs with (export them to run one by hand):")
    out("".join(f"$ export {name}={shlex.quote(value)}\n" for name, value in settings.items()))
    with _environment(settings):
        for step in tour:
            out(f"== {step.title} ==\n$ {step.command}")
            code = run_step(step, mains[step.module])
            if code not in step.exits:
                expected = " or ".join(str(c) for c in sorted(step.exits))
                raise TourStopped(f"`{step.command}` exited with {code}, not {expected}: the tour stops here")
            out("")


def run_step(step: Step, main: Main) -> int:
    """The step's exit code: what its main returned, or the code it exited with (argparse's 2 included)."""
    hidden = contextlib.redirect_stderr(io.StringIO()) if step.hide_errors else contextlib.nullcontext()
    with hidden:
        try:
            return main(list(step.args))
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdout.flush()


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    try:
        _apply(env)
        yield
    finally:
        _apply(saved)


def _apply(env: Mapping[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def main(demo_dir: str, history_months: int) -> int:
    try:
        # the instance the Makefile names (its dagster.yaml at the repository's root, where make runs)
        instance = {"DAGSTER_HOME": os.environ.get("DAGSTER_HOME") or str(Path.cwd())}
        run_tour(steps(Path(demo_dir), history_months), entry_points(), instance | demo_environment(Path(demo_dir)))
    except TourStopped as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 1
    return 0
