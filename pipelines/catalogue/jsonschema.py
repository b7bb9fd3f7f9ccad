"""JSON Schemas of the catalogue files, generated from the models, for editors (YAML language servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.catalogue.models import Contractor, Division, Item, Unit

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "catalogue" / "schema"


def _file_schema(key: str, model: Any, title: str) -> dict[str, Any]:
    inner = model.model_json_schema()
    defs = inner.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "required": [key],
        "additionalProperties": False,
        "properties": {key: {"type": "array", "items": {"$ref": f"#/$defs/{model.__name__}"}}},
        "$defs": {**defs, model.__name__: inner},
    }


def catalogue_schemas() -> dict[str, dict[str, Any]]:
    return {
        "units.schema.json": _file_schema("units", Unit, "Government data catalogue: units.yaml"),
        "items.schema.json": _file_schema("items", Item, "Government data catalogue: items/*.yaml"),
        "contractors.schema.json": _file_schema("contractors", Contractor,
                                                "Government data catalogue: contractors.yaml"),
        "divisions.schema.json": _file_schema("divisions", Division, "Government data catalogue: divisions.yaml"),
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in catalogue_schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
