"""The one-window intake (art. 12, 14): find submissions, read them, refuse what is not catalogued.

Layout: ``<intake>/<unit>/<item>[__<tag>].(csv|xlsx|json)``. Files the platform is done with move
to ``_archive/``; refused files move to ``_rejected/`` with a ``.reason.txt`` beside them. Nothing
is deleted, so no row is ever lost silently.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.catalogue.models import Catalogue, DatabaseCollection, Item, ItemField
from pipelines.quality.masking import redacted
from pipelines.values import canonical_frame, canonical_or_cleaned, cell_text, stripped

SUPPORTED = (".csv", ".xlsx", ".json")
ARCHIVE = "_archive"
REJECTED = "_rejected"
# Chinese government files come as UTF-8 (often with a BOM) or GBK/GB18030; GB18030 is a superset of GBK.
ENCODINGS = ("utf-8-sig", "gb18030")


class SubmissionError(ValueError):
    """A submission that cannot be taken in as it is; the message is the reason file's text."""


@dataclass(frozen=True)
class Submission:
    unit: str
    item: str
    path: Path
    digest: str

    @property
    def id(self) -> str:
        return f"{self.item}/{self.path.name}/{self.digest[:12]}"


@dataclass(frozen=True)
class Refusal:
    unit: str
    path: Path
    reason: str
    item: str | None = None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def item_code_of(path: Path) -> str:
    return path.stem.split("__", 1)[0]


def pending_files(intake_dir: Path) -> list[Path]:
    """Every file waiting in a unit folder (not archived, not rejected, not hidden)."""
    if not intake_dir.is_dir():
        return []
    return sorted(
        p for unit_dir in intake_dir.iterdir() if unit_dir.is_dir() and not unit_dir.name.startswith((".", "_"))
        for p in unit_dir.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
    )


def discover(intake_dir: Path, catalogue: Catalogue, today: date | None = None
             ) -> tuple[list[Submission], list[Refusal]]:
    """Today is when temporary collections are judged; without it (no clock) none has expired."""
    accepted: list[Submission] = []
    refused: list[Refusal] = []
    for path in pending_files(intake_dir):
        unit = path.parent.name
        reason, item = _catalogue_reason(path, unit, catalogue, today)
        if reason:
            refused.append(Refusal(unit, path, reason, item))
        else:
            accepted.append(Submission(unit, item_code_of(path), path, file_digest(path)))
    return accepted, refused


def _catalogue_reason(path: Path, unit: str, catalogue: Catalogue, today: date | None = None
                      ) -> tuple[str, str | None]:
    code = item_code_of(path)
    item = catalogue.find_item(code)
    if path.suffix.lower() not in SUPPORTED:
        return f"unsupported file type {path.suffix!r}: submit CSV, XLSX or JSON", item.code if item else None
    if item is None:
        return f"item '{code}' is not in the catalogue: no collection outside the catalogue (art. 12)", None
    if item.unit != unit:
        return f"item '{code}' belongs to unit '{item.unit}', not '{unit}'", code
    if isinstance(item.collection, DatabaseCollection):
        return f"item '{code}' is collected from the unit's database, not by submission", code
    if item.temporary is not None and today is not None and item.temporary.expired(today):
        return expired_reason(item), code
    return "", code


def expired_reason(item: Item) -> str:
    temporary = item.temporary
    assert temporary is not None
    return (f"temporary collection of item '{item.code}' expired on {temporary.expires.isoformat()} "
            f"(approved by {temporary.approver} for: {temporary.reason}): "
            "no collection outside the catalogue (art. 12)")


def read_submission(path: Path, item: Item) -> pd.DataFrame:
    """The submission as text columns named as catalogued; raises SubmissionError with the reason."""
    frame = _read_raw(path)
    frame = _rename_labels(frame, item)
    _check_columns(frame, item)
    return normalise(frame, item)


def _read_raw(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(io.StringIO(_decode(path.read_bytes())), dtype=str, keep_default_na=False)
        if suffix == ".xlsx":
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        return _read_json(path)
    except SubmissionError:
        raise
    except Exception as exc:  # any parser failure is a refusal reason, never a crash of the run
        raise SubmissionError(f"cannot be parsed as {suffix[1:].upper()}: {exc}") from exc


def _decode(raw: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SubmissionError("text is neither UTF-8 nor GBK/GB18030")


def _read_json(path: Path) -> pd.DataFrame:
    document = json.loads(_decode(path.read_bytes()))
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SubmissionError("JSON must be a list of records or {\"records\": [...]}")
    frame = pd.DataFrame.from_records(records)
    return frame.map(lambda v: "" if v is None else str(v)).astype(str) if len(frame) else frame


def _rename_labels(frame: pd.DataFrame, item: Item) -> pd.DataFrame:
    """Units often head their columns with the Chinese labels; map them to the field names."""
    by_label = {f.label: f.name for f in item.fields}
    columns = [str(c).strip() for c in frame.columns]
    return frame.set_axis([by_label.get(c, c) for c in columns], axis=1)


def _check_columns(frame: pd.DataFrame, item: Item) -> None:
    columns = list(frame.columns)
    extra = [c for c in columns if c not in item.field_names]
    if extra and len(extra) == len(columns):
        # Not one known header: most likely the header row is missing and the first record was read as
        # one. Its values are not echoed: the reason reaches reports, and they may be personal data.
        raise SubmissionError(f"none of the {len(columns)} column headers is a catalogued field or label: "
                              "is the header row missing?")
    if extra:
        named = ", ".join(_shown_header(c) for c in extra)
        raise SubmissionError(f"uncatalogued column(s) {named}: no collection outside the catalogue (art. 12)")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SubmissionError(f"column(s) given twice: {', '.join(repeated)}")
    missing = [f.name for f in item.fields if f.not_null and f.name not in columns]
    if missing:
        raise SubmissionError(f"required column(s) missing: {', '.join(missing)}")


def _shown_header(header: str, longest: int = 40) -> str:
    text = redacted(str(header))
    return text if len(text) <= longest else text[:longest] + "…"


def normalise(frame: pd.DataFrame, item: Item) -> pd.DataFrame:
    """Catalogue column order, each cell in its canonical text (pipelines.values), empty as null; a cell that
    does not parse keeps its text without surrounding space, for validation to report."""
    try:
        return canonical_frame(item, frame)[0]
    except ValueError as exc:  # a nested JSON value: no cell of any field
        raise SubmissionError(str(exc)) from exc


def clean_value(value: object, field: ItemField | None = None) -> str | None:
    """One cell as text without surrounding space (None when empty); with its field, in canonical text."""
    if field is not None:
        return canonical_or_cleaned(field, value)
    text = cell_text(value)
    return None if text is None else stripped(text) or None


def read_database(item: Item) -> pd.DataFrame:
    """Pull an item from the unit's business database; the URL is read from the environment now."""
    from sqlalchemy import create_engine, text

    assert isinstance(item.collection, DatabaseCollection)
    url = os.environ.get(item.collection.url_env)
    if not url:
        raise SubmissionError(f"environment variable {item.collection.url_env} (database URL) is not set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Object columns keep the driver's values: pandas would turn NULL into "None" (dtype=str)
            # or an integer column with a NULL into floats ("1.0").
            result = conn.execute(text(item.collection.query))
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()), dtype=object)
    except Exception as exc:
        raise SubmissionError(f"database pull failed: {exc}") from exc
    finally:
        engine.dispose()
    _check_columns(frame, item)
    return normalise(frame, item)


def frame_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def count_rows(path: Path) -> int:
    """Best-effort row count of a refused file, so the ledger can say what was held back."""
    try:
        return len(_read_raw(path))
    except SubmissionError:
        return 0


def move_aside(path: Path, reason: str, when: str) -> Path:
    target_dir = path.parent / REJECTED
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir / path.name)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(
        f"file: {path.name}\nrefused at: {when}\nreason: {reason}\n", encoding="utf-8"
    )
    return target


def archive(path: Path) -> Path:
    target_dir = path.parent / ARCHIVE
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir / path.name)
    shutil.move(str(path), target)
    return target


def _free_name(target: Path) -> Path:
    n = 1
    candidate = target
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
        n += 1
    return candidate
