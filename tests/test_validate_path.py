"""The sync's validation path takes short cuts (bench/validate.py); each gives the long way's answer.

- phone validity: `contact._region_and_validity` is phonenumbers' region_code_for_number and
  is_valid_number, for every region's example numbers of every type, altered and not;
- plain email addresses: email-validator's own checks with the domain's memoised give
  `validate_email`'s verdict, and `normalise_email` the same answer either way;
- the phone and name fast paths: `prepare` answers the same with and without them;
- the planner: the same plan with every fast path off (every value through `prepare`'s full
  path) as with them on; its per-mapping work is dropped with the mapping;
- the reader: its quick `InputEvent` is the dataclass's own; a source's getter is its `resolve`;
- a record's key: `match_key` makes one text or one object of one text itself, as the canonical
  JSON (and the email comparison form) would.
"""

from __future__ import annotations

import gc
import random
from dataclasses import fields
from typing import Any

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st
from schema_factory import build_schema
from value_cases import CASES

from toolkit import plan as plan_module
from toolkit.events import InputEvent, _accepted
from toolkit.jsontext import canonical_json
from toolkit.mapping import parse_mapping
from toolkit.plan import match_key, plan_event
from toolkit.sources import MISSING, EventPath, Source
from toolkit.values import ValueOptions, comparison_form, contact, core, prepare

SCHEMA = build_schema()

# -- phone validity --------------------------------------------------------------------------


def _library(number: phonenumbers.PhoneNumber) -> tuple[str | None, bool]:
    return phonenumbers.region_code_for_number(number), phonenumbers.is_valid_number(number)


def _examples() -> list[phonenumbers.PhoneNumber]:
    """Every region's (and non-geographic code's) example number of every type."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append(number)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append(number)
    return found


def _altered(number: phonenumbers.PhoneNumber, rng: random.Random) -> list[phonenumbers.PhoneNumber]:
    """The number one digit shorter, one longer, with a digit changed, and in the next country code."""
    digits = phonenumbers.national_significant_number(number)
    code = number.country_code
    assert code is not None
    changed = rng.randrange(len(digits))
    texts = [
        (code, digits[:-1]),
        (code, digits + str(rng.randrange(10))),
        (code, digits[:changed] + str((int(digits[changed]) + 1 + rng.randrange(9)) % 10) + digits[changed + 1:]),
        (code + 1, digits),
    ]
    out = []
    for calling_code, national in texts:
        try:
            out.append(phonenumbers.parse(f"+{calling_code}{national}", None))
        except phonenumbers.NumberParseException:
            pass
    return out


def test_phone_validity_is_phonenumbers_own_on_every_example_number() -> None:
    rng = random.Random(16)
    numbers = _examples()
    assert len(numbers) > 1300  # every region, several types each
    checked = valid = 0
    for number in numbers:
        for candidate in (number, *_altered(number, rng)):
            assert contact._region_and_validity(candidate) == _library(candidate), candidate
            checked += 1
            valid += _library(candidate)[1]
    assert valid > 2500 and checked - valid > 2500  # both answers well represented


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([1, 7, 33, 39, 44, 61, 262, 290, 599, 800, 808, 870, 881, 882, 883, 888, 979, 998]),
       st.from_regex(r"[0-9]{2,15}", fullmatch=True))
def test_phone_validity_is_phonenumbers_own_on_generated_numbers(code: int, national: str) -> None:
    try:
        number = phonenumbers.parse(f"+{code}{national}", None)
    except phonenumbers.NumberParseException:
        return
    assert contact._region_and_validity(number) == _library(number)


PHONES = [
    "+14155552671", "+1 415 555 2671", "+1-415-234-5678", "+1 (415) 234-5678", "+1.415.234.5678",
    "+1 415 234 5678 ext. 12", "+1 415 234 5678;ext=12", "+1 415 234 5678 x12", "+44 20 7123 4567",
    "+44 (0) 20 7123 4567", "+44 020 7123 4567", "+447911123456", "+33 1 42 12 34 00", "+39 06 1234 5678",
    "+61 2 9876 5432", "+1 242 357 1234", "+1 876 123 4567", "+7 912 345 6789", "+800 1234 5678",
    "+1 555 010 0000", "+1 200 123 4567", "+", "++14155552671", "+1", "+999 1234", "+1 415 234 5678 ",
    " +1 415 234 5678", "+1\t415 234 5678", "tel:+14155552671", "+1 415 ABC DEFG",
    "+\uff11\uff14\uff11\uff15\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "+1 415 234 5678\u00a0",
    "+1 415 234 5678\x00", "+1 415 234 5678\u2028", "+" + "1" * 70, "4155552671", "020 7123 4567",
]


@pytest.mark.parametrize("region", [None, "US", "GB"])
def test_the_phone_fast_path_answers_as_the_checker(region: str | None) -> None:
    attribute = SCHEMA.attribute("people", "phone_numbers")
    options = ValueOptions(phone_region=region)
    taken = 0
    for text in PHONES:
        fast = prepare(text, attribute, SCHEMA, options=options)
        assert fast == prepare(text, attribute, SCHEMA, options=options, fast=False), text
        taken += contact.fast_phone(text, None) is not None
    assert taken >= 15  # the fast path answers most of them


# -- plain email addresses -------------------------------------------------------------------

EMAILS = [
    "ada@example.com", "Ada.Lovelace+tag@Example.COM", "postmaster@example.com", "POSTMASTER@example.com",
    "a!#$%&'*+/=?^_`{|}~-@example.com", "a..b@example.com", ".a@example.com", "a.@example.com", "a@example",
    "a@localhost", "a@x.local", "a@x.onion", "a@x.arpa", "a@10.in-addr.arpa", "a@x.test", "a@x.invalid",
    "a@x.example", "a@x.123", "a@-x.com", "a@x-.com", "a@ab--c.com", "a@xn--bcher-kva.de", "a@XN--BCHER-KVA.de",
    "a@xn--zz.com", "a@xn--.com", "a@xn--4dbc.1.com", "a@" + "x" * 64 + ".com", "a@" + "x" * 63 + ".com",
    "x" * 65 + "@example.com", "x" * 242 + "@example.com", "x" * 243 + "@example.com",
    "a@" + ".".join(["x" * 60] * 5) + ".com", "a@[127.0.0.1]", "a@[IPv6:::1]", '"a"@example.com',
    '"a b"@example.com', "a@b@example.com", "<a@example.com>", "Ada <a@example.com>", "a b@example.com",
    "a@example.com.", "a@exa_mple.com", "a@EXAMPLE.COM", "a@example..com", "a@.example.com", "a@1.2.3.4",
    "a@x.y", "a@example.c0m", "a@", "@example.com", "", "@", "a@ex\x00ample.com", "a\x7f@example.com",
    "a@example.com ", " a@example.com", "a\t@example.com", "jos\u00e9@example.com", "ada@b\u00fccher.de",
    "ada@ex\u0430mple.com", "ada@example\uff0ecom", "ada@exa\u200bmple.com", "a@\u0661.com", "mailto:a@example.com",
    "a@sub.domain.example.co.uk", "a-b_c@d-e.f-g.io", "a@a.b-c.d", "user+tag@gmail.com", "a@123.com",
]


def _validate_email_accepts(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def _plain(text: str) -> bool:
    return text.isascii() and text.count("@") == 1 and '"' not in text and "<" not in text


def test_the_plain_route_is_on_with_the_email_validator_it_was_read_from() -> None:
    assert contact._PLAIN_ROUTE  # else the tests below compare validate_email with itself


@pytest.mark.parametrize("text", EMAILS)
def test_a_plain_address_gets_email_validators_verdict(text: str) -> None:
    accepted = _validate_email_accepts(text)
    if _plain(text):
        assert contact._plain_address_valid(text) == accepted
    else:
        assert not contact._plain_address_valid(text)
    assert contact._normalise_email(text) == contact._normalise_email(text, plain_route=False)


_LOCAL = st.text("abcXYZ019.+-_!#$%&'*/=?^`{|}~ \"(),:;<>@[\\]\x00\x7f", min_size=0, max_size=12)
_LABEL = st.one_of(
    st.text("abcxyz019-", min_size=0, max_size=8),
    st.sampled_from(["xn--bcher-kva", "xn--zz", "ab--cd", "x" * 63, "x" * 64, "123", "_x", "EXAMPLE"]),
)
_TLD = st.sampled_from(["com", "co.uk", "io", "local", "onion", "arpa", "test", "invalid", "localhost", "example",
                        "123", "c0m", "x", "COM", "", "xn--p1ai", "museum"])


@settings(max_examples=1000, deadline=None)
@given(_LOCAL, st.lists(_LABEL, max_size=3), _TLD, st.sampled_from(["", ".", "..", " "]))
@example("a" * 64, ["b" * 63, "c" * 63, "d" * 63], "com", "")
def test_generated_plain_addresses_get_email_validators_verdict(local: str, labels: list[str], tld: str,
                                                                 end: str) -> None:
    text = f"{local}@{'.'.join([*labels, tld])}{end}"
    if _plain(text):
        assert contact._plain_address_valid(text) == _validate_email_accepts(text), text
    assert contact._normalise_email(text) == contact._normalise_email(text, plain_route=False)


def test_the_domain_memo_is_bounded() -> None:
    info = contact._email_domain.cache_info()
    assert info.maxsize is not None and info.maxsize <= 65_536


# -- names -----------------------------------------------------------------------------------

NAMES = [
    "Lovelace, Ada", "Ada Lovelace", "Ada", "  Ada   Lovelace ", "Ada\tLovelace", "Ada\nLovelace", ",", " , ",
    "Lovelace,", ", Ada", "Lovelace, Ada, Countess", "Ada  King Lovelace", "Jos\u00e9 N\u00fa\u00f1ez",
    "Ada\u00a0Lovelace", "Ada\u2028Lovelace", "Ada\u3000Lovelace", "Ada\x1cLovelace", "Ada\x85Lovelace", "a\x00b",
    "\ud800", "Ada \ud800", "x" * 10_000, "x" * 10_001, "\u00e9" * 5000, "\u00e9" * 5001, "", "   ", "\t",
    "O'Brien, Conan", "de la Cruz, Juan", "\u674e\u5c0f\u9f99", "Ada,Lovelace", " Lovelace ,  Ada ",
]


@pytest.mark.parametrize("text", NAMES, ids=range(len(NAMES)))
def test_the_name_fast_path_answers_as_the_checker(text: str) -> None:
    attribute = SCHEMA.attribute("people", "name")
    assert prepare(text, attribute, SCHEMA) == prepare(text, attribute, SCHEMA, fast=False)


# -- the planner -----------------------------------------------------------------------------

_PEOPLE = sorted({c.target.split(".", 1)[1] for c in CASES if c.target.startswith("people.")})
_MAPPING = """{options}
[[action]]
kind = "identify-user"
[action.person_attributes]
{people}
[action.user_attributes]
plan = "$.traits.plan"
workspace = ["$.traits.ws", "$.context.ws"]

[[action]]
kind = "group-workspace"
[action.company_attributes]
name = "$.traits.name"
categories = "$.traits.categories"

[[action]]
kind = "assert-record"
on = ["track", "identify"]
object = "projects"
matching_attribute = "project_code"
[action.attributes]
project_code = "$.properties.code"
budget_code = {{ literal = 5 }}
nickname = ["$.properties.nick", "$.properties.items[1]", "$[\\"odd key\\"]"]
"""
MAPPINGS = [
    _MAPPING.format(options=options, people="\n".join(f'{slug} = "$.traits.{slug}"' for slug in _PEOPLE))
    for options in ("", 'phone_region = "US"\nnulls = "unset"', 'multiselect = "replace"\nphone_region = "gb"')
]


def _events(count: int, seed: int) -> list[dict[str, Any]]:
    """Events whose values are the case table's, mostly ones their attribute takes."""
    rng = random.Random(seed)
    good: dict[str, list[Any]] = {}
    for case in CASES:
        if case.ok:
            good.setdefault(case.target, []).append(case.input)
    every = [case.input for case in CASES]

    def pick(target: str) -> Any:
        return rng.choice(good[target]) if target in good and rng.random() < 0.9 else rng.choice(every)

    events = []
    for n in range(count):
        traits = {slug: pick(f"people.{slug}") for slug in rng.sample(_PEOPLE, rng.randrange(4))}
        traits["email"] = pick("people.email_addresses")
        event: dict[str, Any] = {"type": rng.choice(["identify", "identify", "group", "track", "page"]),
                                 "userId": rng.choice([f"u{n}", f"u{n}", f"u{n}", "", None, 7]), "traits": traits}
        if event["type"] == "group":
            event["groupId"] = rng.choice(["ws1", "ws2", "ws3", ""])
            traits.update(website=rng.choice(["acme.com", "https://www.acme.co.uk/x", "bad"]),
                          name=pick("companies.name"), categories=pick("companies.categories"))
        if rng.random() < 0.8:
            event["properties"] = {"code": pick("projects.project_code"), "nick": pick("projects.nickname"),
                                   "items": [1, pick("projects.nickname")]}
        if rng.random() < 0.2:
            traits["plan"] = pick("users.plan")
        if rng.random() < 0.5:
            event["timestamp"] = rng.choice(["2026-01-01T00:00:00Z", "2026-01-01T10:00:00+05:00", "2026-13-01", 5])
        events.append(event)
    return events


def _plans(events: list[dict[str, Any]], schema: Any) -> list[Any]:
    out = []
    for text in MAPPINGS:
        mapping = parse_mapping(text)
        for event in events:
            plan = plan_event(event, mapping, schema)
            out.append((plan.writes, plan.problems, plan.notes, plan.time, plan.no_action))
    return out


def test_the_planner_plans_the_same_with_every_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _events(400, seed=16)
    fast = _plans(events, build_schema())
    monkeypatch.setattr(core, "FAST", {})
    slow = _plans(events, build_schema())  # a new schema: its rules are worked out again, without fast paths
    assert fast == slow
    assert sum(1 for writes, problems, *_ in fast if writes and not problems) > 120  # many plans have writes


def test_what_the_planner_works_out_per_mapping_and_schema_goes_with_either() -> None:
    event = {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}
    plans = plan_module._PLANS._plans
    mapping, schema = parse_mapping(MAPPINGS[0]), build_schema()
    plan_event(event, mapping, schema)
    plan_event(event, mapping, schema)
    key = (id(mapping), id(schema))
    assert key in plans
    del mapping
    gc.collect()
    assert key not in plans
    # A mapping that lives on (a long sync) keeps no schema alive: each new one replaces the last.
    mapping = parse_mapping(MAPPINGS[0])
    for _ in range(5):
        plan_event(event, mapping, build_schema())
    gc.collect()
    assert [k for k in plans if k[0] == id(mapping)] == []


# -- the reader and the sources --------------------------------------------------------------


def test_the_readers_quick_input_event_is_the_dataclasss_own() -> None:
    event = {"type": "identify", "messageId": "m1"}
    made = _accepted(3, '{"type": "identify"}', event, 21)
    assert made == InputEvent(3, '{"type": "identify"}', event=event, size=21)
    assert set(vars(made)) == {f.name for f in fields(InputEvent)}
    assert repr(made) == repr(InputEvent(3, '{"type": "identify"}', event=event, size=21))
    with pytest.raises(AttributeError):
        made.line = 4  # type: ignore[misc]  # still frozen


class _Dict(dict[str, Any]):
    pass


PATHS = ["$", "$.a", "$.a.b", "$.a.b.c", "$.a[0]", "$.a[1].b", '$["a b"]', "$['a']['b']", "$.a[0][0]"]
VALUES = st.recursive(
    st.none() | st.integers() | st.text(max_size=3) | st.just(""),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "c", "a b"]), inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2).map(_Dict),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PATHS), min_size=0, max_size=3), VALUES)
def test_a_sources_getter_finds_what_resolve_finds(paths: list[str], event: Any) -> None:
    for source in (Source(paths=tuple(EventPath.parse(p) for p in paths)), Source(literal=event)):
        found, value = source.resolve(event)
        got = source.getter()(event)
        assert (got is not MISSING, got if got is not MISSING else None) == (found, value)


# -- a record's key --------------------------------------------------------------------------

_KEY_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('"\\\x00\x1f\u2028\ud83dAÉß'), max_size=12)


@given(st.sampled_from(["email_address", "domain", "value", "Email_Address", 'a"b']) | _KEY_TEXT,
       _KEY_TEXT | st.emails().map(lambda e: e.upper()) | st.integers() | st.none(), st.booleans())
@example("email_address", "Ada@Example.COM", False)
@example("email_address", "ada@example.com", False)
@example("domain", "İ.example", True)
def test_a_records_key_made_directly_is_the_long_ways(name: str, value: Any, bare: bool) -> None:
    form: list[Any] = [value] if bare else [{name: value}]
    text = canonical_json(form)  # the long way: an email address with capitals is compared in lower case
    long_way = text if '"email_address":' not in text or text == text.lower() else canonical_json(comparison_form(form))
    assert match_key(form) == long_way
