"""`check_mapping`: every finding of issue 5, each produced from a small schema and mapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from schema_factory import OBJECT_IDS, build_schema

from toolkit.mapping import default_mapping, load_mapping, parse_mapping
from toolkit.preflight import MAPPING, Finding, check_mapping, sort_findings
from toolkit.sandbox import SandboxConfig, load_seed_file, standard_schema
from toolkit.schema import AttributeInfo, WorkspaceSchema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SCHEMA = build_schema()


# -- small schemas -------------------------------------------------------------------------------


def changed(schema: WorkspaceSchema, target: str, **fields: Any) -> WorkspaceSchema:
    """The schema with one attribute (``object.slug``) changed."""
    obj, slug = target.split(".")
    hit = [a for a in schema.attributes if (a.object_slug, a.api_slug) == (obj, slug)]
    assert hit, target
    return replace(schema, attributes=tuple(
        replace(a, **fields) if (a.object_slug, a.api_slug) == (obj, slug) else a for a in schema.attributes))


def allowing(schema: WorkspaceSchema, target: str, *objects: str) -> WorkspaceSchema:
    """The schema with a record reference's allowed objects replaced."""
    ids = [OBJECT_IDS[o] for o in objects]
    return changed(schema, target, config={"record_reference": {"allowed_object_ids": ids}})


def with_attribute(schema: WorkspaceSchema, target: str, type_: str = "text", **fields: Any) -> WorkspaceSchema:
    obj, slug = target.split(".")
    attribute = AttributeInfo(attribute_id=f"extra-{obj}-{slug}", object_id=OBJECT_IDS[obj], object_slug=obj,
                              api_slug=slug, title=slug.capitalize(), type=type_, **fields)
    return replace(schema, attributes=(*schema.attributes, attribute))


def deactivated(schema: WorkspaceSchema, *slugs: str, hide_links: bool = True) -> WorkspaceSchema:
    """The schema without these objects; like Attio, it hides relationships that point at them."""
    ids = {OBJECT_IDS[s] for s in slugs}

    def keep(a: AttributeInfo) -> bool:
        if a.object_slug in slugs:
            return False
        return not (hide_links and set(a.allowed_object_ids) & ids)

    return replace(schema, objects=tuple(o for o in schema.objects if o.api_slug not in slugs),
                   attributes=tuple(a for a in schema.attributes if keep(a)))


def check(text: str, schema: WorkspaceSchema = SCHEMA) -> list[Finding]:
    return check_mapping(parse_mapping(text, "m.toml"), schema, now=NOW)


def identify(person: str = "", user: str = "", extra: str = "") -> str:
    return (f'[[action]]\nkind = "identify-user"\n{extra}\n[action.person_attributes]\n{person}\n'
            f"[action.user_attributes]\n{user}\n")


def record(obj: str, matching: str, attributes: str, extra: str = "") -> str:
    return (f'[[action]]\nkind = "assert-record"\non = "identify"\nobject = "{obj}"\n'
            f'matching_attribute = "{matching}"\n{extra}\n[action.attributes]\n{attributes}\n')


def only(findings: list[Finding], level: str = "error") -> Finding:
    assert len(findings) == 1, "\n".join(map(str, findings))
    assert findings[0].level == level, findings[0]
    return findings[0]


def flat(text: str | None) -> str:
    return " ".join((text or "").split())


# -- clean mappings ------------------------------------------------------------------------------


def test_the_default_mapping_against_a_full_schema_has_no_finding() -> None:
    assert check_mapping(default_mapping(), SCHEMA, now=NOW) == []


def test_the_example_mapping_checks_clean_against_the_example_workspace() -> None:
    schema = load_seed_file(EXAMPLES / "sandbox-seed.toml")
    assert check_mapping(load_mapping(EXAMPLES / "mapping.toml"), schema, now=NOW) == []
    # Against a workspace without the custom attributes, check names them.
    bare = standard_schema(SandboxConfig(activate=frozenset({"users", "workspaces"})))
    fields = {f.field for f in check_mapping(load_mapping(EXAMPLES / "mapping.toml"), bare, now=NOW)}
    assert fields == {"person_attributes.plan", "person_attributes.signed_up_on"}


def test_a_clean_mapping_using_attributes_of_every_kind_has_no_finding() -> None:
    text = identify(person='twitter = "$.traits.twitter"\ntier = { literal = "Gold" }\n'
                           'company = "$.traits.website"\nphone_numbers = "$.traits.phone"',
                    user='workspace = "$.groupId"\nplan = "$.traits.plan"', extra='phone_region = "GB"')
    text += record("projects", "project_code", 'project_code = "$.properties.code"\nname = "$.properties.name"')
    assert check(text) == []


# -- the schema cache ----------------------------------------------------------------------------


def test_no_cached_schema_is_one_error_that_says_to_pull() -> None:
    finding = only(check_mapping(default_mapping(), None))
    assert (finding.action, finding.field) == (MAPPING, "schema")
    assert "schema pull" in (finding.hint or "")


@pytest.mark.parametrize(("age", "warned"), [(timedelta(hours=2), False), (timedelta(hours=23, minutes=59), False),
                                             (timedelta(hours=25), True), (timedelta(days=9), True)])
def test_a_schema_older_than_a_day_is_a_warning(age: timedelta, warned: bool) -> None:
    findings = check_mapping(default_mapping(), SCHEMA, pulled_at=NOW - age, now=NOW)
    if not warned:
        assert findings == []
        return
    finding = only(findings, "warning")
    assert (finding.action, finding.field) == (MAPPING, "schema")
    assert "--pull" in (finding.hint or "") and "old" in finding.message


def test_a_naive_pull_time_is_read_as_utc() -> None:
    naive = (NOW - timedelta(hours=30)).replace(tzinfo=None)
    assert only(check_mapping(default_mapping(), SCHEMA, pulled_at=naive, now=NOW), "warning")
    assert check_mapping(default_mapping(), SCHEMA, pulled_at=NOW.replace(tzinfo=None), now=NOW) == []


# -- objects -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "kind", "noun"), [("users", "identify-user", "Users"),
                                                     ("workspaces", "group-workspace", "Workspaces")])
def test_an_object_the_default_action_needs_is_not_activated(slug: str, kind: str, noun: str) -> None:
    findings = check(f'[[action]]\nkind = "{kind}"\n' + ('user_id = false\n' if kind == "group-workspace" else ""),
                     deactivated(SCHEMA, slug))
    finding = only(findings)
    assert f"the {slug} object is not activated" in finding.message
    assert f"Activate {noun} in Attio under Workspace settings > Objects" in (finding.hint or "")


def test_group_workspace_links_users_so_it_needs_users_unless_told_not_to() -> None:
    schema = deactivated(SCHEMA, "users")
    finding = only(check('[[action]]\nkind = "group-workspace"\n', schema))
    assert finding.field == "user_id" and "user_id = false" in (finding.hint or "")
    assert check('[[action]]\nkind = "group-workspace"\nuser_id = false\n', schema) == []


def test_the_user_workspace_link_needs_workspaces_activated() -> None:
    finding = only(check(identify(user='workspace = "$.groupId"'), deactivated(SCHEMA, "workspaces")))
    assert finding.field == "user_attributes.workspace"
    assert "Activate Workspaces" in (finding.hint or "")


@pytest.mark.parametrize(
    ("obj", "message", "hint"),
    [
        ("person", "no object has the slug 'person'", "did you mean 'people'?"),
        ("peopel", "no object 'peopel'", "did you mean 'people'?"),
        ("invoices", "no object 'invoices'", "create or activate it in Attio under Workspace settings > Objects"),
    ],
)
def test_an_assert_record_object_that_does_not_exist(obj: str, message: str, hint: str) -> None:
    finding = only(check(record(obj, "email_addresses", 'email_addresses = "$.userId"')))
    assert finding.field == "object" and message in finding.message and hint in (finding.hint or "")


def test_an_assert_record_object_that_is_not_activated_says_where_to_activate_it() -> None:
    finding = only(check(record("deals", "deal_number", 'deal_number = "$.n"'), deactivated(SCHEMA, "deals")))
    assert "not activated" in finding.message
    assert "Activate Deals in Attio under Workspace settings > Objects" in (finding.hint or "")


# -- attributes ----------------------------------------------------------------------------------


def test_an_unknown_attribute_gets_the_closest_slugs() -> None:
    finding = only(check(identify(person='twiter = "$.traits.twitter"')))
    assert finding.field == "person_attributes.twiter"
    assert finding.message == "people has no attribute 'twiter'"
    assert flat(finding.hint).startswith("did you mean 'twitter'")


def test_an_unknown_attribute_with_nothing_close_says_how_to_create_it() -> None:
    finding = only(check(identify(user='favourite_colour = "$.traits.colour"')))
    assert "create it in Attio" in (finding.hint or "") and "schema pull" in (finding.hint or "")


def test_an_archived_attribute_is_an_error() -> None:
    finding = only(check(identify(person='old_notes = "$.traits.notes"')))
    assert (finding.field, finding.message) == ("person_attributes.old_notes", "people.old_notes is archived")


@pytest.mark.parametrize("slug", ["avatar_url", "last_interaction", "record_id"])
def test_an_attribute_that_is_not_writable_is_an_error(slug: str) -> None:
    finding = only(check(identify(person=f'{slug} = "$.traits.x"')))
    assert "is not writable" in finding.message


def test_an_attribute_can_be_named_by_its_id() -> None:
    twitter = SCHEMA.attribute("people", "twitter").attribute_id
    assert check(identify(person=f'"{twitter}" = "$.traits.twitter"')) == []


def test_mapping_an_attribute_the_action_writes_itself_is_a_warning() -> None:
    finding = only(check(identify(user='user_id = "$.traits.id"')), "warning")
    assert finding.field == "user_attributes.user_id" and "replaces" in finding.message


# -- matching attributes -------------------------------------------------------------------------


def test_a_matching_attribute_that_is_not_unique_is_an_error() -> None:
    finding = only(check(record("projects", "nickname", 'nickname = "$.n"')))
    assert finding.field == "matching_attribute" and "projects.nickname is not unique" in finding.message
    assert "project_code or budget_code" in (finding.hint or "")


def test_the_default_actions_need_their_matching_attributes_unique() -> None:
    schema = changed(SCHEMA, "people.email_addresses", is_unique=False)
    finding = only(check_mapping(default_mapping(), schema, now=NOW))
    assert (finding.action, finding.field) == ("action 1 (identify-user)", "email")
    assert "people.email_addresses is not unique" in finding.message


def test_a_matching_attribute_that_does_not_exist_gets_the_closest_slugs() -> None:
    finding = only(check(record("people", "email", 'email_addresses = "$.userId"')))
    assert finding.field == "matching_attribute" and "did you mean 'email_addresses'" in (finding.hint or "")


def test_a_matching_attribute_the_attributes_do_not_fill_is_an_error() -> None:
    finding = only(check(record("people", "email_addresses", 'twitter = "$.traits.twitter"')))
    assert finding.field == "matching_attribute" and "nothing to match" in finding.message
    assert 'add email_addresses = "$.traits..." to [action.attributes]' == finding.hint


# -- record references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "allowed", "action", "field"),
    [
        ("users.person", ["companies"], identify(), "email"),
        ("workspaces.company", ["people"], '[[action]]\nkind = "group-workspace"\n', "domain"),
        ("workspaces.users", ["people"], '[[action]]\nkind = "group-workspace"\n', "user_id"),
        ("users.workspace", ["companies"], identify(user='workspace = "$.groupId"'), "user_attributes.workspace"),
    ],
)
def test_a_reference_that_cannot_point_where_the_action_links_is_an_error(
        target: str, allowed: list[str], action: str, field: str) -> None:
    findings = [f for f in check(action, allowing(SCHEMA, target, *allowed)) if f.level == "error"]
    finding = only(findings)
    assert finding.field == field and f"it may only point at {', '.join(allowed)}" in finding.message
    assert f"let {target} reference" in (finding.hint or "")


def test_without_a_user_link_workspaces_users_is_not_needed() -> None:
    schema = allowing(SCHEMA, "workspaces.users", "people")
    assert check('[[action]]\nkind = "group-workspace"\nuser_id = false\n', schema) == []


@pytest.mark.parametrize(
    ("slug", "level", "words"),
    [
        ("partner", "warning", "may point at companies, people"),
        ("anything", "warning", "or any object"),
        ("project", "warning", "must be a record id"),
        ("gone_object", "error", "objects that are not activated"),
    ],
)
def test_a_reference_read_from_the_event_needs_the_string_shorthand(slug: str, level: str, words: str) -> None:
    finding = only(check(identify(person=f'{slug} = "$.traits.ref"')), level)
    assert finding.field == f"person_attributes.{slug}" and words in finding.message


def test_a_shorthand_needs_the_target_key_unique() -> None:
    schema = changed(SCHEMA, "workspaces.workspace_id", is_unique=False)
    findings = check(identify(user='workspace = "$.groupId"'), schema)
    assert [f.field for f in findings] == ["user_attributes.workspace"]
    assert "workspaces.workspace_id" in findings[0].message


# -- required attributes -------------------------------------------------------------------------


def test_a_required_attribute_of_a_custom_object_left_unfilled_is_an_error() -> None:
    schema = changed(SCHEMA, "projects.name", is_required=True)
    finding = only(check(record("projects", "project_code", 'project_code = "$.code"'), schema))
    assert finding.field == "attributes" and "projects requires 'name'" in finding.message
    assert finding.hint == 'add name = "$.traits..." to [action.attributes]'
    assert check(record("projects", "project_code", 'project_code = "$.code"\nname = "$.n"'), schema) == []


def test_users_need_only_what_the_action_fills_unless_the_workspace_requires_more() -> None:
    assert check(identify()) == []  # user_id and primary_email_address come from the action
    schema = changed(SCHEMA, "users.plan", is_required=True)
    finding = only(check(identify(), schema))
    assert finding.field == "user_attributes" and "users requires 'plan'" in finding.message
    assert check(identify(user='plan = { literal = "Free" }'), schema) == []


def test_a_required_attribute_with_a_default_value_is_filled_by_attio() -> None:
    schema = changed(SCHEMA, "projects.name", is_required=True, is_default_value_enabled=True)
    assert check(record("projects", "project_code", 'project_code = "$.code"'), schema) == []


def test_deals_need_name_stage_and_owner() -> None:
    findings = check(record("deals", "deal_number", 'deal_number = "$.n"\nname = "$.name"'))
    assert sorted(f.message.split("'")[1] for f in findings) == ["owner", "stage"]


# -- literal values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "words", "hint"),
    [
        ('tier = { literal = "Gld" }', "no option", "did you mean 'Gold'"),
        ('tier = { literal = "Platinum" }', "archived", None),
        ('score = { literal = "lots" }', "people.score", None),
        ('is_vip = { literal = "maybe" }', "people.is_vip", None),
        ('birthday = { literal = "03/04/2026" }', "people.birthday", None),  # 3 April or 4 March
        ('account_manager = { literal = "nobody@attio.com" }', "people.account_manager", None),
    ],
)
def test_a_literal_that_fails_its_attribute_type_is_an_error(person: str, words: str, hint: str | None) -> None:
    finding = only(check(identify(person=person)))
    assert words in finding.message
    if hint:
        assert hint in (finding.hint or "")


def test_a_status_literal_that_is_not_a_status_gets_the_closest_title() -> None:
    text = record("deals", "deal_number", 'deal_number = "$.n"\nname = "$.name"\nstage = { literal = "Won" }\n'
                  'owner = { literal = "alice@attio.com" }')
    finding = only(check(text))
    assert finding.field == "attributes.stage" and "Won 🎉" in (finding.hint or "")


def test_a_literal_phone_number_is_read_with_the_actions_phone_region() -> None:
    text = identify(person='work_phone = { literal = "020 7946 0958" }')
    assert only(check(text)).field == "person_attributes.work_phone"
    assert check(text.replace('kind = "identify-user"', 'kind = "identify-user"\nphone_region = "GB"')) == []


def test_a_literal_for_a_built_in_field_is_checked_too() -> None:
    finding = only(check('[[action]]\nkind = "identify-user"\nemail = { literal = "not an email" }\n'))
    assert finding.field == "email" and "people.email_addresses" in finding.message


def test_a_literal_for_a_suspended_member_is_an_error() -> None:
    """Issue 15: a suspended member is refused by the sandbox and so by the toolkit (the safer reading)."""
    finding = only(check(identify(person='account_manager = { literal = "carol@attio.com" }')))
    assert "suspended" in finding.message and "reactivate" in (finding.hint or "")


# -- options and event types ---------------------------------------------------------------------


def test_a_phone_region_no_phone_number_uses_is_an_error() -> None:
    finding = only(check(identify(extra='phone_region = "XX"')))
    assert finding.field == "phone_region"


def test_an_event_type_that_looks_like_a_typo_is_a_warning() -> None:
    finding = only(check(record("people", "email_addresses", 'email_addresses = "$.userId"')
                         .replace('on = "identify"', 'on = ["identfy", "Order Completed"]')), "warning")
    assert finding.field == "on" and finding.hint == "did you mean 'identify'?"


def test_replacing_multiselect_values_on_a_link_that_gathers_records_is_a_warning() -> None:
    finding = only(check('[[action]]\nkind = "group-workspace"\nmultiselect = "replace"\n'), "warning")
    assert finding.field == "multiselect" and "removing the workspace's other users" in finding.message
    assert check('[[action]]\nkind = "group-workspace"\nmultiselect = "replace"\nuser_id = false\n') == []
    finding = only(check(identify(user='workspace = "$.groupId"', extra='multiselect = "replace"')), "warning")
    assert "removing the user's other workspaces" in finding.message
    assert check(identify(user='workspace = "$.groupId"')) == []


# -- the findings themselves ---------------------------------------------------------------------


def test_findings_are_grouped_by_action_with_errors_first() -> None:
    text = identify(person='twiter = "$.x"', user='user_id = "$.y"') + record("peopel", "email_addresses", "")
    findings = check_mapping(parse_mapping(text), SCHEMA, pulled_at=NOW - timedelta(days=3), now=NOW)
    assert [(f.action, f.level) for f in findings] == [
        (MAPPING, "warning"),
        ("action 1 (identify-user)", "error"),
        ("action 1 (identify-user)", "warning"),
        ("action 2 (assert-record)", "error"),
    ]
    assert sort_findings(reversed(findings)) == findings


def test_a_finding_as_json_has_the_five_documented_keys() -> None:
    finding = Finding("error", "action 1 (identify-user)", "email", "m", "h")
    assert finding.as_dict() == {"level": "error", "action": "action 1 (identify-user)", "field": "email",
                                 "message": "m", "hint": "h"}
    assert str(finding) == "error: action 1 (identify-user): email: m (hint: h)"


# -- hints Attio allows (issue 15) ----------------------------------------------------------------


@pytest.mark.parametrize(("obj", "slug", "standard"), [("people", "job_title", "email_addresses"),
                                                        ("companies", "name", "domains")])
def test_people_and_companies_get_no_mark_it_unique_hint(obj: str, slug: str, standard: str) -> None:
    """Attio allows no unique custom attribute on people or companies: the hint says what works."""
    finding = only(check(record(obj, slug, f'{slug} = "$.x"')))
    assert f"{obj}.{slug} is not unique" in finding.message
    hint = finding.hint or ""
    assert "mark it unique" not in hint and f"no unique custom attribute on {obj}" in hint
    assert f"match on {standard}" in hint and "custom object" in hint


def test_other_objects_still_get_the_mark_it_unique_hint() -> None:
    finding = only(check(record("deals", "name", 'name = "$.n"\nstage = { literal = "Lead" }\n'
                                                 'owner = { literal = "alice@attio.com" }')))
    assert (finding.hint or "").startswith("mark it unique in Attio") and "deal_number" in (finding.hint or "")


def test_a_non_unique_standard_key_on_people_is_not_told_to_be_made_unique() -> None:
    schema = changed(SCHEMA, "people.email_addresses", is_unique=False)
    finding = only(check_mapping(default_mapping(), schema, now=NOW))
    assert "mark it unique" not in (finding.hint or "") and "schema pull" in (finding.hint or "")
    shorthand = changed(SCHEMA, "companies.domains", is_unique=False)
    findings = check('[[action]]\nkind = "group-workspace"\n', shorthand)
    assert findings and all("make companies.domains unique" not in (f.hint or "") for f in findings)
    assert any("no unique custom attribute on companies" in (f.hint or "") for f in findings)
