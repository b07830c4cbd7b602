"""What a sandbox serves beyond the standard schema (`standard.py`): a user's own schema.

A seed file adds custom objects, attributes, options, statuses and members on top; a
pulled workspace (`WorkspaceSchema.as_dict()`, e.g. from the local cache) replaces the standard
schema altogether so a user can rehearse against a copy of their own.

A seed file (TOML shown; JSON with the same keys works too)::

    [workspace]                      # all optional
    name = "Acme"
    slug = "acme"                    # used in web_url and in the stable ids
    activate = ["users", "workspaces"]
    company_from_email = false       # a new person brings no company (Attio: they do)
    free_mail_domains = ["gmail.com", "mycorp-mail.com"]   # replaces the list that makes none

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
    # default_value = {type = "dynamic", template = "P1M"}   (or "current-user", or
    #   {type = "static", template = [{value = "x", attribute_type = "text"}]})
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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..schema import AttributeInfo, MemberInfo, ObjectInfo, OptionInfo, StatusInfo, WorkspaceInfo, WorkspaceSchema
from .config import SandboxConfig
from .standard import SEED_TIME, attribute_config, stable_id, standard_schema

__all__ = ["SeedError", "config_from_seed", "from_schema_dict", "load_seed_file", "read_seed_file", "standard_schema"]


class SeedError(ValueError):
    """A seed file or schema dict that the sandbox cannot load."""


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
    return from_schema_dict(read_seed_file(path), config)


def read_seed_file(path: str | Path) -> dict[str, Any]:
    """The contents of a TOML or JSON seed file (by its suffix), unchecked.

    Raises:
        SeedError: the file cannot be read, or holds no table at the top level.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"seed file {path} must hold a table/object at the top level")
    return data


def config_from_seed(data: Mapping[str, Any], config: SandboxConfig) -> SandboxConfig:
    """`config` with the behaviour settings a seed's ``[workspace]`` table makes:
    ``company_from_email`` (bool) and ``free_mail_domains`` (a list of domains).

    Raises:
        SeedError: a setting of the wrong type.
    """
    ws_part = data.get("workspace") or {}
    if not isinstance(ws_part, Mapping):
        raise SeedError("[workspace] must be a table")
    changes: dict[str, Any] = {}
    if "company_from_email" in ws_part:
        if not isinstance(ws_part["company_from_email"], bool):
            raise SeedError("workspace.company_from_email must be true or false")
        changes["company_from_email"] = ws_part["company_from_email"]
    if "free_mail_domains" in ws_part:
        domains = ws_part["free_mail_domains"]
        if not isinstance(domains, list) or not all(isinstance(d, str) and d.strip() for d in domains):
            raise SeedError("workspace.free_mail_domains must be a list of domains")
        changes["free_mail_domains"] = frozenset(d.strip() for d in domains)
    return dataclasses.replace(config, **changes) if changes else config


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
                is_default_value_enabled=raw.get("default_value") is not None,
                default_value=raw.get("default_value"),
                config=attribute_config(
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

