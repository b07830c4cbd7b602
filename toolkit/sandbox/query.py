"""`POST /v2/objects/{object}/records/query`: filters, sorts, limit and offset (api-notes 5.6).

A filter compiles to a predicate over stored records. On a multiselect attribute a condition
holds when *some* value satisfies every operator given for it. Unknown attributes and operators
are refused with the codes live Attio was seen to use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cmp_to_key
from typing import Any

from ..schema import AttributeInfo, ObjectInfo
from .catalog import Catalog
from .problems import ApiProblem
from .store import Record, Store
from .values import format_timestamp, parse_iso

__all__ = ["compile_filter", "run_query", "sort_records"]

JSON = dict[str, Any]
Predicate = Callable[[Record], bool]

#: The property a shorthand or property-less filter compares (api-notes 5.6).
MAIN_PROPERTY = {
    "email-address": "email_address",
    "domain": "domain",
    "phone-number": "phone_number",
    "personal-name": "full_name",
    "currency": "currency_value",
    "select": "option",
    "status": "status",
    "record-reference": "target_record_id",
    "actor-reference": "referenced_actor_id",
    "interaction": "interacted_at",
    "location": "line_1",
}
#: The properties a filter may name, per type (api-notes 5.6); others are refused with
#: `invalid_filter_field` (live Attio refused `original_phone_number`, for one).
FILTERABLE = {
    "email-address": {"email_address", "email_domain", "email_root_domain", "email_local_specifier"},
    "domain": {"domain", "root_domain"},
    "phone-number": {"phone_number", "country_code"},
    "location": {"line_1", "line_2", "line_3", "line_4", "locality", "region", "postcode", "country_code"},
    "personal-name": {"first_name", "last_name", "full_name"},
    "actor-reference": {"referenced_actor_type", "referenced_actor_id"},
    "interaction": {"owner_member_id", "interacted_at", "interaction_type"},
    "select": {"option", "active_from"},
    "status": {"status", "active_from"},
    "record-reference": {"target_object", "target_record_id"},
    "currency": {"currency_value", "currency_code"},
}
_ORDERED_TYPES = frozenset({"number", "date", "timestamp", "rating", "currency", "interaction"})
_OPERATORS = frozenset({"$eq", "$in", "$contains", "$starts_with", "$ends_with", "$lt", "$lte", "$gt", "$gte",
                        "$not_empty"})  # fmt: skip


def _filter_error(message: str, code: str = "filter_error") -> ApiProblem:
    return ApiProblem(400, code, message)


def _property_values(value: JSON, prop: str) -> list[Any]:
    """The comparable values of one property of a stored value (select/status: title and id)."""
    kind = value["attribute_type"]
    if prop == "option" and kind == "select":
        return [value["option"]["title"], value["option"]["id"]["option_id"]]
    if prop == "status" and kind == "status":
        return [value["status"]["title"], value["status"]["id"]["status_id"]]
    if prop == "owner_member_id" and kind == "interaction":
        return [(value.get("owner_actor") or {}).get("id")]
    if prop == "target_object" and kind == "record-reference":
        return [value["target_object"]]
    return [value.get(prop)]


def _normalise_operand(attr: AttributeInfo, prop: str, operand: Any) -> Any:
    """Bring a filter operand to the stored form (lower-case emails, nine-digit timestamps)."""
    if isinstance(operand, str):
        if attr.type in ("email-address", "domain") and prop != "original_email_address":
            return operand.lower()
        if (attr.type == "timestamp" or (attr.type == "interaction" and prop == "interacted_at")
                or prop == "active_from"):
            parsed = parse_iso(operand)
            if parsed is None or "T" not in operand.upper():
                raise _filter_error(f'Timestamp filters need a full date and time, got "{operand}".')
            return format_timestamp(parsed[0], parsed[1])
        if attr.type == "date":
            parsed = parse_iso(operand)
            if parsed is None:
                raise _filter_error(f'Invalid date in filter: "{operand}".')
            return parsed[0].date().isoformat()
    return operand


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return False
    if op == "$eq":
        return bool(left == right)
    if op == "$in":
        return left in right
    if op in ("$contains", "$starts_with", "$ends_with"):
        if not isinstance(left, str) or not isinstance(right, str):
            return False
        a, b = left.lower(), right.lower()
        return b in a if op == "$contains" else a.startswith(b) if op == "$starts_with" else a.endswith(b)
    try:
        if op == "$lt":
            return bool(left < right)
        if op == "$lte":
            return bool(left <= right)
        if op == "$gt":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def _value_condition(attr: AttributeInfo, spec: Any) -> Callable[[JSON], bool] | None:
    """A test on one stored value, or None for a pure ``$not_empty`` condition."""
    main = MAIN_PROPERTY.get(attr.type, "value")
    if not isinstance(spec, Mapping):
        spec = {main: {"$eq": spec}}
    elif spec and all(k.startswith("$") for k in spec):
        spec = {main: spec}
    checks: list[tuple[str, str, Any]] = []
    allowed = FILTERABLE.get(attr.type, {"value"})
    for prop, ops in spec.items():
        if prop.startswith("$"):
            raise _filter_error(f'Operator "{prop}" cannot be mixed with properties of "{attr.api_slug}".',
                                "invalid_filter_operator")  # fmt: skip
        if prop not in allowed:
            raise _filter_error(f'Cannot filter "{attr.api_slug}" ({attr.type}) on field "{prop}".',
                                "invalid_filter_field")  # fmt: skip
        if not isinstance(ops, Mapping) or not ops or not all(k.startswith("$") for k in ops):
            ops = {"$eq": ops}
        for op, operand in ops.items():
            if op not in _OPERATORS:
                raise _filter_error(f'Unknown filter operator "{op}".', "invalid_filter_operator")
            if op == "$not_empty":
                continue
            if op == "$in":
                if attr.type == "status":
                    raise _filter_error('The "$in" operator is not supported on status attributes.',
                                        "invalid_filter_operator")  # fmt: skip
                if not isinstance(operand, list):
                    raise _filter_error('The "$in" operator takes an array.')
                operand = [_normalise_operand(attr, prop, o) for o in operand]
            elif op in ("$lt", "$lte", "$gt", "$gte") and attr.type not in _ORDERED_TYPES and prop != "active_from":
                raise _filter_error(f'Operator "{op}" is not supported on "{attr.api_slug}" ({attr.type}).',
                                    "invalid_filter_operator")  # fmt: skip
            else:
                operand = _normalise_operand(attr, prop, operand)
            checks.append((prop, op, operand))
    if not checks:
        return None
    return lambda value: all(
        any(_compare(op, left, operand) for left in _property_values(value, prop)) for prop, op, operand in checks
    )


def _not_empty_wanted(spec: Any) -> bool | None:
    if isinstance(spec, Mapping):
        if "$not_empty" in spec:
            return bool(spec["$not_empty"])
        for ops in spec.values():
            if isinstance(ops, Mapping) and "$not_empty" in ops:
                return bool(ops["$not_empty"])
    return None


def _all_of(preds: list[Predicate]) -> Predicate:
    return lambda r: all(p(r) for p in preds)


def _any_of(preds: list[Predicate]) -> Predicate:
    return lambda r: any(p(r) for p in preds)


def _negated(pred: Predicate) -> Predicate:
    return lambda r: not pred(r)


def compile_filter(catalog: Catalog, store: Store, obj: ObjectInfo, flt: Any) -> Predicate:
    """Turn a filter (shorthand, verbose, logical or path) into a predicate.

    Raises:
        ApiProblem: 400 ``filter_error``, ``unknown_filter_attribute_slug`` or
            ``invalid_filter_operator``.
    """
    if not isinstance(flt, Mapping):
        raise _filter_error("Error in filter: a filter must be an object.")
    parts: list[Predicate] = []
    for key, spec in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(spec, list):
                raise _filter_error(f'"{key}" takes an array of filters.')
            subs = [compile_filter(catalog, store, obj, s) for s in spec]
            parts.append(_all_of(subs) if key == "$and" else _any_of(subs))
        elif key == "$not":
            parts.append(_negated(compile_filter(catalog, store, obj, spec)))
        elif key == "path":
            parts.append(_path_filter(catalog, store, obj, spec, flt.get("constraints")))
        elif key == "constraints":
            if "path" not in flt:
                raise _filter_error('"constraints" needs a "path".')
        elif key.startswith("$"):
            raise _filter_error(f'Unknown filter operator "{key}".', "invalid_filter_operator")
        else:
            parts.append(_attribute_filter(catalog, obj, key, spec))
    return lambda record: all(p(record) for p in parts)


def _attribute_filter(catalog: Catalog, obj: ObjectInfo, key: str, spec: Any) -> Predicate:
    attr = catalog.attribute(obj, key)
    if attr is None:
        raise _filter_error(f'Unknown attribute slug "{key}" in filter.', "unknown_filter_attribute_slug")
    condition = _value_condition(attr, spec)
    wanted = _not_empty_wanted(spec)
    attr_id = attr.attribute_id

    def predicate(record: Record) -> bool:
        values = record.values.get(attr_id, ())
        if wanted is not None and bool(values) != wanted:
            return False
        return condition is None or any(condition(v) for v in values)

    return predicate


def _path_filter(catalog: Catalog, store: Store, obj: ObjectInfo, path: Any, constraints: Any) -> Predicate:
    """``{"path": [[obj, ref_attr], …, [obj_n, attr_n]], "constraints": {...}}`` (api-notes 5.6)."""
    if not isinstance(path, list) or not path or not all(isinstance(p, list) and len(p) == 2 for p in path):
        raise _filter_error('"path" takes an array of [object, attribute] pairs.')
    steps: list[AttributeInfo] = []
    current = obj
    for index, (obj_ref, attr_ref) in enumerate(path):
        step_obj = catalog.object(obj_ref)
        if step_obj is None or step_obj.object_id != current.object_id:
            raise _filter_error(f'Path step {index} names object "{obj_ref}", expected "{current.api_slug}".')
        attr = catalog.attribute(step_obj, attr_ref)
        if attr is None:
            raise _filter_error(f'Unknown attribute slug "{attr_ref}" in filter.', "unknown_filter_attribute_slug")
        steps.append(attr)
        if index < len(path) - 1:
            if attr.type != "record-reference":
                raise _filter_error(f'Path step {index} ("{attr.api_slug}") is not a record reference.')
            nxt = catalog.object(path[index + 1][0])
            if nxt is None:
                raise _filter_error(f'Unknown object "{path[index + 1][0]}" in path.')
            current = nxt
    last = _attribute_filter(catalog, current, steps[-1].api_slug, constraints if constraints is not None else {})

    def predicate(record: Record) -> bool:
        frontier = [record]
        for attr in steps[:-1]:
            nxt_records = []
            for r in frontier:
                for v in r.values.get(attr.attribute_id, ()):
                    target_obj = catalog.object(v["target_object"])
                    if target_obj is not None and store.record_exists(target_obj.object_id, v["target_record_id"]):
                        nxt_records.append(store.records[target_obj.object_id][v["target_record_id"]])
            frontier = nxt_records
        return any(last(r) for r in frontier)

    return predicate


def sort_records(catalog: Catalog, obj: ObjectInfo, records: list[Record], sorts: Any) -> list[Record]:
    """Order by the sorts in turn; records without a value come last either way."""
    if not sorts:
        return records
    if not isinstance(sorts, list):
        raise _filter_error('"sorts" takes an array.')
    keys: list[tuple[str, str, int]] = []
    for sort in sorts:
        ref = sort.get("attribute") if isinstance(sort, Mapping) else None
        if ref is None and isinstance(sort, Mapping) and isinstance(sort.get("path"), list) and sort["path"]:
            ref = sort["path"][-1][1] if len(sort["path"]) == 1 else None
        attr = catalog.attribute(obj, ref) if isinstance(ref, str) else None
        if attr is None:
            raise _filter_error(f"Cannot sort by {sort!r}: unknown attribute.", "unknown_filter_attribute_slug")
        direction = sort.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise _filter_error(f'Sort direction must be "asc" or "desc", got {direction!r}.')
        prop = sort.get("field") or MAIN_PROPERTY.get(attr.type, "value")
        keys.append((attr.attribute_id, prop, -1 if direction == "desc" else 1))

    def first(record: Record, attr_id: str, prop: str) -> Any:
        values = record.values.get(attr_id)
        if not values:
            return None
        found = _property_values(values[0], prop)[0]
        return found.lower() if isinstance(found, str) else found

    def compare(a: Record, b: Record) -> int:
        for attr_id, prop, sign in keys:
            x, y = first(a, attr_id, prop), first(b, attr_id, prop)
            if x == y:
                continue
            if x is None:
                return 1
            if y is None:
                return -1
            try:
                return sign * (-1 if x < y else 1)
            except TypeError:
                return sign * (-1 if str(x) < str(y) else 1)
        return 0

    return sorted(records, key=cmp_to_key(compare))


def run_query(catalog: Catalog, store: Store, obj: ObjectInfo, body: Mapping[str, Any]) -> list[Record]:
    """Filter, sort, then page (limit default 500, offset 0; api-notes 1.4)."""
    predicate = compile_filter(catalog, store, obj, body.get("filter") or {})
    matched: Iterable[Record] = (r for r in store.all(obj) if predicate(r))
    ordered = sort_records(catalog, obj, list(matched), body.get("sorts"))
    offset = int(body.get("offset") or 0)
    limit = int(body["limit"]) if body.get("limit") is not None else 500
    return ordered[offset : offset + limit]
