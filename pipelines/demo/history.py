"""A season of demo history: for each of the months before this one, a smaller submission per item dated in
that month, run with the platform's clock fixed in it, so the pass-rate trend, the UI's plots over time and the
scorecards' periods have several points before today's demo runs as now.

The clock moves through the run tag ``govdata/as-of`` (``python -m pipelines run --as-of``), which only a
platform that allows a run date honours (GOVDATA_ALLOW_RUN_DATE=1): nothing here edits a timestamp in the store.
Each month's run ends, as every full run does, with the inspection and the supervision reports, which evaluate
that month (``<data>/reports/<month>/``).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pipelines.clock import PROVINCE_TZ, Clock
from pipelines.demo.generator import DEFAULT_SEED, generate_demo

HISTORY_ROWS = 20  # per item and month: the generator's smallest submission, so each month's run stays short
DAY_OF_MONTH = 15  # mid-month, 10:00 in the province: well inside the month whatever the zone
HOUR = time(10)


@dataclass(frozen=True)
class Month:
    label: str  # 2026-09
    moment: datetime  # the platform's clock during that month's run (province time)
    received: int
    held_back: int
    converged: int
    units_passing: int
    units: int

    def line(self) -> str:
        return (f"{self.label}: {self.received} rows received, {self.converged} converged, {self.held_back} held back; "
                f"evaluation {self.label}: {self.units_passing} of {self.units} units pass")


def history_moments(today: date, months: int) -> list[datetime]:
    """Mid-month in each of the ``months`` months before ``today``'s, oldest first."""
    moments = []
    for back in range(months, 0, -1):
        year, month = divmod(today.year * 12 + today.month - 1 - back, 12)
        moments.append(datetime.combine(date(year, month + 1, DAY_OF_MONTH), HOUR, PROVINCE_TZ))
    return moments


def run_history(catalogue_dir: str | Path, intake_dir: str | Path, data_dir: str | Path, months: int,
                rows: int = HISTORY_ROWS, seed: int = DEFAULT_SEED, today: date | None = None,
                run: Callable[[list[str]], int] | None = None, progress: Callable[[str], Any] = print,
                verbose: bool = False) -> list[Month]:
    """Generate and run each month in turn; ``run`` is ``python -m pipelines`` (in this process by default) on
    the platform the environment configures, which must be this intake and data directory."""
    from pipelines.cli import main

    command = run or main
    done = []
    for moment in history_moments(today or Clock().today(), months):
        # another seed per month: other people and enterprises, not today's rows again
        generate_demo(catalogue_dir, intake_dir, data_dir, seed=seed + moment.month + 12 * moment.year,
                      as_of=moment.date(), rows=rows, well_behaved=True)
        quiet = io.StringIO()  # each month's full summary would bury today's
        with contextlib.redirect_stdout(quiet):
            code = command(["run", "--as-of", moment.isoformat(), "--quiet"])
        if verbose:
            progress(quiet.getvalue())
        if code != 0:
            raise RuntimeError(f"the history run of {moment:%Y-%m} failed (exit {code}):\n{quiet.getvalue()}")
        done.append(month_outcome(catalogue_dir, Path(data_dir), moment))
        progress(done[-1].line())
    return done


def month_outcome(catalogue_dir: str | Path, data_dir: Path, moment: datetime) -> Month:
    """What the store took in on the month's day (its ledger) and the month's evaluation verdicts."""
    import os

    from pipelines.catalogue import load_catalogue
    from pipelines.store import Store
    from pipelines.summary import build_summary
    from resources.platform import ENV_STORE, resolve_store_url

    store = Store(resolve_store_url(os.environ.get(ENV_STORE, ""), str(data_dir)), load_catalogue(catalogue_dir))
    try:
        day = build_summary(store.catalogue, store)["newest_day"]
    finally:
        store.dispose()
    if day["day"] != moment.date().isoformat():
        raise RuntimeError(f"the history run of {moment:%Y-%m} recorded nothing on {moment.date()}")
    label = f"{moment:%Y-%m}"
    verdicts = json.loads((data_dir / "reports" / label / "evaluation.json").read_text(encoding="utf-8"))["verdicts"]
    totals = day["totals"]
    return Month(label, moment, totals["received"], totals["held_back"], totals["converged"],
                 sum(v["verdict"] == "pass" for v in verdicts), len(verdicts))
