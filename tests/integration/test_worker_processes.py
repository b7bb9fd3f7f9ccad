"""A run's batches side by side in worker processes (``python -m pipelines run --workers 2``) converges what
the same run in one process converges, item by item."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.demo.generator import generate_large_catalogue

REPO = Path(__file__).resolve().parents[2]
COUNTS = ("received", "valid", "held_back", "converged")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _run(tmp: Path, catalogue: Path, intake: Path, name: str, workers: int) -> tuple[str, dict[str, Any]]:
    shutil.copytree(intake, tmp / f"{name}-intake")
    (tmp / f"{name}-home").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "DAGSTER_HOME": str(tmp / f"{name}-home"),
           "GOVDATA_CATALOGUE_DIR": str(catalogue), "GOVDATA_INTAKE_DIR": str(tmp / f"{name}-intake"),
           "GOVDATA_DATA_DIR": str(tmp / f"{name}-data")}
    ran = _cli(env, "run", "--quiet", "--no-inspect", "--workers", str(workers))
    summary = json.loads(_cli(env, "summary", "--json").stdout)
    return ran.stdout, {code: {k: item[k] for k in COUNTS} for code, item in summary["items"].items()}


@pytest.mark.slow
def test_two_worker_processes_converge_what_one_process_does(tmp_path: Path) -> None:
    catalogue, intake = tmp_path / "catalogue", tmp_path / "intake"
    generate_large_catalogue(catalogue, items=6)
    subprocess.run([sys.executable, "-m", "pipelines.demo", "submissions", "--catalogue", str(catalogue),
                    "--intake", str(intake), "--rows", "30", "--faults", "0.1", "--manifest",
                    str(tmp_path / "manifest.json")], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    one_out, one = _run(tmp_path, catalogue, intake, "one", workers=1)
    two_out, two = _run(tmp_path, catalogue, intake, "two", workers=2)
    assert "in 2 process(es)" in two_out and "in 2 process(es)" not in one_out
    assert len(one) == 6 and two == one
    planted = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["totals"]
    assert sum(c["held_back"] for c in one.values()) == planted["expected_held_back"] > 0
