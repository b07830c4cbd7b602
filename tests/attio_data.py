"""Attio JSON in Attio's real shapes, for tests that need a workspace without the sandbox.

The field sets and example values follow the responses quoted in
`../shared/attio/api-notes.md` (sections 2.2, 3.2, 3.4, 5.1, 6.1 and 6.2): every key a real
response carries is here, including the ones the toolkit ignores, so a parser that chokes on
them fails in tests first.
"""

from __future__ import annotations

import uuid
from typing import Any

WORKSPACE_ID = "a96c9c20-442b-43cd-a94b-3d4683051661"
CREATED_AT = "2025-07-18T13:49:44.655000000Z"


def uid(*parts: str) -> str:
    """A stable UUID for a name, so fixtures and cassettes do not change between runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "attio-sync-test/" + "/".join(parts)))


def self_body(scope: str = "record_permission:read-write object_configuration:read user_management:read") -> dict[str, Any]:
    """`GET /v2/self` (api-notes 6.2): not wrapped in `data`."""
    return {
        "active": True, "scope": scope, "client_id": uid("client"), "token_type": "Bearer",
        "exp": None, "iat": 1704067200, "sub": WORKSPACE_ID, "aud": uid("client"), "iss": "attio.com",
        "authorized_by_workspace_member_id": uid("member", "robert"),
        "workspace_id": WORKSPACE_ID, "workspace_name": "Acme", "workspace_slug": "acme",
        "workspace_logo_url": None,
    }


def object_json(slug: str, singular: str, plural: str) -> dict[str, Any]:
    """An object (api-notes 2.2)."""
    return {"id": {"workspace_id": WORKSPACE_ID, "object_id": uid("object", slug)},
            "api_slug": slug, "singular_noun": singular, "plural_noun": plural, "created_at": CREATED_AT}


def attribute_json(
    obj: str,
    slug: str,
    type_: str,
    *,
    title: str | None = None,
    multi: bool = False,
    unique: bool = False,
    required: bool = False,
    writable: bool = True,
    archived: bool = False,
    system: bool = True,
    allowed: list[str] | None = None,
    relationship: str | None = None,
) -> dict[str, Any]:
    """An attribute with every key of api-notes 3.2's live example."""
    return {
        "id": {"workspace_id": WORKSPACE_ID, "object_id": uid("object", obj), "attribute_id": uid("attribute", obj, slug)},
        "title": title or slug.replace("_", " ").capitalize(), "description": None, "api_slug": slug, "type": type_,
        "is_system_attribute": system, "is_writable": writable, "is_required": required, "is_unique": unique,
        "is_multiselect": multi, "is_default_value_enabled": False, "is_archived": archived,
        "default_value": None,
        "relationship": None if relationship is None else {
            "id": {"workspace_id": WORKSPACE_ID, "object_id": uid("object", relationship.split(".")[0]),
                   "attribute_id": uid("attribute", *relationship.split("."))},
            "object_slug": relationship.split(".")[0], "title": relationship.split(".")[1],
            "api_slug": relationship.split(".")[1], "is_multiselect": True,
        },
        "created_at": "2025-07-18T13:49:44.710000000Z",
        "config": {"currency": {"default_currency_code": None, "display_type": None},
                   "record_reference": {"allowed_object_ids": [uid("object", o) for o in allowed] if allowed else None}},
    }


def option_json(obj: str, attribute: str, title: str, *, archived: bool = False) -> dict[str, Any]:
    """A select option (api-notes 3.4)."""
    return {"id": {"workspace_id": WORKSPACE_ID, "object_id": uid("object", obj),
                   "attribute_id": uid("attribute", obj, attribute), "option_id": uid("option", obj, attribute, title)},
            "title": title, "is_archived": archived}


def status_json(obj: str, attribute: str, title: str, *, archived: bool = False) -> dict[str, Any]:
    """A status (api-notes 3.4)."""
    return {"id": {"workspace_id": WORKSPACE_ID, "object_id": uid("object", obj),
                   "attribute_id": uid("attribute", obj, attribute), "status_id": uid("status", obj, attribute, title)},
            "title": title, "is_archived": archived, "celebration_enabled": title.startswith("Won"),
            "target_time_in_status": None}


def member_json(first: str, last: str, email: str, access: str = "admin") -> dict[str, Any]:
    """A workspace member (api-notes 6.1)."""
    return {"id": {"workspace_id": WORKSPACE_ID, "workspace_member_id": uid("member", first.lower())},
            "first_name": first, "last_name": last, "avatar_url": None, "email_address": email,
            "access_level": access, "created_at": "2025-07-18T13:49:47.914000000Z"}


def workspace(*, users: bool = True, workspaces: bool = True, deals: bool = True) -> dict[str, Any]:
    """A small realistic workspace: standard objects and attributes plus a few custom ones.

    Returns a dict with `self`, `objects`, `attributes` (slug -> list), `options` and
    `statuses` (`"obj.attr"` -> list) and `members`.
    """
    objects = [object_json("people", "Person", "People"), object_json("companies", "Company", "Companies")]
    attributes: dict[str, list[dict[str, Any]]] = {
        "people": [
            attribute_json("people", "record_id", "text", unique=True, writable=False),
            attribute_json("people", "email_addresses", "email-address", multi=True, unique=True),
            attribute_json("people", "name", "personal-name"),
            attribute_json("people", "company", "record-reference", allowed=["companies"], relationship="companies.team"),
            attribute_json("people", "phone_numbers", "phone-number", multi=True),
            attribute_json("people", "twitter", "text"),
            attribute_json("people", "avatar_url", "text", writable=False),
            attribute_json("people", "plan", "select", system=False),
            attribute_json("people", "legacy_score", "number", system=False, archived=True),
            attribute_json("people", "created_at", "timestamp", writable=False),
        ],
        "companies": [
            attribute_json("companies", "record_id", "text", unique=True, writable=False),
            attribute_json("companies", "domains", "domain", multi=True, unique=True),
            attribute_json("companies", "name", "text"),
            attribute_json("companies", "team", "record-reference", multi=True, allowed=["people"],
                           relationship="people.company"),
            attribute_json("companies", "categories", "select", multi=True),
        ],
    }
    options = {
        "people.plan": [option_json("people", "plan", t) for t in ("Free", "Pro", "Enterprise")]
        + [option_json("people", "plan", "Legacy", archived=True)],
        "companies.categories": [option_json("companies", "categories", t) for t in ("B2B", "SaaS")],
    }
    statuses: dict[str, list[dict[str, Any]]] = {}
    if users:
        objects.append(object_json("users", "User", "Users"))
        attributes["users"] = [
            attribute_json("users", "user_id", "text", unique=True, required=True),
            attribute_json("users", "primary_email_address", "email-address", unique=True, required=True),
            attribute_json("users", "person", "record-reference", allowed=["people"]),
            attribute_json("users", "workspace", "record-reference", multi=True, allowed=["workspaces"]),
        ]
    if workspaces:
        objects.append(object_json("workspaces", "Workspace", "Workspaces"))
        attributes["workspaces"] = [
            attribute_json("workspaces", "workspace_id", "text", unique=True, required=True),
            attribute_json("workspaces", "name", "text"),
            attribute_json("workspaces", "users", "record-reference", multi=True, allowed=["users"]),
            attribute_json("workspaces", "company", "record-reference", allowed=["companies"]),
        ]
    if deals:
        objects.append(object_json("deals", "Deal", "Deals"))
        attributes["deals"] = [
            attribute_json("deals", "name", "text", required=True),
            attribute_json("deals", "stage", "status", required=True),
            attribute_json("deals", "owner", "actor-reference", required=True),
        ]
        statuses["deals.stage"] = [status_json("deals", "stage", t) for t in ("Lead", "In Progress", "Won 🎉", "Lost")]
    members = [member_json("Robert", "Beene", "robert@example.com"),
               member_json("Sam", "Old", "sam@example.com", access="suspended")]
    return {"self": self_body(), "objects": objects, "attributes": attributes, "options": options,
            "statuses": statuses, "members": members}
