"""One item at scale: its catalogue and a submission file of N rows (``benchmarks/province_scale.py --rows-item``
and the chunking tests).

The item is the demo's ``market_entity_registration`` (an open authority item: a USCC key, division codes,
postcodes, phone numbers, decimals with a range, dates, value sets, a personal field), alone in a
one-unit catalogue. The rows are made column-wise with numpy; ``FAULT_RATE`` of them carry one fault each
(a wrong check character, a missing required value, a value outside its set, a duplicate key), so the
quarantine, the corrections and the open-data scan have work too. Expected held back rows are returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
ITEM = "market_entity_registration"
UNIT = "gx_amr"
FAULT_RATE = 0.01
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def write_catalogue(out: Path) -> Path:
    """The demo's unit and item, alone (nothing references them, so no other item is needed)."""
    units = yaml.safe_load((REPO / "catalogue/demo/units.yaml").read_text(encoding="utf-8"))
    items = yaml.safe_load((REPO / "catalogue/demo/items/gx_amr.yaml").read_text(encoding="utf-8"))
    (out / "items").mkdir(parents=True, exist_ok=True)
    units["units"] = [u for u in units["units"] if u["code"] == UNIT]
    (out / "units.yaml").write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    items["items"] = [i for i in items["items"] if i["code"] == ITEM]
    for f in items["items"][0]["fields"]:
        f.pop("element", None)  # the data elements live in governance.yaml, which this catalogue leaves out
    (out / "items" / f"{UNIT}.yaml").write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    return out


def _usccs(serials: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Valid, distinct USCCs: "91" + division + an organization code "M" + 7 serial digits with its check
    character + the code's check character (the letter keeps them from looking like citizen IDs)."""
    digits = (serials[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    org_values = np.hstack([np.full((len(serials), 1), 22), digits])  # GB 11714: M counts 22
    check = 11 - (org_values * np.array(_ORG_WEIGHTS)).sum(axis=1) % 11
    org_check = np.where(check == 10, "X", np.where(check == 11, "0", check.astype(str)))
    org = np.char.add("M", np.char.zfill(serials.astype(str), 7))
    body = np.char.add(np.char.add(np.char.add("91", regions), org), org_check)
    lookup = np.zeros(128, dtype=int)
    for i, c in enumerate(_USCC_ALPHABET):
        lookup[ord(c)] = i
    codes = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(len(body), 17)
    total = (lookup[codes] * np.array(_USCC_WEIGHTS)).sum(axis=1)
    return np.char.add(body, np.array(list(_USCC_ALPHABET))[(31 - total) % 31])


def make_rows(n: int, seed: int = 20261201, as_of: str = "2026-12-01") -> tuple[pd.DataFrame, int]:
    """N rows as a unit would send them, and how many of them the platform must hold back."""
    from pipelines.standards import divisions_in_use

    rng = np.random.default_rng(seed)
    regions = np.array(sorted(d for d in divisions_in_use() if d.startswith("45")))
    region = regions[rng.integers(0, len(regions), n)]
    serial = rng.permutation(10**7)[:n]  # distinct keys (up to 10,000,000 rows)
    day = np.datetime64(as_of) - rng.integers(0, 300, n).astype("timedelta64[D]")
    established = day - rng.integers(30, 10000, n).astype("timedelta64[D]")
    types = np.array(["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "农民专业合作社"])
    statuses = np.array(["存续", "在业", "吊销", "注销", "迁出"])
    names = np.array(["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "黄敏", "赵强"])
    phone = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))
    frame = pd.DataFrame({
        "uscc": _usccs(serial, region),
        "entity_name": np.char.add(np.char.add("广西", np.char.zfill((serial % 999983).astype(str), 6)), "有限公司"),
        "entity_type": types[rng.integers(0, len(types), n)],
        "legal_representative": names[rng.integers(0, len(names), n)],
        "registered_capital": np.char.mod("%.2f", rng.uniform(1, 50000, n)),
        "established_date": np.datetime_as_string(established, unit="D"),
        "region_code": region,
        "address": np.char.add(np.char.add("南宁市青秀区民族大道", (serial % 9973).astype(str)), "号"),
        "postcode": np.where(rng.random(n) < 0.1, "", "530000"),
        "phone": np.where(rng.random(n) < 0.1, "", phone),
        "status": statuses[rng.integers(0, len(statuses), n)],
        "updated_at": np.datetime_as_string(day, unit="D"),
    })
    return frame, _inject_faults(rng, frame)


def _inject_faults(rng: np.random.Generator, frame: pd.DataFrame) -> int:
    """One fault in each of FAULT_RATE of the rows; a duplicated key holds back both rows that carry it."""
    n = len(frame)
    rows = rng.choice(n, size=int(n * FAULT_RATE), replace=False)
    kinds = np.array_split(rows, 4)
    bad_check = frame.loc[kinds[0], "uscc"].str[:-1] + frame.loc[kinds[0], "uscc"].str[-1].map(
        lambda c: "0" if c != "0" else "1")
    frame.loc[kinds[0], "uscc"] = bad_check
    frame.loc[kinds[1], "entity_name"] = ""
    frame.loc[kinds[2], "status"] = "歇业"
    # a duplicate: the row takes the key of another, unfaulted row (both are held back)
    faulted = set(rows.tolist())
    others = [r for r in rng.choice(n, size=len(kinds[3]) * 3, replace=False).tolist() if r not in faulted]
    sources = others[:len(kinds[3])]
    frame.loc[kinds[3][:len(sources)], "uscc"] = frame.loc[sources, "uscc"].to_numpy()
    return len(kinds[0]) + len(kinds[1]) + len(kinds[2]) + 2 * len(sources)


def write_submission(intake: Path, n: int) -> tuple[Path, int]:
    frame, held = make_rows(n)
    path = intake / UNIT / f"{ITEM}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8")
    return path, held
