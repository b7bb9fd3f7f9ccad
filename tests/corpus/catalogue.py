"""The catalogue the corpus runs on, and where each case's entry goes in one shared intake window.

The mini catalogue (tests/fixtures/mini) plus:

- ``registry`` (credit_code, capital): an authority, and ``licence`` whose credit_code references it and whose
  capital must match it (``matches``);
- ``permit`` with an integer primary key, and ``inspection`` with a date field declaring
  ``date_format: excel_serial``;
- ``corpus_001`` ... : copies of ``enterprise``. Many cases send the same keys (``make_uscc(1)`` ...) and some
  the same bytes, so in one run each accepted case gets an item of its own: a later case would otherwise update
  an earlier case's rows, or be archived as a duplicate of it. The copies' codes are as long as ``enterprise``,
  so a case's file name keeps its length when it moves to its copy.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines import intake
from tests.conftest import MINI

ENTERPRISE = "enterprise"
SLOT_PREFIX = "corpus_"
EXTRA_ITEMS: list[dict[str, Any]] = [
    {"code": "registry", "name": "企业注册资本登记", "fields": [
        {"name": "credit_code", "label": "统一社会信用代码", "primary_key": True, "standard": "uscc"},
        {"name": "capital", "label": "注册资本", "type": "decimal"}]},
    {"code": "licence", "name": "经营许可", "fields": [
        {"name": "licence_no", "label": "许可证号", "primary_key": True},
        {"name": "credit_code", "label": "统一社会信用代码", "standard": "uscc", "required": True,
         "references": {"item": "registry", "field": "credit_code"}},
        {"name": "capital", "label": "注册资本", "type": "decimal",
         "matches": {"item": "registry", "field": "capital"}}]},
    {"code": "permit", "name": "排污许可", "fields": [
        {"name": "permit_no", "label": "许可编号", "type": "integer", "primary_key": True},
        {"name": "holder", "label": "持证单位", "required": True}]},
    {"code": "inspection", "name": "现场检查", "fields": [
        {"name": "inspection_no", "label": "检查编号", "primary_key": True},
        {"name": "inspected_on", "label": "检查日期", "type": "date", "date_format": "excel_serial",
         "required": True}]},
]


def slot_code(slot: int) -> str:
    """Slot 0 is ``enterprise`` itself; the others its copies, each code exactly as long."""
    code = ENTERPRISE if slot == 0 else f"{SLOT_PREFIX}{slot:03d}"
    assert len(code) == len(ENTERPRISE)
    return code


def write_catalogue(target: Path, slots: int) -> Path:
    """The corpus catalogue with ``slots`` copies of enterprise, written to ``target``."""
    shutil.copytree(MINI, target)
    path = target / "items" / "amr.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    [enterprise] = document["items"]
    for slot in range(1, slots + 1):
        document["items"].append({**copy.deepcopy(enterprise), "code": slot_code(slot),
                                  "name": f"{enterprise['name']}（语料{slot}）"})
    common = {k: v for k, v in enterprise.items() if k not in {"code", "name", "fields", "timestamp_field"}}
    document["items"] += [{**copy.deepcopy(common), **extra} for extra in EXTRA_ITEMS]
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


@dataclass(frozen=True)
class Placed:
    name: str  # the case
    path: Path  # the entry in the shared window
    slot: int


def movable(relative: Path) -> bool:
    """An entry of the enterprise item in amr's folder: it can move to a copy without changing what it means."""
    return len(relative.parts) == 2 and relative.parts[0] == "amr" and relative.name.startswith(ENTERPRISE) \
        and intake.item_code_of(relative) == ENTERPRISE


def in_slot(relative: Path, slot: int) -> Path:
    return relative.with_name(slot_code(slot) + relative.name[len(ENTERPRISE):])


def place(scratch_entry: Path, scratch_window: Path, window: Path, accepted: bool, taken: dict[int, set[str]],
          filled: set[int]) -> tuple[Path, int]:
    """Move a case's built entry into the shared window: the first slot where its path is free and, for a case
    the intake accepts, no other accepted case is (one accepted submission per item)."""
    relative = scratch_entry.relative_to(scratch_window)
    if not movable(relative):
        target, slot = relative, 0
        assert str(target) not in taken.setdefault(0, set()), f"{target}: two cases at one fixed path"
        accepted = False  # its own item (or none): it fills no copy of enterprise
    else:
        slot = next(s for s in range(10_000) if str(in_slot(relative, s)) not in taken.setdefault(s, set())
                    and not (accepted and s in filled))
        target = in_slot(relative, slot)
    taken[slot].add(str(target))
    if accepted:
        filled.add(slot)
    destination = window / target
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.rename(scratch_entry, destination)  # a link stays a link, a pipe a pipe
    return destination, slot
