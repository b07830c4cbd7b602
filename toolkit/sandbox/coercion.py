"""A write's ``values`` read as Attio reads them: attribute lookup, writability, list shape, and
the reference types that need the workspace (select, status, actor) or the records (record
reference). Scalar types are in `values.py`.

Record references follow docs.attio.com's guide "Linking referenced records" (the newer source;
the 2026-03 OpenAPI text disagrees, `SandboxConfig` can take its side): by id; by a matching
attribute of the target, unique or not, when exactly one record matches; as a string shorthand;
and as ``{"target_object", "target_record_reference": {"match": {attribute: value}, ...}}``,
whose options decide what several matches or none do (`SandboxConfig.reference_options`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from ..schema import AttributeInfo, ObjectInfo, OptionInfo, StatusInfo
from .catalog import Catalog, is_uuid
from .config import SandboxConfig
from .problems import ApiProblem, invalid_value, json_type_name, unrecognized_keys, validation_item
from .values import SCALAR_COERCERS, Invalid, Options, value_key

__all__ = ["PENDING_CREATE", "Resolver", "coerce_values"]

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

    def reserve_id(self) -> str:
        """A fresh record id, for a referenced record the write will create."""
        ...


#: The key a record-reference payload carries while the record it points at is still to be
#: created (``target_record_reference`` with a create outcome): the values to create it with.
#: The store creates the record when the write is stored, and drops the key.
PENDING_CREATE = "_create"


class _Context:
    __slots__ = ("catalog", "config", "pending", "resolver")

    def __init__(self, catalog: Catalog, config: SandboxConfig, resolver: Resolver) -> None:
        self.catalog = catalog
        self.config = config
        self.resolver = resolver
        # (object id, attribute id, value key) -> reserved id: one write creates one record per value.
        self.pending: dict[tuple[str, str, Hashable], str] = {}

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
        return _linked(target, _matches(ctx, target, match_attr, item, []))
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
        return _linked(target, record_id)
    if "target_record_reference" in item:
        if others != ["target_record_reference"]:
            raise Invalid([unrecognized_keys(sorted(set(others) - {"target_record_reference"}))])
        return _by_reference(ctx, target, item["target_record_reference"])
    if len(others) != 1:
        raise Invalid([validation_item("invalid_union", [], "Expected target_record_id, target_record_reference or "
                                       "exactly one matching attribute besides target_object")])  # fmt: skip
    key = others[0]
    match_attr = _match_attribute(ctx, target, key)
    value = item[key]
    if not isinstance(value, list) or len(value) != 1:
        raise Invalid([validation_item("invalid", [key], "Expected an array with exactly one value")])
    return _linked(target, _matches(ctx, target, match_attr, value[0], [key, 0]))


def _linked(target: ObjectInfo, record_id: str) -> JSON:
    return {"target_object": target.api_slug, "target_record_id": record_id, "attribute_type": "record-reference"}


def _match_attribute(ctx: _Context, target: ObjectInfo, key: str) -> AttributeInfo:
    """The attribute of `target` a reference matches on; the message names the target object, so
    it cannot be read as an unknown attribute of the record being written."""
    match_attr = ctx.catalog.attribute(target, key)
    if match_attr is None:
        raise ApiProblem(400, "value_not_found", f'Cannot find attribute with slug/ID "{key}" on object '
                         f'"{target.api_slug}" to match the referenced record on.')  # fmt: skip
    return match_attr


def _matched_payload(ctx: _Context, match_attr: AttributeInfo, value: Any, path: list[Any]) -> JSON:
    """The match value read as its attribute's type, after the checks on the attribute itself."""
    if match_attr.type not in MATCHABLE_TYPES:
        raise Invalid([validation_item("invalid", path, f'Attribute "{match_attr.api_slug}" cannot be used to match '
                                       "a referenced record")])  # fmt: skip
    if ctx.config.reference_match_requires_unique and not match_attr.is_unique:
        raise Invalid([validation_item("invalid", path, f'Matching attribute "{match_attr.api_slug}" must be unique')])
    try:
        return SCALAR_COERCERS[match_attr.type](value, ctx.options(None))
    except Invalid as exc:
        raise Invalid([{**e, "path": [*path, *e["path"]]} for e in exc.errors]) from None


def _matches(ctx: _Context, target: ObjectInfo, match_attr: AttributeInfo, value: Any, path: list[Any]) -> str:
    """The one record a matching-attribute reference names: none or several is an error (the guide:
    the matching forms "fail if they do not find exactly one record")."""
    payload = _matched_payload(ctx, match_attr, value, path)
    found = ctx.resolver.records_matching(match_attr, value_key(payload))
    if not found:
        raise _no_match(target, match_attr, payload)
    if len(found) > 1:
        raise _several(target, match_attr, payload)
    return found[0]


def _no_match(target: ObjectInfo, match_attr: AttributeInfo, payload: JSON) -> ApiProblem:
    return ApiProblem(400, "value_not_found", f'No record of object "{target.api_slug}" was found with '
                      f'{match_attr.api_slug} "{value_key(payload)}".')  # fmt: skip


def _several(target: ObjectInfo, match_attr: AttributeInfo, payload: JSON) -> ApiProblem:
    return ApiProblem(400, "multiple_match_results", f'Multiple records of object "{target.api_slug}" were found '
                      f'with {match_attr.api_slug} "{value_key(payload)}".')  # fmt: skip


def _by_reference(ctx: _Context, target: ObjectInfo, ref: Any) -> JSON:
    """``target_record_reference``: ``match`` (one attribute, one value, bare or in a one-element
    array) and options saying what several matches or none do."""
    where: list[str | int] = ["target_record_reference"]
    if not ctx.config.target_record_reference:
        raise Invalid([validation_item("invalid_union", where, "target_record_reference is not a record reference "
                                       "form of this API version; use target_record_id or a matching attribute "
                                       "(sandbox: target_record_reference=False)")])  # fmt: skip
    if not isinstance(ref, dict):
        raise Invalid([validation_item("invalid_type", where, f"Expected object, received {json_type_name(ref)}",
                                       expected="object", received=json_type_name(ref))])  # fmt: skip
    match = ref.get("match")
    if not isinstance(match, dict):
        received = json_type_name(match) if "match" in ref else "undefined"
        raise Invalid([validation_item("invalid_type", [*where, "match"], "Required" if received == "undefined"
                                       else f"Expected object, received {received}", expected="object",
                                       received=received)])  # fmt: skip
    if len(match) != 1:
        raise Invalid([validation_item("invalid", [*where, "match"], "match takes exactly one attribute, "
                                       f"not {len(match)}")])  # fmt: skip
    ((key, value),) = match.items()
    path: list[Any] = [*where, "match", key]
    if isinstance(value, list):
        if len(value) != 1:
            raise Invalid([validation_item("invalid", path, "match takes exactly one value (bare or in an array of "
                                           f"one), not {len(value)}")])  # fmt: skip
        value, path = value[0], [*path, 0]
    outcomes = _reference_outcomes(ctx, ref, where)
    match_attr = _match_attribute(ctx, target, key)
    payload = _matched_payload(ctx, match_attr, value, path)
    found = ctx.resolver.records_matching(match_attr, value_key(payload))
    if len(found) == 1 or (found and "first" in outcomes):
        return _linked(target, found[0])  # records_matching answers in creation order: [0] is the oldest
    if found:
        raise _several(target, match_attr, payload)
    if "create" not in outcomes:
        raise _no_match(target, match_attr, payload)
    for attr in ctx.catalog.attributes_of(target):
        if (attr.is_required and not attr.is_archived and not attr.is_default_value_enabled
                and attr.attribute_id != match_attr.attribute_id):  # fmt: skip
            raise ApiProblem(400, "missing_value", f'Required value for attribute with ID "{attr.attribute_id}" was '
                             f'not provided (creating the referenced {target.api_slug} record).')  # fmt: skip
    slot = (target.object_id, match_attr.attribute_id, value_key(payload))
    if slot not in ctx.pending:
        ctx.pending[slot] = ctx.resolver.reserve_id()
    record_id = ctx.pending[slot]
    return {**_linked(target, record_id), PENDING_CREATE: {match_attr.attribute_id: [payload]}}


def _reference_outcomes(ctx: _Context, ref: dict[str, Any], where: list[str | int]) -> set[str]:
    """The outcomes the options of a ``target_record_reference`` ask for (`SandboxConfig.reference_options`)."""
    known = ctx.config.reference_options
    unknown = sorted(k for k in ref if k != "match" and k not in known)
    if unknown:
        message = (f"Unrecognized key(s) in object: {unknown} (sandbox: the options of target_record_reference are "
                   "not known until SandboxConfig.reference_options names them)")
        raise Invalid([validation_item("unrecognized_keys", where, message, keys=unknown)])
    chosen: set[str] = set()
    for option, value in ref.items():
        if option == "match":
            continue
        outcomes = known[option]
        if not isinstance(value, str) or value not in outcomes:
            raise Invalid([validation_item("invalid_enum_value", [*where, option], "Invalid enum value",
                                           options=sorted(outcomes), received=value)])  # fmt: skip
        chosen.add(outcomes[value])
    return chosen
