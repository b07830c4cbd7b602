"""Attio's standard objects and attributes (api-notes 3.3), as the sandbox serves them.

Every id is a uuid5 of the workspace slug and the thing's name, so two runs (and two machines)
hand out the same ids and recorded cassettes stay stable. `users`, `workspaces` and `deals` are
served only when activated, and relationship attributes pointing at an object that is not
activated are left out, as Attio hides them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ..schema import AttributeInfo, MemberInfo, ObjectInfo, OptionInfo, StatusInfo, WorkspaceInfo, WorkspaceSchema
from .config import SandboxConfig

__all__ = [
    "SCOPES",
    "SEED_TIME",
    "STANDARD_ATTRIBUTES",
    "STANDARD_RELATIONSHIPS",
    "attribute_config",
    "stable_id",
    "standard_schema",
]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/attio-sync/sandbox")

#: Seeded things were "created" at this instant, so their shapes are stable across runs.
SEED_TIME = "2025-01-01T00:00:00.000000000Z"

SCOPES = (
    "record_permission:read-write object_configuration:read-write "
    "user_management:read list_entry:read-write list_configuration:read-write"
)


def stable_id(workspace_slug: str, *parts: str) -> str:
    """A deterministic UUID for a named thing of the workspace."""
    return str(uuid.uuid5(_NAMESPACE, ":".join((workspace_slug, *parts))))


@dataclass(frozen=True)
class _Attr:
    slug: str
    title: str
    type: str
    multi: bool = False
    unique: bool = False
    writable: bool = True
    required: bool = False
    system: bool = True
    targets: tuple[str, ...] = ()
    currency: str | None = None


_INTERACTIONS = (
    "first_calendar_interaction",
    "last_calendar_interaction",
    "next_calendar_interaction",
    "first_email_interaction",
    "last_email_interaction",
    "first_interaction",
    "last_interaction",
    "next_interaction",
)
_SOCIAL = ("angellist", "facebook", "instagram", "linkedin", "twitter")


def _common() -> list[_Attr]:
    return [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("created_at", "Created at", "timestamp", writable=False),
        _Attr("created_by", "Created by", "actor-reference", writable=False),
    ]


def _enriched() -> list[_Attr]:
    return [
        *(_Attr(s, s.replace("_", " ").capitalize(), "interaction", writable=False) for s in _INTERACTIONS),
        _Attr("strongest_connection_strength_legacy", "Connection strength (legacy)", "number", writable=False),
        _Attr("strongest_connection_strength", "Connection strength", "select", writable=False),
        _Attr("strongest_connection_user", "Strongest connection", "actor-reference", writable=False),
    ]


#: api-notes 3.3, in UI order. `targets` names the objects a record reference may point at.
STANDARD_ATTRIBUTES: dict[str, list[_Attr]] = {
    "people": [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("name", "Name", "personal-name"),
        _Attr("email_addresses", "Email addresses", "email-address", multi=True, unique=True),
        _Attr("description", "Description", "text"),
        _Attr("company", "Company", "record-reference", targets=("companies",)),
        _Attr("job_title", "Job title", "text"),
        _Attr("phone_numbers", "Phone numbers", "phone-number", multi=True),
        _Attr("primary_location", "Primary location", "location"),
        *(_Attr(s, s.capitalize(), "text") for s in _SOCIAL),
        _Attr("avatar_url", "Avatar URL", "text", writable=False),
        _Attr("twitter_follower_count", "Twitter follower count", "number", writable=False),
        *_enriched(),
        _Attr("associated_deals", "Associated deals", "record-reference", multi=True, targets=("deals",)),
        _Attr("associated_users", "Associated users", "record-reference", multi=True, targets=("users",)),
        *_common()[1:],
    ],
    "companies": [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("domains", "Domains", "domain", multi=True, unique=True),
        _Attr("name", "Name", "text"),
        _Attr("description", "Description", "text"),
        _Attr("team", "Team", "record-reference", multi=True, targets=("people",)),
        _Attr("categories", "Categories", "select", multi=True),
        _Attr("primary_location", "Primary location", "location"),
        *(_Attr(s, s.capitalize(), "text") for s in _SOCIAL),
        _Attr("associated_deals", "Associated deals", "record-reference", multi=True, targets=("deals",)),
        _Attr(
            "associated_workspaces", "Associated workspaces", "record-reference", multi=True, targets=("workspaces",)
        ),
        _Attr("logo_url", "Logo URL", "text", writable=False),
        _Attr("twitter_follower_count", "Twitter follower count", "number", writable=False),
        _Attr("estimated_arr_usd", "Estimated ARR", "select", writable=False),
        _Attr("employee_range", "Employee range", "select", writable=False),
        _Attr("funding_raised_usd", "Funding raised", "currency", writable=False, currency="USD"),
        _Attr("foundation_date", "Foundation date", "date", writable=False),
        *_enriched(),
        *_common()[1:],
    ],
    "users": [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("user_id", "User ID", "text", unique=True, required=True),
        # api-notes 3.3: the docs table says text, every example says email-address; we follow
        # the examples (single, unique, required).
        _Attr("primary_email_address", "Primary email address", "email-address", unique=True, required=True),
        _Attr("person", "Person", "record-reference", targets=("people",)),
        # Multiselect is [unconfirmed]; every docs example writes an array.
        _Attr("workspace", "Workspace", "record-reference", multi=True, targets=("workspaces",)),
        *_common()[1:],
    ],
    "workspaces": [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("workspace_id", "Workspace ID", "text", unique=True, required=True),
        _Attr("name", "Name", "text"),
        _Attr("users", "Users", "record-reference", multi=True, targets=("users",)),
        _Attr("company", "Company", "record-reference", targets=("companies",)),
        _Attr("avatar_url", "Avatar URL", "text"),
        *_common()[1:],
    ],
    "deals": [
        _Attr("record_id", "Record ID", "text", unique=True, writable=False),
        _Attr("name", "Deal name", "text", required=True),
        _Attr("stage", "Deal stage", "status", required=True),
        _Attr("owner", "Deal owner", "actor-reference", required=True),
        _Attr("value", "Deal value", "currency", currency="USD"),
        _Attr("associated_people", "Associated people", "record-reference", multi=True, targets=("people",)),
        _Attr("associated_company", "Associated company", "record-reference", targets=("companies",)),
        *_common()[1:],
    ],
}

#: Both ends of each standard relationship (api-notes 3.3).
STANDARD_RELATIONSHIPS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("people", "company"), ("companies", "team")),
    (("users", "person"), ("people", "associated_users")),
    (("users", "workspace"), ("workspaces", "users")),
    (("workspaces", "company"), ("companies", "associated_workspaces")),
    (("deals", "associated_people"), ("people", "associated_deals")),
    (("deals", "associated_company"), ("companies", "associated_deals")),
)

_NOUNS = {
    "people": ("Person", "People"),
    "companies": ("Company", "Companies"),
    "users": ("User", "Users"),
    "workspaces": ("Workspace", "Workspaces"),
    "deals": ("Deal", "Deals"),
}

STANDARD_OPTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("people", "strongest_connection_strength"): ("Very weak", "Weak", "Good", "Strong", "Very strong"),
    ("companies", "strongest_connection_strength"): ("Very weak", "Weak", "Good", "Strong", "Very strong"),
    ("companies", "categories"): ("B2B", "B2C", "SaaS", "E-commerce", "Fintech", "Marketplace", "Hardware"),
    ("companies", "estimated_arr_usd"): ("$0-$1M", "$1M-$10M", "$10M-$50M", "$50M-$100M", "$100M+"),
    ("companies", "employee_range"): ("1-10", "11-50", "51-250", "251-1K", "1K-5K", "5K-10K", "10K+"),
}
STANDARD_STATUSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("deals", "stage"): ("Lead", "In Progress", "Won 🎉", "Lost"),
}


def attribute_config(currency: str | None, allowed: list[str] | None) -> dict[str, Any]:
    """An attribute's `config`, with both sub-objects always present (api-notes 3.2)."""
    return {
        "currency": {"default_currency_code": currency, "display_type": "symbol" if currency else None},
        "record_reference": {"allowed_object_ids": allowed},
    }


def _default_value(slug: str) -> dict[str, Any] | None:
    if slug == "created_at":
        return {"type": "dynamic", "template": "PT0S"}
    if slug == "created_by":
        return {"type": "dynamic", "template": "current-user"}
    return None


def standard_schema(config: SandboxConfig | None = None) -> WorkspaceSchema:
    """The standard objects of api-notes 3.3, with users, workspaces and deals as activated.

    Relationship attributes whose other end is not activated are left out, as Attio hides them.

    Args:
        config: names the workspace and the activated objects; defaults to `SandboxConfig()`.

    Returns:
        The schema, with one admin member.
    """
    config = config or SandboxConfig()
    ws = config.workspace_slug
    active = ["people", "companies", *(s for s in ("deals", "users", "workspaces") if s in config.activate)]
    object_ids = {slug: stable_id(ws, "object", slug) for slug in _NOUNS}
    objects = tuple(
        ObjectInfo(object_ids[s], s, _NOUNS[s][0], _NOUNS[s][1], SEED_TIME) for s in active
    )
    attr_ids = {(o, a.slug): stable_id(ws, "attribute", o, a.slug)
                for o, attrs in STANDARD_ATTRIBUTES.items() for a in attrs}
    inverse: dict[tuple[str, str], tuple[str, str]] = {}
    for left, right in STANDARD_RELATIONSHIPS:
        inverse[left], inverse[right] = right, left
    by_key = {(o, a.slug): a for o, attrs in STANDARD_ATTRIBUTES.items() for a in attrs}

    attributes: list[AttributeInfo] = []
    for obj in active:
        position = -1
        for a in STANDARD_ATTRIBUTES[obj]:
            if any(t not in active for t in a.targets):
                continue
            position += 1  # the index in what is served, as `WorkspaceSchema.from_api` counts it
            relationship = None
            other = inverse.get((obj, a.slug))
            if other is not None:
                relationship = {
                    "id": {"workspace_id": stable_id(ws, "workspace"), "object_id": object_ids[other[0]],
                           "attribute_id": attr_ids[other]},
                    "object_slug": other[0],
                    "title": by_key[other].title,
                    "api_slug": other[1],
                    "is_multiselect": by_key[other].multi,
                }
            default = _default_value(a.slug)
            attributes.append(
                AttributeInfo(
                    attribute_id=attr_ids[(obj, a.slug)],
                    object_id=object_ids[obj],
                    object_slug=obj,
                    api_slug=a.slug,
                    title=a.title,
                    type=a.type,
                    position=position,
                    is_system_attribute=a.system,
                    is_writable=a.writable,
                    is_required=a.required,
                    is_unique=a.unique,
                    is_multiselect=a.multi,
                    is_default_value_enabled=default is not None,
                    default_value=default,
                    relationship=relationship,
                    config=attribute_config(a.currency, [object_ids[t] for t in a.targets] or None),
                    created_at=SEED_TIME,
                )
            )
    # Options and statuses in attribute order, as a schema pull lists them.
    options = tuple(
        OptionInfo(stable_id(ws, "option", a.object_slug, a.api_slug, t), a.attribute_id, t)
        for a in attributes
        for t in STANDARD_OPTIONS.get((a.object_slug, a.api_slug), ())
    )
    statuses = tuple(
        StatusInfo(stable_id(ws, "status", a.object_slug, a.api_slug, t), a.attribute_id, t,
                   celebration_enabled=t.startswith("Won"))
        for a in attributes
        for t in STANDARD_STATUSES.get((a.object_slug, a.api_slug), ())
    )  # fmt: skip
    admin = MemberInfo(
        workspace_member_id=stable_id(ws, "member", "admin"),
        email_address=f"admin@{ws}.example.com",
        first_name="Sandbox",
        last_name="Admin",
        access_level="admin",
        created_at=SEED_TIME,
    )
    workspace = WorkspaceInfo(
        workspace_id=stable_id(ws, "workspace"),
        workspace_name=config.workspace_name,
        workspace_slug=ws,
        scope=SCOPES,
        token_level="workspace",
        authorized_by_workspace_member_id=admin.workspace_member_id,
    )
    return WorkspaceSchema(workspace, objects, tuple(attributes), options, statuses, (admin,))
