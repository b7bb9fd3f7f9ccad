"""Headless command line: ``python -m pipelines check-catalogue|run|summary``.

Configured by GOVDATA_CATALOGUE_DIR, GOVDATA_INTAKE_DIR, GOVDATA_DATA_DIR, GOVDATA_STORE_URL and
DAGSTER_HOME (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from pipelines.catalogue import CatalogueError, load_catalogue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-catalogue", help="load a catalogue and list every problem")
    check.add_argument("directory")
    run = commands.add_parser("run", help="materialize every catalogued item with pending data")
    run.add_argument("--job", default="converge_all")
    run.add_argument("--quiet", action="store_true", help="only print the summary")
    run.add_argument("--no-inspect", action="store_true", help="skip the regular inspection after the run")
    summary = commands.add_parser("summary", help="per item received/valid/held back/converged, per check")
    summary.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        return {"check-catalogue": _check, "run": _run, "summary": _summary}[args.command](args)
    except CatalogueError as exc:
        print(exc, file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.directory)
    print(f"ok: {len(catalogue.units)} units, {len(catalogue.items)} items in {args.directory}")
    return 0


def _instance():  # type: ignore[no-untyped-def]
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    print("DAGSTER_HOME is not set: the run is kept in a temporary instance only", file=sys.stderr)
    return dg.DagsterInstance.ephemeral()


def _run(args: argparse.Namespace) -> int:
    from pipelines.definitions import build_definitions
    from resources.platform import PlatformResource, Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    resource = PlatformResource(catalogue_dir=settings.catalogue_dir, intake_dir=settings.intake_dir,
                                data_dir=settings.data_dir, store_url=settings.store_url)
    definitions = build_definitions(catalogue, resource, settings.store_kind)
    started = time.perf_counter()
    level = "WARNING" if args.quiet else "INFO"
    jobs = [args.job] if args.no_inspect or args.job != "converge_all" else [args.job, "inspection_daily"]
    with _instance() as instance:
        for job in jobs:  # the inspection after the pipeline, so its summary covers this run
            result = definitions.resolve_job_def(job).execute_in_process(
                instance=instance, raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            )
            if not result.success:
                break
    print(f"\nrun {result.run_id}: {'succeeded' if result.success else 'FAILED'} "
          f"in {time.perf_counter() - started:.1f} s\n")
    _print_summary(settings, as_json=False)
    return 0 if result.success else 1


def _summary(args: argparse.Namespace) -> int:
    from resources.platform import Settings

    return _print_summary(Settings.from_env(), as_json=args.json)


def _print_summary(settings, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    from pipelines.store import SharedStore
    from pipelines.summary import build_summary, render_text

    store = SharedStore(settings.resolved_store_url, load_catalogue(settings.catalogue_dir))
    try:
        summary = build_summary(store.catalogue, store)
    finally:
        store.dispose()
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str) if as_json else render_text(summary))
    return 0 if summary["totals"]["all_reconciled"] else 1
