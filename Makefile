# Two commands for a newcomer: `make demo` and `make test`. Each builds .venv from the lock first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export DAGSTER_HOME := $(CURDIR)
DEMO_DIR := var/demo
# GOVDATA_ALLOW_RUN_DATE=1: a demo platform, whose runs may be dated (the season of history, --as-of)
DEMO_ENV := GOVDATA_CATALOGUE_DIR=catalogue/demo GOVDATA_INTAKE_DIR=$(DEMO_DIR)/intake \
	GOVDATA_DATA_DIR=$(DEMO_DIR)/data GOVDATA_ALLOW_RUN_DATE=1 \
	GOVDATA_DEMO_HRSS_DB_URL=sqlite:///$(CURDIR)/$(DEMO_DIR)/data/demo_sources/hrss.db
# months of history before today's demo, 20 rows per item each (0: none)
HISTORY_MONTHS ?= 3

.PHONY: install demo demo-data run summary ui serve test test-slow test-unit lint lock clean

# The project's bytecode, compiled here because an environment with PYTHONDONTWRITEBYTECODE (CI images, these
# machines) never writes it: every process would compile each project module again (about 0.7 s CPU each, and
# `make demo` starts nine). Python still reads a .pyc it did not write, and ignores one older than its source.
install: $(INSTALLED)
	@$(BIN)/python -m compileall -q pipelines assets expectations resources

$(INSTALLED): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## demo: generate the demo province from scratch, with a season of history first (HISTORY_MONTHS months, each run
## with the platform's clock in that month); a contractor whose entrustment expired is refused (art. 7);
## run every item end to end and print the summary; then the governance views: connected stores (art. 19),
## repeated collection (art. 13), temporary collections (art. 12), the DCAT directory export validated
## against the DCAT-AP shapes (art. 18), and the supervision and evaluation verdicts (art. 8, 9, 15)
demo: install
	rm -rf $(DEMO_DIR) var/dagster
	@# one process for every command (each printed as you would type it: pipelines/demo/tour.py)
	$(BIN)/python -m pipelines.demo tour --demo-dir $(DEMO_DIR) --history-months $(HISTORY_MONTHS)
	@printf "\n%s\n" "open data (art. 10): $(DEMO_DIR)/data/open/   reports: $(DEMO_DIR)/data/reports/<period>/report.html"

## run / summary: the same CLI on the demo environment (after `make demo`)
run: install
	$(DEMO_ENV) $(BIN)/python -m pipelines run
summary: install
	$(DEMO_ENV) $(BIN)/python -m pipelines summary

## ui: the Dagster UI (webserver + daemon) on the demo, at http://127.0.0.1:3000, and Data Docs and reports
## at http://127.0.0.1:3001 (GOVDATA_DOCS_PORT), which the checks link to
## The province's platform and each city's are code locations of one workspace (art. 19), written for the catalogue.
ui: install
	$(DEMO_ENV) $(BIN)/python -m pipelines workspace --out var/workspace.yaml
	$(DEMO_ENV) $(BIN)/python -m pipelines ui --host 127.0.0.1 --port 3000 --workspace var/workspace.yaml

## serve: the sharing API (docs/sharing.md) on http://127.0.0.1:8300 (SHARING_PORT) over the demo's store, or an empty one
## on a fresh clone; GOVDATA_STORE_URL=postgresql://... serves the PostgreSQL store instead
SHARING_PORT ?= 8300
serve: install
	$(DEMO_ENV) $(BIN)/python -m pipelines sharing serve --host 127.0.0.1 --port $(SHARING_PORT)

## test: the test suite but the tests marked slow, in under ten minutes (PostgreSQL tests skip, saying why,
## when no server answers); test-slow: the slow ones (CI runs both)
test: install ckan-env
	$(BIN)/python -m pytest -m "not slow"

test-slow: install ckan-env
	$(BIN)/python -m pytest -m slow

test-unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

## lock: re-resolve requirements.lock from pyproject.toml (needs uv: pip install uv)
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

## bench-pg: convergence throughput on PostgreSQL next to psql \copy and to_sql (docs/postgres.md)
.PHONY: bench-pg
bench-pg: install
	$(BIN)/python benchmarks/convergence_pg.py

## ckan-env: CKAN 2.12 and ckanext-dcat 2.4.4 in their own venv (.venv-ckan/) for the harvest test
## (tests/integration/test_ckan_harvest.py). They pin their own dependencies, so they stay out of .venv;
## --no-deps with the full pinned list in tests/ckan/requirements.txt, which leaves out psycopg2 (no server here).
CKAN_VENV := .venv-ckan
.PHONY: ckan-env
ckan-env: $(CKAN_VENV)/.installed

$(CKAN_VENV)/.installed: tests/ckan/requirements.txt
	$(PYTHON) -m venv $(CKAN_VENV)
	$(CKAN_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r tests/ckan/requirements.txt
	$(CKAN_VENV)/bin/python -c "from ckanext.dcat.processors import RDFParser; RDFParser(profiles=['euro_dcat_ap_3'])"
	@touch $@
