"""EventMapping files: the model, event paths, the parser's error reports and the TOML round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.actions import AssertRecord, GroupWorkspace, IdentifyUser, Options
from toolkit.errors import MappingError
from toolkit.mapping import EventMapping, default_mapping, dump_mapping, load_mapping, parse_mapping
from toolkit.sources import EventPath, Source

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: A mapping that uses every feature of the format.
EVERY_FEATURE = '''
phone_region = "gb"
nulls = "unset"
multiselect = "replace"

[[action]]
kind = "identify-user"
email = "$.context.traits.email"
user_id = ["$.userId", "$.anonymousId"]
phone_region = "US"
[action.person_attributes]
twitter = "$.traits.twitter_handle"
name = ["$.traits.name", "$.context.traits.name"]
phone_numbers = "$.traits.phones[0]"
"job title" = '$["traits"]["job title"]'
[action.user_attributes]
workspace = "$.groupId"
plan = { literal = "Pro" }
seats = { literal = 12 }
ratio = { literal = 0.25 }
active = { literal = true }
tags = { literal = ["a", "b \\"quoted\\"", "tab\\there"] }
since = { literal = 2024-01-02 }
ref = { literal = { target_object = "people", email_addresses = ["x@y.com"] } }

[[action]]
kind = "group-workspace"
on = ["group", "identify"]
user_id = false
multiselect = "append"
nulls = "skip"
[action.company_attributes]
name = "$.traits.companyName"
[action.workspace_attributes]
name = "$.traits.workspaceName"

[[action]]
kind = "assert-record"
on = "track"
object = "people"
matching_attribute = "email_addresses"
attributes = { email_addresses = "$.userId", twitter = "$.traits.twitter_handle" }
'''


def problems_of(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "m.toml")
    return [(p.line, p.key, p.message) for p in caught.value.problems]


# -- the model ---------------------------------------------------------------------------------


def test_without_a_file_the_two_default_actions_apply_with_their_default_paths() -> None:
    mapping = default_mapping()
    identify, group = mapping.actions
    assert isinstance(identify, IdentifyUser) and isinstance(group, GroupWorkspace)
    assert mapping.actions_for("identify") == (identify,) and mapping.actions_for("group") == (group,)
    assert mapping.actions_for("track") == ()
    # RudderStack's libraries put identify traits under context.traits.
    assert identify.email.describe() == "$.traits.email or $.email or $.context.traits.email"
    assert identify.user_id.describe() == "$.userId"
    assert group.domain.describe() == "$.traits.website or $.website"
    assert group.workspace_id.describe() == "$.groupId or $.context.group_id"
    assert group.user_id.describe() == "$.userId"
    assert identify.options == Options(nulls="skip", multiselect="append", phone_region=None)
    assert mapping.label == "(default mapping)"


def test_a_source_takes_the_first_path_present_and_a_null_counts_as_present() -> None:
    source = Source.of("$.traits.email", "$.email")
    assert source.resolve({"email": "b@x.com", "traits": {"email": "a@x.com"}}) == (True, "a@x.com")
    assert source.resolve({"email": "b@x.com"}) == (True, "b@x.com")
    assert source.resolve({"traits": {"email": None}, "email": "b@x.com"}) == (True, None)
    assert source.resolve({}) == (False, None)
    assert Source(literal="Pro").resolve({}) == (True, "Pro")
    assert not Source().is_set and Source().resolve({"userId": "u"}) == (False, None)


@pytest.mark.parametrize(
    ("path", "event", "value"),
    [
        ("$.items[0].id", {"items": [{"id": 7}]}, 7),
        ("$.items[1].id", {"items": [{"id": 7}]}, None),
        ('$["a b"].c', {"a b": {"c": 1}}, 1),
        ("$['x'][0]", {"x": ["first"]}, "first"),
        ("$.context.traits.plan", {"context": {"traits": {"plan": "Pro"}}}, "Pro"),
        ("$.traits.email", {"traits": "not a dict"}, None),
    ],
)
def test_event_paths_read_keys_indexes_and_quoted_keys(path: str, event: dict[str, object], value: object) -> None:
    found = Source.of(path).resolve(event)
    assert found == ((True, value) if value is not None else (False, None))


@pytest.mark.parametrize("text", ["traits.email", "$.traits.", "$[x]", "$.a..b", ""])
def test_malformed_event_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="path"):
        EventPath.parse(text)


# -- parsing and the round trip --------------------------------------------------------------------


def test_a_mapping_using_every_feature_parses_as_written() -> None:
    mapping = parse_mapping(EVERY_FEATURE, "m.toml")
    identify, group, record = mapping.actions
    assert mapping.options == Options(nulls="unset", multiselect="replace", phone_region="GB")
    assert isinstance(identify, IdentifyUser)
    assert identify.options == Options(nulls="unset", multiselect="replace", phone_region="US")
    assert identify.user_id.describe() == "$.userId or $.anonymousId"
    assert identify.person_attributes["job title"].resolve({"traits": {"job title": "CTO"}}) == (True, "CTO")
    assert identify.user_attributes["ref"].literal == {"target_object": "people", "email_addresses": ["x@y.com"]}
    assert str(identify.user_attributes["since"].literal) == "2024-01-02"
    assert isinstance(group, GroupWorkspace)
    assert group.on == ("group", "identify") and not group.user_id.is_set
    assert group.options == Options(nulls="skip", multiselect="append", phone_region="GB")
    assert isinstance(record, AssertRecord)
    assert (record.on, record.object, record.matching_attribute) == (("track",), "people", "email_addresses")
    assert mapping.actions_for("identify") == (identify, group)
    headers = [n for n, line in enumerate(EVERY_FEATURE.splitlines(), start=1) if line == "[[action]]"]
    assert [a.line for a in mapping.actions] == headers and len(headers) == 3
    assert [a.name for a in mapping.actions] == [
        "action 1 (identify-user)", "action 2 (group-workspace)", "action 3 (assert-record)"]


def test_a_mapping_using_every_feature_round_trips_through_the_writer() -> None:
    mapping = parse_mapping(EVERY_FEATURE, "m.toml")
    text = dump_mapping(mapping)
    again = parse_mapping(text, "m.toml")
    assert again == mapping
    assert again.to_toml() == text  # the writer is stable
    assert "user_id = false" in text and '"job title" = ' in text


def test_equality_ignores_where_actions_sit_but_not_what_they_say() -> None:
    one = parse_mapping('[[action]]\nkind = "identify-user"\n', "a.toml")
    two = parse_mapping('\n\n# the same action, lower down\n[[action]]\nkind = "identify-user"\n', "b.toml")
    assert one == two and one.actions[0].line != two.actions[0].line
    three = parse_mapping('[[action]]\nkind = "identify-user"\nnulls = "unset"\n', "a.toml")
    assert three != one


def test_the_default_mapping_round_trips_and_matches_an_explicit_file() -> None:
    text = dump_mapping(default_mapping())
    assert parse_mapping(text) == default_mapping()
    assert parse_mapping('[[action]]\nkind = "identify-user"\n[[action]]\nkind = "group-workspace"\n') \
        == default_mapping()


def test_the_example_mapping_parses_and_shows_the_seed_examples() -> None:
    mapping = load_mapping(EXAMPLES / "mapping.toml")
    identify, group = mapping.actions
    (record,) = load_mapping(EXAMPLES / "assert-record.toml").actions
    assert isinstance(identify, IdentifyUser) and isinstance(group, GroupWorkspace) and isinstance(record, AssertRecord)
    assert identify.person_attributes["twitter"].describe() == "$.traits.twitter_handle"
    assert identify.user_attributes["workspace"].describe() == "$.groupId"
    assert group.company_attributes["name"].describe() == "$.traits.companyName"
    assert group.workspace_attributes["name"].describe() == "$.traits.workspaceName"
    assert group.company_attributes["twitter"].describe() == "$.traits.twitter_handle"
    assert (record.object, record.matching_attribute) == ("people", "email_addresses")
    assert record.attributes["email_addresses"].describe() == "$.userId"
    assert parse_mapping(dump_mapping(mapping), mapping.label) == mapping


# -- the parser's error reports -------------------------------------------------------------------


def test_bad_toml_is_refused_with_the_file_and_line() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping('[[action]]\nkind = "identify-user"\nemail = $.traits.email\n', "bad.toml")
    assert str(caught.value).startswith("bad.toml:3: not valid TOML")


def test_toml_cut_short_points_at_the_last_line() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping('[[action]]\nkind = "identify-user"\nemail = ', "bad.toml")
    assert str(caught.value).startswith("bad.toml:3: not valid TOML")


def test_a_file_that_cannot_be_read_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping"):
        load_mapping(tmp_path / "missing.toml")


def test_load_mapping_names_the_file_in_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[[action]]\nkind = "identify-user"\nnulls = "never"\n', encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == f'{path}:3: nulls: nulls must be "skip" or "unset", not \'never\''


def test_an_unknown_key_gets_its_line_and_a_did_you_mean() -> None:
    found = problems_of('[[action]]\nkind = "identify-user"\n\nemial = "$.email"\n')
    assert len(found) == 1
    line, key, message = found[0]
    assert (line, key) == (4, "emial") and "did you mean 'email'?" in message


def test_an_unknown_top_level_key_gets_a_did_you_mean() -> None:
    (line, key, message), = problems_of('null = "skip"\n[[action]]\nkind = "identify-user"\n')
    assert (line, key) == (1, "null") and "did you mean 'nulls'?" in message


@pytest.mark.parametrize(
    ("kind", "expected"),
    [('"identify-usr"', "did you mean 'identify-user'?"), ('["x"]', "not ['x']"), (None, "needs a kind")],
)
def test_a_bad_or_missing_kind_is_named(kind: str | None, expected: str) -> None:
    text = "[[action]]\n" + (f"kind = {kind}\n" if kind else 'on = ["identify"]\n')
    (line, key, message), = problems_of(text)
    assert (line, key) == (2 if kind else 1, "kind") and expected in message


def test_a_path_without_dollar_names_the_attribute_its_line_and_suggests_a_literal() -> None:
    found = problems_of('[[action]]\nkind = "identify-user"\n[action.person_attributes]\nname = "$.traits.name"\n'
                        'twitter = "traits.twitter"\n[action.user_attributes]\ntwitter = "$.x"\n')
    (line, key, message), = found
    assert (line, key) == (5, "person_attributes.twitter")
    assert "paths start with $" in message and '{ literal = "traits.twitter" }' in message


def test_the_same_slug_in_two_tables_is_found_in_the_right_one() -> None:
    (line, key, _), = problems_of('[[action]]\nkind = "group-workspace"\n[action.company_attributes]\nname = "$.a"\n'
                                  '[action.workspace_attributes]\nname = "b"\n')
    assert (line, key) == (6, "workspace_attributes.name")


def test_problems_in_an_inline_table_point_at_its_line() -> None:
    (line, key, _), = problems_of('[[action]]\nkind = "assert-record"\non = "track"\nobject = "people"\n'
                                  'matching_attribute = "email_addresses"\nattributes = { email_addresses = "x" }\n')
    assert (line, key) == (6, "attributes.email_addresses")


@pytest.mark.parametrize(
    ("option", "line_text", "expected"),
    [
        ("nulls", 'nulls = "drop"', 'nulls must be "skip" or "unset"'),
        ("multiselect", 'multiselect = "merge"', 'multiselect must be "append" or "replace"'),
        ("phone_region", 'phone_region = "USA"', "two-letter country code"),
        ("phone_region", "phone_region = 1", "two-letter country code"),
    ],
)
def test_bad_options_are_refused_at_the_top_and_in_an_action(option: str, line_text: str, expected: str) -> None:
    (line, key, message), = problems_of(f'{line_text}\n[[action]]\nkind = "identify-user"\n')
    assert (line, key) == (1, option) and expected in message
    (line, key, message), = problems_of(f'[[action]]\nkind = "identify-user"\n{line_text}\n')
    assert (line, key) == (3, option) and expected in message


def test_assert_record_needs_object_matching_attribute_and_on() -> None:
    found = problems_of('[[action]]\nkind = "assert-record"\n[action.attributes]\nname = "$.n"\n')
    assert sorted((key, line) for line, key, _ in found) == [("matching_attribute", 1), ("object", 1), ("on", 1)]
    messages = " | ".join(m for _, _, m in found)
    assert 'object = "people"' in messages and "event types" in messages


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of('nulls = 3\n[[action]]\nkind = "identify-user"\nemail = 5\n[[action]]\nkind = "x"\n')
    assert [(line, key) for line, key, _ in found] == [(1, "nulls"), (4, "email"), (6, "kind")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "has no [[action]]"),
        ('[action]\nkind = "identify-user"\n', "array of tables"),
        ('[[action]]\nkind = "identify-user"\non = []\n', "event type or a list"),
        ('[[action]]\nkind = "identify-user"\nemail = { path = "$.e" }\n', "{ literal = ... }"),
        ('[[action]]\nkind = "identify-user"\nuser_id = false\n', "user_id = false turns the user link off"),
        ('[[action]]\nkind = "assert-record"\non = "x"\nobject = ""\nmatching_attribute = "m"\n', "slug or id"),
        ('[[action]]\nkind = "assert-record"\non = "x"\nobject = "o"\nmatching_attribute = "m"\n'
         'person_attributes = {}\n',
         "did you mean 'attributes'?"),
    ],
)
def test_other_impossible_mappings_are_refused(text: str, expected: str) -> None:
    assert any(expected in message for _, _, message in problems_of(text))


def test_a_mapping_error_prints_file_line_key_and_message() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping('[[action]]\nkind = "identify-user"\nmultiselect = "merge"\n', "conf/m.toml")
    assert str(caught.value) == 'conf/m.toml:3: multiselect: multiselect must be "append" or "replace", not \'merge\''


def test_the_writer_refuses_what_toml_cannot_hold() -> None:
    mapping = EventMapping(actions=(IdentifyUser(on=("identify",), user_attributes={"x": Source(literal=object())}),))
    with pytest.raises(TypeError, match="cannot write"):
        dump_mapping(mapping)
