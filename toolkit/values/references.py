"""record-reference values (api-notes 4.2, record-reference; 3.2 allowed_object_ids).

Three write forms are accepted and sent:

1. By id: ``{"target_object": slug, "target_record_id": uuid}``.
2. By a matching attribute of the target object:
   ``{"target_object": "people", "email_addresses": [{"email_address": "a@b.com"}]}``; the
   one value is checked by the matching attribute's own type (domain, email, number, phone or
   text, the only types Attio takes there).
3. A string shorthand, only when the attribute allows exactly one standard object: an email
   for people, a domain (or website URL) for companies, a ``user_id`` for users, a
   ``workspace_id`` for workspaces. It is sent as form 2. A record id (UUID) string is sent as
   form 1 when the attribute allows exactly one object, other than users and workspaces (for
   those Attio reads any string as the id attribute).

``target_object`` is always written as the object's slug. The ``target_record_reference``
form is refused: it is only in newer docs and its options are [unconfirmed]. Matching
attributes must be unique: the 2026-03 spec says so, newer docs say not; unique ones work
under both readings, so that is what we accept (the safe side).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema import AttributeInfo, ObjectInfo, WorkspaceSchema
from .choices import UUID
from .contact import check_domain, check_email, check_phone
from .result import Context, did_you_mean
from .scalars import check_number, check_text

__all__ = ["ReferenceIndex", "check_record_reference", "shorthand_attribute"]

Checker = Callable[[Any, Context], Any]

#: Standard object -> (matching attribute slug, checker of its one value) for the shorthand.
_SHORTHAND: dict[str, tuple[str, Checker]] = {
    "people": ("email_addresses", check_email),
    "companies": ("domains", check_domain),
    "users": ("user_id", check_text),
    "workspaces": ("workspace_id", check_text),
}



def shorthand_attribute(object_slug: str) -> str | None:
    """The attribute a plain string reference to a record of this standard object is matched on
    (people by ``email_addresses``, companies by ``domains``, users by ``user_id``, workspaces by
    ``workspace_id``); None for other objects, which a string names by record id only."""
    found = _SHORTHAND.get(object_slug)
    return found[0] if found else None


#: Types a matching-attribute reference may use, with the checker of their value.
_MATCHABLE: dict[str, Checker] = {
    "domain": check_domain,
    "email-address": check_email,
    "number": check_number,
    "phone-number": check_phone,
    "text": check_text,
}


@dataclass(frozen=True)
class ReferenceIndex:
    """What one record-reference attribute may point at, resolved against the schema."""

    allowed: tuple[ObjectInfo, ...]
    any_object: bool
    missing_ids: tuple[str, ...]

    @classmethod
    def build(cls, attribute: AttributeInfo, schema: WorkspaceSchema) -> ReferenceIndex:
        """Resolve `allowed_object_ids` (empty means any object) to activated objects."""
        ids = attribute.allowed_object_ids
        if not ids:
            return cls(tuple(schema.objects), True, ())
        found = [schema.find_object(i) for i in ids]
        return cls(
            tuple(o for o in found if o is not None),
            False,
            tuple(i for i, o in zip(ids, found, strict=True) if o is None),
        )

    @property
    def single(self) -> ObjectInfo | None:
        """The one object allowed, when there is exactly one."""
        return self.allowed[0] if not self.any_object and len(self.allowed) == 1 and not self.missing_ids else None

    def names(self) -> str:
        return ", ".join(o.api_slug for o in self.allowed) or "(no activated object)"


def check_record_reference(item: Any, ctx: Context) -> dict[str, Any] | None:
    """record-reference: any of the three write forms above."""
    index: ReferenceIndex = ctx.index_data
    if isinstance(item, dict):
        return _object_form(item, ctx, index)
    if isinstance(item, int) and not isinstance(item, bool) and index.single is not None:
        if index.single.api_slug in ("users", "workspaces"):
            ctx.note(f"read the number {item} as the text {str(item)!r}")
            item = str(item)
    if not isinstance(item, str):
        ctx.refuse(item, f"a {type(item).__name__} is not a record reference")
        return None
    target = index.single
    if target is None:
        hint = (
            'name the object: {"target_object": "<slug>", "target_record_id": "<uuid>"}'
            if index.allowed
            else "activate the target object in Attio and pull the schema again"
        )
        ctx.refuse(
            item,
            f"a bare string is only taken when the attribute allows exactly one object; it allows {_allowed(index)}",
            hint,
        )
        return None
    slug = target.api_slug
    if slug in _SHORTHAND:
        matching, checker = _SHORTHAND[slug]
        if slug in ("people", "companies") and UUID.fullmatch(item.strip()):
            return _by_id(item.strip(), target, ctx)
        value = checker(item, ctx.child(f"{slug} {matching}: "))
        return None if value is None else {"target_object": slug, matching: [value]}
    if UUID.fullmatch(item.strip()):
        return _by_id(item.strip(), target, ctx)
    ctx.refuse(
        item,
        f"{slug} is not a standard object, so only a record id (UUID) may be given as a string",
        f'or send {{"target_object": "{slug}", "<unique attribute>": [...]}}',
    )
    return None


def _by_id(record_id: str, target: ObjectInfo, ctx: Context) -> dict[str, Any]:
    ctx.note(f"read {record_id!r} as the id of a {target.api_slug} record")
    return {"target_object": target.api_slug, "target_record_id": record_id.lower()}


def _object_form(item: dict[Any, Any], ctx: Context, index: ReferenceIndex) -> dict[str, Any] | None:
    if "target_object" not in item:
        ctx.refuse(
            item,
            "a record reference object needs target_object",
            'write {"target_object": "people", "email_addresses": [{"email_address": "..."}]}',
        )
        return None
    target_name = item["target_object"]
    if not isinstance(target_name, str):
        ctx.refuse(item, "target_object must be an object slug or id")
        return None
    target = ctx.schema.find_object(target_name)
    if target is None:
        slugs = [o.api_slug for o in ctx.schema.objects]
        hint = did_you_mean(target_name, slugs, "activate it in Attio and pull the schema")
        ctx.refuse(item, f"no activated object {target_name!r}", hint)
        return None
    if not index.any_object and target not in index.allowed:
        ctx.refuse(item, f"this attribute may point at {_allowed(index)}, not {target.api_slug}")
        return None
    if target_name != target.api_slug:
        ctx.note(f"wrote target_object {target_name!r} as its slug {target.api_slug!r}")
    keys = [k for k in item if k != "target_object"]
    if "target_record_reference" in keys:
        ctx.refuse(
            item,
            "target_record_reference is only in Attio's newer docs and its options are unconfirmed",
            "use target_record_id, or a unique matching attribute",
        )
        return None
    if len(keys) != 1:
        ctx.refuse(
            item,
            "a record reference has target_object and exactly one of target_record_id or a matching attribute",
        )
        return None
    key = keys[0]
    value = item[key]
    if key == "target_record_id":
        if not isinstance(value, str) or not UUID.fullmatch(value):
            ctx.refuse(item, "target_record_id is not a UUID")
            return None
        if value != value.lower():
            ctx.note("lower-cased target_record_id")
        return {"target_object": target.api_slug, "target_record_id": value.lower()}
    return _matching_form(item, key, value, target, ctx)


def _matching_form(item: Any, key: Any, value: Any, target: ObjectInfo, ctx: Context) -> dict[str, Any] | None:
    attribute = ctx.schema.find_attribute(target.api_slug, str(key))
    if attribute is None:
        uniques = [a.api_slug for a in ctx.schema.attributes_of(target.api_slug) if a.is_unique]
        hint = did_you_mean(str(key), uniques, "use target_record_id")
        ctx.refuse(item, f"{target.api_slug} has no attribute {key!r}", hint)
        return None
    checker = _MATCHABLE.get(attribute.type)
    if checker is None:
        ctx.refuse(
            item,
            f"{attribute.api_slug} is a {attribute.type} attribute; "
            "references match on domain, email, number, phone or text",
        )
        return None
    if attribute.is_archived:
        ctx.refuse(item, f"{target.api_slug}.{attribute.api_slug} is archived")
        return None
    if not attribute.is_unique:
        uniques = [
            a.api_slug for a in ctx.schema.attributes_of(target.api_slug) if a.is_unique and a.type in _MATCHABLE
        ]
        ctx.refuse(
            item,
            f"{target.api_slug}.{attribute.api_slug} is not unique; only unique attributes are sure to match",
            f"match on {' or '.join(uniques)}" if uniques else "use target_record_id",
        )
        return None
    if isinstance(value, list):
        if len(value) != 1:
            ctx.refuse(item, f"{attribute.api_slug} must hold exactly one value to match on, not {len(value)}")
            return None
        value = value[0]
    else:
        ctx.note(f"wrapped the {attribute.api_slug} value in a one-element list")
    checked = checker(value, ctx.child(f"{target.api_slug}.{attribute.api_slug}: "))
    if checked is None:
        return None
    if key != attribute.api_slug:
        ctx.note(f"wrote the matching attribute {key!r} as its slug {attribute.api_slug!r}")
    return {"target_object": target.api_slug, attribute.api_slug: [checked]}


def _allowed(index: ReferenceIndex) -> str:
    if index.any_object:
        return "any object"
    text = index.names()
    if index.missing_ids:
        text += f" (and {len(index.missing_ids)} object(s) not activated)"
    return text
