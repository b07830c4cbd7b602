"""Action kinds: what each declares, and that a new kind is one class.

The parser, the writer, the planner and the pre-flight check all work from a kind's declared
fields and `targets()`. The tests below add a kind that exists nowhere in the package (the way a
contributor would add one to `toolkit/actions.py`) and show every part of the tool taking it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import pytest
from schema_factory import build_schema

from toolkit.actions import (
    ACTION_TYPES,
    Action,
    AssertRecord,
    Fill,
    GroupWorkspace,
    IdentifyUser,
    Target,
    attribute_map,
    source,
)
from toolkit.errors import MappingError
from toolkit.mapping import dump_mapping, parse_mapping
from toolkit.plan import Lookup, plan_event
from toolkit.preflight import check_events, check_mapping
from toolkit.sources import Source

SCHEMA = build_schema()


@dataclass(frozen=True)
class SignupUser(Action):
    """`track` "Signed Up" → a User matched on user id, joined to the workspace in the event."""

    kind: ClassVar[str] = "signup-user"
    default_on: ClassVar[tuple[str, ...]] = ("track",)
    user_id: Source = source("$.userId")
    workspace_id: Source = source("$.context.groupId", may_be_off="the workspace link")
    user_attributes: dict[str, Source] = attribute_map()

    def targets(self) -> tuple[Target, ...]:
        fills = (Fill("workspace", "workspace_id", links_to="workspaces"),) if self.workspace_id.is_set else ()
        return (Target("users", "user", "user_id", "user_id", "user_attributes", self.user_attributes, fills=fills),)


@pytest.fixture
def signup_kind(monkeypatch: pytest.MonkeyPatch) -> type[SignupUser]:
    monkeypatch.setitem(ACTION_TYPES, SignupUser.kind, SignupUser)
    return SignupUser


MAPPING = '''
[[action]]
kind = "signup-user"
[action.user_attributes]
primary_email_address = "$.properties.email"
'''


def signup(**extra: object) -> dict[str, object]:
    return {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1",
            "properties": {"email": "ada@example.com"}, "context": {"groupId": "w-9"}, **extra}


def test_a_new_kind_is_parsed_from_its_declaration(signup_kind: type[SignupUser]) -> None:
    mapping = parse_mapping(MAPPING)
    action = mapping.actions[0]
    assert isinstance(action, SignupUser)
    assert action.on == ("track",)  # its default_on
    assert action.workspace_id == Source.of("$.context.groupId")  # its declared default path
    assert set(action.user_attributes) == {"primary_email_address"}

    off = parse_mapping(MAPPING.replace('kind = "signup-user"', 'kind = "signup-user"\nworkspace_id = false'))
    assert off.actions[0].workspace_id == Source()

    with pytest.raises(MappingError) as caught:
        parse_mapping(MAPPING.replace('kind = "signup-user"', 'kind = "signup-user"\nworkspace = "$.x"'))
    (problem,) = caught.value.problems
    assert problem.key == "workspace" and problem.line == 4  # the line it is on
    assert "did you mean 'workspace_id'?" in problem.message
    assert "user_attributes, user_id, workspace_id" in problem.message  # the keys it takes, from the class


def test_a_new_kind_is_written_back_to_the_same_mapping(signup_kind: type[SignupUser]) -> None:
    mapping = parse_mapping(MAPPING.replace('kind = "signup-user"', 'kind = "signup-user"\nworkspace_id = false'))
    text = dump_mapping(mapping)
    assert 'user_id = "$.userId"' in text and "workspace_id = false" in text
    assert parse_mapping(text) == mapping


def test_a_new_kind_plans_its_writes_and_links(signup_kind: type[SignupUser]) -> None:
    plan = plan_event(signup(), parse_mapping(MAPPING), SCHEMA)
    assert plan.ok, plan.problems
    (write,) = plan.writes
    assert (write.object, write.matching_attribute) == ("users", "user_id")
    assert write.values["user_id"] == [{"value": "u-1"}]
    assert write.values["primary_email_address"] == [{"email_address": "ada@example.com"}]
    # A link to a record the action does not assert is found by its shorthand attribute,
    # and (users.workspace being multiselect) appended rather than replaced.
    assert write.appends["workspace"] == [Lookup("workspaces", "workspace_id", ({"value": "w-9"},))]


def test_a_new_kind_reports_each_problem_by_its_field(signup_kind: type[SignupUser]) -> None:
    plan = plan_event(signup(userId=None, properties={"email": "not an email"}), parse_mapping(MAPPING), SCHEMA)
    assert not plan.writes
    fields = [p["field"] for p in plan.problems]
    assert fields == ["user_id", "users.primary_email_address"]
    assert "no user_id: $.userId is not in the event" in plan.problems[0]["reason"]

    no_link = plan_event(signup(context={}), parse_mapping(MAPPING), SCHEMA)
    assert no_link.ok and "workspace" not in no_link.writes[0].appends  # an optional link left out


def test_a_new_kind_is_checked_before_the_run(signup_kind: type[SignupUser]) -> None:
    assert check_mapping(parse_mapping(MAPPING), SCHEMA) == []

    typo = parse_mapping(MAPPING.replace("primary_email_address", "primary_emial_address"))
    findings = {f.field: f for f in check_mapping(typo, SCHEMA)}
    assert set(findings) == {"user_attributes.primary_emial_address", "user_attributes"}
    assert "did you mean 'primary_email_address'?" in (findings["user_attributes.primary_emial_address"].hint or "")
    assert "users requires 'primary_email_address'" in findings["user_attributes"].message  # a user needs one

    without_workspaces = replace(SCHEMA, objects=tuple(o for o in SCHEMA.objects if o.api_slug != "workspaces"))
    errors = [f for f in check_mapping(parse_mapping(MAPPING), without_workspaces) if f.level == "error"]
    assert [(f.field, f.message) for f in errors][:1] == [
        ("workspace_id", "the action links each user to the event's workspace, but the workspaces object is "
                         "not activated")]
    assert "write workspace_id = false to leave the workspace link out" in (errors[0].hint or "")


def test_a_new_kind_is_tallied_on_sample_events(signup_kind: type[SignupUser]) -> None:
    no_user = {k: v for k, v in signup().items() if k != "userId"}
    events = [(1, signup()), (2, no_user), (3, signup(context={"groupId": {"id": 7}}))]
    report = check_events(parse_mapping(MAPPING), SCHEMA, events)
    tallies = {t.field: t for t in report.fields}
    assert list(tallies) == ["user_id", "workspace_id", "user_attributes.primary_email_address"]
    assert (tallies["user_id"].taken, tallies["user_id"].present, tallies["user_id"].failed) == (3, 2, 1)
    assert tallies["workspace_id"].attribute == "workspaces.workspace_id"
    assert tallies["workspace_id"].failed == 1  # an object is no workspace id


# -- the built-in kinds' declarations ------------------------------------------------------------


def test_the_built_in_kinds_declare_the_keys_their_files_take() -> None:
    assert ACTION_TYPES == {"identify-user": IdentifyUser, "group-workspace": GroupWorkspace,
                            "assert-record": AssertRecord}
    assert IdentifyUser.keys() == ("email", "user_id", "person_attributes", "user_attributes")
    assert GroupWorkspace.keys() == ("domain", "workspace_id", "user_id", "company_attributes",
                                     "workspace_attributes")
    assert AssertRecord.keys() == ("object", "matching_attribute", "attributes")
    assert GroupWorkspace.may_be_off("user_id") == "the user link"
    assert IdentifyUser.may_be_off("user_id") is None


def test_the_built_in_kinds_say_what_they_write() -> None:
    person, user = IdentifyUser(on=("identify",)).targets()
    assert person.builtin == {"email_addresses": "email"}
    assert user.builtin == {"user_id": "user_id", "primary_email_address": "email", "person": "email"}
    assert user.links == {"person": "people"}

    company, workspace = GroupWorkspace(on=("group",)).targets()
    assert company.builtin == {"domains": "domain"}
    assert workspace.links == {"company": "companies", "users": "users"}
    _, no_user = GroupWorkspace(on=("group",), user_id=Source()).targets()
    assert no_user.links == {"company": "companies"}

    (record,) = AssertRecord(on=("track",), object="deals", matching_attribute="name").targets()
    assert (record.object, record.matching, record.matching_field, record.named_by) == (
        "deals", "name", None, ("object", "matching_attribute"))
