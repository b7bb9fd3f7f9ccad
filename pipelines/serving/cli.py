"""``python -m pipelines sharing token issue|revoke|list``, ``sharing serve``, ``sharing extracts`` and
``python -m pipelines audit verify``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.clock import utc_now
from pipelines.platforms import PROVINCE

DEFAULT_PORT = 8300


def add_sharing_parsers(commands: Any) -> None:
    sharing = commands.add_parser("sharing", help="the sharing service: API tokens, the HTTP API, file extracts")
    _platform_option(sharing)
    actions = sharing.add_subparsers(dest="action", required=True)
    token = actions.add_parser("token", help="API tokens of units (stored hashed)")
    token_actions = token.add_subparsers(dest="token_action", required=True)
    issue = token_actions.add_parser("issue", help="issue a token to a unit; it is printed once")
    issue.add_argument("unit")
    issue.add_argument("--label", required=True, help="the system or person the token is for")
    issue.add_argument("--by", required=True, help="who issues it")
    revoke = token_actions.add_parser("revoke", help="revoke a token: refused from this moment")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--by", required=True)
    token_actions.add_parser("list", help="list tokens (never their secrets)")
    serve = actions.add_parser("serve", help="serve the sharing API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    actions.add_parser("extracts", help="write the file extracts of approved applications for file-mode items")
    audit = commands.add_parser("audit", help="the sharing audit chain")
    _platform_option(audit)
    audit_actions = audit.add_subparsers(dest="action", required=True)
    audit_actions.add_parser("verify", help="recompute the chain's hashes: exit 3 naming the first broken rows")


def _platform_option(parser: Any) -> None:
    parser.add_argument("--platform", default=PROVINCE,
                        help="the platform whose service this is: province (default) or city_<code>; each serves the "
                             "items it hosts, from its own store (docs/levels.md)")


def _store(platform: str = PROVINCE) -> Any:
    """The settings and the platform's own store; ``UnknownPlatform`` (exit 2) for a platform the catalogue lacks."""
    from pipelines.catalogue import load_catalogue
    from pipelines.platforms import require_platform
    from pipelines.store import Store
    from resources.platform import Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    require_platform(catalogue, platform)
    return settings, Store(settings.platform_store_url(platform), catalogue)


def run_sharing(args: argparse.Namespace) -> int:
    from pipelines.serving.tables import ensure_service_tables
    from pipelines.serving.tokens import TokenError, TokenRegistry

    settings, store = _store(args.platform)
    try:
        if args.action == "serve":
            from pipelines.serving.server import serve

            print(f"sharing API of {args.platform} on http://{args.host}:{args.port}/ (OpenAPI: /docs), "
                  f"store {store.dialect}", flush=True)
            serve(store, args.host, args.port, args.platform)
            return 0
        if args.action == "extracts":
            from pathlib import Path

            from pipelines.serving.extracts import write_extracts

            for written in write_extracts(store, Path(settings.data_dir), utc_now(), args.platform):
                print(f"{written.applicant} {written.item}: {written.rows} rows -> {written.path}")
            return 0
        tables = ensure_service_tables(store)
        registry = TokenRegistry(store.engine, tables.tokens, {u.code for u in store.catalogue.units})
        if args.token_action == "issue":
            token_id, token = registry.issue(args.unit, args.label, args.by, utc_now())
            print(f"token {token_id} for {args.unit} (shown once, stored hashed):\n{token}")
        elif args.token_action == "revoke":
            print(registry.revoke(args.id, args.by, utc_now()))
        else:
            print("\n".join(str(t) for t in registry.tokens()) or "no tokens")
        return 0
    except TokenError as refused:
        print(refused, file=sys.stderr)
        return 4
    finally:
        store.dispose()


def run_audit(args: argparse.Namespace) -> int:
    from pipelines.serving.audit import AuditChain
    from pipelines.serving.tables import ensure_service_tables

    _, store = _store(args.platform)
    try:
        report = AuditChain(store.engine, ensure_service_tables(store).audit).verify()
    finally:
        store.dispose()
    for problem in report.problems:
        print(problem, file=sys.stderr)
    state = "intact" if report.intact else f"BROKEN ({len(report.problems)} problems)"
    print(f"audit chain {state}: {report.rows} rows, head {report.head}")
    return 0 if report.intact else 3
