"""The fast paths give exactly the answer of the full checkers (value, notes, warnings, all)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schema_factory import build_schema
from value_cases import CASES
from value_strategies import PLAUSIBLE

from toolkit.values import CHECKERS, Prepared, ValueOptions, prepare
from toolkit.values.core import FAST

SCHEMA = build_schema()
FAST_ATTRIBUTES = [a for a in SCHEMA.attributes if a.type in FAST]


def _prepare(target: str, value: object, options: ValueOptions, *, fast: bool) -> Prepared:
    obj, slug = target.split(".", 1)
    return prepare(value, SCHEMA.attribute(obj, slug), SCHEMA, options=options, fast=fast)


# One input per type with a fast path, already in the form Attio takes, and its write form.
CANONICAL = [
    ("people.description", "A piece of text", [{"value": "A piece of text"}]),
    ("people.score", 17, [{"value": 17}]),
    ("people.is_vip", False, [{"value": False}]),
    ("people.birthday", "2024-02-29", [{"value": "2024-02-29"}]),
    ("people.email_addresses", "ada@example.com", [{"email_address": "ada@example.com"}]),
    ("people.phone_numbers", "+442071234567", [{"original_phone_number": "+442071234567", "country_code": "GB"}]),
    ("people.name", "Bloggs, Joe", [{"first_name": "Joe", "last_name": "Bloggs", "full_name": "Joe Bloggs"}]),
    ("users.plan", "Pro", [{"option": "Pro"}]),
    ("deals.stage", "Lead", [{"status": "Lead"}]),
]


@pytest.mark.parametrize(("target", "value", "expected"), CANONICAL, ids=[t for t, _, _ in CANONICAL])
def test_a_canonical_value_is_written_as_it_is_without_the_full_checker(
    target: str, value: Any, expected: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _prepare(target, value, ValueOptions(), fast=False) == Prepared(True, expected)  # no note, no warning
    # With the full checker out of the way, the fast path alone must give that same answer: it
    # really answers such values (so the agreement tests below compare two paths, not one).
    schema = build_schema()  # a schema of its own: rules are worked out once per schema
    kind = schema.attribute(*target.split(".", 1)).type

    def no_checker(item: Any, ctx: Any) -> Any:
        raise AssertionError(f"the full {kind} checker ran for {item!r}")

    monkeypatch.setitem(CHECKERS, kind, no_checker)
    assert prepare(value, schema.attribute(*target.split(".", 1)), schema) == Prepared(True, expected)


def test_fast_and_full_paths_both_give_the_case_tables_answer() -> None:
    unknown: set[str] = set()
    for case in CASES:
        if SCHEMA.find_attribute(*case.target.split(".", 1)) is None:
            unknown.add(case.target)  # prepare_slug's business (test_values_cases)
            continue
        options = ValueOptions(**case.options)
        fast = _prepare(case.target, case.input, options, fast=True)
        full = _prepare(case.target, case.input, options, fast=False)
        assert fast == full, case
        assert (fast.ok, fast.value) == (case.ok, case.expected), case
    assert unknown == {"people.nmae", "peple.name"}  # only the misspelt names, on purpose


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FAST_ATTRIBUTES), PLAUSIBLE | st.text(max_size=30) | st.integers() | st.booleans())
def test_fast_and_full_paths_agree_on_generated_values(attribute, value) -> None:  # type: ignore[no-untyped-def]
    assert prepare(value, attribute, SCHEMA) == prepare(value, attribute, SCHEMA, fast=False)
