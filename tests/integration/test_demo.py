"""The demo province end to end through the asset graph, governance included, against the generator's manifest:
counts per item, unknown keys held back by online verification (art. 14), the flagged look-up (art. 13), the
expired temporary collection (art. 12), county -> city -> province stores (art. 19) and the DCAT export (art. 18)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from assets.governance import DIRECTORY_KEY
from pipelines import connected, opendata
from pipelines.catalogue import load_catalogue
from pipelines.cli import main as cli
from pipelines.demo.generator import generate_demo
from pipelines.demo.showcase import connected_report, platform_report, render_connected, render_platforms
from pipelines.federation import supervised
from pipelines.intake import expired_reason
from pipelines.platforms import city_platform, platform_names, platform_of
from pipelines.sharing import NOT_FOUND, carried_log
from pipelines.summary import build_summary
from resources.platform import resolve_store_url
from tests.helpers import materialize_all, open_store

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
        result = materialize_all(DEMO_CATALOGUE, root / "intake", root / "data", with_governance=True)
        catalogue = load_catalogue(DEMO_CATALOGUE)
        with supervised(catalogue, resolve_store_url("", str(root / "data"))) as every:
            assert every.down == {} and [s.platform for s in every.linked] == ["city_450100", "city_450200"]
            summary = build_summary(catalogue, every.province, *every.linked)
            held = [row for store in every.stores for row in store.quarantine.held_rows()]
            ledger = [entry for store in every.stores for entry in store.ledger.submissions()]
            province = {r.provincial.code: connected.read_connected(
                every.province, connected.province_table(every.province, r)) for r in connected.rollups(catalogue)}
            city_stores = {s.platform: s for s in every.linked}
            cities = {(c.city, r.provincial.code): connected.read_connected(
                city_stores[city_platform(c.city)], connected.city_table(every.province, c))
                for r in connected.rollups(catalogue) for c in r.cities}
            showcase = render_connected(connected_report(every.province))
            platforms = platform_report(catalogue, every)
            carried = [flag for store in every.stores for flag in carried_log(store)]
    finally:
        mp.undo()
    return {"root": root, "manifest": manifest, "result": result, "summary": summary, "held": held,
            "ledger": ledger, "carried": carried, "province": province, "cities": cities, "showcase": showcase,
            "platforms": platforms}


def materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


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
        key = dg.AssetKey(["intake", unit, f"{code}_intake"])  # the intake's outcome is on its materialization
        [event] = [e for e in demo_run["result"].get_asset_materialization_events() if e.asset_key == key]
        assert not event.materialization.metadata["integrity_passed"].value


def test_summary_json_lists_checks_per_item(demo_run: dict) -> None:
    checks = demo_run["summary"]["checks"]
    names = {c["check"] for c in checks}
    for code in demo_run["manifest"]["items"]:
        assert f"intake_{code}_integrity" in names
    json.dumps(demo_run["summary"], default=str)


# --- governance ---------------------------------------------------------------------------------
def test_unknown_keys_are_held_back_as_not_found_in_the_authoritative_source(demo_run: dict) -> None:
    unverified: dict[str, set[int]] = {}  # held back for that reason alone
    for row in demo_run["held"]:
        if all(NOT_FOUND in reason for reason in row["reasons"].split("; ")):
            unverified.setdefault(row["item"], set()).add(row["row_no"] - 1)
    items = demo_run["manifest"]["items"]
    expected = {code: set(e["fault_rows"]["unknown_key"]) for code, e in items.items()
                if e["fault_rows"]["unknown_key"]}
    assert unverified == expected
    assert sum(len(rows) for rows in unverified.values()) == demo_run["manifest"]["totals"]["faults"]["unknown_key"]
    assert len(unverified) == 13  # every referencing item whose submission is taken in, one key each at 60 rows
    # a key with a broken check digit is not found either, but it is held back for its check digit first
    for row in demo_run["held"]:
        if NOT_FOUND in row["reasons"] and row["row_no"] - 1 not in expected.get(row["item"], set()):
            assert row["row_no"] - 1 in items[row["item"]]["fault_rows"]["bad_check_digit"], row
    [licence_row] = [r for r in demo_run["held"] if r["item"] == "food_business_licence"
                     and r["row_no"] - 1 in expected["food_business_licence"]]
    assert licence_row["reasons"] == ("references:uscc: 经营者统一社会信用代码 not found in the authoritative source "
                                      "(market_entity_registration.uscc)")


def test_the_survey_carrying_looked_up_names_is_flagged(demo_run: dict) -> None:
    expected = demo_run["manifest"]["items"]["subsistence_allowance_survey"]["repeated_collection"]
    flags = [{k: f[k] for k in ("item", "unit", "field", "source", "rows")} for f in demo_run["carried"]]
    assert flags == [{"item": "subsistence_allowance_survey", "unit": "gx_civil", **e} for e in expected]
    assert flags[0]["rows"] == 60


def test_the_expired_temporary_collection_is_refused_and_the_running_one_converges(demo_run: dict) -> None:
    item = load_catalogue(DEMO_CATALOGUE).item("returning_worker_survey")
    statuses = {e["item"]: (e["status"], e["received"], e["held_back"], e["converged"], e["reason"])
                for e in demo_run["ledger"] if e["item"] in ("returning_worker_survey", "relapse_risk_monitoring")}
    running = demo_run["manifest"]["items"]["relapse_risk_monitoring"]
    assert statuses == {
        "returning_worker_survey": ("rejected", 60, 60, 0, expired_reason(item)),
        "relapse_risk_monitoring": ("converged", 60, running["expected_held_back"], running["expected_valid"], None),
    }


def test_the_province_table_holds_rows_of_both_cities_with_their_region(demo_run: dict) -> None:
    items = demo_run["manifest"]["items"]
    farmland = Counter((r["_region"], r["_source_item"]) for r in demo_run["province"]["farmland_subsidy"])
    assert farmland == {("450000", "farmland_subsidy"): items["farmland_subsidy"]["expected_valid"],
                        ("450123", "la_farmland_subsidy"): items["la_farmland_subsidy"]["expected_valid"],
                        ("450222", "lc_farmland_subsidy"): items["lc_farmland_subsidy"]["expected_valid"]}
    # a county has no store of its own: its rows are in its city's
    nanning = Counter(r["_region"] for r in demo_run["cities"][("450100", "farmland_subsidy")])
    liuzhou = Counter(r["_region"] for r in demo_run["cities"][("450200", "farmland_subsidy")])
    assert (nanning, liuzhou) == ({"450123": items["la_farmland_subsidy"]["expected_valid"]},
                                  {"450222": items["lc_farmland_subsidy"]["expected_valid"]})
    # Liuzhou's construction permits were refused at intake: its city store stands, empty
    assert demo_run["cities"][("450200", "building_permit")] == []
    assert materialization(demo_run["result"], dg.AssetKey(["province", "farmland_subsidy"]))[
        "dagster/row_count"] == sum(farmland.values())


def test_the_demo_directory_conforms_to_dcat_ap(demo_run: dict) -> None:
    metadata = materialization(demo_run["result"], DIRECTORY_KEY)
    assert (metadata["entries"], metadata["validated"], metadata["conforms"], metadata["violations"]) == (
        22, True, True, 0)
    jsonld = json.loads((demo_run["root"] / "data" / "directory" / "directory.jsonld").read_text(encoding="utf-8"))
    datasets = [n for n in jsonld["@graph"] if "dcat:Dataset" in n.get("@type", [])]
    assert len(datasets) == len(demo_run["manifest"]["items"])


def test_make_demo_prints_where_each_provincial_table_row_came_from(demo_run: dict) -> None:
    items = demo_run["manifest"]["items"]
    farmland = demo_run["showcase"].split("province/farmland_subsidy")[1].split("province/")[0].splitlines()
    total = sum(items[c]["expected_valid"] for c in ("farmland_subsidy", "la_farmland_subsidy", "lc_farmland_subsidy"))
    assert [" ".join(line.split()) for line in farmland] == [
        f"{total} rows (table connected_farmland_subsidy)",
        f"450000 gx_agri/farmland_subsidy {items['farmland_subsidy']['expected_valid']} the province's own",
        f"450123 la_agri/la_farmland_subsidy {items['la_farmland_subsidy']['expected_valid']} "
        "county -> city store 450100 -> province",
        f"450222 lc_agri/lc_farmland_subsidy {items['lc_farmland_subsidy']['expected_valid']} "
        "county -> city store 450200 -> province",
    ]
    assert "  450200  (nothing converged in this city's store yet)" in demo_run["showcase"]


def test_the_cli_export_make_demo_writes_conforms_and_dates_first_publication(
        demo_run: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo_run["root"] / "data"
    assert cli(["directory", str(DEMO_CATALOGUE), "--out", str(tmp_path), "--data", str(data)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"22 entries written to {tmp_path / 'directory.ttl'} and {tmp_path / 'directory.jsonld'}",
                   "6 of them list open-data files as distributions", "conforms to DCAT-AP 3.0.0"]
    # an item without a catalogued publication date is dated by its first convergence: all but the refused one
    jsonld = json.loads((tmp_path / "directory.jsonld").read_text(encoding="utf-8"))
    issued = {n["@id"].rsplit("/", 1)[-1] for n in jsonld["@graph"] if "dct:issued" in n}
    catalogue = load_catalogue(DEMO_CATALOGUE)
    undated = {i.code for i in catalogue.items if i.published is None}
    assert undated - issued == {"returning_worker_survey"} and len(undated) == 16


def test_the_open_items_are_published_with_no_personal_data(demo_run: dict) -> None:
    """Art. 10: scan every open file for citizen IDs, mobile numbers, e-mail and the source rows' personal values."""
    folder = demo_run["root"] / "data" / "open"
    index = opendata.read_index(folder)
    catalogue = load_catalogue(DEMO_CATALOGUE)
    assert sorted(index) == sorted(i.code for i in opendata.open_items(catalogue)) and len(index) == 6
    stores = {p: open_store(DEMO_CATALOGUE, demo_run["root"] / "data", platform=p) for p in platform_names(catalogue)}
    try:
        for code, entry in index.items():
            item = catalogue.item(code)
            rows = stores[platform_of(catalogue.unit(item.unit))].shared.read_table(item)
            assert entry["rows"] == len(rows) == demo_run["summary"]["items"][code]["converged"], code
            known = opendata.personal_values(item, rows)
            assert known or not opendata.withheld_fields(item), code  # the scan has names to look for
            for name in (entry["csv"], entry["json"]):
                assert opendata.find_personal_data(folder / name, known) == [], name
    finally:
        for store in stores.values():
            store.dispose()
    assert index["market_entity_registration"]["withheld"] == ["legal_representative", "phone"]
    assert index["construction_permit"]["rows"] == 0  # its only file was refused: published empty


def test_the_evaluation_fails_exactly_the_units_whose_only_submission_was_refused(
        demo_run: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo_run["root"] / "data"
    for name, value in {"GOVDATA_CATALOGUE_DIR": DEMO_CATALOGUE, "GOVDATA_DATA_DIR": data,
                        "GOVDATA_INTAKE_DIR": demo_run["root"] / "intake"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("GOVDATA_STORE_URL", raising=False)
    assert cli(["evaluate", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    verdicts = {v["unit"]: v for v in report["verdicts"]}
    assert len(verdicts) == 14
    for unit in ("gx_stats", "lz_approval"):  # their only submission was refused
        assert verdicts[unit]["verdict"] == "fail"
        assert "catalogue coverage 0.00% is below the minimum 90.00%" in verdicts[unit]["reasons"]
        assert "held-back rate 100.00% is above the maximum 10.00%" in verdicts[unit]["reasons"]
    # the 60-row demo injects at least one fault of each kind, so held-back rates sit near the threshold:
    # every other verdict is decided by the manifest's held-back rate of the unit, and by nothing else
    catalogue = load_catalogue(DEMO_CATALOGUE)
    for unit, verdict in verdicts.items():
        if unit in ("gx_stats", "lz_approval"):
            continue
        items = [demo_run["manifest"]["items"][i.code] for i in catalogue.items_of(unit)]
        rate = sum(i["expected_held_back"] for i in items) / sum(i["rows"] for i in items)
        expected = [f"held-back rate {rate:.2%} is above the maximum 10.00%"] if rate > 0.10 else []
        assert (verdict["reasons"], verdict["verdict"]) == (expected, "fail" if expected else "pass"), unit
    violations = sorted((v["kind"], v["unit"], v["item"], v["status"]) for v in report["violations"])
    assert violations == [("expired_temporary", "gx_stats", "returning_worker_survey", "open"),
                          ("out_of_catalogue", "lz_approval", "construction_permit", "open"),
                          ("repeated_collection", "gx_civil", "subsistence_allowance_survey", "open")]
    folder = data / "reports" / report["period"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "evaluation.json", "report.html", "report.md", "scorecards.csv", "verdicts.csv", "violations.csv"]


def test_each_platform_converges_its_own_units_in_its_own_store(demo_run: dict) -> None:
    """Art. 19: the province's store holds the provincial units' ledger, each city's store its own units' and its
    counties'; together they are the manifest's totals, and the province pulled both cities."""
    catalogue = load_catalogue(DEMO_CATALOGUE)
    expected: dict[str, Counter[str]] = {}
    for e in demo_run["manifest"]["items"].values():
        counts = expected.setdefault(platform_of(catalogue.unit(e["unit"])), Counter())
        counts.update({"received": e["rows"], "converged": e["expected_valid"],
                       "held_back": e["expected_held_back"]})
    report = {p["platform"]: p for p in demo_run["platforms"]}
    assert list(report) == ["province", "city_450100", "city_450200"]
    for name, counts in expected.items():
        assert {c: report[name][c] for c in counts} == dict(counts), name
    assert {"nn_water", "la_agri"} <= set(report["city_450100"]["units"])
    assert "la_agri" not in report["province"]["units"]
    pulls = {(q["item"], q["platform"]): (q["status"], q["rows"]) for q in report["province"]["pulls"]}
    for (item, platform), pulled in pulls.items():  # each pull brought exactly what the city's table holds
        city = platform.removeprefix("city_")
        assert pulled == ("converged", len(demo_run["cities"][(city, item)])), (item, platform)
    from_cities = Counter(r["_source_item"] for r in demo_run["province"]["farmland_subsidy"])
    assert from_cities["la_farmland_subsidy"] == pulls[("farmland_subsidy", "city_450100")][1] > 0
    text = render_platforms(demo_run["platforms"])
    assert "pulled farmland_subsidy from city_450200: converged" in text
    items = demo_run["manifest"]["items"].values()
    [total] = [line for line in text.splitlines() if line.startswith("all platforms")]
    assert total.endswith(f"{sum(e['rows'] for e in items):>6} received {sum(e['expected_valid'] for e in items):>6} "
                          f"converged {sum(e['expected_held_back'] for e in items):>5} held back")
