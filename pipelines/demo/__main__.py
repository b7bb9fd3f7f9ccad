"""``python -m pipelines.demo generate|history|submissions|catalogue|connected ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from pipelines.demo.anycatalogue import DEFAULT_ROWS, generate_submissions
from pipelines.demo.generator import DEFAULT_SEED, generate_demo, generate_large_catalogue
from pipelines.heap import tune_collector


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("generate", help="write demo submissions, the HRSS database and a manifest")
    demo.add_argument("--catalogue", default="catalogue/demo", help="demo catalogue directory")
    demo.add_argument("--intake", required=True, help="intake directory: <intake>/<unit>/<item>.<ext>")
    demo.add_argument("--data", required=True, help="gets demo_sources/hrss.db, demo_manifest.json")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    demo.add_argument("--rows", type=int, default=None, help="rows per item (default: 300-1500 by item)")

    history = commands.add_parser("history", help="a season of history: for each of the N months before this one, "
                                                  "a smaller submission per item run with the clock in that month")
    history.add_argument("--months", type=int, default=3)
    history.add_argument("--catalogue", default="catalogue/demo", help="demo catalogue directory")
    history.add_argument("--intake", required=True, help="the platform's intake directory (GOVDATA_INTAKE_DIR)")
    history.add_argument("--data", required=True, help="the platform's data directory (GOVDATA_DATA_DIR)")
    history.add_argument("--rows", type=int, default=None, help="rows per item and month (default: 20)")
    history.add_argument("--seed", type=int, default=DEFAULT_SEED)

    anyc = commands.add_parser("submissions", help="valid (and optionally faulty) submissions for any catalogue")
    anyc.add_argument("--catalogue", required=True, help="catalogue directory (units.yaml, items/*.yaml)")
    anyc.add_argument("--intake", required=True, help="intake directory: <intake>/<unit>/<item>.csv")
    anyc.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per item (within its declared bounds)")
    anyc.add_argument("--items", type=int, default=None, help="the first K items (and the authorities they read)")
    anyc.add_argument("--faults", type=float, default=0.0, help="share of rows given one known fault each")
    anyc.add_argument("--seed", type=int, default=DEFAULT_SEED)
    anyc.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    anyc.add_argument("--manifest", default=None, help="write the JSON manifest of expected counts here")

    rollup = commands.add_parser("connected", help="after a run: rows per region in each provincial table")
    rollup.add_argument("--catalogue", default="catalogue/demo", help="demo catalogue directory")
    rollup.add_argument("--data", required=True, help="the run's data directory (its SQLite shared store)")

    tour = commands.add_parser("tour", help="make demo: the demo's commands one after another in this process, "
                                            "each printed as you would type it")
    tour.add_argument("--demo-dir", default="var/demo", help="gets intake/ and data/ (emptied by make demo first)")
    tour.add_argument("--history-months", type=int, default=3, help="months of history before today (0: none)")

    large = commands.add_parser("catalogue", help="write a large synthetic catalogue that loads")
    large.add_argument("--items", type=int, default=5000)
    large.add_argument("--out", required=True)
    large.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    tune_collector()
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        manifest = generate_demo(args.catalogue, args.intake, args.data, seed=args.seed, as_of=args.as_of,
                                 rows=args.rows)
        print_summary(manifest)
    elif args.command == "history":
        from pipelines.demo.history import HISTORY_ROWS, run_history

        print(f"a season of history: {args.months} month(s) before this one, run with the clock in each month")
        run_history(args.catalogue, args.intake, args.data, args.months, rows=args.rows or HISTORY_ROWS,
                    seed=args.seed)
    elif args.command == "submissions":
        print_submissions(generate_submissions(args.catalogue, args.intake, rows=args.rows, items=args.items,
                                               faults=args.faults, seed=args.seed, as_of=args.as_of,
                                               manifest=args.manifest), args.manifest)
    elif args.command == "connected":
        print_connected(args.catalogue, args.data)
    elif args.command == "tour":
        from pipelines.demo import tour

        return tour.main(args.demo_dir, args.history_months)
    else:
        result = generate_large_catalogue(args.out, items=args.items, seed=args.seed)
        print(f"wrote {result['items']} items over {result['units']} units to {result['out']}")
    return 0


def print_summary(manifest: dict[str, Any]) -> None:
    print(f"demo data as of {manifest['as_of']} (seed {manifest['seed']})")
    print(f"{'item':36} {'rows':>6} {'held':>6} {'valid':>6} {'stale':>6}  file")
    for code, entry in manifest["items"].items():
        note = f"  [refused: {entry['refusal'].replace('_', ' ')}]" if entry["rejected_submission"] else ""
        print(f"{code:36} {entry['rows']:>6} {entry['expected_held_back']:>6} {entry['expected_valid']:>6} "
              f"{entry['stale']:>6}  {entry['file']}{note}")
    totals = manifest["totals"]
    print(f"{'total':36} {totals['rows']:>6} {totals['expected_held_back']:>6} {totals['expected_valid']:>6} "
          f"{totals['stale']:>6}")
    print(f"unknown keys (held back by online verification): {totals['faults']['unknown_key']}; "
          f"refused submissions: {totals['rejected_submissions']}; "
          f"submissions carrying looked-up values: {totals['repeated_collection_flags']}")
    print(f"manifest: {manifest['data']}/demo_manifest.json")
    for name, url in manifest["env"].items():
        print(f"export {name}={url}")


def print_submissions(manifest: dict[str, Any], path: str | None) -> None:
    print(f"submissions as of {manifest['as_of']} (seed {manifest['seed']}, fault rate {manifest['fault_rate']})")
    print(f"{'item':48} {'rows':>6} {'valid':>6} {'held':>6}  held back by kind")
    for code, entry in manifest["items"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in entry["held_back_by_kind"].items()) or "-"
        print(f"{code:48} {entry['rows']:>6} {entry['expected_valid']:>6} {entry['expected_held_back']:>6}  {kinds}")
    totals = manifest["totals"]
    print(f"{'total':48} {totals['rows']:>6} {totals['expected_valid']:>6} {totals['expected_held_back']:>6}")
    for code, reason in manifest["skipped"].items():
        print(f"skipped {code}: {reason}")
    if path:
        print(f"manifest: {path}")


def print_connected(catalogue_dir: str, data_dir: str) -> None:
    import os

    from pipelines.catalogue import load_catalogue
    from pipelines.demo.showcase import connected_report, platform_report, render_connected, render_platforms
    from pipelines.federation import supervised
    from resources.platform import ENV_STORE, resolve_store_url

    catalogue = load_catalogue(catalogue_dir)
    with supervised(catalogue, resolve_store_url(os.environ.get(ENV_STORE, ""), data_dir)) as every:
        print("per platform, in its own store:")
        print(render_platforms(platform_report(catalogue, every)))
        print("\nthe province's connected tables, by source region:")
        print(render_connected(connected_report(every.province)))


if __name__ == "__main__":
    sys.exit(main())
