"""A write's ``values`` read as Attio reads them: attribute lookup, writability, list shape, and
the reference types that need the workspace (select, status, actor) or the records (record
reference). Scalar types are in `values.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from ..schema import AttributeInfo, ObjectInfo, OptionInfo, StatusInfo
from .catalog import Catalog, is_uuid
from .config import SandboxConfig
from .problems import ApiProblem, invalid_value, json_type_name, unrecognized_keys, validation_item
from .values import SCALAR_COERCERS, Invalid, Options, value_key

__all__ = ["Resolver", "coerce_values"]

JSON = dict[str, Any]

#: api-notes 4.2 record-reference, form 3: the string shorthand per standard target object.
SHORTHAND_ATTRIBUTE = {
    "companies": "domains",
    "people": "email_addresses",
    "users": "user_id",
    "workspaces": "workspace_id",
}
#: Types a reference by matching attribute may match on (api-notes 4.2, form 2).
MATCHABLE_TYPES = frozenset({"domain", "email-address", "number", "phone-number", "text"})


class Resolver(Protocol):
    """What coercion asks of the record store."""

    def record_exists(self, object_id: str, record_id: str) -> bool:
        """True when the record exists."""
        ...

    def records_matching(self, attr: AttributeInfo, key: Hashable) -> list[str]:
        """Ids of the records whose values of `attr` include one with this `value_key`."""
        ...


class _Context:
    __slots__ = ("catalog", "config", "resolver")

    def __init__(self, catalog: Catalog, config: SandboxConfig, resolver: Resolver) -> None:
        self.catalog = catalog
        self.config = config
        self.resolver = resolver

    def options(self, currency_code: str | None) -> Options:
        """The scalar coercers' options under this config."""
        return Options(strict_precision=self.config.strict_precision, currency_code=currency_code,
                       phone_validation=self.config.phone_validation)  # fmt: skip


def coerce_values(
    catalog: Catalog,
    config: SandboxConfig,
    resolver: Resolver,
    obj: ObjectInfo,
    values: Mapping[str, Any],
) -> dict[str, list[JSON]]:
    """Read every supplied value; return payloads (without envelope) by attribute id.

    A value of ``None`` or ``[]`` becomes an empty list: the caller decides whether that clears.

    Raises:
        ApiProblem: the first attribute (in payload order) Attio would refuse, with its code.
    """
    ctx = _Context(catalog, config, resolver)
    out: dict[str, list[JSON]] = {}
    for key, raw in values.items():
        attr = catalog.attribute(obj, key)
        if attr is None:
            raise ApiProblem(400, "value_not_found", f'Cannot find attribute with slug/ID "{key}".')
        if attr.is_archived and config.refuse_archived_attributes:
            raise ApiProblem(400, "validation_type", f'Cannot write to archived attribute with slug "{attr.api_slug}".')
        if not attr.is_writable:
            raise ApiProblem(400, config.non_writable_code,
                             f'Cannot write to attribute with slug "{attr.api_slug}": it is not writable.')  # fmt: skip
        if raw is None:
            items: list[Any] = []
        elif isinstance(raw, list):
            items = raw
        elif attr.is_multiselect:
            # api-notes 4.1: a multiselect value must be an array (a bare string fails live).
            raise invalid_value(attr.api_slug, [validation_item(
                "invalid_type", [], f"Expected array, received {json_type_name(raw)}",
                expected="array", received=json_type_name(raw))])  # fmt: skip
        else:
            items = [raw]
        if not attr.is_multiselect and len(items) > 1:
            raise invalid_value(attr.api_slug, [validation_item(
                "too_big", [], "Only one value may be passed to a single-value attribute",
                maximum=1, type="array", inclusive=True)])  # fmt: skip
        payloads: list[JSON] = []
        seen: set[Hashable] = set()
        for item in items:
            try:
                payload = _coerce_item(ctx, attr, item)
            except Invalid as exc:
                raise invalid_value(attr.api_slug, exc.errors) from None
            key_of = value_key(payload)
            if key_of not in seen:
                seen.add(key_of)
                payloads.append(payload)
        out[attr.attribute_id] = payloads
    return out


def _coerce_item(ctx: _Context, attr: AttributeInfo, item: Any) -> JSON:
    kind = attr.type
    scalar = SCALAR_COERCERS.get(kind)
    if scalar is not None:
        currency = ((attr.config or {}).get("currency") or {}).get("default_currency_code")
        return scalar(item, ctx.options(currency))
    if kind == "select":
        return _select(ctx, attr, item)
    if kind == "status":
        return _status(ctx, attr, item)
    if kind == "actor-reference":
        return _actor(ctx, attr, item)
    if kind == "record-reference":
        return _record_reference(ctx, attr, item)
    # interaction: only the system writes these (api-notes 4.2).
    raise Invalid([validation_item("invalid", [], f"Values of type {kind} cannot be written")])


def _bare(item: Any, key: str) -> Any:
    if isinstance(item, dict):
        extra = set(item) - {key}
        if key not in item or extra:
            raise Invalid([validation_item("invalid_type", [key], "Required", expected="string", received="undefined")
                           if key not in item else unrecognized_keys(extra)])
        item = item[key]
    if not isinstance(item, str):
        raise Invalid([validation_item("invalid_type", [key] if isinstance(item, dict) else [],
                                       f"Expected string, received {json_type_name(item)}",
                                       expected="string", received=json_type_name(item))])  # fmt: skip
    return item


def _choice(
    ctx: _Context,
    attr: AttributeInfo,
    item: Any,
    key: str,
    find: Callable[[AttributeInfo, str], OptionInfo | StatusInfo | None],
    render: Callable[[Any], JSON],
    not_found: str,
) -> JSON:
    """A select option or a status, by title or id, expanded to its full object (api-notes 4.2)."""
    title = _bare(item, key)
    found = find(attr, title)
    if found is None or (found.is_archived and ctx.config.refuse_archived_options):
        raise ApiProblem(400, "value_not_found", not_found.format(title))
    return {key: render(found), "attribute_type": attr.type}


def _select(ctx: _Context, attr: AttributeInfo, item: Any) -> JSON:
    return _choice(ctx, attr, item, "option", ctx.catalog.find_option, ctx.catalog.option_json,
                   'Cannot find select attribute with select option title "{}".')  # fmt: skip


def _status(ctx: _Context, attr: AttributeInfo, item: Any) -> JSON:
    return _choice(ctx, attr, item, "status", ctx.catalog.find_status, ctx.catalog.status_json,
                   'Cannot find Status with title "{}".')  # fmt: skip


def _actor(ctx: _Context, attr: AttributeInfo, item: Any) -> JSON:
    if isinstance(item, dict) and "referenced_actor_type" in item:
        extra = set(item) - {"referenced_actor_type", "referenced_actor_id"}
        if extra:
            raise Invalid([unrecognized_keys(extra)])
        if item["referenced_actor_type"] != "workspace-member":
            # Only workspace members can be written (api-notes 4.2).
            raise Invalid([validation_item("invalid_enum_value", ["referenced_actor_type"],
                                           "Only workspace-member actors can be written",
                                           options=["workspace-member"], received=item["referenced_actor_type"])])
        ref = item.get("referenced_actor_id")
        if not is_uuid(ref):
            raise Invalid([validation_item("invalid_string", ["referenced_actor_id"], "Invalid uuid",
                                           validation="uuid")])  # fmt: skip
        member = ctx.catalog.member(ref.lower())
        shown = f'ID "{ref}"'
    else:
        email = _bare(item, "workspace_member_email_address")
        member = ctx.catalog.member(email)
        shown = f'email address "{email}"'
    if member is None or (member.access_level == "suspended" and ctx.config.refuse_suspended_members):
        raise ApiProblem(400, "value_not_found", f"Cannot find workspace member with {shown}.")
    return {"referenced_actor_type": "workspace-member", "referenced_actor_id": member.workspace_member_id,
            "attribute_type": "actor-reference"}  # fmt: skip


def _allowed(attr: AttributeInfo) -> list[str]:
    return list(((attr.config or {}).get("record_reference") or {}).get("allowed_object_ids") or ())


def _record_reference(ctx: _Context, attr: AttributeInfo, item: Any) -> JSON:
    allowed = _allowed(attr)
    if isinstance(item, str):
        target = ctx.catalog.object(allowed[0]) if len(allowed) == 1 else None
        match_slug = SHORTHAND_ATTRIBUTE.get(target.api_slug) if target else None
        match_attr = ctx.catalog.attribute(target, match_slug) if target and match_slug else None
        if target is None or match_attr is None:
            raise Invalid([validation_item("invalid_type", [], "A string may only reference a record of a single "
                                           "standard object; use {target_object, target_record_id}",
                                           expected="object", received="string")])  # fmt: skip
        return _by_match(ctx, target, match_attr, item, [])
    if not isinstance(item, dict):
        raise Invalid([validation_item("invalid_type", [], f"Expected object, received {json_type_name(item)}",
                                       expected="object", received=json_type_name(item))])  # fmt: skip
    target_ref = item.get("target_object")
    if not isinstance(target_ref, str):
        received = json_type_name(target_ref) if "target_object" in item else "undefined"
        raise Invalid([validation_item("invalid_type", ["target_object"], "Required", expected="string",
                                       received=received)])
    target = ctx.catalog.object(target_ref)
    if target is None:
        raise ApiProblem(400, "value_not_found", f'Object with slug/ID "{target_ref}" not found.')
    if allowed and target.object_id not in allowed:
        message = f'Records of object "{target.api_slug}" cannot be referenced by this attribute'
        raise Invalid([validation_item("invalid", ["target_object"], message)])
    others = [k for k in item if k != "target_object"]
    if "target_record_id" in item:
        if others != ["target_record_id"]:
            extra = sorted(set(others) - {"target_record_id"})
            raise Invalid([unrecognized_keys(extra)])
        record_id = item["target_record_id"]
        if not is_uuid(record_id):
            raise Invalid([validation_item("invalid_string", ["target_record_id"], "Invalid uuid", validation="uuid")])
        record_id = record_id.lower()  # UUIDs compare without case; ids are stored lower-case
        if not ctx.resolver.record_exists(target.object_id, record_id):
            raise ApiProblem(400, "value_not_found", f'Record with ID "{record_id}" not found on object '
                             f'"{target.api_slug}".')  # fmt: skip
        return {"target_object": target.api_slug, "target_record_id": record_id, "attribute_type": "record-reference"}
    if len(others) != 1:
        raise Invalid([validation_item("invalid_union", [], "Expected target_record_id or exactly one matching "
                                       "attribute besides target_object")])  # fmt: skip
    key = others[0]
    match_attr = ctx.catalog.attribute(target, key)
    if match_attr is None:
        raise ApiProblem(400, "value_not_found", f'Cannot find attribute with slug/ID "{key}".')
    value = item[key]
    if not isinstance(value, list) or len(value) != 1:
        raise Invalid([validation_item("invalid", [key], "Expected an array with exactly one value")])
    return _by_match(ctx, target, match_attr, value[0], [key, 0])


def _by_match(ctx: _Context, target: ObjectInfo, match_attr: AttributeInfo, value: Any, path: list[Any]) -> JSON:
    if match_attr.type not in MATCHABLE_TYPES:
        raise Invalid([validation_item("invalid", path, f'Attribute "{match_attr.api_slug}" cannot be used to match '
                                       "a referenced record")])  # fmt: skip
    if ctx.config.reference_match_requires_unique and not match_attr.is_unique:
        raise Invalid([validation_item("invalid", path, f'Matching attribute "{match_attr.api_slug}" must be unique')])
    try:
        payload = SCALAR_COERCERS[match_attr.type](value, ctx.options(None))
    except Invalid as exc:
        raise Invalid([{**e, "path": [*path, *e["path"]]} for e in exc.errors]) from None
    found = ctx.resolver.records_matching(match_attr, value_key(payload))
    if not found:
        raise ApiProblem(400, "value_not_found", f'No record of object "{target.api_slug}" was found with '
                         f'{match_attr.api_slug} "{value_key(payload)}".')  # fmt: skip
    if len(found) > 1:
        raise ApiProblem(400, "multiple_match_results", f'Multiple records of object "{target.api_slug}" were found '
                         f'with {match_attr.api_slug} "{value_key(payload)}".')  # fmt: skip
    return {"target_object": target.api_slug, "target_record_id": found[0], "attribute_type": "record-reference"}
