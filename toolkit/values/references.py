"""record-reference values (api-notes 4.2, record-reference; 3.2 allowed_object_ids), as
docs.attio.com's guide "Linking referenced records" has them (the newest source; where the
2026-03 OpenAPI text disagrees, the guide is followed: README, "Attio behaviours we assume").

These write forms are accepted and sent:

1. By id: ``{"target_object": slug, "target_record_id": uuid}``.
2. By a matching attribute of the target object:
   ``{"target_object": "people", "email_addresses": [{"email_address": "a@b.com"}]}``; the
   one value is checked by the matching attribute's own type (domain, email, number, phone or
   text, the only types Attio takes there). The attribute need not be unique (the guide; the
   OpenAPI text says it must be): Attio links the record when exactly one matches and fails
   the write otherwise, so a non-unique one passes with a warning.
3. A string shorthand, only when the attribute allows exactly one standard object: an email
   for people, a domain (or website URL) for companies, a ``user_id`` for users, a
   ``workspace_id`` for workspaces. It is sent as form 2. A record id (UUID) string is sent as
   form 1 when the attribute allows exactly one object, other than users and workspaces (for
   those Attio reads any string as the id attribute).
4. ``{"target_object": slug, "target_record_reference": {"match": {attribute: value}, ...}}``
   (the guide only): `match` takes exactly one attribute of a matchable type and one value,
   bare or in a one-element array, checked by the attribute's type and sent as a one-element
   array of the plain value. The other keys are the options saying what several matches or
   none do (``if_multiple_matches``, and creating the record when none matches); their values
   are [unconfirmed] here (api-notes 4.2), so they are sent as written, with a warning.

``target_object`` is always written as the object's slug.
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
        if len(keys) != 1:
            others = ", ".join(sorted(str(k) for k in keys if k != "target_record_reference"))
            ctx.refuse(item, f"target_record_reference goes alone beside target_object, not with {others}")
            return None
        return _reference_form(item, item["target_record_reference"], target, ctx)
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


def _match_attribute(item: Any, key: Any, target: ObjectInfo, ctx: Context) -> AttributeInfo | None:
    """The attribute of `target` a reference matches on, or None after saying why it cannot be."""
    attribute = ctx.schema.find_attribute(target.api_slug, str(key))
    if attribute is None:
        matchable = [a.api_slug for a in ctx.schema.attributes_of(target.api_slug)
                     if a.type in _MATCHABLE and not a.is_archived]  # fmt: skip
        hint = did_you_mean(str(key), matchable, "use target_record_id")
        ctx.refuse(item, f"{target.api_slug} has no attribute {key!r}", hint)
        return None
    if attribute.type not in _MATCHABLE:
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
        # The guide: any matchable attribute, but the write fails unless exactly one record matches.
        ctx.warn(f"{target.api_slug}.{attribute.api_slug} is not unique: Attio links the record only when exactly "
                 "one record has this value, and refuses the write otherwise")
    return attribute


def _matching_form(item: Any, key: Any, value: Any, target: ObjectInfo, ctx: Context) -> dict[str, Any] | None:
    attribute = _match_attribute(item, key, target, ctx)
    if attribute is None:
        return None
    checker = _MATCHABLE[attribute.type]
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


#: The one key of each matchable type's write form: the plain value `match` is sent with.
_PLAIN_KEY = {"domain": "domain", "email-address": "email_address", "number": "value",
              "phone-number": "original_phone_number", "text": "value"}  # fmt: skip


def _reference_form(item: Any, ref: Any, target: ObjectInfo, ctx: Context) -> dict[str, Any] | None:
    """Form 4: ``target_record_reference`` with `match` and options (see the module docstring)."""
    if not isinstance(ref, dict):
        ctx.refuse(item, "target_record_reference must be an object", 'write {"match": {"<attribute>": "<value>"}}')
        return None
    match = ref.get("match")
    if not isinstance(match, dict) or len(match) != 1:
        count = f"{len(match)} attributes" if isinstance(match, dict) else "no match object"
        ctx.refuse(item, f"target_record_reference.match takes exactly one attribute and one value, not {count}",
                   'write {"match": {"domains": "acme.com"}}')
        return None
    ((key, value),) = match.items()
    attribute = _match_attribute(item, key, target, ctx)
    if attribute is None:
        return None
    if isinstance(value, list):
        if len(value) != 1:
            ctx.refuse(item, f"match takes exactly one {attribute.api_slug} value, not {len(value)}")
            return None
        value = value[0]
    checked = _MATCHABLE[attribute.type](value, ctx.child(f"{target.api_slug}.{attribute.api_slug}: "))
    if checked is None:
        return None
    options = {k: v for k, v in ref.items() if k != "match"}
    if options:
        ctx.warn(f"target_record_reference option(s) {', '.join(sorted(map(str, options)))} sent as written: their "
                 "values are Attio's to check (docs.attio.com, 'Linking referenced records')")
    plain = checked[_PLAIN_KEY[attribute.type]]
    return {"target_object": target.api_slug,
            "target_record_reference": {"match": {attribute.api_slug: [plain]}, **options}}  # fmt: skip


def _allowed(index: ReferenceIndex) -> str:
    if index.any_object:
        return "any object"
    text = index.names()
    if index.missing_ids:
        text += f" (and {len(index.missing_ids)} object(s) not activated)"
    return text
