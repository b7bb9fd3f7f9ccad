"""Technical service units and their entrustments, checked when the catalogue loads (art. 7).

``contractors.yaml`` is optional. Beyond what each model checks on its own (credit code, work values,
date order), the catalogue as a whole must hold: contractor codes are unique, every entrusted unit is
catalogued, and no two contractors hold the same work for the same unit on the same day, so every run
has one operator answerable for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from pipelines.catalogue.governance import Finding
from pipelines.catalogue.models import Contractor, Entrustment, Work

CONTRACTORS_FILE = "contractors.yaml"


def contractor_findings(contractors: list[Contractor], unit_codes: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for contractor in contractors:
        where = f"contractor '{contractor.code}'"
        if contractor.code in seen:
            findings.append(Finding(CONTRACTORS_FILE, where, "code", "contractor code is used twice"))
        seen.add(contractor.code)
        findings += [Finding(CONTRACTORS_FILE, where, f"entrustments[{index}].unit",
                             f"unknown unit '{e.unit}' (not in units.yaml)")
                     for index, e in enumerate(contractor.entrustments) if e.unit not in unit_codes]
    findings += _overlap_findings(contractors)
    return findings


def _overlap_findings(contractors: list[Contractor]) -> list[Finding]:
    """Reported on the later contractor in the file, naming the earlier one it collides with."""
    findings: list[Finding] = []
    for earlier, later in combinations(contractors, 2):
        if earlier.code == later.code:
            continue  # already reported as a repeated code
        for index, mine in enumerate(later.entrustments):
            for theirs in earlier.entrustments:
                for work in _shared_work(mine, theirs):
                    start, end = max(mine.valid_from, theirs.valid_from), min(mine.valid_until, theirs.valid_until)
                    findings.append(Finding(
                        CONTRACTORS_FILE, f"contractor '{later.code}'", f"entrustments[{index}]",
                        f"contractor '{earlier.code}' ({theirs.reference}) is also entrusted with {work.value} "
                        f"for unit '{mine.unit}' from {start} to {end}: one operator at a time"))
    return findings


def _shared_work(mine: Entrustment, theirs: Entrustment) -> Iterator[Work]:
    if mine.unit != theirs.unit or mine.valid_until < theirs.valid_from or theirs.valid_until < mine.valid_from:
        return
    yield from (work for work in mine.work if work in theirs.work)
