"""What a fresh sandbox holds: Attio's standard objects and attributes, plus a user's own schema.

The standard schema follows api-notes 3.3. Every id is a uuid5 of the workspace slug and the
thing's name, so two runs (and two machines) hand out the same ids and recorded cassettes stay
stable. A seed file adds custom objects, attributes, options, statuses and members on top; a
pulled workspace (`WorkspaceSchema.as_dict()`, e.g. from the local cache) replaces the standard
schema altogether so a user can rehearse against a copy of their own.

A seed file (TOML shown; JSON with the same keys works too)::

    [workspace]                      # all optional
    name = "Acme"
    slug = "acme"                    # used in web_url and in the stable ids
    activate = ["users", "workspaces"]

    [[members]]
    email_address = "ops@acme.com"   # first_name, last_name, access_level (admin|member|suspended)

    [[objects]]
    api_slug = "projects"            # singular_noun, plural_noun

    [[attributes]]
    object = "projects"
    api_slug = "code"
    type = "text"                    # any of the 17 attribute types
    is_unique = true                 # is_required, is_multiselect, is_writable, is_archived, title
    # select: options = ["A", {title = "B", is_archived = true}]
    # status: statuses = ["Open", {title = "Won", celebration_enabled = true}]
    # currency: default_currency_code = "EUR"
    # record-reference: allowed_objects = ["companies"], and for a two-way relationship
    #   relationship = {object = "companies", api_slug = "projects", is_multiselect = true}

    [[options]]                      # more options for an existing select attribute
    object = "companies"
    attribute = "categories"
    title = "Robotics"               # [[statuses]] alike
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import (
    AttributeInfo,
    MemberInfo,
    ObjectInfo,
    OptionInfo,
    StatusInfo,
    WorkspaceInfo,
    WorkspaceSchema,
)
from .config import SandboxConfig

__all__ = ["SeedError", "from_schema_dict", "load_seed_file", "standard_schema"]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/attio-sync/sandbox")

#: Seeded things were "created" at this instant, so their shapes are stable across runs.
SEED_TIME = "2025-01-01T00:00:00.000000000Z"

SCOPES = (
    "record_permission:read-write object_configuration:read-write "
    "user_management:read list_entry:read-write list_configuration:read-write"
)


class SeedError(ValueError):
    """A seed file or schema dict that the sandbox cannot load."""


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


def _attribute_config(currency: str | None, allowed: list[str] | None) -> dict[str, Any]:
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
    attr_ids = {(o, a.slug): stable_id(ws, "attribute", o, a.slug) for o, attrs in STANDARD_ATTRIBUTES.items() for a in attrs}
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
                    config=_attribute_config(a.currency, [object_ids[t] for t in a.targets] or None),
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


# -- seed files ------------------------------------------------------------------------------

ATTRIBUTE_TYPES = frozenset(
    {
        "text", "number", "checkbox", "currency", "date", "timestamp", "rating", "status", "select",
        "record-reference", "actor-reference", "location", "domain", "email-address", "phone-number",
        "interaction", "personal-name",
    }
)  # fmt: skip


def load_seed_file(path: str | Path, config: SandboxConfig | None = None) -> WorkspaceSchema:
    """Read a TOML or JSON seed file (by its suffix; anything but ``.toml`` is read as JSON).

    Args:
        path: the file.
        config: names the workspace and the activated standard objects.

    Returns:
        The schema to serve.

    Raises:
        SeedError: the file cannot be read or describes an impossible schema.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path} must hold a table/object at the top level")
    return from_schema_dict(data, config)


def _is_pulled(data: Mapping[str, Any]) -> bool:
    """True for `WorkspaceSchema.as_dict()` output (a whole workspace, ids included)."""
    ws = data.get("workspace")
    return isinstance(ws, Mapping) and "workspace_id" in ws and any(
        isinstance(a, Mapping) and "attribute_id" in a for a in data.get("attributes", ())
    )


def from_schema_dict(data: Mapping[str, Any], config: SandboxConfig | None = None) -> WorkspaceSchema:
    """Build the sandbox schema from a plain dict.

    Two shapes are understood:

    * `WorkspaceSchema.as_dict()` (keys workspace, objects, attributes, options, statuses,
      members, with ids): served as it is; its objects are the activated ones.
    * A seed (the format is in this module's docstring): the standard schema plus
      ``objects``, ``attributes`` (with ``object``, and optional ``options``, ``statuses``,
      ``allowed_objects``, ``relationship``), ``options``, ``statuses`` and ``members``;
      ``workspace.activate`` adds to the activated standard objects.

    Raises:
        SeedError: an unknown type or object, a duplicate slug, a dangling reference.
    """
    config = config or SandboxConfig()
    if _is_pulled(data):
        return _from_pulled(data)
    return _from_seed(data, config)


def _from_pulled(data: Mapping[str, Any]) -> WorkspaceSchema:
    try:
        return WorkspaceSchema(
            workspace=WorkspaceInfo(**data["workspace"]),
            objects=tuple(ObjectInfo(**o) for o in data.get("objects", ())),
            attributes=tuple(AttributeInfo(**a) for a in data.get("attributes", ())),
            options=tuple(OptionInfo(**o) for o in data.get("options", ())),
            statuses=tuple(StatusInfo(**s) for s in data.get("statuses", ())),
            members=tuple(MemberInfo(**m) for m in data.get("members", ())),
        )
    except (TypeError, KeyError) as exc:
        raise SeedError(f"not a WorkspaceSchema dict: {exc}") from exc


def _from_seed(data: Mapping[str, Any], config: SandboxConfig) -> WorkspaceSchema:
    ws_part = data.get("workspace") or {}
    activate = set(config.activate) | set(ws_part.get("activate") or ())
    try:
        config = dataclasses.replace(
            config,
            activate=frozenset(activate),
            workspace_name=ws_part.get("name", config.workspace_name),
            workspace_slug=ws_part.get("slug", config.workspace_slug),
        )
    except ValueError as exc:
        raise SeedError(str(exc)) from exc
    base = standard_schema(config)
    ws = config.workspace_slug
    workspace_id = base.workspace.workspace_id
    objects = list(base.objects)
    for raw in data.get("objects", ()):
        slug = _required(raw, "api_slug", "object")
        if any(o.api_slug == slug for o in objects):
            raise SeedError(f"object {slug!r} already exists")
        objects.append(
            ObjectInfo(
                stable_id(ws, "object", slug), slug, raw.get("singular_noun", slug.title()),
                raw.get("plural_noun", slug.title()), SEED_TIME,
            )
        )  # fmt: skip
    object_ids = {o.api_slug: o.object_id for o in objects}
    attributes = list(base.attributes)
    options = list(base.options)
    statuses = list(base.statuses)
    pending_inverse: list[tuple[int, Mapping[str, Any]]] = []

    def add_attribute(raw: Mapping[str, Any]) -> int:
        obj = _required(raw, "object", "attribute")
        slug = _required(raw, "api_slug", "attribute")
        if obj not in object_ids:
            raise SeedError(f"attribute {slug!r}: object {obj!r} is not in the sandbox (not activated?)")
        kind = _required(raw, "type", f"attribute {obj}.{slug}")
        if kind not in ATTRIBUTE_TYPES:
            raise SeedError(f"attribute {obj}.{slug}: unknown type {kind!r}")
        if any(a.object_slug == obj and a.api_slug == slug for a in attributes):
            raise SeedError(f"attribute {obj}.{slug} already exists")
        allowed = raw.get("allowed_objects")
        if allowed is not None:
            for target in allowed:
                if target not in object_ids:
                    raise SeedError(f"attribute {obj}.{slug}: allowed object {target!r} is not in the sandbox")
        attr_id = stable_id(ws, "attribute", obj, slug)
        position = sum(1 for a in attributes if a.object_slug == obj)
        attributes.append(
            AttributeInfo(
                attribute_id=attr_id, object_id=object_ids[obj], object_slug=obj, api_slug=slug,
                title=raw.get("title", slug.replace("_", " ").capitalize()), type=kind,
                description=raw.get("description"), position=position,
                is_system_attribute=bool(raw.get("is_system_attribute", False)),
                is_writable=bool(raw.get("is_writable", True)),
                is_required=bool(raw.get("is_required", False)),
                is_unique=bool(raw.get("is_unique", False)),
                is_multiselect=bool(raw.get("is_multiselect", False)),
                is_archived=bool(raw.get("is_archived", False)),
                config=_attribute_config(
                    raw.get("default_currency_code") or ("USD" if kind == "currency" else None),
                    [object_ids[t] for t in allowed] if allowed else None,
                ),
                created_at=SEED_TIME,
            )
        )  # fmt: skip
        for item in raw.get("options", ()):
            options.append(_option(ws, obj, slug, attr_id, item))
        for item in raw.get("statuses", ()):
            statuses.append(_status(ws, obj, slug, attr_id, item))
        return len(attributes) - 1

    for raw in data.get("attributes", ()):
        index = add_attribute(raw)
        if raw.get("relationship"):
            pending_inverse.append((index, raw))
    for index, raw in pending_inverse:
        rel = raw["relationship"]
        if not isinstance(rel, Mapping) or attributes[index].type != "record-reference":
            raise SeedError(f"attribute {raw.get('object')}.{raw.get('api_slug')}: relationship needs a "
                            "record-reference and a table {object, api_slug, title?, is_multiselect?}")
        inverse_index = add_attribute(
            {"object": rel.get("object"), "api_slug": rel.get("api_slug"), "title": rel.get("title"),
             "type": "record-reference", "is_multiselect": rel.get("is_multiselect", False),
             "allowed_objects": [raw["object"]]} | ({} if rel.get("title") else {"title": None})
        )  # fmt: skip
        if attributes[inverse_index].title is None:
            attributes[inverse_index] = dataclasses.replace(
                attributes[inverse_index], title=attributes[inverse_index].api_slug.replace("_", " ").capitalize()
            )
        left, right = attributes[index], attributes[inverse_index]
        attributes[index] = dataclasses.replace(left, relationship=_relationship(workspace_id, right))
        attributes[inverse_index] = dataclasses.replace(right, relationship=_relationship(workspace_id, left))

    by_key = {(a.object_slug, a.api_slug): a for a in attributes}
    for raw in data.get("options", ()):
        attr = _lookup(by_key, raw, "option")
        options.append(_option(ws, attr.object_slug, attr.api_slug, attr.attribute_id, raw))
    for raw in data.get("statuses", ()):
        attr = _lookup(by_key, raw, "status")
        statuses.append(_status(ws, attr.object_slug, attr.api_slug, attr.attribute_id, raw))
    members = list(base.members)
    for raw in data.get("members", ()):
        email = _required(raw, "email_address", "member")
        members.append(
            MemberInfo(
                workspace_member_id=raw.get("workspace_member_id") or stable_id(ws, "member", email.lower()),
                email_address=email, first_name=raw.get("first_name", ""), last_name=raw.get("last_name", ""),
                access_level=raw.get("access_level", "member"), avatar_url=raw.get("avatar_url"),
                created_at=SEED_TIME,
            )
        )  # fmt: skip
    return WorkspaceSchema(base.workspace, tuple(objects), tuple(attributes), tuple(options), tuple(statuses),
                           tuple(members))  # fmt: skip


def _relationship(workspace_id: str, other: AttributeInfo) -> dict[str, Any]:
    return {
        "id": {"workspace_id": workspace_id, "object_id": other.object_id, "attribute_id": other.attribute_id},
        "object_slug": other.object_slug,
        "title": other.title,
        "api_slug": other.api_slug,
        "is_multiselect": other.is_multiselect,
    }


def _required(raw: Mapping[str, Any], key: str, what: str) -> Any:
    if not isinstance(raw, Mapping) or not raw.get(key):
        raise SeedError(f"{what} entry needs {key!r}: {raw!r}")
    return raw[key]


def _lookup(by_key: Mapping[tuple[str, str], AttributeInfo], raw: Mapping[str, Any], what: str) -> AttributeInfo:
    key = (_required(raw, "object", what), _required(raw, "attribute", what))
    if key not in by_key:
        raise SeedError(f"{what} {raw.get('title')!r}: no attribute {key[0]}.{key[1]}")
    return by_key[key]


def _option(ws: str, obj: str, slug: str, attr_id: str, item: Any) -> OptionInfo:
    raw = {"title": item} if isinstance(item, str) else dict(item)
    title = _required(raw, "title", "option")
    return OptionInfo(stable_id(ws, "option", obj, slug, title), attr_id, title, bool(raw.get("is_archived", False)))


def _status(ws: str, obj: str, slug: str, attr_id: str, item: Any) -> StatusInfo:
    raw = {"title": item} if isinstance(item, str) else dict(item)
    title = _required(raw, "title", "status")
    return StatusInfo(
        stable_id(ws, "status", obj, slug, title), attr_id, title, bool(raw.get("is_archived", False)),
        bool(raw.get("celebration_enabled", False)), raw.get("target_time_in_status"),
    )  # fmt: skip

