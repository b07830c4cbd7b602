"""The sandbox as an ASGI application: routes, auth, rate limits, faults and the request log.

Routing is a short table of regular expressions rather than Starlette's router because Attio
answers *every* unknown path and every wrong method with the same 404 body (api-notes 1.6), and
the request log, rate limiter and fault injector need to see each request exactly once.

Order of checks per request: auth (401), route (404), rate limit (429), injected fault, handler.
Faults: 429/500/503 and slow answers are produced here. Dropped connections are produced by the
in-process transports when they are used (they alone can make the client see a connection
error); over a socket (uvicorn) the app itself starts an answer and then raises
`DroppedConnection`, which makes uvicorn close the connection: the client sees an incomplete
response (`httpx.RemoteProtocolError`) whether the drop came before or after the write.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio

from ..schema import WorkspaceSchema
from . import handlers
from .catalog import Catalog
from .coercion import coerce_values
from .config import SandboxConfig
from .faults import RATE_LIMIT_BODY, FaultDecision, FaultInjector, FaultRule, RateLimiter, predrawn_fault, retry_after
from .problems import ApiProblem, not_found
from .standard import stable_id, standard_schema
from .store import Store

__all__ = ["DroppedConnection", "LoggedRequest", "SandboxApp", "create_app", "quiet_deliberate_drops"]

JSON = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[["SandboxApp", "Call"], Any]

_SEG = r"([^/]+)"
#: (method, path pattern, handler, rate-limit bucket). POST …/query is a read (api-notes 1.3).
_ROUTES: list[tuple[str, re.Pattern[str], Handler, str]] = [
    (m, re.compile(f"^{p}$"), h, k)
    for m, p, h, k in (
        ("GET", "/v2/self", handlers.get_self, "read"),
        ("GET", "/v2/objects", handlers.list_objects, "read"),
        ("GET", f"/v2/objects/{_SEG}", handlers.get_object, "read"),
        ("GET", f"/v2/(objects|lists)/{_SEG}/attributes", handlers.list_attributes, "read"),
        ("GET", f"/v2/(objects|lists)/{_SEG}/attributes/{_SEG}", handlers.get_attribute, "read"),
        ("GET", f"/v2/(objects|lists)/{_SEG}/attributes/{_SEG}/options", handlers.list_options, "read"),
        ("GET", f"/v2/(objects|lists)/{_SEG}/attributes/{_SEG}/statuses", handlers.list_statuses, "read"),
        ("PUT", f"/v2/objects/{_SEG}/records", handlers.assert_record, "write"),
        ("POST", f"/v2/objects/{_SEG}/records", handlers.create_record, "write"),
        ("POST", f"/v2/objects/{_SEG}/records/query", handlers.query_records, "read"),
        ("GET", f"/v2/objects/{_SEG}/records/{_SEG}", handlers.get_record, "read"),
        ("PATCH", f"/v2/objects/{_SEG}/records/{_SEG}", handlers.patch_record, "write"),
        ("PUT", f"/v2/objects/{_SEG}/records/{_SEG}", handlers.put_record, "write"),
        ("DELETE", f"/v2/objects/{_SEG}/records/{_SEG}", handlers.delete_record, "write"),
        ("GET", "/v2/workspace_members", handlers.list_members, "read"),
        ("GET", f"/v2/workspace_members/{_SEG}", handlers.get_member, "read"),
    )
]


class DroppedConnection(Exception):
    """Raised inside the server to break the connection on purpose (a ``drop_*`` fault).

    uvicorn logs an exception raised after the answer started and closes the connection;
    `quiet_deliberate_drops` keeps that log quiet for these.
    """


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def quiet_deliberate_drops() -> None:
    """Keep uvicorn's error log free of the tracebacks of deliberately dropped connections."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


@dataclass
class LoggedRequest:
    """One request as the sandbox saw it.

    Attributes:
        method: the HTTP method.
        path: the path, without the query string.
        query: the query parameters (last value wins).
        body: the parsed JSON body, the raw text (a `RawBody`) when it is not JSON, or None.
        status: the status answered; None when the connection dropped before an answer.
        response: the parsed response body, None when there was none.
        fault: the injected fault (``"429"``, ``"500"``, ``"503"``, ``"drop_before"``,
            ``"drop_after"``, ``"slow"``) or None.
        at: when it arrived (seconds since the epoch).
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    response: Any = None
    fault: str | None = None
    at: float = field(default_factory=time.time)


@dataclass
class Call:
    """What a handler gets: the matched path groups, the query and the parsed body."""

    groups: tuple[str, ...]
    query: dict[str, str]
    body: Any


class SandboxApp:
    """An in-memory Attio REST API v2, callable as an ASGI app.

    Args:
        config: the settings; `SandboxConfig()` when omitted.
        schema: the workspace to serve; the standard schema (api-notes 3.3) when omitted.
        clock: the current time for stored values; injectable for tests.
        rate_clock: seconds since the epoch for the rate limiter; injectable for tests.

    Attributes:
        log: every request, in order (see `LoggedRequest`).
        store: the records.
        catalog: the served schema.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        schema: WorkspaceSchema | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        rate_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or SandboxConfig()
        self.catalog = Catalog(schema or standard_schema(self.config))
        self.token_id = stable_id(self.config.workspace_slug, "token", self.config.token)
        self.store = Store(self.catalog, self.config, self.token_id, clock)
        self.limiter = RateLimiter(self.config.read_rate, self.config.write_rate, rate_clock)
        self.faults = FaultInjector(self.config.faults, self.config.fault_seed)
        #: Failures for matching requests (`fail_requests`), checked before the drawn faults.
        self.rules: list[FaultRule] = []
        self.log: list[LoggedRequest] = []
        self._exec_rng = random.Random(f"exec:{self.config.id_seed}") if self.config.id_seed is not None else None
        self.started = int(clock().timestamp()) if clock is not None else int(time.time())
        basic = base64.b64encode(f"{self.config.token}:".encode()).decode()
        self._accepted = {f"Bearer {self.config.token}", f"Basic {basic}"}

    def _execution_id(self) -> str:
        # Seeded with the record ids, so a recorded exchange is the same on every run.
        if self._exec_rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._exec_rng.getrandbits(128), version=4))

    def fail_requests(self, status: int, *, method: str | None = None, path: str | None = None,
                      body: str | None = None, times: int | None = None, after: bool = False) -> FaultRule:
        """Answer `status` to matching requests from now on (see `FaultRule`); returns the rule,
        which `rules.remove` takes away again."""
        rule = FaultRule(status, method, path, body, times, after)
        self.rules.append(rule)
        return rule

    def clear_log(self) -> None:
        """Forget the logged requests."""
        self.log.clear()

    def reset(self) -> None:
        """Forget every record and the log; keep the schema, the config and the fault sequence."""
        self.store = Store(self.catalog, self.config, self.token_id, self.store.clock)
        self.log.clear()

    def dump(self) -> dict[str, list[JSON]]:
        """Every stored record, by object slug, in the shape `GET …/records/{id}` answers."""
        return {
            obj.api_slug: [self.store.record_json(r) for r in self.store.all(obj)]
            for obj in self.catalog.schema.objects
        }

    def add_record(self, obj: str, values: dict[str, Any], *, record_id: str | None = None) -> JSON:
        """Store a record without a request (seeding a demo or a test), by Attio's write rules.

        Args:
            obj: the object's slug or id.
            values: write forms by attribute slug or id, as in a request body.
            record_id: the id to give it (the API never lets a client choose one).

        Returns:
            The record shape, as `GET …/records/{id}` would answer it.

        Raises:
            ApiProblem: the values are refused, exactly as the API would refuse them.
        """
        found = self.catalog.object(obj)
        if found is None:
            raise not_found(f'Object with slug/ID "{obj}" not found.')
        coerced = coerce_values(self.catalog, self.config, self.store, found, values)
        return self.store.record_json(self.store.create(found, coerced, record_id=record_id))

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        entry = LoggedRequest(scope["method"], scope["path"], query, _parse_body(raw), None)
        self.log.append(entry)
        predrawn = predrawn_fault.get()
        status, body, extra = await self._respond(entry, headers, predrawn)
        entry.status, entry.response = status, body
        if predrawn is None and entry.fault in ("drop_before", "drop_after"):
            # Over a real socket: start an answer, then fail, so the server closes the connection
            # and the client sees a broken response instead of an answer. The log keeps the
            # status of a request that was applied (drop_after), and None for one that was not.
            if entry.fault == "drop_before":
                entry.status, entry.response = None, None
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"64"), (b"content-type", b"application/json")]})  # fmt: skip
            raise DroppedConnection(f"sandbox: {entry.fault} fault on {entry.method} {entry.path}")
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        out_headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-attio-execution-id", self._execution_id().encode()),
            *((k.encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": payload})

    async def _respond(
        self, entry: LoggedRequest, headers: dict[str, str], decision: FaultDecision | None
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("authorization") not in self._accepted:
            message = (
                "The Authorization header was not provided. Pass your access token as a Bearer token."
                if "authorization" not in headers
                else "The access token provided is invalid."
            )
            return 401, ApiProblem(401, "unauthorized", message).body(), {}
        route = self._route(entry.method, entry.path)
        if route is None:
            problem = not_found(f'Could not find endpoint "{entry.method} {entry.path}".')
            return 404, problem.body(), {}
        handler, groups, bucket = route
        retry_at = self.limiter.acquire(bucket)
        if retry_at is not None:
            return 429, dict(RATE_LIMIT_BODY), {"retry-after": retry_at}
        if self.config.latency > 0:
            await anyio.sleep(self.config.latency)
        rule = self._rule_for(entry)
        if rule is not None:
            if rule.after:
                self._handle(entry, handler, groups)
            entry.fault = f"rule {rule.status}" + (" after" if rule.after else "")
            return rule.status, _failure_body(rule.status), {}
        if decision is None:
            decision = self.faults.draw()
        if decision.slow:
            entry.fault = "slow"
            await anyio.sleep(decision.slow_seconds)
        if decision.kind is not None:
            entry.fault = decision.kind
        if decision.kind == "429":
            return 429, dict(RATE_LIMIT_BODY), {"retry-after": retry_after(int(time.time()) + 1)}
        if decision.kind in ("500", "503"):
            code = int(decision.kind)
            # Attio's 5xx bodies may be anything (api-notes 1.6); a JSON one keeps the log simple.
            return code, {"status_code": code, "type": "api_error", "code": "internal_error" if code == 500
                          else "service_unavailable", "message": "Injected by the sandbox."}, {}  # fmt: skip
        if decision.kind == "drop_before":
            return 0, None, {}
        status, body = self._handle(entry, handler, groups)
        return status, body, {}

    def _handle(self, entry: LoggedRequest, handler: Handler, groups: tuple[str, ...]) -> tuple[int, Any]:
        try:
            call = Call(groups, entry.query, _json_body(entry.method, entry.body))
            status, body = handler(self, call)
        except ApiProblem as problem:
            return problem.status, problem.body()
        return int(status), body

    def _rule_for(self, entry: LoggedRequest) -> FaultRule | None:
        if not self.rules:
            return None
        text = json.dumps(entry.body, ensure_ascii=False, separators=(",", ":"), default=str)
        return next((rule for rule in self.rules if rule.take(entry.method, entry.path, text)), None)

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...], str] | None:
        for route_method, pattern, handler, bucket in _ROUTES:
            if route_method == method:
                match = pattern.match(path)
                if match:
                    return handler, match.groups(), bucket
        return None


class RawBody(str):
    """A request body that is not JSON, kept as text for the log."""


def _parse_body(raw: bytes) -> Any:
    """The body as JSON, a `RawBody` when it is not JSON, None when empty (parsed once per request)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
        # A lone surrogate ("\ud800") parses, but no UTF-8 text (a stored value, an answer)
        # can hold it: refuse the body as Attio's storage would, instead of failing on the answer.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return RawBody(raw.decode("utf-8", "replace"))
    return value


def _failure_body(status: int) -> dict[str, Any]:
    """Attio's body for an injected failure of this status."""
    if status == 429:
        return dict(RATE_LIMIT_BODY)
    if status >= 500:
        return {"status_code": status, "type": "api_error", "code": "internal_error",
                "message": "Injected by the sandbox."}
    return ApiProblem(status, "validation_type", "Injected by the sandbox.").body()


def _json_body(method: str, parsed: Any) -> Any:
    """The request's JSON for a handler, or 400 `validation_type` when a needed body is not JSON."""
    if method in ("GET", "DELETE"):
        return None
    if isinstance(parsed, RawBody):
        raise ApiProblem(400, "validation_type", "Body payload validation error.", validation_errors=[
            {"code": "invalid_type", "path": [], "message": "Expected object, received string",
             "expected": "object", "received": "string"}])  # fmt: skip
    return parsed


def create_app(config: SandboxConfig | None = None, schema: WorkspaceSchema | None = None) -> SandboxApp:
    """A sandbox app; see `SandboxApp`."""
    return SandboxApp(config, schema)
