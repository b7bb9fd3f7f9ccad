"""``python -m pipelines code-servers``: every platform's code server started side by side, named by the
workspace it writes; Dagster's own workspace loader, over gRPC, sees each platform's definitions exactly as
they build in this process, and one Ctrl-C stops them all."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.platforms import platform_names
from resources.platform import PlatformResource
from tests.conftest import REPO

DEMO = REPO / "catalogue" / "demo"


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return {"GOVDATA_CATALOGUE_DIR": str(DEMO), "GOVDATA_DATA_DIR": str(tmp_path / "d"),
            "GOVDATA_INTAKE_DIR": str(tmp_path / "i"), "DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path)}


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def servers(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The command running, and the workspace it wrote once every server answered."""
    workspace = tmp_path / "code-servers.yaml"
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "code-servers", "--workspace-out", str(workspace)],
                               cwd=REPO, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 240
    while not workspace.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert workspace.exists(), process.communicate(timeout=60) if process.poll() is not None else "timed out"
        yield process, workspace
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def _built_keys(tmp_path: Path, platform: str) -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    resource = PlatformResource(catalogue_dir=str(DEMO), intake_dir=str(tmp_path / "i"), data_dir=str(tmp_path / "d"))
    graph = build_definitions(load_catalogue(DEMO), resource, "sqlite", platform).resolve_asset_graph()
    return {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}, set(graph.asset_check_keys)


def test_every_platform_served_as_it_builds_and_one_interrupt_stops_them(servers, tmp_path: Path) -> None:
    process, workspace = servers
    entries = [e["grpc_server"] for e in yaml.safe_load(workspace.read_text(encoding="utf-8"))["load_from"]]
    names = platform_names(load_catalogue(DEMO))
    assert sorted(e["location_name"] for e in entries) == sorted(names)
    (tmp_path / "reader").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "reader")) as instance, \
            WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(workspace)])) as context:
        request = context.create_request_context()
        for name in names:
            assert request.get_code_location_error(name) is None
            (repository,) = request.get_code_location(name).get_repositories().values()
            served = {n.asset_key for n in repository.get_asset_node_snaps() if n.is_materializable}
            checks = {c.key for c in repository.get_asset_check_node_snaps()}
            assert (served, checks) == _built_keys(tmp_path, name), name
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    ups = [line.split(" up: ") for line in out.splitlines() if line.startswith("code server ")]
    assert [count for count, _ in ups] == [f"code server {i}/{len(names)}" for i in range(1, len(names) + 1)]
    assert sorted(server for _, server in ups) == sorted(f"{e['location_name']} on 127.0.0.1:{e['port']}"
                                                        for e in entries)
    assert not any(_accepts(e["port"]) for e in entries)  # no server outlived the command
    assert not workspace.exists()  # it named ports now closed
    assert "Traceback" not in err


def _python(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter (forking from pytest's process would fork its gRPC), which succeeds."""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_server_that_cannot_load_names_its_location(tmp_path: Path) -> None:
    script = ("from pipelines.code_servers import CodeServerFailed, fork_servers, preload, wait_until_up\n"
              "preload()\n"
              "try:\n"
              "    wait_until_up(fork_servers(['city_999900']), timeout=120)\n"
              "except CodeServerFailed as exc:\n"
              "    print(exc)\n")
    done = _python(script, tmp_path)
    assert done.stdout.splitlines()[-1].startswith(
        "the code server of city_999900 exited (exit status 1) before it answered on port ")
    assert f"ValueError: no platform 'city_999900' in the catalogue {DEMO}: province, city_450100, city_450200" \
        in done.stderr  # the server's own error, on its standard error


def test_an_unknown_platform_is_refused_before_any_server_starts(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pipelines", "code-servers", "--platform", "city_999900",
                           "--workspace-out", str(tmp_path / "w.yaml")], cwd=REPO, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 2
    assert "no platform 'city_999900': the catalogue's are province, city_450100, city_450200" in done.stderr
    assert not (tmp_path / "w.yaml").exists()


def test_the_preload_imports_everything_a_platform_builds_with(tmp_path: Path) -> None:
    """What the servers' parent imports for them (pipelines.definitions.BUILDER_MODULES) leaves no module of
    the project for a server to import while it builds its platform."""
    script = ("import sys\n"
              "from pipelines.code_servers import preload\n"
              "preload()\n"
              "before = set(sys.modules)\n"
              "from pipelines.definitions import built_once\n"
              "built_once('city_450100').resolve_asset_graph()\n"
              "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
              "('assets', 'pipelines', 'resources', 'expectations')))\n")
    done = _python(script, tmp_path)
    assert done.stdout.splitlines()[-1] == "[]"
