"""Headless command line: ``python -m pipelines check-catalogue|run|summary|contractors``.

Configured by GOVDATA_CATALOGUE_DIR, GOVDATA_INTAKE_DIR, GOVDATA_DATA_DIR, GOVDATA_STORE_URL and
DAGSTER_HOME (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.catalogue import Catalogue, CatalogueError, load_catalogue
from pipelines.clock import Clock
from pipelines.code_servers import CodeServerFailed
from pipelines.heap import tune_collector
from pipelines.platforms import UnknownPlatform


def main(argv: Sequence[str] | None = None) -> int:
    tune_collector()
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-catalogue", help="load a catalogue and list every problem")
    check.add_argument("directory")
    run = commands.add_parser("run", help="materialize every catalogued item with pending data")
    run.add_argument("--job", default=None, help="run this job whole instead of the pending items")
    run.add_argument("--workers", type=int, default=None,
                     help="worker processes (default: one per 100 pending items, up to the cores)")
    run.add_argument("--quiet", action="store_true", help="only print the summary")
    run.add_argument("--no-inspect", action="store_true",
                     help="skip the regular inspection and the supervision reports after the run")
    run.add_argument("--contractor", default=None, metavar="CODE",
                     help="the technical service unit operating the run (refused without a valid entrustment)")
    run.add_argument("--run-date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                     help="judge entrustments on this day instead of today")
    # hidden: the demo's season of history (pipelines.demo.history); refused unless GOVDATA_ALLOW_RUN_DATE=1
    run.add_argument("--as-of", type=_moment, default=None, help=argparse.SUPPRESS)
    run.add_argument("--unit", action="append", default=None, metavar="CODE",
                     help="only this unit's items (repeatable); skips the inspection and reports")
    run.add_argument("--platform", default=None, metavar="NAME",
                     help="only the units this platform hosts (province, city_<code>) and what follows on it: each "
                          "platform runs on its own (art. 19, docs/levels.md)")
    run.add_argument("--executor", choices=["in-process", "celery"], default="in-process",
                     help="celery: every run launched through the instance (DAGSTER_HOME), its steps on Celery "
                          "workers (deploy/celery/README.md)")
    commands.add_parser("catalogue-schema", help="write the catalogue JSON Schemas to catalogue/schema/")
    summary = commands.add_parser("summary", help="per item received/valid/held back/converged, per check")
    summary.add_argument("--json", action="store_true")
    _governance_commands(commands)
    contractors = commands.add_parser("contractors", help="list technical service units and their entrustments")
    contractors.add_argument("directory", nargs="?", default=None, help="catalogue (default: GOVDATA_CATALOGUE_DIR)")
    contractors.add_argument("--as-of", type=date.fromisoformat, default=None, help="judge validity on this day")
    contractors.add_argument("--json", action="store_true")
    _evaluation_command(commands)
    ui = commands.add_parser("ui", help="the Dagster UI (webserver and daemon) on this platform")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", default="3000")
    ui.add_argument("--docs-host", default="127.0.0.1", help="where Data Docs and reports are served")
    ui.add_argument("--docs-port", type=int, default=None, help="default: GOVDATA_DOCS_PORT or 3001")
    ui.add_argument("--workspace", default="workspace.yaml",
                    help="the workspace (make ui: one code location per platform, from `workspace`)")
    ui.add_argument("--code-servers", action="store_true",
                    help="start every platform's code server side by side first (pipelines.code_servers) and "
                         "load them as grpc_server locations: faster for a large catalogue, no reload in the UI")
    servers = commands.add_parser("code-servers", help="every platform's Dagster code server, side by side, and a "
                                                       "workspace.yaml naming them (until Ctrl-C)")
    servers.add_argument("--host", default="127.0.0.1")
    servers.add_argument("--platform", action="append", default=None, metavar="NAME",
                         help="only this platform's server (repeatable; default: every platform)")
    servers.add_argument("--workspace-out", default="var/code-servers.yaml",
                         help="the workspace to write once every server answers")
    space = commands.add_parser("workspace", help="write a workspace.yaml with one code location per platform")
    space.add_argument("--out", default=None, help="file to write (default: standard output)")
    migrate = commands.add_parser("migrate", help="bring the shared tables in line with the catalogue")
    migrate.add_argument("--dry-run", action="store_true", help="only list the changes")
    from pipelines.access.cli import add_access_parser, run_access

    add_access_parser(commands)
    from pipelines.serving.cli import add_sharing_parsers, run_audit, run_sharing

    add_sharing_parsers(commands)
    args = parser.parse_args(argv)
    try:
        handlers = {"check-catalogue": _check, "run": _run, "summary": _summary, "catalogue-schema": _schemas,
                    "migrate": _migrate, "ui": _ui, "workspace": _workspace, "code-servers": _code_servers,
                    "access": run_access, "contractors": _contractors, "evaluate": _evaluate,
                    "dismiss-violation": _dismiss, "sharing": run_sharing, "audit": run_audit, **GOVERNANCE}
        return handlers[args.command](args)
    except (CatalogueError, UnknownPlatform) as exc:
        print(exc, file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.directory)
    contractors = f", {len(catalogue.contractors)} contractors" if catalogue.contractors else ""
    print(f"ok: {len(catalogue.units)} units, {len(catalogue.items)} items{contractors} in {args.directory}")
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from pipelines.catalogue.jsonschema import write_schemas

    for path in write_schemas():
        print(f"wrote {path}")
    return 0


AFTER_THE_PIPELINE = ("supervision_reports",)  # after the inspection (assets.quality.inspection_job)


def _run(args: argparse.Namespace) -> int:
    from pipelines import launch, runplan
    from resources.platform import Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    problem = _run_problem(args, catalogue, settings)
    if problem:
        print(f"run: {problem}", file=sys.stderr)
        return 2
    # built on the first run (none when nothing is new); with --platform, that platform's code location: what
    # follows the run, and the jobs after it, are that platform's only
    launch.use_catalogue(catalogue, args.platform)
    started = time.perf_counter()
    level = "WARNING" if args.quiet else "INFO"
    tags = _run_tags(args)
    execute = launch.execute
    if args.executor == "celery":
        from pipelines import executors

        problem = executors.use_celery()
        if problem:
            print(f"run: {problem}", file=sys.stderr)
            return 2
        execute = executors.execute_through_instance
    if args.job:  # one named job, whole
        outcomes = [execute([], tags, level, job=args.job)]
    else:
        items = ([i for u in args.unit for i in catalogue.items_of(u)] if args.unit
                 else runplan.pending_items(catalogue, Path(settings.intake_dir)))
        items = _hosted(catalogue, items, args.platform)
        workers = args.workers or runplan.worker_count(len(items), os.cpu_count() or 1)
        batches = runplan.plan(catalogue, items, workers)
        print(f"{len(items)} item(s) with something new, in {len(batches)} run(s)")
        if args.executor == "celery":  # one run of every batch: Dagster orders its steps, the workers share them
            outcomes = [execute([k for b in batches for k in launch.batch_keys(b)], tags, level)] if batches else []
        else:
            outcomes = launch.run_batches(batches, workers, tags, level)
        following = (launch.following_keys(launch.built(), batches)
                     if batches and all(o.success for o in outcomes) else [])
        if following and not args.unit:
            outcomes.append(execute(following, tags, level))
        if not (args.no_inspect or args.unit) and all(o.success for o in outcomes):
            # the inspection after the pipeline, so its summary covers this run
            definitions = launch.built()
            outcomes.append(_inspect(definitions, tags, level))  # a city's: its checks, no summary
            jobs = {j.name for j in definitions.resolve_all_job_defs()}  # a city's platform has no reports
            outcomes += [execute([], tags, level, job=job) for job in AFTER_THE_PIPELINE if job in jobs]
    if not outcomes:  # nothing new: the summary (`python -m pipelines summary`) reads every platform's store
        print("nothing to run")
        return 0
    succeeded = all(o.success for o in outcomes)
    print(f"\n{len(outcomes)} run(s): {'succeeded' if succeeded else 'FAILED'} "
          f"in {time.perf_counter() - started:.1f} s\n")
    for failure in (f for o in outcomes for f in o.failures):
        print(f"failed: {failure}")
    refused = sum(_print_refusals(settings, catalogue, o.run_id) for o in outcomes)
    if succeeded and not args.job and not args.unit and not args.no_inspect:
        reports = os.path.join(settings.data_dir, "reports")
        print(f"supervision and evaluation reports: {reports}/<period>/report.html\n")
    if not args.unit or refused < len(set(args.unit)):  # a run refused for every unit it selected did nothing
        _print_summary(settings, as_json=False)
    return 0 if succeeded else 1


def _inspect(definitions: Any, tags: dict[str, str], level: str) -> Any:
    """The daily inspection, in this process whatever the executor: every shared check, then the summary."""
    from assets.quality import inspection_job
    from pipelines import launch

    with launch.instance() as instance:
        result = inspection_job(definitions).execute_in_process(
            instance=instance, raise_on_error=False, tags={**tags, "govdata/inspection": "daily"},
            run_config=launch.run_config(level))
    return launch.outcome_of(result)


def _ui(args: argparse.Namespace) -> int:
    """``dagster dev`` and, beside it, the web server of Data Docs and reports; both stop on SIGINT (or
    SIGTERM) however this was started. Started with ``&`` from a script a process inherits SIGINT ignored,
    and ``dagster dev`` would then neither stop on Ctrl-C nor stop its code servers: it gets SIGINT back."""
    import signal
    import subprocess

    from pipelines.docs_server import make_server, running
    from pipelines.instance_storage import batch_planned_events
    from resources.platform import Settings

    settings = Settings.from_env()
    port = args.docs_port or settings.docs_port
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # inherited by dagster dev across exec
    batch_planned_events()  # the runs the UI and the daemon create, as the CLI's (inherited by dagster dev)
    dagster = str(Path(sys.executable).parent / "dagster")
    try:
        server = make_server(Path(settings.data_dir), args.docs_host, port)
    except OSError as exc:
        print(f"ui: cannot serve Data Docs on {args.docs_host}:{port}: {exc}", file=sys.stderr)
        return 2
    try:
        with running(server), _code_servers_for(args) as workspace_file:
            print(f"Data Docs and reports on http://{args.docs_host}:{server.server_port}/ "
                  f"(the checks link to {settings.docs_url})", flush=True)
            # Its own process group: a Ctrl-C in the terminal reaches this process only, which passes it on
            # once; interrupted twice, dagster dev would abandon its shutdown and leave code servers behind.
            child = subprocess.Popen([dagster, "dev", "-w", workspace_file, "-h", args.host, "-p", args.port],
                                     process_group=0)

            def stop(signum: int, frame: Any) -> None:
                child.send_signal(signal.SIGINT)

            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
            return child.wait()
    except CodeServerFailed as exc:
        print(f"ui: {exc}", file=sys.stderr)
        return 1


@contextmanager
def _code_servers_for(args: argparse.Namespace) -> Iterator[str]:
    """The workspace ``ui`` loads: ``--workspace`` as it is, or with ``--code-servers`` one naming every
    platform's server, started here side by side and stopped when the UI stops."""
    if not args.code_servers:
        yield args.workspace
        return
    from pipelines.code_servers import running as servers_running
    from pipelines.code_servers import written_workspace

    with servers_running(_platforms(None), progress=_server_up) as servers, \
            written_workspace(servers, Path("var/code-servers.yaml")) as path:
        yield str(path)


def _platforms(wanted: list[str] | None) -> list[str]:
    from pipelines.definitions import settings_catalogue
    from pipelines.platforms import platform_names, require_platform

    catalogue = settings_catalogue()
    for name in wanted or []:
        require_platform(catalogue, name)
    return wanted or platform_names(catalogue)


def _server_up(server: Any, up: int, of: int) -> None:
    print(f"code server {up}/{of} up: {server.location} on {server.host}:{server.port}", flush=True)


def _code_servers(args: argparse.Namespace) -> int:
    """Every platform's code server until SIGINT or SIGTERM, and a workspace naming them for
    ``dagster-webserver -w`` and ``dagster-daemon run -w`` (docs/levels.md)."""
    import signal
    import threading

    from pipelines.code_servers import running as servers_running
    from pipelines.code_servers import written_workspace

    started = time.perf_counter()
    Path(args.workspace_out).unlink(missing_ok=True)  # one left by a server killed outright names closed ports
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        with servers_running(_platforms(args.platform), args.host, progress=_server_up) as servers, \
                written_workspace(servers, Path(args.workspace_out)):
            print(f"{len(servers)} code server(s) up in {time.perf_counter() - started:.1f} s; wrote "
                  f"{args.workspace_out} (dagster-webserver -w {args.workspace_out}); Ctrl-C stops them", flush=True)
            while not stopping.wait(1.0):
                pass
    except CodeServerFailed as exc:
        print(f"code-servers: {exc}", file=sys.stderr)
        return 1
    return 0


def _workspace(args: argparse.Namespace) -> int:
    """The province's platform and each city's as code locations of one workspace (art. 19)."""
    import yaml

    from pipelines.locations import workspace
    from pipelines.platforms import platform_names
    from resources.platform import Settings

    text = yaml.safe_dump(workspace(platform_names(load_catalogue(Settings.from_env().catalogue_dir))),
                          sort_keys=False)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _hosted(catalogue: Catalogue, items: list[Any], platform: str | None) -> list[Any]:
    """The items to plan cut to the units ``platform`` hosts (None: every platform's)."""
    from pipelines.platforms import Scope

    scope = Scope(catalogue, platform)
    return [i for i in items if scope.has_unit(i.unit)]


def _run_problem(args: argparse.Namespace, catalogue: Catalogue, settings: Any) -> str | None:
    """Arguments the run would only trip over later: refuse them before anything starts."""
    if args.platform is not None:
        from pipelines.platforms import Scope, require_platform

        require_platform(catalogue, args.platform)  # UnknownPlatform: exit 2, naming the catalogue's platforms
        known = {u.code for u in catalogue.units}
        elsewhere = sorted(u for u in set(args.unit or ()) & known if not Scope(catalogue, args.platform).has_unit(u))
        if elsewhere:
            return f"unit {', '.join(elsewhere)} is not hosted by the platform {args.platform}"
    unknown = sorted(set(args.unit or ()) - {u.code for u in catalogue.units})
    if unknown:
        return f"no unit {', '.join(unknown)} in the catalogue {settings.catalogue_dir}"
    empty = sorted(u for u in set(args.unit or ()) if not catalogue.items_of(u))
    if empty:  # an empty selection would run every unit
        return f"unit {', '.join(empty)} has no catalogued items: nothing to run"
    from pipelines.entrustment import ALLOW_RUN_DATE_ENV

    if args.run_date and not settings.run_date_allowed:
        return (f"--run-date judges entrustments on another day than today; only test and demo platforms "
                f"allow it ({ALLOW_RUN_DATE_ENV}=1)")
    if args.as_of and not settings.run_date_allowed:
        return f"--as-of moves the platform's clock; only test and demo platforms allow it ({ALLOW_RUN_DATE_ENV}=1)"
    return None


def _moment(text: str) -> str:
    """An ISO moment or day, kept as text for the run tag (resources.platform.run_clock reads it)."""
    from datetime import datetime

    datetime.fromisoformat(text)  # argparse turns the ValueError into a usage error
    return text


def _run_tags(args: argparse.Namespace) -> dict[str, str]:
    from pipelines.entrustment import CONTRACTOR_TAG, RUN_DATE_TAG
    from resources.platform import AS_OF_TAG

    tags = {CONTRACTOR_TAG: args.contractor} if args.contractor else {}
    tags |= {AS_OF_TAG: args.as_of} if args.as_of else {}
    return tags | ({RUN_DATE_TAG: args.run_date.isoformat()} if args.run_date else {})


def _print_refusals(settings, catalogue, run_id: str) -> int:  # type: ignore[no-untyped-def]
    from pipelines.federation import supervised

    with supervised(catalogue, settings.resolved_store_url, settings.link_password or None) as every:
        refused = [r for store in every.stores for r in store.records.run_records(run_id) if r["status"] == "refused"]
    for record in refused:
        print(f"refused for unit {record['unit']}: {record['reason']}")
    if refused:
        print()
    return len(refused)


def _contractors(args: argparse.Namespace) -> int:
    from pipelines.entrustment import contractor_listing, render_listing
    from resources.platform import Settings

    day = args.as_of or Clock().today()  # entrustments run by the province's calendar days
    listing = contractor_listing(load_catalogue(args.directory or Settings.from_env().catalogue_dir), day)
    print(json.dumps(listing, ensure_ascii=False, indent=2) if args.json else render_listing(listing, day))
    return 0


def _summary(args: argparse.Namespace) -> int:
    from resources.platform import Settings

    return _print_summary(Settings.from_env(), as_json=args.json)


def _print_summary(settings, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    from pipelines.federation import supervised
    from pipelines.summary import build_summary, render_text

    catalogue = load_catalogue(settings.catalogue_dir)
    with supervised(catalogue, settings.resolved_store_url, settings.link_password or None) as every:
        summary = build_summary(catalogue, every.province, *every.linked)
        _warn_down(every.down)
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str) if as_json else render_text(summary))
    return 0 if summary["totals"]["all_reconciled"] else 1


# --- governance (art. 12, 13, 18) -------------------------------------------------------------------
def _governance_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    temporary = commands.add_parser("temporary-collections", help="list temporary collections for supervision")
    temporary.add_argument("directory")
    temporary.add_argument("--as-of", type=date.fromisoformat, default=None, help="judge expiry on this day")
    temporary.add_argument("--json", action="store_true")
    repeated = commands.add_parser("repeated-collection", help="report repeated-collection overlaps across units")
    repeated.add_argument("directory")
    repeated.add_argument("--data", default=None, help="data directory holding the flagged-submission log")
    repeated.add_argument("--json", action="store_true")
    export = commands.add_parser("directory", help="export the resource directory as DCAT and validate it")
    export.add_argument("directory")
    export.add_argument("--out", required=True, help="folder for directory.ttl and directory.jsonld")
    export.add_argument("--shapes", default=None, nargs="+",
                        help="DCAT-AP SHACL shapes (default: the core and recommended shapes carried in "
                             "pipelines/standards_data, or GOVDATA_DCAT_SHAPES)")
    export.add_argument("--base-uri", default=None,
                        help="base of the directory's IRIs (default: GOVDATA_DIRECTORY_BASE_URI, "
                             "else https://govdata.example/directory/)")
    export.add_argument("--portal-url", default=None,
                        help="portal address for landing pages and unit contact pages (default: "
                             "GOVDATA_PORTAL_URL, else https://govdata.example/portal/)")
    export.add_argument("--data", default=None,
                        help="data directory: its ledger dates each item's first publication (as the asset does) "
                             "and its open-data files become distributions")


def _temporary(args: argparse.Namespace) -> int:
    from pipelines.supervision import render_temporary, temporary_collections

    listed = temporary_collections(load_catalogue(args.directory), args.as_of or Clock().today())
    print(json.dumps(listed, ensure_ascii=False, indent=2) if args.json else render_temporary(listed))
    return 0


def _repeated(args: argparse.Namespace) -> int:

    from pipelines.sharing import carried_log
    from pipelines.supervision import render_repeated, repeated_collection_report

    flagged = _with_store(load_catalogue(args.directory), Path(args.data), carried_log) if args.data else []
    report = repeated_collection_report(load_catalogue(args.directory), flagged)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render_repeated(report))
    return 0


def _directory(args: argparse.Namespace) -> int:

    from pipelines import directory, opendata

    catalogue = load_catalogue(args.directory)
    days = _convergence_days(catalogue, Path(args.data)) if args.data else {}
    first, last = ({item: span[0] for item, span in days.items()}, {item: span[1] for item, span in days.items()})
    opened = opendata.read_index(Path(args.data) / "open") if args.data else {}
    graph = directory.dcat_graph(directory.entries(catalogue, first, last), args.base_uri, opened=opened,
                                 portal=args.portal_url, divisions=catalogue.divisions)
    turtle, jsonld = directory.export(graph, Path(args.out))
    result = directory.validate(graph, [Path(s) for s in args.shapes] if args.shapes else None)
    print(f"{len(catalogue.items)} entries written to {turtle} and {jsonld}")
    if args.data:
        print(f"{len(opened)} of them list open-data files as distributions")
    print("conforms to DCAT-AP 3.0.0" if result.conforms else f"does NOT conform:\n{result.report}")
    if result.conforms and result.warnings:  # diagnostics: the recommended properties still missing
        print(f"{result.warnings} warnings from the recommended shapes:\n{result.report}", file=sys.stderr)
    return 0 if result.conforms else 1


def _convergence_days(catalogue: Catalogue, data_dir: Path) -> dict[str, tuple[date, date]]:
    """Item -> the first and last day it converged, from the ledgers of the stores that data directory holds."""
    from pipelines import directory

    return directory.convergence_days(_with_store(catalogue, data_dir, lambda store: store.ledger.submissions(
        status="converged")))


def _with_store(catalogue: Catalogue, data_dir: Path, read: Any) -> Any:
    """What ``read(store)`` returns from every platform's store that data directory holds (or GOVDATA_STORE_URL
    names), one list: the province's, then each city's it reaches."""
    from pipelines.federation import supervised
    from resources.platform import ENV_LINK_PASSWORD, ENV_STORE, resolve_store_url

    url = resolve_store_url(os.environ.get(ENV_STORE, ""), str(data_dir))
    with supervised(catalogue, url, os.environ.get(ENV_LINK_PASSWORD) or None) as every:
        every.province.ensure_tables([])  # a data directory no run has used yet reads as empty
        _warn_down(every.down)
        return [entry for store in every.stores for entry in read(store)]


def _warn_down(down: dict[str, str]) -> None:
    for platform, reason in down.items():
        print(f"platform {platform} not reached, left out: {reason}", file=sys.stderr)


GOVERNANCE = {"temporary-collections": _temporary, "repeated-collection": _repeated, "directory": _directory}


# --- supervision and evaluation (art. 8, 9, 15) -------------------------------------------------------------
def _evaluation_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    evaluate = commands.add_parser("evaluate", help="unit scorecards, contractors, violations and compliance "
                                                    "verdicts of a period, written under <data dir>/reports/<period>/")
    evaluate.add_argument("--period", default=None, help="2026-11 (month) or 2026-W48 (ISO week); default: this month")
    evaluate.add_argument("--json", action="store_true")
    dismissal = commands.add_parser("dismiss-violation", help="the management institution dismisses an open "
                                                              "violation with its reason (recorded, in the reports)")
    dismissal.add_argument("--kind", required=True, help="out_of_catalogue, expired_temporary, repeated_collection, "
                                                          "overdue_correction")
    dismissal.add_argument("--unit", required=True)
    dismissal.add_argument("--subject", required=True, help="the submission it concerns, as the report lists it")
    dismissal.add_argument("--by", required=True, help="the officer of the data management institution")
    dismissal.add_argument("--reason", required=True)
    evaluate.add_argument("--reissue", default=None, metavar="REASON",
                          help="an ended period is published once and kept (art. 9); re-issue it, computed from "
                               "the records as they stand now, with this reason (recorded and shown)")


def _dismiss(args: argparse.Namespace) -> int:
    """Exit 0 when dismissed, 2 when refused (no such open violation, no reason)."""
    from pipelines.clock import utc_now
    from pipelines.evaluation.violations import DismissalError, dismiss
    from pipelines.store import Store
    from resources.platform import Settings

    settings = Settings.from_env()
    store = Store(settings.resolved_store_url, load_catalogue(settings.catalogue_dir))
    try:
        closed = dismiss(store, args.kind, args.unit, args.subject, args.by, args.reason, utc_now())
    except DismissalError as exc:
        print(f"dismiss-violation: {exc}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(f"dismissed {closed.kind} {closed.unit}/{closed.subject}: {closed.closed_by}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """Exit 0 when every unit complies, 1 when one fails, 2 on a bad period or configuration."""

    from pipelines.clock import utc_now
    from pipelines.evaluation.config import load_evaluation_config
    from pipelines.evaluation.periods import MONTH, PeriodError, current_period, parse_period
    from pipelines.evaluation.publication import PublicationError
    from pipelines.evaluation.report import render_text, write_reports
    from pipelines.evaluation.service import evaluate, reports_dir
    from pipelines.federation import supervised
    from resources.platform import Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    config = load_evaluation_config(settings.catalogue_dir)
    now = utc_now()
    try:
        period = parse_period(args.period) if args.period else current_period(now, MONTH)
    except PeriodError as exc:
        print(exc, file=sys.stderr)
        return 2
    with supervised(catalogue, settings.resolved_store_url, settings.link_password or None) as every:
        _warn_down(every.down)
        try:
            evaluation = evaluate(catalogue, every.province, Path(settings.data_dir), period, config, now,
                                  args.reissue, every.linked_records())
        except PublicationError as exc:
            print(f"evaluate: {exc}", file=sys.stderr)
            return 2
    paths = write_reports(evaluation, reports_dir(Path(settings.data_dir), period), config.thresholds.pass_rate)
    print(json.dumps(evaluation.as_dict(), ensure_ascii=False, indent=2, default=str) if args.json
          else render_text(evaluation, paths))
    return 1 if any(v.verdict == "fail" for v in evaluation.verdicts) else 0


def _migrate(args: argparse.Namespace) -> int:
    """Exit 0 when the tables match (or were brought in line), 3 when a destructive change was refused."""
    from pipelines.federation import ensure_database
    from pipelines.platforms import hosted_catalogue, platform_names
    from pipelines.store import Store
    from pipelines.store.migrate import MigrationRefused
    from resources.platform import Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    destructive = False
    for platform in platform_names(catalogue):  # each platform's store holds its own items' tables only
        url = settings.platform_store_url(platform)
        ensure_database(url)
        store = Store(url, hosted_catalogue(catalogue, platform))
        try:
            plan = store.migrate(dry_run=args.dry_run)
        except MigrationRefused as refused:
            print(f"{platform}: {refused}", file=sys.stderr)
            return 3
        finally:
            store.dispose()
        print(f"{platform}: " + ("dry run, nothing applied:\n" if args.dry_run else "") + plan.describe())
        destructive = destructive or bool(plan.destructive)
    return 3 if destructive else 0
