"""The demo province end to end through the asset graph, against the generator's manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.demo.generator import generate_demo
from pipelines.summary import build_summary
from tests.helpers import check_evaluations, materialize_all, open_store

REPO = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO / "catalogue" / "demo"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    manifest = generate_demo(DEMO_CATALOGUE, root / "intake", root / "data", rows=60)
    mp = pytest.MonkeyPatch()
    for name, value in manifest["env"].items():
        mp.setenv(name, value)
    try:
        result = materialize_all(DEMO_CATALOGUE, root / "intake", root / "data")
        store = open_store(DEMO_CATALOGUE, root / "data")
        summary = build_summary(store.catalogue, store)
        held = store.held_rows()
        store.dispose()
    finally:
        mp.undo()
    return {"root": root, "manifest": manifest, "result": result, "summary": summary, "held": held}


def test_every_item_converges_and_holds_back_exactly_what_the_generator_injected(demo_run: dict) -> None:
    assert demo_run["result"].success
    items = demo_run["summary"]["items"]
    for code, expected in demo_run["manifest"]["items"].items():
        got = items[code]
        assert (got["received"], got["converged"], got["held_back"], got["stale"]) == (
            expected["rows"], expected["expected_valid"], expected["expected_held_back"], expected["stale"]
        ), code


def test_held_back_rows_are_the_faulty_rows_with_reasons(demo_run: dict) -> None:
    by_item: dict[str, set[int]] = {}
    for row in demo_run["held"]:
        assert row["reasons"], row
        by_item.setdefault(row["item"], set()).add(row["row_no"] - 1)
    for code, expected in demo_run["manifest"]["items"].items():
        if expected["rejected_submission"]:
            continue
        faulty = {row for kind, rows in expected["fault_rows"].items() if kind != "stale" for row in rows}
        assert by_item.get(code, set()) == faulty, code


def test_reconciliation_holds_for_every_item(demo_run: dict) -> None:
    summary = demo_run["summary"]
    assert summary["totals"]["all_reconciled"]
    assert all(entry["received"] == entry["converged"] + entry["held_back"] for entry in summary["items"].values())


def test_uncatalogued_column_file_is_set_aside_and_checks_say_so(demo_run: dict) -> None:
    rejected = [c for c, e in demo_run["manifest"]["items"].items() if e["rejected_submission"]]
    assert rejected
    for code in rejected:
        unit = demo_run["manifest"]["items"][code]["unit"]
        reason_files = list((demo_run["root"] / "intake" / unit / "_rejected").glob(f"{code}*.reason.txt"))
        assert len(reason_files) == 1 and "art. 12" in reason_files[0].read_text(encoding="utf-8")
        assert not check_evaluations(demo_run["result"])[f"intake_{code}_integrity"].passed


def test_summary_json_lists_checks_per_item(demo_run: dict) -> None:
    checks = demo_run["summary"]["checks"]
    names = {c["check"] for c in checks}
    for code in demo_run["manifest"]["items"]:
        assert f"intake_{code}_integrity" in names
    json.dumps(demo_run["summary"], default=str)
