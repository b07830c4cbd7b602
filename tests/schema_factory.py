"""A small, realistic workspace schema built directly from the dataclasses, for value tests.

The standard objects carry the standard attributes of api-notes 3.3 (people, companies, users,
workspaces, deals), plus custom attributes of every type on people and a custom `projects`
object, so every type and every write rule has an attribute to aim at. Ids are fixed, so the
case table in `value_cases.py` can name them, and the same schema can be loaded into the
sandbox for the differential test.
"""

from __future__ import annotations

from typing import Any

from toolkit.schema import (
    AttributeInfo,
    MemberInfo,
    ObjectInfo,
    OptionInfo,
    StatusInfo,
    WorkspaceInfo,
    WorkspaceSchema,
)

WORKSPACE_ID = "00000000-0000-4000-8000-000000000000"


def uid(group: int, n: int) -> str:
    """A fixed UUID: group 1 objects, 2 attributes, 3 options, 4 statuses, 5 members, 9 records."""
    return f"{group:08x}-0000-4000-8000-{n:012x}"


OBJECT_IDS = {
    "people": uid(1, 1),
    "companies": uid(1, 2),
    "users": uid(1, 3),
    "workspaces": uid(1, 4),
    "deals": uid(1, 5),
    "projects": uid(1, 6),
}
#: An object id that no activated object has (a reference target that was deactivated).
INACTIVE_OBJECT_ID = uid(1, 99)

#: (object, slug, type, extra fields) for every attribute of the test schema.
_ATTRIBUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    # people: standard
    ("people", "record_id", "text", {"is_writable": False, "is_unique": True, "is_system_attribute": True}),
    ("people", "created_at", "timestamp", {"is_writable": False, "is_system_attribute": True}),
    ("people", "created_by", "actor-reference", {"is_writable": False, "is_system_attribute": True}),
    ("people", "email_addresses", "email-address",
     {"is_multiselect": True, "is_unique": True, "is_system_attribute": True}),
    ("people", "name", "personal-name", {"is_system_attribute": True}),
    ("people", "company", "record-reference", {"refs": ["companies"], "is_system_attribute": True}),
    ("people", "description", "text", {}),
    ("people", "job_title", "text", {}),
    ("people", "phone_numbers", "phone-number", {"is_multiselect": True, "is_system_attribute": True}),
    ("people", "primary_location", "location", {"is_system_attribute": True}),
    ("people", "twitter", "text", {}),
    ("people", "avatar_url", "text", {"is_writable": False, "is_system_attribute": True}),
    ("people", "twitter_follower_count", "number", {"is_writable": False, "is_system_attribute": True}),
    ("people", "last_interaction", "interaction", {"is_writable": False, "is_system_attribute": True}),
    ("people", "associated_users", "record-reference", {"refs": ["users"], "is_multiselect": True}),
    ("people", "associated_deals", "record-reference", {"refs": ["deals"], "is_multiselect": True}),
    # people: custom, one of every writable type
    ("people", "tier", "select", {}),
    ("people", "interests", "select", {"is_multiselect": True}),
    ("people", "birthday", "date", {}),
    ("people", "last_seen", "timestamp", {}),
    ("people", "score", "number", {}),
    ("people", "nps", "rating", {}),
    ("people", "is_vip", "checkbox", {}),
    ("people", "lifetime_value", "currency", {"currency": "USD"}),
    ("people", "account_manager", "actor-reference", {}),
    ("people", "watchers", "actor-reference", {"is_multiselect": True}),
    ("people", "work_phone", "phone-number", {}),
    ("people", "old_notes", "text", {"is_archived": True}),
    ("people", "best_friend", "record-reference", {"refs": ["people"]}),
    ("people", "anything", "record-reference", {"refs": []}),
    ("people", "project", "record-reference", {"refs": ["projects"]}),
    ("people", "partner", "record-reference", {"refs": ["companies", "people"]}),
    ("people", "gone_object", "record-reference", {"refs": ["inactive"]}),
    ("people", "mystery", "hologram", {}),
    # companies
    ("companies", "domains", "domain", {"is_multiselect": True, "is_unique": True, "is_system_attribute": True}),
    ("companies", "name", "text", {"is_system_attribute": True}),
    ("companies", "description", "text", {}),
    ("companies", "team", "record-reference", {"refs": ["people"], "is_multiselect": True}),
    ("companies", "categories", "select", {"is_multiselect": True}),
    ("companies", "primary_location", "location", {}),
    ("companies", "associated_workspaces", "record-reference", {"refs": ["workspaces"], "is_multiselect": True}),
    ("companies", "employee_count", "number", {}),
    ("companies", "logo_url", "text", {"is_writable": False}),
    # users
    ("users", "user_id", "text", {"is_unique": True, "is_required": True}),
    ("users", "primary_email_address", "email-address", {"is_unique": True, "is_required": True}),
    ("users", "person", "record-reference", {"refs": ["people"]}),
    ("users", "workspace", "record-reference", {"refs": ["workspaces"], "is_multiselect": True}),
    ("users", "plan", "select", {}),
    # workspaces
    ("workspaces", "workspace_id", "text", {"is_unique": True, "is_required": True}),
    ("workspaces", "name", "text", {}),
    ("workspaces", "users", "record-reference", {"refs": ["users"], "is_multiselect": True}),
    ("workspaces", "company", "record-reference", {"refs": ["companies"]}),
    # deals
    ("deals", "name", "text", {"is_required": True}),
    ("deals", "stage", "status", {"is_required": True}),
    ("deals", "owner", "actor-reference", {"is_required": True}),
    ("deals", "value", "currency", {"currency": "USD"}),
    ("deals", "associated_people", "record-reference", {"refs": ["people"], "is_multiselect": True}),
    ("deals", "associated_company", "record-reference", {"refs": ["companies"]}),
    ("deals", "deal_number", "number", {"is_unique": True}),
    # projects (custom)
    ("projects", "project_code", "text", {"is_unique": True}),
    ("projects", "name", "text", {}),
    ("projects", "budget_code", "number", {"is_unique": True}),
    ("projects", "nickname", "text", {}),
    ("projects", "status", "select", {}),
]

#: attribute (object.slug) -> [(title, archived)]
_OPTIONS = {
    "people.tier": [("Gold", False), ("Silver", False), ("Bronze", False), ("Platinum", True), ("open", False)],
    "people.interests": [("Sailing", False), ("Chess", False), ("Jazz", False), ("Rugby", True), ("42", False)],
    "companies.categories": [("SaaS", False), ("B2B", False), ("Fintech", False), ("Retail", True)],
    "users.plan": [("Free", False), ("Pro", False), ("Enterprise", False)],
    "projects.status": [("Active", False), ("ACTIVE ", False), ("Done", False)],
}
_STATUSES = {
    "deals.stage": [("Lead", False), ("In Progress", False), ("Won 🎉", False), ("Lost", False), ("Stalled", True)],
}
#: (email, first, last, access level)
_MEMBERS = [
    ("alice@attio.com", "Alice", "Anders", "admin"),
    ("bob@attio.com", "Bob", "Brown", "member"),
    ("carol@attio.com", "Carol", "Chen", "suspended"),
    ("Dave.Mixed@Attio.com", "Dave", "Mixed", "member"),
]


def attribute_id(target: str) -> str:
    """The fixed attribute id of ``object.slug``."""
    return uid(2, _index(target))


def option_id(target: str, title: str) -> str:
    """The fixed option id of a select option (or status) of ``object.slug``."""
    choices = _OPTIONS.get(target) or _STATUSES[target]
    n = [t for t, _ in choices].index(title)
    return uid(3 if target in _OPTIONS else 4, _index(target) * 100 + n)


def member_id(email: str) -> str:
    """The fixed workspace_member_id of a member."""
    return uid(5, [m[0] for m in _MEMBERS].index(email) + 1)


def _index(target: str) -> int:
    obj, slug = target.split(".", 1)
    for n, (o, s, _, _) in enumerate(_ATTRIBUTES, start=1):
        if (o, s) == (obj, slug):
            return n
    raise KeyError(target)


def _config(extra: dict[str, Any]) -> dict[str, Any]:
    refs = extra.get("refs")
    ids = None
    if refs:
        ids = [INACTIVE_OBJECT_ID if r == "inactive" else OBJECT_IDS[r] for r in refs]
    return {
        "currency": {"default_currency_code": extra.get("currency"), "display_type": None},
        "record_reference": {"allowed_object_ids": ids},
    }


def build_schema() -> WorkspaceSchema:
    """The test workspace: six activated objects, every attribute type, options, members."""
    objects = tuple(ObjectInfo(object_id=oid, api_slug=slug) for slug, oid in OBJECT_IDS.items())
    attributes = []
    for position, (obj, slug, kind, extra) in enumerate(_ATTRIBUTES):
        fields = {k: v for k, v in extra.items() if k not in ("refs", "currency")}
        attributes.append(
            AttributeInfo(
                attribute_id=attribute_id(f"{obj}.{slug}"),
                object_id=OBJECT_IDS[obj],
                object_slug=obj,
                api_slug=slug,
                title=slug.replace("_", " ").capitalize(),
                type=kind,
                position=position,
                config=_config(extra),
                **fields,
            )
        )
    options = tuple(
        OptionInfo(option_id=option_id(t, title), attribute_id=attribute_id(t), title=title, is_archived=archived)
        for t, choices in _OPTIONS.items()
        for title, archived in choices
    )
    statuses = tuple(
        StatusInfo(status_id=option_id(t, title), attribute_id=attribute_id(t), title=title, is_archived=archived)
        for t, choices in _STATUSES.items()
        for title, archived in choices
    )
    members = tuple(
        MemberInfo(workspace_member_id=member_id(email), email_address=email, first_name=first, last_name=last,
                   access_level=lvl)
        for email, first, last, lvl in _MEMBERS
    )
    return WorkspaceSchema(
        workspace=WorkspaceInfo(workspace_id=WORKSPACE_ID, workspace_name="Test", workspace_slug="test"),
        objects=objects,
        attributes=tuple(attributes),
        options=options,
        statuses=statuses,
        members=members,
    )
