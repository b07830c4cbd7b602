"""Value preparation beyond the case table: hints, notes, warnings, the CLI helper, hostile input."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import pytest
from schema_factory import build_schema, member_id

from toolkit.values import Prepared, ValueOptions, check_value, prepare, prepare_slug

SCHEMA = build_schema()


def run(target: str, value: object, **options: object) -> Prepared:
    obj, slug = target.split(".", 1)
    return prepare_slug(value, obj, slug, SCHEMA, options=ValueOptions(**options))  # type: ignore[arg-type]


def only_problem(result: Prepared):  # type: ignore[no-untyped-def]
    assert not result.ok
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


# -- hints -------------------------------------------------------------------------------------


def test_unknown_option_hints_the_closest_title() -> None:
    problem = only_problem(run("people.tier", "Gould"))
    assert problem.hint == "did you mean 'Gold'?"
    assert problem.expected.startswith("select:")
    assert problem.input == "Gould"


def test_archived_option_is_refused_and_active_ones_are_listed() -> None:
    problem = only_problem(run("people.tier", "Platinum"))
    assert "archived" in problem.reason
    assert "'Gold'" in (problem.hint or "")


def test_name_without_a_comma_is_split_with_a_note_naming_the_comma() -> None:
    result = run("people.name", "Joe Bloggs")
    assert result.value == [{"first_name": "Joe", "last_name": "Bloggs", "full_name": "Joe Bloggs"}]
    assert any('"Bloggs, Joe"' in note for note in result.notes)


def test_national_phone_number_hints_the_country_code() -> None:
    problem = only_problem(run("people.phone_numbers", "020 7946 0958"))
    assert "country code" in problem.reason
    assert "+44" in (problem.hint or "") and "phone_region" in (problem.hint or "")


def test_national_phone_number_with_a_region_says_so() -> None:
    result = run("people.phone_numbers", "020 7946 0958", phone_region="GB")
    assert result.ok and any("region GB" in note for note in result.notes)


def test_unknown_attribute_and_object_suggest_slugs() -> None:
    assert only_problem(run("people.job_tittle", "CTO")).hint == "did you mean job_title?"
    assert only_problem(run("compnies.name", "x")).hint == "did you mean companies?"


def test_unknown_member_suggests_the_closest_email() -> None:
    problem = only_problem(run("deals.owner", "alice@atio.com"))
    assert "alice@attio.com" in (problem.hint or "")


def test_currency_with_too_many_decimals_hints_the_rounded_value() -> None:
    assert only_problem(run("deals.value", 29.99999)).hint == "round it to 30.0"


def test_numbers_with_more_than_four_decimals_are_refused_with_the_rounded_value() -> None:
    """Issue 15: Attio's docs say four places, its spec says 64-bit floats; the sandbox refuses
    more, and so does the toolkit (never a silently different number)."""
    problem = only_problem(run("people.score", 1.23456789))
    assert problem.hint == "round it to 1.2346" and "8 decimal places" in problem.reason
    assert run("people.score", 1.2345).value == [{"value": 1.2345}]


def test_a_suspended_member_is_refused_with_a_way_out() -> None:
    """Issue 15: writing a suspended member is [unconfirmed]; the sandbox refuses, so does the toolkit."""
    problem = only_problem(run("deals.owner", "carol@attio.com"))
    assert "suspended" in problem.reason and problem.hint is not None and "reactivate" in problem.hint


def test_emails_keep_their_casing_and_compare_without_it() -> None:
    """Issue 15: Attio keeps the address as typed (original_email_address) and compares without case."""
    from toolkit.values import comparison_form

    assert run("people.email_addresses", "Ada.Lovelace@Example.COM").value == [
        {"email_address": "Ada.Lovelace@Example.COM"}]
    deduped = run("people.email_addresses", ["Ada@example.com", "ada@EXAMPLE.com"])
    assert deduped.value == [{"email_address": "Ada@example.com"}] and any("repeated" in n for n in deduped.notes)
    link = run("people.best_friend", "Ada@Example.com").value
    expected = [{"target_object": "people", "email_addresses": [{"email_address": "ada@example.com"}]}]
    assert comparison_form(link) == expected
    assert run("users.primary_email_address", "Ops@Acme.io").value == [{"email_address": "Ops@Acme.io"}]
    # The sync orders and remembers records by their matching value: one person, however typed.
    from toolkit.plan import match_key

    assert match_key([{"email_address": "Ada@Example.com"}]) == match_key([{"email_address": "ada@example.com"}])
    assert match_key([{"domain": "a.com"}]) != match_key([{"domain": "b.com"}])


def test_epoch_seconds_for_a_timestamp_hint_the_iso_form() -> None:
    problem = only_problem(run("people.last_seen", 1695874757))
    assert problem.hint == 'if these are Unix seconds, send "2023-09-28T04:19:17Z"'


def test_ambiguous_day_month_order_is_refused_with_the_iso_form() -> None:
    problem = only_problem(run("people.birthday", "09/10/2023"))
    assert "order" in problem.reason and problem.hint == "write it as YYYY-MM-DD"
    assert "order" in only_problem(run("people.birthday", "03/04/2026")).reason


@pytest.mark.parametrize(
    ("value", "expected", "note"),
    [
        ("14/03/2026", "2026-03-14", "read 14/03/2026 as 2026-03-14 (day first: 14 cannot be a month)"),
        ("03/14/2026", "2026-03-14", "read 03/14/2026 as 2026-03-14 (month first: 14 cannot be a month)"),
        ("31.12.2025", "2025-12-31", "read 31.12.2025 as 2025-12-31 (day first: 31 cannot be a month)"),
        ("14-3-2026", "2026-03-14", "read 14-3-2026 as 2026-03-14 (day first: 14 cannot be a month)"),
        ("03/03/2026", "2026-03-03", "read 03/03/2026 as 2026-03-03 (the day and the month are the same)"),
    ],
)
def test_a_numeric_date_with_only_one_reading_is_read_so_with_a_note(value: str, expected: str, note: str) -> None:
    result = run("people.birthday", value)
    assert result.ok and result.value == [{"value": expected}]
    assert note in result.notes
    stamp = run("people.last_seen", value)
    assert stamp.ok and stamp.value == [{"value": f"{expected}T00:00:00.000000000Z"}] and note in stamp.notes


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("14/15/2026", "neither 14 nor 15 can be a month"),
        ("31/02/2026", "no such calendar date"),
        ("14/03/26", "the century of a two-digit year cannot be known"),
        ("09/10/23", "the day and month order of this date cannot be known"),
        ("14/03-2026", "not an ISO 8601 date"),
    ],
)
def test_a_numeric_date_that_is_no_date_or_unclear_is_refused(value: str, reason: str) -> None:
    problem = only_problem(run("people.birthday", value))
    assert reason in problem.reason and problem.hint == "write it as YYYY-MM-DD"


# -- notes and warnings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "value", "fragment"),
    [
        ("people.description", 12345, "wrote the number 12345 as text"),
        ("people.is_vip", "true", "read 'true' as true"),
        ("people.last_seen", "2023-09-28T04:39:17", "read as UTC"),
        ("companies.domains", "https://www.attio.com/pricing", "reduced 'https://www.attio.com/pricing' to its host"),
        ("people.birthday", "2023-01-02T23:00:00-10:00", "UTC calendar date 2023-01-03"),
        ("people.email_addresses", " Ada@Example.com", "wrote ' Ada@Example.com' as 'Ada@Example.com'"),
        ("deals.stage", "in progress", "matched 'in progress' to the status 'In Progress'"),
        ("deals.owner", "alice@attio.com", "resolved 'alice@attio.com'"),
        ("people.score", "42", "read the text '42' as the number 42"),
    ],
)
def test_every_coercion_is_reported_as_a_note(target: str, value: object, fragment: str) -> None:
    result = run(target, value)
    assert result.ok, result.problems
    assert any(fragment in note for note in result.notes), result.notes


@pytest.mark.parametrize(
    ("target", "value", "fragment"),
    [
        ("people.phone_numbers", "+15558675309", "possible number but not a valid one"),
        ("people.phone_numbers", "+1 415 555 2671 ext. 7", "dropped the extension 7"),
        ("people.score", 2**60, "beyond 2**53"),
    ],
)
def test_things_that_pass_but_deserve_a_look_are_warnings(target: str, value: object, fragment: str) -> None:
    result = run(target, value)
    assert result.ok, result.problems
    assert any(fragment in w for w in result.warnings), result.warnings


def test_a_valid_number_has_no_warning() -> None:
    assert run("people.phone_numbers", "+14155552671").warnings == ()


# -- lists -------------------------------------------------------------------------------------


def test_multiselect_collects_every_problem_with_its_index() -> None:
    result = run("people.email_addresses", ["ok@example.com", "bad", 7, "x@y.test", ["nested"]])
    assert not result.ok
    assert [p.index for p in result.problems] == [1, 2, 3, 4]
    assert result.value is None


def test_single_attribute_refuses_a_list_of_more_than_one() -> None:
    problem = only_problem(run("people.tier", ["Gold", "Silver"]))
    assert "2 values" in problem.reason and problem.index is None


def test_single_value_for_a_multiselect_attribute_becomes_a_list() -> None:
    assert run("companies.domains", "attio.com").value == [{"domain": "attio.com"}]


def test_repeated_values_are_dropped_with_a_note() -> None:
    result = run("people.email_addresses", ["a@example.com", "A@EXAMPLE.com"])
    assert result.value == [{"email_address": "a@example.com"}]
    assert any("repeated" in note for note in result.notes)


# -- nulls -------------------------------------------------------------------------------------


def test_null_is_skipped_by_default_and_unset_on_request() -> None:
    skipped = run("people.description", None)
    assert skipped.ok and skipped.skip and skipped.value is None
    unset = run("people.description", None, nulls="unset")
    assert unset.ok and not unset.skip and unset.value == []


def test_null_for_a_non_writable_attribute_is_still_a_problem() -> None:
    assert not run("people.avatar_url", None).ok


# -- check_value and as_json -------------------------------------------------------------------


def test_check_value_reads_json_when_it_parses() -> None:
    assert check_value(SCHEMA, "people.score", "42").value == [{"value": 42}]
    assert check_value(SCHEMA, "people.is_vip", "true").value == [{"value": True}]
    assert check_value(SCHEMA, "people.interests", '["Chess", "Jazz"]').value == [{"option": "Chess"},
                                                                                  {"option": "Jazz"}]
    assert check_value(SCHEMA, "people.tier", '{"option": "Gold"}').value == [{"option": "Gold"}]
    assert check_value(SCHEMA, "people.description", "null").skip


def test_check_value_takes_other_text_as_a_string() -> None:
    assert check_value(SCHEMA, "people.phone_numbers", "+14155552671").ok
    assert check_value(SCHEMA, "people.name", "Bloggs, Joe").ok
    assert check_value(SCHEMA, "people.description", "NaN").value == [{"value": "NaN"}]
    assert check_value(SCHEMA, "people.description", "[1, 2").value == [{"value": "[1, 2"}]


def test_check_value_refuses_a_target_without_a_dot() -> None:
    result = check_value(SCHEMA, "people", "x")
    assert not result.ok and "OBJECT.ATTRIBUTE" in result.problems[0].reason


def test_as_json_has_exactly_the_documented_keys() -> None:
    good = check_value(SCHEMA, "people.phone_numbers", "+15558675309").as_json()
    assert set(good) == {"ok", "value", "problems", "notes"}
    assert good["ok"] is True and good["problems"] == []
    assert any(n.startswith("warning: ") for n in good["notes"])
    bad = check_value(SCHEMA, "people.tier", "Gould").as_json()
    assert bad["ok"] is False and bad["value"] is None
    assert set(bad["problems"][0]) == {"attribute", "input", "expected", "reason", "hint", "index"}
    json.dumps(bad)


# -- hostile input -----------------------------------------------------------------------------

TEN_MB = 10_000_000


def test_text_up_to_ten_megabytes_passes_and_beyond_is_refused() -> None:
    assert run("people.description", "x" * TEN_MB).ok
    problem = only_problem(run("people.description", "x" * (TEN_MB + 1)))
    assert "10,000,001 bytes" in problem.reason
    assert len(problem.input) < 300  # the preview is bounded
    assert not run("people.description", "é" * (TEN_MB // 2 + 1)).ok  # bytes, not characters


@pytest.mark.parametrize(
    "target",
    [
        "people.email_addresses", "companies.domains", "people.phone_numbers", "people.birthday",
        "people.last_seen", "people.tier", "people.name", "people.company", "people.score", "deals.value",
        "people.primary_location", "deals.owner", "people.is_vip", "people.nps", "deals.stage",
    ],
)
def test_ten_megabyte_strings_never_crash_or_hang(target: str) -> None:
    started = time.perf_counter()
    result = run(target, "a" * TEN_MB + "@example.com")
    assert isinstance(result, Prepared)
    assert time.perf_counter() - started < 5
    json.dumps(result.as_json())


def _deep(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("target", ["people.description", "people.email_addresses", "people.anything"])
@pytest.mark.parametrize(
    "value",
    [
        _deep(10_000),
        {"value": _deep(10_000)},
        {"target_object": "people", "email_addresses": _deep(5_000)},
        math.nan,
        -math.inf,
        10**5000,
        b"bytes",
        object(),
        {1: 2},
        ("a", "b"),
        {"first_name": {"nested": True}},
    ],
    ids=lambda v: type(v).__name__,
)
def test_strange_values_return_problems_not_exceptions(target: str, value: object) -> None:
    result = run(target, value)
    assert isinstance(result, Prepared)
    json.dumps(result.as_json())


def test_a_hostile_repr_does_not_escape() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    result = run("people.description", Hostile())
    assert not result.ok and result.problems[0].input.startswith("<Hostile")


# -- schema handling ---------------------------------------------------------------------------


def test_an_attribute_object_not_from_the_schema_is_planned_afresh() -> None:
    tier = SCHEMA.attribute("people", "tier")
    assert prepare("Gold", tier, SCHEMA).ok
    renamed = replace(tier, is_archived=True)
    assert not prepare("Gold", renamed, SCHEMA).ok
    assert prepare("Gold", tier, SCHEMA).ok


def test_a_new_schema_snapshot_sees_new_options() -> None:
    from toolkit.schema import OptionInfo

    tier = SCHEMA.attribute("people", "tier")
    assert not prepare("Diamond", tier, SCHEMA).ok
    richer = replace(SCHEMA, options=(*SCHEMA.options, OptionInfo("opt-diamond", tier.attribute_id, "Diamond")))
    assert prepare("Diamond", tier, richer).value == [{"option": "Diamond"}]


def test_actor_reference_by_id_is_the_members_id() -> None:
    result = run("deals.owner", member_id("bob@attio.com").upper())
    assert result.value == [
        {"referenced_actor_type": "workspace-member", "referenced_actor_id": member_id("bob@attio.com")}
    ]


def test_a_year_typed_as_a_number_hints_the_text_form() -> None:
    problem = only_problem(check_value(SCHEMA, "people.birthday", "2023"))
    assert problem.hint == 'send the year as text, "2023", if a year was meant'


def test_a_matching_attribute_named_by_id_is_written_by_slug() -> None:
    from schema_factory import attribute_id

    value = {"target_object": "companies", attribute_id("companies.domains"): ["attio.com"]}
    result = run("people.company", value)
    assert result.value == [{"target_object": "companies", "domains": [{"domain": "attio.com"}]}]
    assert any("as its slug 'domains'" in note for note in result.notes)


def test_value_options_normalise_the_region_and_check_the_null_policy() -> None:
    assert ValueOptions(phone_region="gb").phone_region == "GB"
    assert run("people.phone_numbers", "020 7946 0958", phone_region="gb").ok
    with pytest.raises(ValueError, match="skip"):
        ValueOptions(nulls="drop")  # type: ignore[arg-type]


def test_an_unknown_phone_region_is_a_problem_not_a_crash() -> None:
    problem = only_problem(run("people.phone_numbers", "020 7946 0958", phone_region="XX"))
    assert "not a phone number" in problem.reason


# -- whole records -----------------------------------------------------------------------------


def test_prepare_record_gives_the_values_to_send() -> None:
    from toolkit.values import prepare_record

    result = prepare_record(
        {"email_addresses": "Ada@Example.com", "name": "Lovelace, Ada", "tier": "gold", "description": None},
        "people",
        SCHEMA,
    )
    assert result.ok
    assert result.values == {
        "email_addresses": [{"email_address": "Ada@Example.com"}],
        "name": [{"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace"}],
        "tier": [{"option": "Gold"}],
    }
    assert any(n.startswith("tier: matched") for n in result.notes)


def test_prepare_record_collects_every_problem_of_every_attribute() -> None:
    from schema_factory import attribute_id

    from toolkit.values import prepare_record

    result = prepare_record(
        {
            "email_addresses": ["ok@example.com", "bad"],
            "tier": "Gould",
            "nmae": "x",
            "avatar_url": "https://x.com/a.png",
            "job_title": "CTO",
            attribute_id("people.job_title"): "CEO",
        },
        "people",
        SCHEMA,
    )
    assert not result.ok and result.values == {}
    assert [p.attribute for p in result.problems] == [
        "people.email_addresses", "people.tier", "people.nmae", "people.avatar_url", "people.job_title",
    ]


def test_python_dates_and_datetimes_are_taken_from_library_callers() -> None:
    from datetime import date, datetime, timedelta, timezone

    assert run("people.birthday", date(2023, 9, 28)).value == [{"value": "2023-09-28"}]
    stamp = run("people.last_seen", date(2023, 9, 28))
    assert stamp.value == [{"value": "2023-09-28T00:00:00.000000000Z"}] and stamp.notes
    aware = datetime(2023, 1, 2, 23, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-10)))
    assert run("people.last_seen", aware).value == [{"value": "2023-01-03T09:00:00.123456000Z"}]
    assert run("people.birthday", aware).value == [{"value": "2023-01-03"}]
    naive = run("people.last_seen", datetime(2023, 1, 2, 3, 4, 5))
    assert naive.value == [{"value": "2023-01-02T03:04:05.000000000Z"}] and "UTC" in naive.notes[0]
