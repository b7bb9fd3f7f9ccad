"""expectations/custom.py: the row contract's configuration is GX's own, made once until a field changes."""

from __future__ import annotations

from great_expectations.expectations.expectation import MulticolumnMapExpectation

from expectations.custom import ExpectRowsToSatisfyContract, contract_text


def _gx_made(expectation: ExpectRowsToSatisfyContract):  # type: ignore[no-untyped-def]
    return MulticolumnMapExpectation.configuration.fget(expectation)  # type: ignore[attr-defined]


def test_the_configuration_is_gx_own_made_once_and_again_after_a_field_is_set() -> None:
    rules = contract_text([{"id": "r1", "kind": "required", "column": "a", "params": {}}])
    contract = ExpectRowsToSatisfyContract(column_list=["a", "b"], rules=rules)
    first = contract.configuration
    assert first == _gx_made(contract)
    assert contract.configuration is first  # not made again
    contract.mostly = 0.5
    assert contract.configuration is not first
    assert contract.configuration == _gx_made(contract) and contract.configuration.kwargs["mostly"] == 0.5
    contract.meta = {"rules": ["r1"]}
    assert contract.configuration.meta == {"rules": ["r1"]} == _gx_made(contract).meta
