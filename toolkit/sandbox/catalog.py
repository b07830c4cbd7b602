"""The served schema, indexed for the request path, and its JSON shapes (api-notes 2.2, 3.2, 3.4, 6.1).

Lookups go through `WorkspaceSchema`'s own cached indexes; `Catalog` adds only what the request
path needs beyond them (attributes per object in UI order, attributes by id alone) and renders
each item as Attio's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ..schema import AttributeInfo, MemberInfo, ObjectInfo, OptionInfo, StatusInfo, WorkspaceSchema

__all__ = ["Catalog", "is_uuid"]

JSON = dict[str, Any]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(text: object) -> TypeGuard[str]:
    """True for a canonical UUID string."""
    return isinstance(text, str) and bool(_UUID.match(text))


@dataclass
class Catalog:
    """Lookups by slug or id over one `WorkspaceSchema`, plus the Attio JSON of each item.

    Objects, attributes, options, statuses and members are looked up through the schema's own
    cached indexes; the catalog adds the two the request path needs and the schema has not:
    each served object's attributes in UI order, and attributes by id alone.
    """

    schema: WorkspaceSchema
    attributes: dict[str, list[AttributeInfo]] = field(default_factory=dict)
    attribute_by_id: dict[str, AttributeInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.schema.objects:
            self.attributes[obj.object_id] = []
        for attr in sorted(self.schema.attributes, key=lambda a: a.position):
            if attr.object_id not in self.attributes:
                continue  # an attribute of an object that is not served
            self.attributes[attr.object_id].append(attr)
            self.attribute_by_id[attr.attribute_id] = attr

    @property
    def workspace_id(self) -> str:
        """The workspace's id."""
        return self.schema.workspace.workspace_id

    # -- lookups -------------------------------------------------------------------------------

    def object(self, slug_or_id: str) -> ObjectInfo | None:
        """The served object with this slug or id."""
        return self.schema.find_object(slug_or_id)

    def object_of(self, object_id: str) -> ObjectInfo:
        """The served object with this id (which the caller knows to exist)."""
        found = self.schema.find_object(object_id)
        assert found is not None, object_id
        return found

    def attribute(self, obj: ObjectInfo, slug_or_id: str) -> AttributeInfo | None:
        """An attribute of `obj` by slug or id, archived ones included."""
        return self.schema.find_attribute(obj.object_id, slug_or_id)

    def attributes_of(self, obj: ObjectInfo) -> list[AttributeInfo]:
        """The attributes of `obj` in UI order, archived ones included."""
        return self.attributes[obj.object_id]

    def inverse(self, attr: AttributeInfo) -> AttributeInfo | None:
        """The other end of a relationship attribute, when it is served."""
        rel = attr.relationship
        if not rel:
            return None
        return self.attribute_by_id.get(rel["id"]["attribute_id"])

    def find_option(self, attr: AttributeInfo, title_or_id: str) -> OptionInfo | None:
        """A select option by id or exact title."""
        return next((o for o in self.schema.options_of(attr) if title_or_id in (o.option_id, o.title)), None)

    def find_status(self, attr: AttributeInfo, title_or_id: str) -> StatusInfo | None:
        """A status by id or exact title."""
        return next((s for s in self.schema.statuses_of(attr) if title_or_id in (s.status_id, s.title)), None)

    def member(self, email_or_id: str) -> MemberInfo | None:
        """A workspace member by id or email (case-insensitive)."""
        return self.schema.find_member(email_or_id)

    # -- JSON shapes ---------------------------------------------------------------------------

    def object_json(self, obj: ObjectInfo) -> JSON:
        """`Object` (api-notes 2.2)."""
        return {
            "id": {"workspace_id": self.workspace_id, "object_id": obj.object_id},
            "api_slug": obj.api_slug,
            "singular_noun": obj.singular_noun,
            "plural_noun": obj.plural_noun,
            "created_at": obj.created_at,
        }

    def attribute_json(self, attr: AttributeInfo) -> JSON:
        """`Attribute` (api-notes 3.2): every key, config with both sub-objects."""
        config = attr.config or {}
        currency = config.get("currency") or {}
        reference = config.get("record_reference") or {}
        return {
            "id": {"workspace_id": self.workspace_id, "object_id": attr.object_id, "attribute_id": attr.attribute_id},
            "title": attr.title,
            "description": attr.description,
            "api_slug": attr.api_slug,
            "type": attr.type,
            "is_system_attribute": attr.is_system_attribute,
            "is_writable": attr.is_writable,
            "is_required": attr.is_required,
            "is_unique": attr.is_unique,
            "is_multiselect": attr.is_multiselect,
            "is_default_value_enabled": attr.is_default_value_enabled,
            "is_archived": attr.is_archived,
            "default_value": attr.default_value,
            "relationship": attr.relationship,
            "created_at": attr.created_at,
            "config": {
                "currency": {
                    "default_currency_code": currency.get("default_currency_code"),
                    "display_type": currency.get("display_type"),
                },
                "record_reference": {"allowed_object_ids": reference.get("allowed_object_ids")},
            },
        }

    def option_json(self, option: OptionInfo) -> JSON:
        """`SelectOption` (api-notes 3.4)."""
        attr = self.attribute_by_id[option.attribute_id]
        return {
            "id": {
                "workspace_id": self.workspace_id,
                "object_id": attr.object_id,
                "attribute_id": option.attribute_id,
                "option_id": option.option_id,
            },
            "title": option.title,
            "is_archived": option.is_archived,
        }

    def status_json(self, status: StatusInfo) -> JSON:
        """`Status` (api-notes 3.4)."""
        attr = self.attribute_by_id[status.attribute_id]
        return {
            "id": {
                "workspace_id": self.workspace_id,
                "object_id": attr.object_id,
                "attribute_id": status.attribute_id,
                "status_id": status.status_id,
            },
            "title": status.title,
            "is_archived": status.is_archived,
            "celebration_enabled": status.celebration_enabled,
            "target_time_in_status": status.target_time_in_status,
        }

    def member_json(self, member: MemberInfo) -> JSON:
        """`WorkspaceMember` (api-notes 6.1)."""
        return {
            "id": {"workspace_id": self.workspace_id, "workspace_member_id": member.workspace_member_id},
            "first_name": member.first_name or "",
            "last_name": member.last_name or "",
            "avatar_url": member.avatar_url,
            "email_address": member.email_address,
            "access_level": member.access_level,
            "created_at": member.created_at or "2025-01-01T00:00:00.000000000Z",
        }
