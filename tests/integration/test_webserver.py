"""The Dagster UI's own API: start dagster-webserver on the mini catalogue, materialize into the same
instance, and read the check results and their metadata back over GraphQL with a real HTTP client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import requests

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from resources.platform import PlatformResource
from tests.conftest import REPO
from tests.helpers import run_pipeline, write_csv
from tests.integration.test_pipeline_mini import HEADER, enterprise_rows

STARTUP_SECONDS = 240  # a loaded CI machine needs a while to load the code location

QUERY = """
query Check($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 1) {
    status
    evaluation {
      success
      severity
      metadataEntries {
        label
        ... on MarkdownMetadataEntry { mdStr }
        ... on FloatMetadataEntry { floatValue }
        ... on IntMetadataEntry { intValue }
        ... on UrlMetadataEntry { url }
        ... on BoolMetadataEntry { boolValue }
        ... on TableMetadataEntry { table { records } }
      }
    }
  }
}
"""


MATERIALIZATION = """
query Latest($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on MarkdownMetadataEntry { mdStr }
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
        }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, mini_catalogue_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    home, intake, data = tmp_path / "dagster_home", tmp_path / "intake", tmp_path / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    write_csv(intake / "amr" / "enterprise.csv", HEADER, enterprise_rows())
    resource = PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(intake), data_dir=str(data))
    definitions = build_definitions(load_catalogue(mini_catalogue_dir), resource, "sqlite")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the in-process run and the server share one instance
    monkeypatch.delenv("GOVDATA_DOCS_URL", raising=False)  # the checks link to the default docs server
    with dg.DagsterInstance.get() as instance:
        # as `python -m pipelines run` does: the pipeline, then the supervision reports
        assert run_pipeline(definitions, instance).success
        assert definitions.resolve_job_def("supervision_reports").execute_in_process(instance=instance).success
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "GOVDATA_CATALOGUE_DIR": str(mini_catalogue_dir),
           "GOVDATA_INTAKE_DIR": str(intake), "GOVDATA_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_code_location(url, server)
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # SIGTERM would leave the code server process behind
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_for_code_location(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster-webserver exited"
        try:
            answer = requests.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (requests.RequestException, KeyError, TypeError, ValueError):
            pass
        time.sleep(2)
    raise AssertionError(f"the code location did not load within {STARTUP_SECONDS} s")


def _check(url: str, key: list[str], name: str) -> dict:
    answer = requests.post(f"{url}/graphql", json={"query": QUERY, "variables": {
        "key": {"path": key}, "name": name}}, timeout=60).json()
    assert "errors" not in answer, answer.get("errors")
    [execution] = answer["data"]["assetCheckExecutions"]
    return execution


@pytest.mark.webserver
def test_check_results_and_metadata_through_graphql(served: str) -> None:
    validated = _check(served, ["validated", "amr", "enterprise_validated"], "validated_enterprise")
    assert validated["status"] == "FAILED"
    evaluation = validated["evaluation"]
    assert (evaluation["success"], evaluation["severity"]) == (False, "ERROR")
    entries = {e["label"]: e for e in evaluation["metadataEntries"]}
    assert entries["accuracy_pass_rate"]["floatValue"] == pytest.approx(17 / 20)
    assert entries["accuracy_passed"]["boolValue"] is False
    # The tables the UI shows sortable: one row per dimension, one per rule.
    dimensions = {row["dimension"]: row for row in map(json.loads, entries["dimensions"]["table"]["records"])}
    assert (dimensions["accuracy"]["rows_checked"], dimensions["accuracy"]["rows_failed"]) == (20, 3)
    rules = {row["rule"]: row for row in map(json.loads, entries["rules"]["table"]["records"])}
    assert rules["standard:credit_code"]["result"] == "❌ fail"
    assert entries["data_docs"]["url"].startswith("http://127.0.0.1:3001/data_docs/validations/enterprise/")
    assert entries["data_docs"]["url"].endswith(".html")
    shared = _check(served, ["shared", "amr", "enterprise"], "shared_enterprise")
    assert shared["status"] == "SUCCEEDED" and shared["evaluation"]["success"]


def _latest_metadata(url: str, key: list[str]) -> dict[str, dict]:
    answer = requests.post(f"{url}/graphql", json={"query": MATERIALIZATION, "variables": {
        "key": {"path": key}}}, timeout=60).json()
    assert "errors" not in answer, answer.get("errors")
    [materialization] = answer["data"]["assetOrError"]["assetMaterializations"]
    return {e["label"]: e for e in materialization["metadataEntries"]}


@pytest.mark.webserver
def test_scorecards_verdicts_and_open_data_through_graphql(served: str) -> None:
    """What a quality officer reads in the UI after a run: scorecards, verdicts, contractors, open data."""
    scorecards = _latest_metadata(served, ["evaluation", "unit_scorecards"])
    assert scorecards["amr/held_back_rate"]["floatValue"] == pytest.approx(6 / 20)
    assert "amr" in scorecards["scorecards"]["mdStr"] and "nn_water" in scorecards["scorecards"]["mdStr"]
    verdicts = _latest_metadata(served, ["evaluation", "compliance_verdicts"])
    assert verdicts["amr/compliant"]["floatValue"] == 0.0  # 30% held back is over the 10% maximum
    assert "held-back rate 30.00% is above the maximum 10.00%" in verdicts["verdicts"]["mdStr"]
    contractors = _latest_metadata(served, ["evaluation", "contractors"])
    assert contractors["contractors"]["intValue"] == 2 and "gx_datatech" in contractors["evaluation"]["mdStr"]
    published = _latest_metadata(served, ["open", "amr", "enterprise"])
    assert published["dagster/row_count"]["intValue"] == 14
