"""The fast paths give exactly the answer of the full checkers (value, notes, warnings, all)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from schema_factory import build_schema
from value_cases import CASES, Case
from value_strategies import PLAUSIBLE

from toolkit.values import ValueOptions, prepare
from toolkit.values.core import FAST

SCHEMA = build_schema()
FAST_ATTRIBUTES = [a for a in SCHEMA.attributes if a.type in FAST]


def _both(value: object, target: str, options: ValueOptions) -> None:
    obj, slug = target.split(".", 1)
    attribute = SCHEMA.attribute(obj, slug)
    assert prepare(value, attribute, SCHEMA, options=options) == prepare(
        value, attribute, SCHEMA, options=options, fast=False
    )


def test_there_are_fast_attributes_to_test() -> None:
    assert {a.type for a in FAST_ATTRIBUTES} >= {"text", "number", "checkbox", "date", "email-address", "select",
                                                 "status"}


def test_fast_and_full_paths_agree_on_the_case_table() -> None:
    for case in CASES:
        if SCHEMA.find_attribute(*case.target.split(".", 1)) is not None:
            _both(case.input, case.target, ValueOptions(**case.options))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FAST_ATTRIBUTES), PLAUSIBLE | st.text(max_size=30) | st.integers() | st.booleans())
def test_fast_and_full_paths_agree_on_generated_values(attribute, value) -> None:  # type: ignore[no-untyped-def]
    assert prepare(value, attribute, SCHEMA) == prepare(value, attribute, SCHEMA, fast=False)


def test_case_is_plain_data() -> None:
    assert all(isinstance(c, Case) and len(c) == 5 for c in CASES)
