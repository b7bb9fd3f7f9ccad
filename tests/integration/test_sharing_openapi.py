"""Schemathesis over the sharing API's OpenAPI document, against real uvicorn on loopback: no 5xx, every
response in its documented status codes, content types and schemas. Bounded in examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.sharing_fixtures import World, bearer, build_world, live_server, new_prefix, seeded_store, sqlite_url

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    store = seeded_store(sqlite_url(Path(tmp_path_factory.mktemp("openapi"))))
    world = build_world(store, new_prefix())
    with live_server(world.service) as url:
        yield world, url
    store.dispose()


def test_api_keeps_to_its_openapi_document(served: tuple[World, str]) -> None:
    """Every operation of the document, each with generated requests (schemathesis's strategies under Hypothesis;
    its pytest plugin does not run on this pytest, so the loop is ours)."""
    world, url = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/v1/items", "/v1/items/{item}/records/{key}",
                                              "/v1/items/{item}/records", "/v1/items/{item}/query",
                                              "/v1/items/{item}/verify"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def keeps_to_the_document(case: schemathesis.Case) -> None:
            # as the owner of the authoritative items (the deepest paths), and as another unit
            for unit in ("gx_psd", "gx_housing"):
                case.call_and_validate(base_url=url, headers=bearer(world.tokens[unit]), checks=CHECKS, timeout=10)

        keeps_to_the_document()
    assert world.service.audit.verify().intact
