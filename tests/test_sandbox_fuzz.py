"""Hostile input: whatever JSON lands in ``values`` or ``filter``, the sandbox answers 200 or an
Attio 4xx error body, never crashes, and stores nothing when it refuses."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import ConformanceError, validate_response

from toolkit.sandbox import SandboxApp, SandboxConfig, SandboxSyncTransport, create_app

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["acme.com", "ada@example.com", "+14155552671", "2023-01-02", "Lead", "SaaS",
                     "admin@sandbox.example.com", "Lovelace, Ada", "1 Main St, Paris, FR"]),
)  # fmt: skip
KEYS = st.sampled_from(["value", "email_address", "domain", "option", "status", "target_object", "target_record_id",
                        "first_name", "last_name", "full_name", "original_phone_number", "country_code",
                        "currency_value", "referenced_actor_type", "referenced_actor_id", "line_1", "domains",
                        "workspace_member_email_address", "$eq", "$in", "$not_empty", "$or"])  # fmt: skip
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=8)  # fmt: skip

_APP: SandboxApp = create_app(SandboxConfig.unlimited(activate={"users", "workspaces", "deals"}))
_CLIENT = httpx.Client(transport=SandboxSyncTransport(_APP), base_url="https://api.attio.com",
                       headers={"Authorization": f"Bearer {_APP.config.token}"})  # fmt: skip
_ATTRIBUTES = [(o.api_slug, a.api_slug) for o in _APP.catalog.schema.objects for a in _APP.catalog.attributes_of(o)]


def _check(response: httpx.Response, method: str, path: str, body: Any) -> None:
    assert response.status_code in (200, 400, 404), response.text
    payload = response.json()
    if response.status_code != 200:
        assert payload["status_code"] == response.status_code and payload["code"] and payload["message"]
    try:
        validate_response(method, path, response.status_code, payload, body)
    except ConformanceError as exc:  # pragma: no cover - a failure to report
        raise AssertionError(str(exc)[:2000]) from None


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(_ATTRIBUTES), value=JSON)
def test_any_value_is_answered_not_crashed(target: tuple[str, str], value: Any) -> None:
    obj, slug = target
    before = len(_APP.store.records[_APP.catalog.object_of(obj).object_id])
    body = {"data": {"values": {slug: value}}}
    response = _CLIENT.post(f"/v2/objects/{obj}/records", json=body)
    _check(response, "POST", f"/v2/objects/{obj}/records", body)
    after = len(_APP.store.records[_APP.catalog.object_of(obj).object_id])
    assert after == before + (1 if response.status_code == 200 else 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(_ATTRIBUTES), flt=JSON, logic=st.sampled_from([None, "$and", "$or", "$not"]))
def test_any_filter_is_answered_not_crashed(target: tuple[str, str], flt: Any, logic: str | None) -> None:
    obj, slug = target
    condition: Any = {slug: flt}
    if logic == "$not":
        condition = {"$not": condition}
    elif logic:
        condition = {logic: [condition, {"record_id": {"$not_empty": True}}]}
    body = {"filter": condition}
    response = _CLIENT.post(f"/v2/objects/{obj}/records/query", json=body)
    _check(response, "POST", f"/v2/objects/{obj}/records/query", body)
