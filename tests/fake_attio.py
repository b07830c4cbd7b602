"""A minimal schema-only Attio behind `httpx.MockTransport`, for client and pull tests.

It serves the read endpoints of a `attio_data.workspace()` dict with Attio's paging rules
(limit/offset on attributes, `show_archived`), 404 bodies for unknown objects, and can be told
to fail specific requests. The full behaviour of Attio lives in the sandbox; this double
exists so client tests do not depend on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Responder = Callable[[httpx.Request], httpx.Response | None]


def attio_error(status: int, type_: str, code: str, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status,
                          json={"status_code": status, "type": type_, "code": code, "message": message, **extra},
                          headers={"x-attio-execution-id": "exec-" + code})


@dataclass
class FakeAttio:
    data: dict[str, Any]
    token: str = "test-key"
    requests: list[httpx.Request] = field(default_factory=list)
    #: Consulted first; a non-None answer replaces the normal one (fault injection).
    before: list[Responder] = field(default_factory=list)
    #: When set, the attributes endpoint ignores limit/offset (as if Attio sent everything).
    ignore_paging: bool = False
    #: When set, the attributes endpoint ignores offset (a broken paginator).
    ignore_offset: bool = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for responder in self.before:
            answer = responder(request)
            if answer is not None:
                return answer
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return attio_error(401, "auth_error", "unauthorized", "The API Key provided was invalid.")
        path, params = request.url.path, request.url.params
        if path == "/v2/self":
            return httpx.Response(200, json=self.data["self"])
        if path == "/v2/objects":
            return self._data(self.data["objects"])
        if path == "/v2/workspace_members":
            return self._data(self.data["members"])
        match = re.fullmatch(r"/v2/objects/([^/]+)(?:/attributes(?:/([^/]+)/(options|statuses))?)?", path)
        if not match:
            return attio_error(404, "invalid_request_error", "not_found",
                               f'Could not find endpoint "{request.method} {path}".')
        obj, attribute, kind = match.groups()
        if obj not in self.data["attributes"]:
            return attio_error(404, "invalid_request_error", "not_found", f'Object with slug/ID "{obj}" not found.')
        if path.endswith(obj):
            return self._data(next(o for o in self.data["objects"] if o["api_slug"] == obj))
        show_archived = params.get("show_archived") == "true"
        if kind is not None:
            listed = self.data[kind].get(f"{obj}.{attribute}", [])
            return self._data([i for i in listed if show_archived or not i["is_archived"]])
        listed = [a for a in self.data["attributes"][obj] if show_archived or not a["is_archived"]]
        if not self.ignore_paging and "limit" in params:
            offset = 0 if self.ignore_offset else int(params.get("offset", 0))
            listed = listed[offset: offset + int(params["limit"])]
        return self._data(listed)

    @staticmethod
    def _data(payload: Any) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"data": payload}).encode(),
                              headers={"content-type": "application/json; charset=utf-8",
                                       "x-attio-execution-id": "exec-ok"})

    def count(self, path_part: str) -> int:
        return sum(1 for r in self.requests if path_part in r.url.path)
