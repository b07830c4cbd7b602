"""Helpers for the sandbox tests (the fixtures `make_sandbox` and `sandbox` are in conftest.py).

Every request a `Harness` sends is logged by the app; when the test ends, every logged answer is
checked against Attio's OpenAPI document (`openapi_check`, reading the copy in tests/data), so no
sandbox test can pass with a response shape Attio would never send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from openapi_check import validate_response

from toolkit.sandbox import SandboxApp, SandboxSyncTransport

ALL_OBJECTS = frozenset({"users", "workspaces", "deals"})
BASE_URL = "https://api.attio.com"
ADMIN_EMAIL = "admin@sandbox.example.com"


class Harness:
    """A sandbox app and a sync client bound to it, with short verbs for the record routes."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.transport = SandboxSyncTransport(app)
        self.client = httpx.Client(
            transport=self.transport,
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {app.config.token}"},
        )

    def close(self) -> None:
        self.client.close()

    def assert_(self, obj: str, matching: str, values: dict[str, Any]) -> httpx.Response:
        return self.client.put(f"/v2/objects/{obj}/records", params={"matching_attribute": matching},
                               json={"data": {"values": values}})  # fmt: skip

    def create(self, obj: str, values: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"/v2/objects/{obj}/records", json={"data": {"values": values}})

    def patch(self, obj: str, record_id: str, values: dict[str, Any]) -> httpx.Response:
        return self.client.patch(f"/v2/objects/{obj}/records/{record_id}", json={"data": {"values": values}})

    def put(self, obj: str, record_id: str, values: dict[str, Any]) -> httpx.Response:
        return self.client.put(f"/v2/objects/{obj}/records/{record_id}", json={"data": {"values": values}})

    def get(self, obj: str, record_id: str) -> httpx.Response:
        return self.client.get(f"/v2/objects/{obj}/records/{record_id}")

    def query(self, obj: str, **body: Any) -> httpx.Response:
        return self.client.post(f"/v2/objects/{obj}/records/query", json=body)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        """The `data` of a 200 answer (fails the test with the body otherwise)."""
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def check_conformance(self) -> None:
        """Every logged answer validates against Attio's OpenAPI document."""
        assert_log_conforms(self.app)


def assert_log_conforms(app: SandboxApp) -> None:
    """Check every answer in `app.log` against Attio's OpenAPI document.

    Use it after any test that drives a sandbox, e.g. the client's tests::

        yield app
        assert_log_conforms(app)
    """
    for entry in app.log:
        if entry.status is None or entry.response is None:
            continue  # a dropped connection: there was no answer
        validate_response(entry.method, entry.path, entry.status, entry.response, entry.body, entry.query)


MakeSandbox = Callable[..., Harness]


def values_of(record: dict[str, Any], slug: str) -> list[dict[str, Any]]:
    """The value list of one attribute of a record shape."""
    return record["values"][slug]


def only(record: dict[str, Any], slug: str) -> dict[str, Any]:
    """The single value of one attribute (fails unless there is exactly one)."""
    found = record["values"][slug]
    assert len(found) == 1, found
    return found[0]
