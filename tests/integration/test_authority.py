from pathlib import Path

from pipelines.authority import authoritative_values, known_keys
from pipelines.catalogue.models import FieldRef
from tests.conftest import make_uscc
from tests.helpers import materialize_all, open_store, write_csv


def test_lookups_read_the_converged_authoritative_table(tmp_path: Path, mini_catalogue_dir: Path) -> None:
    key, name = FieldRef(item="enterprise", field="credit_code"), FieldRef(item="enterprise", field="name")
    store = open_store(mini_catalogue_dir, tmp_path / "data")
    store.ensure_tables([])
    assert known_keys(store, key) == set()  # no table yet: nothing is known, nothing crashes
    rows = [[make_uscc(i), f"企业{i}", "450103", "1", "存续", "2026-01-01"] for i in range(3)]
    write_csv(tmp_path / "intake" / "amr" / "enterprise.csv",
              ["credit_code", "name", "region", "capital", "status", "updated_at"], rows)
    materialize_all(mini_catalogue_dir, tmp_path / "intake", tmp_path / "data")
    assert known_keys(store, key) == {make_uscc(i) for i in range(3)}
    assert authoritative_values(store, key, name) == {make_uscc(i): f"企业{i}" for i in range(3)}
    store.dispose()
