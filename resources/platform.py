"""The platform resource: where the catalogue, the intake window, the data and each platform's store are."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg
from pydantic import PrivateAttr

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.clock import PROVINCE_TZ, Clock
from pipelines.entrustment import ALLOW_RUN_DATE_ENV
from pipelines.federation import (
    DatabaseLink,
    ensure_database,
    grant_link,
    platform_store_url,
    reachable,
    read_by_others,
    read_only_url,
)
from pipelines.platforms import PROVINCE, platform_names, platform_of
from pipelines.process import Platform

ENV_CATALOGUE = "GOVDATA_CATALOGUE_DIR"
ENV_INTAKE = "GOVDATA_INTAKE_DIR"
ENV_DATA = "GOVDATA_DATA_DIR"
ENV_STORE = "GOVDATA_STORE_URL"  # the province's store; a city's is derived from it (pipelines.federation)
ENV_LINK_PASSWORD = "GOVDATA_LINK_PASSWORD"  # the read-only link role's password on PostgreSQL (empty: none)
ENV_ALLOW_RUN_DATE = ALLOW_RUN_DATE_ENV  # "1" on test and demo platforms only
# The web server of Data Docs and reports: `python -m pipelines ui` serves them on this port; the check
# metadata links to GOVDATA_DOCS_URL, which in production names whatever serves the data directory.
ENV_DOCS_PORT = "GOVDATA_DOCS_PORT"
ENV_DOCS_URL = "GOVDATA_DOCS_URL"

DATA_DOCS = "data_docs"  # the GX Data Docs site, under the data directory
DEFAULTS = {ENV_CATALOGUE: "catalogue/demo", ENV_INTAKE: "var/intake", ENV_DATA: "var/data", ENV_STORE: "",
            ENV_ALLOW_RUN_DATE: "", ENV_DOCS_PORT: "3001", ENV_DOCS_URL: "http://127.0.0.1:3001/",
            ENV_LINK_PASSWORD: ""}
TRUE = ("1", "true", "yes")
# A run at another moment than now (ISO 8601, a moment or a day; province time when it names no zone): the platform's
# clock is fixed there for the run, so the ledger, checks and reports of a season of demo history fall in their
# months. Only where a run date is allowed (GOVDATA_ALLOW_RUN_DATE=1, test and demo platforms).
AS_OF_TAG = "govdata/as-of"


class RunClockRefused(ValueError):
    """The run asked for another clock on a platform that does not allow it."""


def run_clock(tags: Mapping[str, str], allowed: bool) -> Clock:
    """The platform's clock for a run with these tags: the wall clock, or fixed at the as-of moment."""
    value = tags.get(AS_OF_TAG)
    if not value:
        return Clock()
    if not allowed:
        raise RunClockRefused(f"run tag {AS_OF_TAG}={value} would move the platform's clock; only test and demo "
                              f"platforms allow it ({ALLOW_RUN_DATE_ENV}=1)")
    moment = datetime.fromisoformat(value)
    return Clock.fixed(moment if moment.tzinfo else moment.replace(tzinfo=PROVINCE_TZ))


@dataclass(frozen=True)
class Settings:
    """Read once, inside the definitions entry point or the CLI, never at import."""

    catalogue_dir: str
    intake_dir: str
    data_dir: str
    store_url: str
    allow_run_date: str = ""
    docs_port: int = int(DEFAULTS[ENV_DOCS_PORT])
    docs_url: str = DEFAULTS[ENV_DOCS_URL]
    link_password: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {k: env.get(k) or v for k, v in DEFAULTS.items()}
        return cls(values[ENV_CATALOGUE], values[ENV_INTAKE], values[ENV_DATA], values[ENV_STORE],
                   values[ENV_ALLOW_RUN_DATE], int(values[ENV_DOCS_PORT]), values[ENV_DOCS_URL],
                   values[ENV_LINK_PASSWORD])

    def docs_link(self, relative: str) -> str:
        """The URL of a file under the data directory (``data_docs/...``, ``reports/...``) on the docs server."""
        return docs_link(self.docs_url, relative)

    @property
    def run_date_allowed(self) -> bool:
        return self.allow_run_date.strip().lower() in TRUE

    @property
    def resolved_store_url(self) -> str:
        return resolve_store_url(self.store_url, self.data_dir)

    @property
    def store_kind(self) -> str:
        return "postgres" if self.resolved_store_url.startswith("postgresql") else "sqlite"

    def platform_store_url(self, platform: str) -> str:
        return platform_store_url(self.resolved_store_url, platform)


def resolve_store_url(store_url: str, data_dir: str) -> str:
    """Empty means the embedded default: a SQLite file under the data directory."""
    if store_url:
        return store_url
    return f"sqlite:///{Path(data_dir).resolve() / 'shared_store.db'}"


def docs_link(base_url: str, relative: str) -> str:
    # A base without its trailing slash would lose its last segment in urljoin: add it rather than surprise.
    return base_url.rstrip("/") + "/" + quote(relative.lstrip("/"))


def _env_or_default(name: str) -> Any:
    """An EnvVar when the variable is set (resolved at run time), else the documented default."""
    return dg.EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


class PlatformResource(dg.ConfigurableResource):
    catalogue_dir: str
    intake_dir: str
    data_dir: str
    store_url: str = ""
    # Whether a run may judge entrustments on another day than today (the govdata/run-date tag).
    allow_run_date: str = ""
    # The password of the read-only role other platforms' stores grant this one (PostgreSQL; empty: none).
    link_password: str = ""

    _catalogue: Catalogue | None = PrivateAttr(default=None)
    _platforms: dict[str, Platform] = PrivateAttr(default_factory=dict)
    _links: dict[str, DatabaseLink] = PrivateAttr(default_factory=dict)
    _clock: Clock = PrivateAttr(default_factory=Clock)

    @classmethod
    def from_env(cls) -> PlatformResource:
        return cls(
            catalogue_dir=_env_or_default(ENV_CATALOGUE),
            intake_dir=_env_or_default(ENV_INTAKE),
            data_dir=_env_or_default(ENV_DATA),
            store_url=_env_or_default(ENV_STORE),
            allow_run_date=_env_or_default(ENV_ALLOW_RUN_DATE),
            link_password=_env_or_default(ENV_LINK_PASSWORD),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformResource:
        """The settings' values themselves (the CLI's own runs), not EnvVars resolved at run time."""
        return cls(catalogue_dir=settings.catalogue_dir, intake_dir=settings.intake_dir, data_dir=settings.data_dir,
                   store_url=settings.store_url, allow_run_date=settings.allow_run_date,
                   link_password=settings.link_password)

    @property
    def run_date_allowed(self) -> bool:
        return self.allow_run_date.strip().lower() in TRUE

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = load_catalogue(self.catalogue_dir)
        return self._catalogue

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # a fresh copy per run (Dagster's): the clock of one run never leaks into the next
        run = context.dagster_run
        self._clock = run_clock(run.tags if run else {}, self.run_date_allowed)

    def platform(self, name: str = PROVINCE) -> Platform:
        """One platform's stages over its own store (the province's by default: supervision, access)."""
        if name not in self._platforms:
            url = self.store_url_of(name)
            ensure_database(url)
            built = build_platform(self.catalogue, self.intake_dir, self.data_dir, url, self._clock,
                                   self._authority(name))
            shared = [built.store.tables.shared(i) for i in read_by_others(self.catalogue, name)
                      if built.store.shared.exists(i)]
            grant_link(built.store, shared)  # PostgreSQL: what the other platforms' links may read
            self._platforms[name] = built
        return self._platforms[name]

    def platform_of_unit(self, unit: str) -> Platform:
        return self.platform(platform_of(self.catalogue.unit(unit)))

    def store_url_of(self, name: str) -> str:
        return platform_store_url(resolve_store_url(self.store_url, self.data_dir), name)

    def link(self, name: str) -> DatabaseLink:
        """The read-only link to another platform's store (pipelines.federation)."""
        if name not in self._links:
            url = read_only_url(self.store_url_of(name), password=self.link_password or None)
            self._links[name] = DatabaseLink(name, self.catalogue, url)
        return self._links[name]

    def city_links(self) -> dict[str, DatabaseLink]:
        return {name: self.link(name) for name in platform_names(self.catalogue) if name != PROVINCE}

    def linked_stores(self) -> tuple[list[Any], dict[str, str]]:
        """Every city platform's store the province supervises, read-only; those unreachable, with the reason."""
        return reachable(self.city_links())

    def _authority(self, name: str) -> Any:
        """Where this platform's validation reads an authoritative item: its own store, or another platform's
        through the link (a city verifying keys against the province's registers, art. 14)."""
        def store_of(item: str) -> Any:
            owner = platform_of(self.catalogue.unit(self.catalogue.item(item).unit))
            return self.platform(name).store if owner == name else self.link(owner).store
        return store_of

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for built in self._platforms.values():
            built.store.dispose()
        for link in self._links.values():
            link.dispose()


def build_platform(catalogue: Catalogue, intake_dir: str, data_dir: str, store_url: str,
                   clock: Clock | None = None, authority: Any = None) -> Platform:
    """One platform over the store ``store_url`` names (already the platform's own, see store_url_of)."""
    from expectations.runner import GxValidator
    from pipelines.store import Store

    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    Path(intake_dir).mkdir(parents=True, exist_ok=True)
    store = Store(resolve_store_url(store_url, data_dir), catalogue)
    store.ensure_tables([])
    return Platform(catalogue=catalogue, intake_dir=Path(intake_dir), data_dir=data, store=store,
                    validator=GxValidator(docs_dir=data / DATA_DOCS), clock=clock or Clock(), authority=authority)
