"""Open data in the asset graph: ``open/<unit>/<item>`` published after convergence, and its blocking
``no_personal_data`` check catching a person's name that sits in a non-personal column."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml

from assets.opendata import PII_CHECK, opendata_assets
from assets.units import unit_asset
from pipelines.catalogue import load_catalogue
from resources.platform import PlatformResource
from tests.conftest import make_uscc
from tests.helpers import write_csv

HEADER = ["credit_code", "name", "legal_rep", "region", "capital", "status", "updated_at"]
TODAY = date.today().isoformat()


def _with_legal_representative(catalogue_dir: Path) -> None:
    path = catalogue_dir / "items" / "amr.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["items"][0]["fields"].insert(2, {"name": "legal_rep", "label": "法定代表人", "personal": True})
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def _materialize(catalogue_dir: Path, tmp_path: Path) -> dg.ExecuteInProcessResult:
    catalogue = load_catalogue(catalogue_dir)
    assets = [unit_asset(catalogue, u, "sqlite") for u in catalogue.units if catalogue.items_of(u.code)]
    resource = PlatformResource(catalogue_dir=str(catalogue_dir), intake_dir=str(tmp_path / "intake"),
                                data_dir=str(tmp_path / "data"))
    return dg.materialize([*assets, *opendata_assets(catalogue)], resources={"platform": resource},
                          raise_on_error=False)


def test_open_items_are_published_without_personal_fields(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    _with_legal_representative(mini_catalogue_dir)
    rows = [[make_uscc(i), f"企业{i}", f"法人{i:02d}", "450103", "1000", "存续", TODAY] for i in range(5)]
    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", HEADER, rows)
    result = _materialize(mini_catalogue_dir, tmp_path)
    assert result.success
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == PII_CHECK]
    assert evaluation.passed and evaluation.metadata["findings"].value == 0
    published = pd.read_csv(tmp_path / "data" / "open" / "enterprise.csv", encoding="utf-8-sig", dtype=str)
    assert list(published.columns) == ["credit_code", "name", "region", "capital", "status", "updated_at"]
    assert len(published) == 5
    document = json.loads((tmp_path / "data" / "open" / "enterprise.json").read_text(encoding="utf-8"))
    assert [r["credit_code"] for r in document["records"]] == [make_uscc(i) for i in range(5)]
    index = json.loads((tmp_path / "data" / "open" / "index.json").read_text(encoding="utf-8"))
    assert index["enterprise"]["withheld"] == ["legal_rep"] and index["enterprise"]["rows"] == 5


def test_a_name_in_an_open_column_fails_the_check_and_takes_the_files_down(tmp_path: Path,
                                                                          mini_catalogue_dir: Path) -> None:
    _with_legal_representative(mini_catalogue_dir)
    intake = tmp_path / "intake" / "amr"
    write_csv(intake / "enterprise.csv", HEADER,
              [[make_uscc(1), "某某有限公司", "韦建国", "450103", "1000", "存续", TODAY]])
    assert _materialize(mini_catalogue_dir, tmp_path).success
    published = tmp_path / "data" / "open"
    assert (published / "enterprise.csv").exists()  # the first edition is up

    write_csv(intake / "enterprise__2.csv", HEADER,  # a sole trader named after its owner
              [[make_uscc(2), "韦建国", "韦建国", "450103", "10", "存续", TODAY]])
    result = _materialize(mini_catalogue_dir, tmp_path)
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == PII_CHECK]
    assert not evaluation.passed
    assert evaluation.metadata["findings"].value == 2  # once in the CSV, once in the JSON
    assert evaluation.metadata["examples"].value == (
        "enterprise.csv: known_personal_value 韦**; enterprise.json: known_personal_value 韦**")
    [materialization] = [m.materialization for m in result.get_asset_materialization_events()
                         if m.asset_key.path[0] == "open"]
    assert materialization.metadata["published"].value is False
    assert sorted(p.name for p in published.iterdir()) == [".staging", "index.json"]  # taken down
    assert list((published / ".staging").iterdir()) == []  # the failing files are not kept either
    assert json.loads((published / "index.json").read_text(encoding="utf-8")) == {}


def test_a_contractor_without_sharing_work_publishes_nothing(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    """Art. 7: gx_datatech holds amr's collection, validation and convergence, not its sharing: the run converges
    and is refused at the publication, recorded as the run's incident for amr."""
    from pipelines.entrustment import CONTRACTOR_TAG, RUN_DATE_TAG
    from tests.helpers import open_store

    rows = [[make_uscc(i), f"企业{i}", "450103", "1000", "存续", "2026-06-15"] for i in range(3)]
    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv", [h for h in HEADER if h != "legal_rep"], rows)
    catalogue = load_catalogue(mini_catalogue_dir)
    resource = PlatformResource(catalogue_dir=str(mini_catalogue_dir), intake_dir=str(tmp_path / "intake"),
                                data_dir=str(tmp_path / "data"), allow_run_date="1")
    result = dg.materialize([unit_asset(catalogue, catalogue.unit("amr"), "sqlite"), *opendata_assets(catalogue)],
                            resources={"platform": resource}, raise_on_error=False,
                            tags={CONTRACTOR_TAG: "gx_datatech", RUN_DATE_TAG: "2026-06-15"})
    assert not result.success
    assert not (tmp_path / "data" / "open" / "enterprise.csv").exists()
    store = open_store(mini_catalogue_dir, tmp_path / "data")
    try:
        assert [(r["unit"], r["contractor"], r["status"], r["reason"]) for r in store.records.run_records()] == [
            ("amr", "gx_datatech", "refused",
             "enterprise: sharing refused: contractor gx_datatech has no valid entrustment for unit amr on "
             "2026-06-15: not entrusted with sharing (only collection, convergence, validation)")]
        assert [(e["status"], e["converged"]) for e in store.ledger.submissions()] == [("converged", 3)]
    finally:
        store.dispose()
