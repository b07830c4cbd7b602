"""The workspace schema in memory: objects, attributes, options, statuses and members.

`WorkspaceSchema` is what every later step (check, value validation, sync) reads. It is built
from Attio's JSON (`from_api`), saved to and loaded from the cache (`toolkit.cache`), and is
immutable once built. Lookups go by slug or id, as Attio's own endpoints accept both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import SchemaError

__all__ = [
    "AttributeInfo",
    "MemberInfo",
    "ObjectInfo",
    "OptionInfo",
    "StatusInfo",
    "WorkspaceInfo",
    "WorkspaceSchema",
]

JSON = dict[str, Any]

#: The standard objects a workspace admin must activate before the API can use them.
ACTIVATABLE_OBJECTS = ("users", "workspaces", "deals")


@dataclass(frozen=True)
class WorkspaceInfo:
    """The token's workspace, from `GET /v2/self`."""

    workspace_id: str
    workspace_name: str | None = None
    workspace_slug: str | None = None
    scope: str = ""
    token_level: str | None = None
    authorized_by_workspace_member_id: str | None = None

    @property
    def scopes(self) -> frozenset[str]:
        """The token's scopes, e.g. ``{"record_permission:read-write", ...}``."""
        return frozenset(self.scope.split())

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> WorkspaceInfo:
        """Read the (unwrapped) body of `GET /v2/self`."""
        if not body.get("active", False):
            raise SchemaError("Attio says this API key is not active (GET /v2/self: active=false)")
        return cls(
            workspace_id=str(body.get("workspace_id") or body.get("sub") or ""),
            workspace_name=body.get("workspace_name"),
            workspace_slug=body.get("workspace_slug"),
            scope=body.get("scope") or "",
            token_level=body.get("token_level"),
            authorized_by_workspace_member_id=body.get("authorized_by_workspace_member_id"),
        )


@dataclass(frozen=True)
class ObjectInfo:
    """An activated object."""

    object_id: str
    api_slug: str
    singular_noun: str | None = None
    plural_noun: str | None = None
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ObjectInfo:
        return cls(
            object_id=data["id"]["object_id"],
            api_slug=data["api_slug"],
            singular_noun=data.get("singular_noun"),
            plural_noun=data.get("plural_noun"),
            created_at=data.get("created_at"),
        )


@dataclass(frozen=True)
class AttributeInfo:
    """Every field of Attio's attribute shape, plus the slug of the object it belongs to."""

    attribute_id: str
    object_id: str
    object_slug: str
    api_slug: str
    title: str
    type: str
    description: str | None = None
    position: int = 0
    is_system_attribute: bool = False
    is_writable: bool = True
    is_required: bool = False
    is_unique: bool = False
    is_multiselect: bool = False
    is_default_value_enabled: bool = False
    is_archived: bool = False
    default_value: Any = None
    relationship: Any = None
    config: Any = None
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any], *, object_slug: str, position: int = 0) -> AttributeInfo:
        return cls(
            attribute_id=data["id"]["attribute_id"],
            object_id=data["id"]["object_id"],
            object_slug=object_slug,
            api_slug=data["api_slug"],
            title=data.get("title") or data["api_slug"],
            type=data["type"],
            description=data.get("description"),
            position=position,
            is_system_attribute=bool(data.get("is_system_attribute", False)),
            is_writable=bool(data.get("is_writable", True)),
            is_required=bool(data.get("is_required", False)),
            is_unique=bool(data.get("is_unique", False)),
            is_multiselect=bool(data.get("is_multiselect", False)),
            is_default_value_enabled=bool(data.get("is_default_value_enabled", False)),
            is_archived=bool(data.get("is_archived", False)),
            default_value=data.get("default_value"),
            relationship=data.get("relationship"),
            config=data.get("config"),
            created_at=data.get("created_at"),
        )

    @property
    def allowed_object_ids(self) -> tuple[str, ...]:
        """Object ids a record-reference may point at; empty means any object."""
        ids = ((self.config or {}).get("record_reference") or {}).get("allowed_object_ids")
        return tuple(ids or ())

    @property
    def default_currency_code(self) -> str | None:
        return ((self.config or {}).get("currency") or {}).get("default_currency_code")


@dataclass(frozen=True)
class OptionInfo:
    """A select option."""

    option_id: str
    attribute_id: str
    title: str
    is_archived: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> OptionInfo:
        return cls(
            option_id=data["id"]["option_id"],
            attribute_id=data["id"]["attribute_id"],
            title=data["title"],
            is_archived=bool(data.get("is_archived", False)),
        )


@dataclass(frozen=True)
class StatusInfo:
    """A status of a status attribute."""

    status_id: str
    attribute_id: str
    title: str
    is_archived: bool = False
    celebration_enabled: bool = False
    target_time_in_status: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StatusInfo:
        return cls(
            status_id=data["id"]["status_id"],
            attribute_id=data["id"]["attribute_id"],
            title=data["title"],
            is_archived=bool(data.get("is_archived", False)),
            celebration_enabled=bool(data.get("celebration_enabled", False)),
            target_time_in_status=data.get("target_time_in_status"),
        )


@dataclass(frozen=True)
class MemberInfo:
    """A workspace member (`access_level` is admin, member or suspended)."""

    workspace_member_id: str
    email_address: str
    first_name: str | None = None
    last_name: str | None = None
    access_level: str = "member"
    avatar_url: str | None = None
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MemberInfo:
        return cls(
            workspace_member_id=data["id"]["workspace_member_id"],
            email_address=data["email_address"],
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            access_level=data.get("access_level") or "member",
            avatar_url=data.get("avatar_url"),
            created_at=data.get("created_at"),
        )


@dataclass(frozen=True)
class WorkspaceSchema:
    """One snapshot of a workspace's schema, with lookups by slug or id.

    Lookups that miss raise `SchemaError` (`object`, `attribute`) or return None (`find_*`).
    """

    workspace: WorkspaceInfo
    objects: tuple[ObjectInfo, ...] = ()
    attributes: tuple[AttributeInfo, ...] = ()
    options: tuple[OptionInfo, ...] = ()
    statuses: tuple[StatusInfo, ...] = ()
    members: tuple[MemberInfo, ...] = ()

    # -- lookups ---------------------------------------------------------------------------

    @cached_property
    def _objects(self) -> dict[str, ObjectInfo]:
        found: dict[str, ObjectInfo] = {}
        for obj in self.objects:
            found[obj.api_slug] = obj
            found[obj.object_id] = obj
        return found

    @cached_property
    def _attributes(self) -> dict[tuple[str, str], AttributeInfo]:
        found: dict[tuple[str, str], AttributeInfo] = {}
        for attr in self.attributes:
            for key in (attr.object_slug, attr.object_id):
                found[(key, attr.api_slug)] = attr
                found[(key, attr.attribute_id)] = attr
        return found

    @cached_property
    def _options(self) -> dict[str, tuple[OptionInfo, ...]]:
        return _group(self.options, lambda o: o.attribute_id)

    @cached_property
    def _statuses(self) -> dict[str, tuple[StatusInfo, ...]]:
        return _group(self.statuses, lambda s: s.attribute_id)

    @cached_property
    def _members(self) -> dict[str, MemberInfo]:
        found: dict[str, MemberInfo] = {}
        for member in self.members:
            found[member.email_address.lower()] = member
            found[member.workspace_member_id] = member
        return found

    def find_object(self, slug_or_id: str) -> ObjectInfo | None:
        """The activated object with this slug or id, or None."""
        return self._objects.get(slug_or_id)

    def object(self, slug_or_id: str) -> ObjectInfo:
        """The activated object with this slug or id; `SchemaError` when there is none."""
        found = self.find_object(slug_or_id)
        if found is None:
            raise SchemaError(f"object {slug_or_id!r} is not in the cached schema (not activated?)")
        return found

    def find_attribute(self, obj: str, slug_or_id: str) -> AttributeInfo | None:
        """The attribute of `obj` (slug or id) with this slug or id, archived ones included."""
        return self._attributes.get((obj, slug_or_id))

    def attribute(self, obj: str, slug_or_id: str) -> AttributeInfo:
        found = self.find_attribute(obj, slug_or_id)
        if found is None:
            raise SchemaError(f"attribute {slug_or_id!r} of object {obj!r} is not in the cached schema")
        return found

    def attributes_of(self, obj: str) -> tuple[AttributeInfo, ...]:
        """All attributes of an object (archived included), in Attio's UI order."""
        target = self.find_object(obj)
        if target is None:
            return ()
        return tuple(a for a in self.attributes if a.object_id == target.object_id)

    def options_of(self, attribute: AttributeInfo) -> tuple[OptionInfo, ...]:
        """The select options of a select attribute, archived ones included."""
        return self._options.get(attribute.attribute_id, ())

    def statuses_of(self, attribute: AttributeInfo) -> tuple[StatusInfo, ...]:
        """The statuses of a status attribute, archived ones included."""
        return self._statuses.get(attribute.attribute_id, ())

    def find_member(self, email_or_id: str) -> MemberInfo | None:
        """A workspace member by email (case-insensitive) or by workspace_member_id."""
        return self._members.get(email_or_id) or self._members.get(email_or_id.lower())

    def is_activated(self, slug: str) -> bool:
        return self.find_object(slug) is not None

    # -- building and comparing ------------------------------------------------------------

    @classmethod
    def from_api(
        cls,
        *,
        self_body: Mapping[str, Any],
        objects: Sequence[Mapping[str, Any]],
        attributes: Mapping[str, Sequence[Mapping[str, Any]]],
        options: Iterable[Mapping[str, Any]] = (),
        statuses: Iterable[Mapping[str, Any]] = (),
        members: Iterable[Mapping[str, Any]] = (),
    ) -> WorkspaceSchema:
        """Build a snapshot from Attio's JSON; `attributes` maps object slug to its list."""
        return cls(
            workspace=WorkspaceInfo.from_api(self_body),
            objects=tuple(ObjectInfo.from_api(o) for o in objects),
            attributes=tuple(
                AttributeInfo.from_api(a, object_slug=slug, position=i)
                for slug, listed in attributes.items()
                for i, a in enumerate(listed)
            ),
            options=tuple(OptionInfo.from_api(o) for o in options),
            statuses=tuple(StatusInfo.from_api(s) for s in statuses),
            members=tuple(MemberInfo.from_api(m) for m in members),
        )

    def as_dict(self) -> JSON:
        """A plain-JSON form, stable in order, used for hashing and `--json` output."""
        return {
            "workspace": fields_of(self.workspace),
            "objects": [fields_of(o) for o in self.objects],
            "attributes": [fields_of(a) for a in self.attributes],
            "options": [fields_of(o) for o in self.options],
            "statuses": [fields_of(s) for s in self.statuses],
            "members": [fields_of(m) for m in self.members],
        }

    def snapshot_hash(self) -> str:
        """SHA-256 of the snapshot's canonical JSON: equal schemas hash equal."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def fields_of(item: Any) -> JSON:
    """A dataclass's fields as a dict, shallow: `dataclasses.asdict` deep-copies every
    attribute's config and made saving a large schema several times slower."""
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def _group(items: Iterable[Any], key: Any) -> dict[str, tuple[Any, ...]]:
    grouped: dict[str, list[Any]] = {}
    for item in items:
        grouped.setdefault(key(item), []).append(item)
    return {k: tuple(v) for k, v in grouped.items()}
