"""``python -m pipelines access sync|apply|approve|refuse|revoke|expire|list``: applications on any store, roles
and grants (``sync``) on PostgreSQL."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from pipelines.clock import utc_now
from pipelines.platforms import PROVINCE
from pipelines.store import as_utc


def add_access_parser(commands: Any) -> None:
    access = commands.add_parser("access", help="unit roles, grants and sharing applications (PostgreSQL)")
    access.add_argument("--platform", default=PROVINCE,
                        help="the platform hosting the items applied for: province (default) or city_<code>; "
                             "its store keeps the applications its sharing service reads")
    actions = access.add_subparsers(dest="action", required=True)
    actions.add_parser("sync", help="create unit roles and make the grants match catalogue + applications")
    apply = actions.add_parser("apply", help="a unit applies to read a conditional-share item")
    apply.add_argument("unit")
    apply.add_argument("item")
    apply.add_argument("--purpose", required=True)
    apply.add_argument("--until", required=True, help="valid until, ISO date or datetime (UTC)")
    apply.add_argument("--fields", default=None, help="comma-separated fields to be granted (default: all)")
    apply.add_argument("--personal", action="store_true",
                       help="the purpose needs the personal fields unmasked (the sharing service masks them otherwise)")
    approve = actions.add_parser("approve", help="approve a pending application (the platform grants)")
    approve.add_argument("id", type=int)
    approve.add_argument("--approver", required=True)
    for name in ("refuse", "revoke"):
        decide = actions.add_parser(name, help=f"{name} an application")
        decide.add_argument("id", type=int)
        decide.add_argument("--by", required=True)
        decide.add_argument("--reason", required=True)
    actions.add_parser("expire", help="end applications past valid_until and revoke their grants")
    login = actions.add_parser("login", help="a PostgreSQL login for an approved application's system, whose "
                                             "password stops working at the application's valid_until")
    login.add_argument("id", type=int)
    login.add_argument("--password-env", required=True, metavar="NAME",
                       help="the environment variable holding its password (never on the command line)")
    listing = actions.add_parser("list", help="list sharing applications")
    listing.add_argument("--status")


def _when(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def _wrong_platform(catalogue: Any, args: argparse.Namespace) -> str | None:
    """An application to a platform that does not host the item (its service would never read it there);
    ``UnknownPlatform`` for a platform the catalogue lacks."""
    from pipelines.platforms import platform_of, require_platform

    require_platform(catalogue, args.platform)
    item = catalogue.find_item(args.item) if args.action == "apply" else None
    if item is None:
        return None  # not an application, or an unknown item, which the application itself refuses
    host = platform_of(catalogue.unit(item.unit))
    return None if host == args.platform else f"{item.code} is hosted by platform {host}: apply with --platform {host}"


def run_access(args: argparse.Namespace) -> int:
    from pipelines.access.control import AccessControl, AccessError
    from pipelines.catalogue import load_catalogue
    from pipelines.store import Store
    from resources.platform import Settings

    settings = Settings.from_env()
    catalogue = load_catalogue(settings.catalogue_dir)
    wrong = _wrong_platform(catalogue, args)
    if wrong:
        print(wrong, file=sys.stderr)
        return 2
    store = Store(settings.platform_store_url(args.platform), catalogue)
    now = utc_now()
    try:
        control = AccessControl(store)
        print(_act(control, args, now))
        return 0
    except AccessError as refused:
        print(refused, file=sys.stderr)
        return 4
    finally:
        store.dispose()


def _act(control: Any, args: argparse.Namespace, now: datetime) -> str:
    from pipelines.access.control import AccessError

    if args.action == "sync":
        return "\n".join(control.sync(now)) or "grants already match"
    if args.action == "apply":
        fields = tuple(f.strip() for f in args.fields.split(",")) if args.fields else None
        new_id = control.apply(args.unit, args.item, args.purpose, _when(args.until), now, fields, args.personal)
        return f"application {new_id} pending"
    if args.action == "approve":
        return str(control.approve(args.id, args.approver, now))
    if args.action == "refuse":
        return str(control.refuse(args.id, args.by, args.reason, now))
    if args.action == "revoke":
        return str(control.revoke(args.id, args.by, args.reason, now))
    if args.action == "login":
        import os

        password = os.environ.get(args.password_env)
        if not password:
            raise AccessError(f"environment variable {args.password_env} holds no password")
        return f"login {control.application_login(args.id, password, now)} created"
    if args.action == "expire":
        return f"expired: {control.expire_applications(now)}"
    return "\n".join(str(a) for a in control.applications(args.status))
