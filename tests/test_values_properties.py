"""Property tests: preparing never raises, a prepared value prepares to itself, valid values pass."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import phonenumbers
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schema_factory import build_schema
from value_strategies import JSONISH, OPTIONS, PLAUSIBLE

from toolkit.values import ValueOptions, prepare

SCHEMA = build_schema()
ATTRIBUTES = SCHEMA.attributes
#: More examples for a long local run: VALUES_EXAMPLES=5000 pytest tests/test_values_properties.py
PROPERTY = settings(
    max_examples=int(os.environ.get("VALUES_EXAMPLES", "150")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def attribute(target: str):  # type: ignore[no-untyped-def]
    obj, slug = target.split(".", 1)
    return SCHEMA.attribute(obj, slug)




@PROPERTY
@given(st.sampled_from(ATTRIBUTES), JSONISH, OPTIONS)
def test_prepare_never_raises_and_its_output_is_json(attr, value, options) -> None:  # type: ignore[no-untyped-def]
    result = prepare(value, attr, SCHEMA, options=options)
    json.dumps(result.as_json())
    assert result.ok == (not result.problems)
    if not result.ok:
        assert result.value is None and not result.skip


@PROPERTY
@given(st.sampled_from(ATTRIBUTES), PLAUSIBLE | st.lists(PLAUSIBLE, max_size=3) | JSONISH, OPTIONS)
def test_a_prepared_value_prepares_to_itself(attr, value, options) -> None:  # type: ignore[no-untyped-def]
    first = prepare(value, attr, SCHEMA, options=options)
    assume(first.ok and first.value)
    assert first.value is not None
    again = prepare(first.value, attr, SCHEMA, options=options)
    assert again.ok, again.problems
    assert again.value == first.value
    assert not again.notes
    # What is accepted re-validates one element at a time, too.
    for element in first.value:
        assert prepare(element, attr, SCHEMA, options=options).value == [element]


# -- valid values of each type are accepted, exactly -------------------------------------------

TEXT = st.text(max_size=200).filter(lambda s: "\x00" not in s)


@PROPERTY
@given(TEXT)
def test_any_text_is_accepted_as_is(text: str) -> None:
    assert prepare(text, attribute("people.description"), SCHEMA).value == [{"value": text}]


@PROPERTY
@given(st.integers(min_value=-(2**53), max_value=2**53) | st.floats(allow_nan=False, allow_infinity=False))
def test_finite_numbers_are_accepted_exactly_or_refused_for_their_decimals(number: float) -> None:
    result = prepare(number, attribute("people.score"), SCHEMA)
    if result.ok:
        assert result.value == [{"value": number}]
    else:  # more than four decimal places (issue 15): refused, the rounded number as the hint
        (problem,) = result.problems
        assert "decimal places" in problem.reason and problem.hint == f"round it to {round(number, 4)!r}"
        assert isinstance(number, float) and round(number, 4) != number


@PROPERTY
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_currency_with_four_places_is_accepted(amount: Decimal) -> None:
    result = prepare(str(amount), attribute("deals.value"), SCHEMA)
    assert result.ok, result.problems
    assert result.value == [{"currency_value": float(amount) if "." in str(amount) else int(amount)}]


@PROPERTY
@given(st.integers())
def test_ratings_are_exactly_zero_to_five(n: int) -> None:
    assert prepare(n, attribute("people.nps"), SCHEMA).ok == (0 <= n <= 5)


@PROPERTY
@given(st.dates())
def test_every_calendar_date_is_accepted_unchanged(day: date) -> None:
    text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    assert prepare(text, attribute("people.birthday"), SCHEMA).value == [{"value": text}]


@PROPERTY
@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-23 * 60, max_value=23 * 60),
)
def test_timestamps_with_offsets_become_the_same_instant_in_utc(moment: datetime, offset_minutes: int) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    aware = moment.replace(tzinfo=zone)
    result = prepare(aware.isoformat(), attribute("people.last_seen"), SCHEMA)
    assert result.ok, result.problems
    utc = aware.astimezone(UTC)
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond * 1000:09d}Z"
    assert result.value == [{"value": expected}]
    # The same instant as a date: Attio's UTC rule.
    as_date = prepare(aware.isoformat(), attribute("people.birthday"), SCHEMA)
    assert as_date.value == [{"value": f"{utc.year:04d}-{utc:%m-%d}"}]


REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)


@PROPERTY
@given(st.sampled_from(REGIONS), st.sampled_from(["E164", "INTERNATIONAL", "NATIONAL"]))
def test_example_numbers_of_every_region_are_accepted_in_e164(region: str, style: str) -> None:
    number = phonenumbers.example_number(region)
    assert number is not None
    text = phonenumbers.format_number(number, getattr(phonenumbers.PhoneNumberFormat, style))
    result = prepare(text, attribute("people.phone_numbers"), SCHEMA, options=ValueOptions(phone_region=region))
    assert result.ok, result.problems
    assert result.value is not None
    assert result.value[0]["original_phone_number"] == phonenumbers.format_number(number,
                                                                                  phonenumbers.PhoneNumberFormat.E164)
    assert not result.warnings


@PROPERTY
@given(st.sampled_from(["Gold", "Silver", "Bronze", "open"]), st.sampled_from([str.lower, str.upper, str.title, str]))
def test_option_titles_in_any_case_become_the_cached_title(title: str, case) -> None:  # type: ignore[no-untyped-def]
    assert prepare(case(title), attribute("people.tier"), SCHEMA).value == [{"option": title}]


NAME_PART = st.text(st.characters(categories=["L"]), min_size=1, max_size=12)


@PROPERTY
@given(NAME_PART, NAME_PART)
def test_last_comma_first_names_split_at_the_comma(first: str, last: str) -> None:
    result = prepare(f"{last}, {first}", attribute("people.name"), SCHEMA)
    assert result.value == [{"first_name": first, "last_name": last, "full_name": f"{first} {last}"}]


@PROPERTY
@given(st.sampled_from(ATTRIBUTES), st.none() | PLAUSIBLE | JSONISH)
def test_a_value_and_a_list_of_it_are_the_same(attr, value) -> None:  # type: ignore[no-untyped-def]
    assume(not isinstance(value, list))
    alone, listed = prepare(value, attr, SCHEMA), prepare([value], attr, SCHEMA)
    assert (alone.ok, alone.value, alone.skip) == (listed.ok, listed.value, listed.skip)
    # The same reasons, too (a multiselect list also numbers its elements in `index`).
    assert [p.reason for p in listed.problems] == [p.reason for p in alone.problems]
