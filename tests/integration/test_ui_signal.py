"""`make ui` (``python -m pipelines ui``) stops on SIGINT even when started with SIGINT ignored, as a
process started with ``&`` from a script is, and leaves no code server behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    found = {int(p) for p in children.split()}
    return found | {d for c in found for d in _descendants(c)}


def _alive(pids: set[int]) -> set[int]:
    """Processes still running: a zombie waiting for its (re)parent to reap it has exited."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.slow
@pytest.mark.webserver
def test_ui_started_with_sigint_ignored_stops_on_sigint(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "GOVDATA_CATALOGUE_DIR": str(mini_catalogue_dir),
           "GOVDATA_INTAKE_DIR": str(tmp_path / "intake"), "GOVDATA_DATA_DIR": str(tmp_path / "data")}
    ui = subprocess.Popen([sys.executable, "-m", "pipelines", "ui", "--port", str(port)], cwd=REPO, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("the UI did not answer within 240 s")
        family = _descendants(ui.pid)
        assert family  # the webserver, the daemon and their code servers
        ui.send_signal(signal.SIGINT)
        assert ui.wait(timeout=60) is not None
        deadline = time.monotonic() + 60  # code servers finish their last calls; a loaded CI needs a while
        while _alive(family) and time.monotonic() < deadline:
            time.sleep(1)
        assert not _alive(family), f"processes left after SIGINT: {_alive(family)}"
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
