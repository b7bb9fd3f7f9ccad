"""docs/architecture.md is read against the code: every backticked file, module attribute and platform
table it names exists, and the README links to it."""

from __future__ import annotations

import importlib
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "architecture.md"
PACKAGES = ("pipelines", "assets", "expectations", "resources", "tests")


def _backticked() -> list[str]:
    return re.findall(r"`([^`\s]+)`", DOC.read_text(encoding="utf-8"))


def _resolve(dotted: str) -> object:
    """The longest importable module prefix, then attributes: ``pipelines.store.store.Store.hold_back``."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def test_every_file_the_doc_names_exists() -> None:
    paths = [t for t in _backticked() if re.fullmatch(r"[\w./-]+\.(py|j2|md|yaml)", t) and "/" in t]
    assert {"pipelines/process.py", "pipelines/values.py", "pipelines/runplan.py", "pipelines/launch.py",
            "pipelines/evaluation/templates/report.html.j2"} <= set(paths)  # the pattern finds what it must
    assert [p for p in paths if not (REPO / p).is_file()] == []


def test_every_dotted_name_the_doc_names_resolves() -> None:
    names = sorted({t for t in _backticked() if re.fullmatch(rf"(?:{'|'.join(PACKAGES)})(?:\.\w+)+", t)})
    assert "pipelines.process.take_in" in names and "assets.render.data_docs_url" in names
    for bogus in ("pipelines.process.take_out", "pipelines.nowhere.thing"):  # a name that is gone is caught
        try:
            _resolve(bogus)
        except (AttributeError, ModuleNotFoundError):
            continue
        raise AssertionError(f"{bogus} resolved")
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (AttributeError, ModuleNotFoundError):
            missing.append(name)
    assert missing == []


def test_every_platform_table_the_doc_names_is_one_the_store_defines() -> None:
    source = "".join(p.read_text(encoding="utf-8") for p in (REPO / "pipelines" / "store").glob("*.py"))
    tables = sorted({t for t in _backticked() if t.startswith("platform_")})
    assert tables == ["platform_check_results", "platform_ledger", "platform_quarantine",
                      "platform_repeated_collection", "platform_stage", "platform_violations"]
    assert [t for t in tables if f'"{t}"' not in source] == []


def test_the_readme_links_to_it() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "[docs/architecture.md](docs/architecture.md)" in readme
    layout = readme[readme.index("## Layout"):readme.index("## Scale")]
    assert "architecture.md" in layout
