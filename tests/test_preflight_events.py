"""`check_events`: a mapping tried on sample events, per action and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schema_factory import build_schema

from toolkit.mapping import default_mapping, load_mapping, parse_mapping
from toolkit.preflight import MAPPING, MAX_FAILING_LINES, FieldTally, Unreadable, check_events, sample_events
from toolkit.sandbox import load_seed_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCHEMA = build_schema()


def numbered(*events: Any) -> list[tuple[int, Any]]:
    return list(enumerate(events, start=1))


def tally(report: Any, action: int, field: str) -> FieldTally:
    found = [t for t in report.fields if t.action.startswith(f"action {action} ") and t.field == field]
    assert len(found) == 1, [(t.action, t.field) for t in report.fields]
    return found[0]


def test_presence_and_validity_are_counted_per_field_with_the_first_failing_lines() -> None:
    events = numbered(
        {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}},
        {"type": "identify", "userId": "u2", "email": "b@example.com"},
        {"type": "identify", "userId": "u3", "traits": {"email": "nope"}},
        {"type": "identify", "traits": {"email": "c@example.com"}},
        {"type": "group", "groupId": "w1", "traits": {"website": "example.com"}},
    )
    report = check_events(default_mapping(), SCHEMA, events)
    email = tally(report, 1, "email")
    assert (email.taken, email.present, email.valid, email.failed) == (4, 4, 3, 1)
    assert email.attribute == "people.email_addresses" and email.required
    assert [line for line, _ in email.failing] == [3] and "@" in email.failing[0][1]
    user_id = tally(report, 1, "user_id")
    assert (user_id.taken, user_id.present, user_id.valid, user_id.failing) == (4, 3, 3, [(4, "no value at $.userId")])
    group_user = tally(report, 2, "user_id")  # optional: absence is no failure
    assert (group_user.taken, group_user.present, group_user.failed) == (1, 0, 0)
    findings = report.findings()
    assert [(f.level, f.action, f.field) for f in findings] == [
        ("warning", "action 1 (identify-user)", "email"), ("warning", "action 1 (identify-user)", "user_id")]
    assert "1 of 4 events would be invalid (line 3:" in findings[0].message


def test_a_required_path_no_event_has_is_an_error() -> None:
    mapping = parse_mapping('[[action]]\nkind = "identify-user"\nemail = "$.traits.mail"\n')
    events = numbered(*({"type": "identify", "userId": f"u{n}", "traits": {"email": "a@b.com"}} for n in range(3)))
    finding, = check_events(mapping, SCHEMA, events).findings()
    assert (finding.level, finding.field) == ("error", "email")
    assert "none of the 3 events" in finding.message and "$.traits.mail" in finding.message


def test_an_assert_record_matching_value_is_required_and_other_attributes_are_not() -> None:
    mapping = parse_mapping('[[action]]\nkind = "assert-record"\non = "track"\nobject = "people"\n'
                            'matching_attribute = "email_addresses"\n[action.attributes]\n'
                            'email_addresses = "$.properties.email"\ntier = "$.properties.tier"\n')
    events = numbered({"type": "track", "properties": {"email": "a@b.com", "tier": "Gld"}},
                      {"type": "track", "properties": {}})
    report = check_events(mapping, SCHEMA, events)
    email, tier = tally(report, 1, "attributes.email_addresses"), tally(report, 1, "attributes.tier")
    assert email.required and not tier.required
    assert (email.present, email.valid, email.failing) == (1, 1, [(2, "no value at $.properties.email")])
    assert (tier.present, tier.valid, tier.failed) == (1, 0, 1)
    assert "Gold" in tier.failing[0][1]  # the option hint travels with the reason


def test_values_are_read_with_the_actions_options() -> None:
    text = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\nwork_phone = "$.traits.phone"\n'
    events = numbered({"type": "identify", "userId": "u", "traits": {"email": "a@b.com", "phone": "020 7946 0958"}})
    assert tally(check_events(parse_mapping(text), SCHEMA, events), 1, "person_attributes.work_phone").valid == 0
    with_region = text.replace('kind = "identify-user"', 'kind = "identify-user"\nphone_region = "GB"')
    assert tally(check_events(parse_mapping(with_region), SCHEMA, events), 1, "person_attributes.work_phone").valid == 1


def test_a_null_is_a_failure_only_where_a_value_is_required() -> None:
    text = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\ntwitter = "$.traits.twitter"\n'
    events = numbered({"type": "identify", "userId": None, "traits": {"email": "a@b.com", "twitter": None}})
    report = check_events(parse_mapping(text), SCHEMA, events)
    assert tally(report, 1, "user_id").failing == [(1, "null at $.userId")]
    twitter = tally(report, 1, "person_attributes.twitter")
    assert (twitter.present, twitter.valid, twitter.failed) == (1, 1, 0)  # skipped under nulls = "skip"


def test_lines_that_are_not_event_objects_are_counted_apart() -> None:
    events = [(1, {"type": "identify", "userId": "u", "email": "a@b.com"}), (2, Unreadable("not JSON (x)")),
              (3, [1, 2]), (4, "text")]
    report = check_events(default_mapping(), SCHEMA, events)
    assert (report.lines, report.not_objects) == (4, 3)
    assert report.not_object_lines == [(2, "not JSON (x)"), (3, "a JSON list"), (4, "a JSON str")]
    finding, = report.findings()
    assert (finding.level, finding.action, finding.field) == ("warning", MAPPING, "events")
    assert "3 of 4 lines are not JSON objects" in finding.message
    assert tally(report, 1, "email").valid == 1


def test_events_no_action_takes_are_counted_by_type() -> None:
    events = numbered({"type": "track", "event": "x"}, {"type": "track"}, {"event": "no type"})
    report = check_events(default_mapping(), SCHEMA, events)
    assert report.untaken == {"track": 2, "(no type)": 1}
    finding, = report.findings()
    assert "no action takes any event" in finding.message and "track (2)" in finding.message


def test_only_the_first_failing_lines_are_kept_but_all_are_counted() -> None:
    events = numbered(*({"type": "identify", "userId": "u", "email": f"bad{n}"} for n in range(12)))
    email = tally(check_events(default_mapping(), SCHEMA, events), 1, "email")
    assert email.failed == 12 and [line for line, _ in email.failing] == list(range(1, MAX_FAILING_LINES + 1))


def test_without_a_schema_only_presence_is_counted() -> None:
    events = numbered({"type": "identify", "userId": "u", "email": "not an email"})
    report = check_events(default_mapping(), None, events)
    email = tally(report, 1, "email")
    assert (email.present, email.valid, email.attribute) == (1, None, None)
    assert report.findings() == []


def test_literals_and_a_turned_off_user_link_are_not_tallied() -> None:
    mapping = parse_mapping('[[action]]\nkind = "group-workspace"\nuser_id = false\n'
                            '[action.company_attributes]\ncategories = { literal = "SaaS" }\n')
    report = check_events(mapping, SCHEMA, numbered({"type": "group", "groupId": "w", "website": "a.com"}))
    assert [t.field for t in report.fields] == ["domain", "workspace_id"]


def test_read_events_numbers_lines_skips_blanks_and_marks_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "identify"}\n\n  \n{oops\n[1]\n', encoding="utf-8")
    events = list(sample_events(path))
    assert [line for line, _ in events] == [1, 4, 5]
    assert events[0][1] == {"type": "identify"} and isinstance(events[1][1], Unreadable)
    assert events[2][1] == Unreadable("not a JSON object (got list)")


def test_read_events_takes_a_json_array_as_the_sync_does(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('[\n  {"type": "identify"},\n  {"type": "group"}\n]\n', encoding="utf-8")
    assert [(line, event["type"]) for line, event in sample_events(path)] == [(2, "identify"), (3, "group")]


def test_the_example_events_against_the_example_mapping() -> None:
    schema = load_seed_file(EXAMPLES / "sandbox-seed.toml")
    report = check_events(load_mapping(EXAMPLES / "mapping.toml"), schema,
                          sample_events(EXAMPLES / "events-sample.jsonl"))
    assert (report.lines, report.not_objects, report.untaken) == (7, 1, {"track": 1})
    email = tally(report, 1, "email")
    assert (email.taken, email.valid, [n for n, _ in email.failing]) == (3, 2, [6])
    assert tally(report, 1, "person_attributes.phone_numbers").valid == 1  # read with phone_region = "US"
    assert tally(report, 2, "domain").valid == 2  # a website URL is taken as its domain
    assert tally(report, 1, "user_attributes.workspace").present == 1
    json.dumps(report.as_dict())  # plain JSON
    assert {(f.level, f.field) for f in report.findings()} == {("warning", "events"), ("warning", "email")}
