"""Nothing outside the repository is read: a user's clone has no ``../shared`` beside it.

Every file git tracks that code, the build, CI or a reader follows (Python, the Makefile, ``.ci/``, workflows,
TOML, YAML, Markdown) is scanned for paths that leave the repository; and the directory export, the one
feature that used to read ``../shared``, validates with the shapes carried in ``pipelines/standards_data``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pipelines import directory
from pipelines.cli import main
from tests.conftest import REPO

# ../shared, parents[N] / "shared", .parent / "shared", os.path.join(.., "..", "shared"), absolute /work/ paths
OUTSIDE = re.compile(r"""\.\./shared|parents\[\d+\]\s*/\s*["']shared|parent\s*/\s*["']shared["']"""
                     r"""|["']\.\.["']\s*,\s*["']shared|/work/""")
FOLLOWED = re.compile(r"(\.py|\.toml|\.ya?ml|\.md|\.cfg|\.ini|\.sh|^Makefile|^\.ci/.*|^\.github/workflows/.*)$")
THIS_FILE = Path(__file__).resolve().relative_to(REPO).as_posix()


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [path for path in listed.splitlines() if FOLLOWED.search(path) and path != THIS_FILE]


def test_the_scan_sees_the_files_that_matter() -> None:
    files = set(tracked_files())
    assert {"Makefile", ".ci/run", "pyproject.toml", "README.md", "docs/regulation.md",
            "pipelines/directory.py", "catalogue/demo/units.yaml"} <= files


@pytest.mark.parametrize("text", ['Path(__file__).parents[2] / "shared" / "x"', "see ../shared/regulation/",
                                  "/work/main/.venv/bin/python", 'os.path.join(root, "..", "shared")',
                                  'here.parent / "shared"'])
def test_the_pattern_catches_each_way_out(text: str) -> None:
    assert OUTSIDE.search(text)


def test_no_tracked_file_points_outside_the_repository() -> None:
    offending = []
    for path in tracked_files():
        text = (REPO / path).read_text(encoding="utf-8", errors="replace")
        offending += [f"{path}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), start=1)
                      if OUTSIDE.search(line)]
    assert offending == []


def test_the_directory_validates_with_the_carried_shapes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(directory.ENV_SHAPES, raising=False)
    assert all(path.resolve().is_relative_to(REPO) and path.is_file() for path in directory.shapes_paths())
    assert main(["directory", str(REPO / "catalogue" / "demo"), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"22 entries written to {tmp_path / 'directory.ttl'} and {tmp_path / 'directory.jsonld'}",
        "conforms to DCAT-AP 3.0.0"]
