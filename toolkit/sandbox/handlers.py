"""One function per route: `(app, call) -> (status, body)`, raising `ApiProblem` on refusal."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..schema import AttributeInfo, ObjectInfo, OptionInfo, StatusInfo
from .coercion import coerce_values
from .problems import ApiProblem, json_type_name, not_found, validation_item
from .query import run_query
from .standard import stable_id

if TYPE_CHECKING:
    from .app import Call, SandboxApp

JSON = dict[str, Any]
Answer = tuple[int, Any]


def _body_error(path: list[str | int], message: str, **extra: Any) -> ApiProblem:
    return ApiProblem(400, "validation_type", "Body payload validation error.",
                      validation_errors=[validation_item(extra.pop("code", "invalid_type"), path, message, **extra)])


def _object(app: SandboxApp, ref: str) -> ObjectInfo:
    obj = app.catalog.object(ref)
    if obj is None:
        raise not_found(f'Object with slug/ID "{ref}" not found.')
    return obj


def _target_object(app: SandboxApp, target: str, ref: str) -> ObjectInfo:
    if target == "lists":
        raise not_found(f'List with slug/ID "{ref}" not found.')  # the sandbox has no lists
    return _object(app, ref)


def _attribute(app: SandboxApp, obj: ObjectInfo, ref: str) -> AttributeInfo:
    attr = app.catalog.attribute(obj, ref)
    if attr is None:
        raise not_found(f'Attribute with slug/ID "{ref}" not found.')
    return attr


def _flag(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ApiProblem(400, "validation_type", "Query parameter validation error.", validation_errors=[
            validation_item("invalid_type", [name], "Expected boolean", expected="boolean", received="string")])
    return raw == "true"


def _count(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        value = int(query[name])
    except ValueError:
        value = -1
    if value < 0:
        raise ApiProblem(400, "validation_type", "Query parameter validation error.", validation_errors=[
            validation_item("invalid_type", [name], "Expected a non-negative integer", expected="number",
                            received="string")])  # fmt: skip
    return value


# -- meta -----------------------------------------------------------------------------------------


def get_self(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/self`: unwrapped (api-notes 6.2)."""
    ws = app.catalog.schema.workspace
    client_id = stable_id(app.config.workspace_slug, "client")
    admins = [m for m in app.catalog.schema.members if m.access_level == "admin"]
    by = ws.authorized_by_workspace_member_id or (admins[0].workspace_member_id if admins else client_id)
    return 200, {
        "active": True,
        "scope": ws.scope or "",
        "client_id": client_id,
        "token_type": "Bearer",
        "exp": None,
        "iat": app.started,
        "sub": ws.workspace_id,
        "aud": client_id,
        "iss": "attio.com",
        "authorized_by_workspace_member_id": by,
        "workspace_id": ws.workspace_id,
        "workspace_name": ws.workspace_name or "",
        "workspace_slug": ws.workspace_slug or "",
        "workspace_logo_url": None,
        # Newer Attio adds this (api-notes 6.2, [3p]); parsers must ignore unknown fields anyway.
        **({"token_level": ws.token_level} if ws.token_level else {}),
    }


def list_members(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/workspace_members` (not paginated)."""
    return 200, {"data": [app.catalog.member_json(m) for m in app.catalog.schema.members]}


def get_member(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/workspace_members/{id}`."""
    (ref,) = call.groups
    member = next((m for m in app.catalog.schema.members if m.workspace_member_id == ref), None)
    if member is None:
        raise not_found(f'Workspace member with ID "{ref}" not found.')
    return 200, {"data": app.catalog.member_json(member)}


# -- schema ---------------------------------------------------------------------------------------


def list_objects(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/objects`: activated objects only (api-notes 2.3)."""
    return 200, {"data": [app.catalog.object_json(o) for o in app.catalog.schema.objects]}


def get_object(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/objects/{object}`."""
    return 200, {"data": app.catalog.object_json(_object(app, call.groups[0]))}


def list_attributes(app: SandboxApp, call: Call) -> Answer:
    """`GET /v2/{target}/{identifier}/attributes` with limit, offset, show_archived (api-notes 3.1)."""
    obj = _target_object(app, *call.groups)
    show_archived = _flag(call.query, "show_archived")
    limit, offset = _count(call.query, "limit"), _count(call.query, "offset") or 0
    attrs = [a for a in app.catalog.attributes_of(obj) if show_archived or not a.is_archived]
    attrs = attrs[offset:] if limit is None else attrs[offset : offset + limit]
    return 200, {"data": [app.catalog.attribute_json(a) for a in attrs]}


def get_attribute(app: SandboxApp, call: Call) -> Answer:
    """`GET …/attributes/{attribute}`: archived ones too (api-notes 3.1)."""
    target, ref, attr_ref = call.groups
    return 200, {"data": app.catalog.attribute_json(_attribute(app, _target_object(app, target, ref), attr_ref))}


def _list_choices(
    app: SandboxApp,
    call: Call,
    kind: str,
    choices: Callable[[AttributeInfo], Sequence[OptionInfo | StatusInfo]],
    render: Callable[[Any], JSON],
) -> Answer:
    target, ref, attr_ref = call.groups
    attr = _attribute(app, _target_object(app, target, ref), attr_ref)
    if attr.type != kind:
        raise ApiProblem(400, "validation_type", f"This attribute is not a {kind} attribute.")
    show_archived = _flag(call.query, "show_archived")
    return 200, {"data": [render(c) for c in choices(attr) if show_archived or not c.is_archived]}


def list_options(app: SandboxApp, call: Call) -> Answer:
    """`GET …/attributes/{attribute}/options?show_archived=`."""
    return _list_choices(app, call, "select", app.catalog.schema.options_of, app.catalog.option_json)


def list_statuses(app: SandboxApp, call: Call) -> Answer:
    """`GET …/attributes/{attribute}/statuses?show_archived=` (default false)."""
    return _list_choices(app, call, "status", app.catalog.schema.statuses_of, app.catalog.status_json)


# -- records --------------------------------------------------------------------------------------


def _values_of(body: Any) -> Mapping[str, Any]:
    """``{"data": {"values": {...}}}``; `data` allows no other keys (api-notes 5.2)."""
    if not isinstance(body, Mapping):
        raise _body_error([], f"Expected object, received {json_type_name(body) if body is not None else 'undefined'}",
                          expected="object", received=json_type_name(body) if body is not None else "undefined")
    data = body.get("data")
    if not isinstance(data, Mapping):
        received = "undefined" if "data" not in body else json_type_name(data)
        raise _body_error(["data"], "Required" if received == "undefined" else f"Expected object, received {received}",
                          expected="object", received=received)  # fmt: skip
    values = data.get("values")
    if not isinstance(values, Mapping):
        received = "undefined" if "values" not in data else json_type_name(values)
        raise _body_error(["data", "values"], "Required" if received == "undefined" else
                          f"Expected object, received {received}", expected="object", received=received)  # fmt: skip
    extra = sorted(set(data) - {"values"})
    if extra:
        raise _body_error(["data"], f"Unrecognized key(s) in object: {', '.join(repr(k) for k in extra)}",
                          code="unrecognized_keys", keys=extra)  # fmt: skip
    return values


def _coerced(app: SandboxApp, obj: ObjectInfo, body: Any) -> dict[str, list[JSON]]:
    return coerce_values(app.catalog, app.config, app.store, obj, _values_of(body))


def assert_record(app: SandboxApp, call: Call) -> Answer:
    """`PUT /v2/objects/{object}/records?matching_attribute=` (api-notes 5.2), checks in Attio's order."""
    obj = _object(app, call.groups[0])
    ref = call.query.get("matching_attribute")
    if not ref:
        raise ApiProblem(400, "validation_type", "Query parameter validation error.", validation_errors=[
            validation_item("invalid_type", ["matching_attribute"], "Required", expected="string",
                            received="undefined")])  # fmt: skip
    matching = app.catalog.attribute(obj, ref)
    if matching is None:
        raise ApiProblem(400, "value_not_found", f'No attribute was found for matching_attribute slug/ID "{ref}".')
    if not matching.is_unique:
        raise ApiProblem(400, "matching_attribute_definition_not_unique",
                         "The matching attribute specified is not a unique attribute.")
    values = _coerced(app, obj, call.body)
    return 200, {"data": app.store.record_json(app.store.assert_record(obj, matching, values))}


def create_record(app: SandboxApp, call: Call) -> Answer:
    """`POST /v2/objects/{object}/records` (api-notes 5.3): 200, no matching."""
    obj = _object(app, call.groups[0])
    values = _coerced(app, obj, call.body)
    return 200, {"data": app.store.record_json(app.store.create(obj, values))}


def get_record(app: SandboxApp, call: Call) -> Answer:
    """`GET …/records/{record_id}`."""
    obj = _object(app, call.groups[0])
    return 200, {"data": app.store.record_json(app.store.get(obj, call.groups[1]))}


def _update(app: SandboxApp, call: Call, mode: str) -> Answer:
    obj = _object(app, call.groups[0])
    app.store.get(obj, call.groups[1])  # 404 before any value is read
    raw = _values_of(call.body)
    if not raw:
        raise _body_error(["data", "values"], "At least one value must be provided.", code="too_small", minimum=1)
    values = coerce_values(app.catalog, app.config, app.store, obj, raw)
    record = app.store.update(obj, call.groups[1], values, mode)  # type: ignore[arg-type]
    return 200, {"data": app.store.record_json(record)}


def patch_record(app: SandboxApp, call: Call) -> Answer:
    """`PATCH …/records/{record_id}`: multiselect values are prepended and deduplicated."""
    return _update(app, call, "prepend")


def put_record(app: SandboxApp, call: Call) -> Answer:
    """`PUT …/records/{record_id}`: multiselect lists become what was sent."""
    return _update(app, call, "overwrite")


def delete_record(app: SandboxApp, call: Call) -> Answer:
    """`DELETE …/records/{record_id}`: 200 with ``{}`` (api-notes 5.5)."""
    obj = _object(app, call.groups[0])
    app.store.delete(obj, call.groups[1])
    return 200, {}


def query_records(app: SandboxApp, call: Call) -> Answer:
    """`POST …/records/query` (api-notes 5.6); an empty body means no filter."""
    obj = _object(app, call.groups[0])
    body = call.body if call.body is not None else {}
    if not isinstance(body, Mapping):
        raise _body_error([], f"Expected object, received {json_type_name(body)}", expected="object",
                          received=json_type_name(body))  # fmt: skip
    for key, kind in (("filter", Mapping), ("sorts", list)):
        if body.get(key) is not None and not isinstance(body[key], kind):
            expected = "object" if kind is Mapping else "array"
            raise _body_error([key], f"Expected {expected}, received {json_type_name(body[key])}",
                              expected=expected, received=json_type_name(body[key]))  # fmt: skip
    for key in ("limit", "offset"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
                                  or value != int(value)):  # fmt: skip
            raise _body_error([key], "Expected a non-negative integer", expected="number",
                              received=json_type_name(value))  # fmt: skip
    records = run_query(app.catalog, app.store, obj, body)
    return 200, {"data": [app.store.record_json(r) for r in records]}
