"""Parse a directory export with ckanext-dcat's own RDF parser (the ``euro_dcat_ap_3`` profile) and print the
datasets CKAN would create, as JSON. Runs under ``.venv-ckan/bin/python`` (``make ckan-env``), not the
platform's venv: CKAN pins its own dependencies. No CKAN server is needed: the parser reads CKAN's config
object, which works unconfigured outside a web application.

    .venv-ckan/bin/python tests/ckan/parse_export.py var/demo/data/directory/directory.ttl [--licences FILE]

``--licences``: a CKAN licence register (JSON list of {id, title, url}), as a harvesting portal configures it
with ``licenses_group_url``, so that a distribution's licence IRI maps onto the dataset's ``license_id``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ckan.common import config
from ckanext.dcat.processors import RDFParser

_FORMATS = {".ttl": "turtle", ".jsonld": "json-ld", ".rdf": "xml"}


def parse(export: Path, licences: Path | None) -> list[dict]:
    if licences is not None:
        config["licenses_group_url"] = f"file://{licences.resolve()}"
    parser = RDFParser(profiles=["euro_dcat_ap_3"])
    parser.parse(export.read_bytes(), _format=_FORMATS[export.suffix])
    return list(parser.datasets())


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("export", type=Path)
    args.add_argument("--licences", type=Path, default=None)
    parsed = args.parse_args(argv)
    json.dump(parse(parsed.export, parsed.licences), sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
