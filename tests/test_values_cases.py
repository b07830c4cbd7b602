"""The case table (`value_cases.CASES`) through `prepare_slug`, plus what every case must hold."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from schema_factory import build_schema
from value_cases import CASES, Case

from toolkit.values import ValueOptions, prepare_slug

SCHEMA = build_schema()


def _id(case: Case) -> str:
    shown = repr(case.input)
    return f"{case.target}-{shown[:40]}{'-' + str(case.options) if case.options else ''}"


def _run(case: Case, value: object = None, *, again: bool = False):  # type: ignore[no-untyped-def]
    obj, slug = case.target.split(".", 1)
    return prepare_slug(case.input if not again else value, obj, slug, SCHEMA, options=ValueOptions(**case.options))


def test_the_table_is_big_and_covers_every_type() -> None:
    assert len(CASES) >= 300
    kinds: Counter[tuple[str, bool]] = Counter()
    for case in CASES:
        obj, slug = case.target.split(".", 1)
        attribute = SCHEMA.find_attribute(obj, slug)
        kinds[(attribute.type if attribute else "unknown", case.ok)] += 1
    for kind in (
        "actor-reference", "checkbox", "currency", "date", "domain", "email-address", "location", "number",
        "personal-name", "phone-number", "rating", "record-reference", "select", "status", "text", "timestamp",
    ):
        assert kinds[(kind, True)] >= 3, f"too few accepted {kind} cases"
        assert kinds[(kind, False)] >= 3, f"too few refused {kind} cases"
    assert kinds[("interaction", False)] >= 1


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(case: Case) -> None:
    result = _run(case)
    assert result.ok is case.ok, result.problems
    assert result.value == case.expected
    if not case.ok:
        assert result.problems
        for problem in result.problems:
            assert problem.attribute == case.target
            assert problem.reason and problem.expected
            json.dumps(problem.as_json())  # always JSON-safe, whatever the input
        assert result.as_json()["value"] is None
    else:
        assert not result.problems
        assert result.skip is (case.expected is None)
        json.dumps(result.as_json())


@pytest.mark.parametrize("case", [c for c in CASES if c.ok and c.expected], ids=_id)
def test_accepted_write_forms_prepare_to_themselves(case: Case) -> None:
    again = _run(case, case.expected, again=True)
    assert again.ok, again.problems
    assert again.value == case.expected
    assert not again.notes, "a prepared value needed no coercion"
