"""`AttioClient`: Attio's REST API v2 over one `httpx.AsyncClient`.

It owns everything about talking to Attio that the rest of the toolkit should not think about:
the bearer header, timeouts, the read and write budgets, retries with backoff, pagination, and
turning every failure into one class of `toolkit.errors` (in `_error_for_response` and
`_error_for_exception`, the only places that look at httpx's exceptions and status codes).

Every attempt, failed or not, is reported to the optional `on_attempt` hook as an `Attempt`,
so the audit log can keep a row per HTTP exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import httpx

from . import __version__
from .config import Secret, Settings
from .errors import (
    ApiError,
    AuthError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PaginationLoopError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .ratelimit import Budgets
from .retry import RetryPolicy, is_idempotent, parse_retry_after, should_retry

__all__ = ["AttioClient", "Attempt", "OffsetPaginator", "PaginationLoopError"]

JSON = Any
log = logging.getLogger(__name__)
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
#: Attributes are fetched in pages of this size (api-notes 1.4: limit/offset, short page ends).
ATTRIBUTE_PAGE_SIZE: Final = 500
_BODY_EXCERPT: Final = 300


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange (or failed try at one), as the audit log keeps it."""

    method: str
    path: str
    params: Mapping[str, str]
    attempt: int
    started_at: float
    latency: float
    status: int | None = None
    code: str | None = None
    message: str | None = None
    execution_id: str | None = None
    error: str | None = None
    will_retry: bool = False
    wait: float = 0.0


AttemptHook = Callable[[Attempt], None]


@dataclass
class OffsetPaginator:
    """Limit/offset paging: a short page ends it, a repeated page raises.

    A page longer than `limit` means the server ignored the limit and sent everything at once,
    which also ends it.
    """

    limit: int
    offset: int = 0
    finished: bool = False
    _last_page: list[JSON] | None = field(default=None, repr=False)

    def advance(self, page: list[JSON], *, method: str = "GET", path: str = "") -> None:
        if self.finished:
            raise RuntimeError("advance() after the last page")
        if page and page == self._last_page:
            raise PaginationLoopError(
                f"the page at offset {self.offset} repeats the previous page; stopping",
                method=method,
                path=path,
            )
        self._last_page = page
        if len(page) != self.limit:
            self.finished = True
        self.offset += len(page)


class AttioClient:
    """An async client for Attio's REST API v2.

    Args:
        api_key: the workspace API key or OAuth access token.
        base_url: Attio's origin, without `/v2`.
        timeout: an httpx timeout; always set.
        read_rate, write_rate: requests per second for each budget (api-notes 1.3).
        policy: retry numbers (attempts, deadline, backoff).
        max_concurrency: requests in flight at once.
        transport: an httpx transport to use instead of the network (tests, the sandbox).
        on_attempt: called with an `Attempt` after every try.
        clock, sleep: the time source and the wait between retries (replaceable in tests).

    Use it as an async context manager, or call `aclose()`.
    """

    def __init__(
        self,
        api_key: Secret | str,
        *,
        base_url: str = "https://api.attio.com",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        read_rate: float = 100.0,
        write_rate: float = 25.0,
        policy: RetryPolicy | None = None,
        max_concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        on_attempt: AttemptHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        secret = api_key if isinstance(api_key, Secret) else Secret(api_key)
        if not secret:
            raise AuthError("no API key given", method="-", path="-")
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.budgets = Budgets.per_second(read_rate, write_rate)
        self.on_attempt = on_attempt
        self.requests_sent = 0
        self._clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
            headers={
                "Authorization": f"Bearer {secret.reveal()}",
                "Accept": "application/json",
                "User-Agent": f"attio-sync/{__version__}",
            },
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AttioClient:
        """A client configured from `Settings`; keyword arguments override them."""
        options: dict[str, Any] = {
            "base_url": settings.base_url,
            "timeout": httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
            "read_rate": settings.read_rate,
            "write_rate": settings.write_rate,
            "policy": RetryPolicy(max_attempts=settings.max_attempts, deadline=settings.deadline),
        }
        options.update(kwargs)
        return cls(settings.require_key(), **options)

    def __repr__(self) -> str:
        return f"AttioClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AttioClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the one request loop ------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: JSON = None,
        idempotent: bool | None = None,
    ) -> JSON:
        """Send one request, retrying per the policy, and return the parsed JSON body.

        Raises:
            RetryableApiError: a retryable failure outlasted the attempts or the deadline.
            FatalApiError: Attio refused the request; retrying would not help.
        """
        method = method.upper()
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        safe_to_repeat = is_idempotent(method, path) if idempotent is None else idempotent
        budget = self.budgets.for_request(method, path)
        first_start = self._clock()
        attempt = 0
        while True:
            attempt += 1
            await budget.acquire()
            started = self._clock()
            response: httpx.Response | None = None
            try:
                async with self._slots:
                    self.requests_sent += 1
                    response = await self._http.request(method, path, params=query, json=json_body)
            except httpx.HTTPError as exc:
                error: ApiError = _error_for_exception(exc, method, path)
            else:
                if response.is_success:
                    self._report(method, path, query, attempt, started, response=response)
                    return _json_body(response, method, path)
                error = _error_for_response(response, method, path)

            retry = should_retry(error, idempotent=safe_to_repeat) and attempt < self.policy.max_attempts
            wait = self.policy.wait_for(error, attempt) if retry else 0.0
            if retry and self._clock() + wait - first_start > self.policy.deadline:
                retry, wait = False, 0.0
            self._report(method, path, query, attempt, started, response=response, error=error,
                         will_retry=retry, wait=wait)
            if not retry:
                raise error
            # Never the headers: the key lives there. Method, path and Attio's answer only.
            log.info("retry %d of %s %s in %.2fs after %s", attempt, method, path, wait,
                        error.status or type(error).__name__)
            await self._sleep(wait)

    def _report(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        attempt: int,
        started: float,
        *,
        response: httpx.Response | None = None,
        error: ApiError | None = None,
        will_retry: bool = False,
        wait: float = 0.0,
    ) -> None:
        if self.on_attempt is None:
            return
        self.on_attempt(
            Attempt(
                method=method,
                path=path,
                params=dict(query),
                attempt=attempt,
                started_at=time.time() - (self._clock() - started),
                latency=self._clock() - started,
                status=response.status_code if response is not None else None,
                code=error.code if error else None,
                message=error.message if error else None,
                execution_id=response.headers.get("x-attio-execution-id") if response is not None else None,
                error=type(error).__name__ if error else None,
                will_retry=will_retry,
                wait=wait,
            )
        )

    async def get_data(self, path: str, **params: Any) -> JSON:
        """GET a resource and unwrap Attio's `{"data": ...}` envelope."""
        body = await self.request("GET", path, params=params)
        return _unwrap(body, "GET", path)

    # -- endpoints the toolkit uses ------------------------------------------------------

    async def get_self(self) -> JSON:
        """`GET /v2/self`: token introspection (its body is not wrapped in `data`)."""
        return await self.request("GET", "/v2/self")

    async def list_objects(self) -> list[JSON]:
        """`GET /v2/objects`: the activated objects."""
        return list(await self.get_data("/v2/objects"))

    async def get_object(self, obj: str) -> JSON:
        return await self.get_data(f"/v2/objects/{obj}")

    async def iter_attributes(
        self, obj: str, *, show_archived: bool = True, page_size: int = ATTRIBUTE_PAGE_SIZE
    ) -> AsyncIterator[JSON]:
        """Every attribute of an object, page by page (archived ones included by default)."""
        path = f"/v2/objects/{obj}/attributes"
        pages = OffsetPaginator(limit=page_size)
        while not pages.finished:
            page = list(await self.get_data(path, limit=page_size, offset=pages.offset,
                                            show_archived=show_archived))
            pages.advance(page, method="GET", path=path)
            for item in page:
                yield item

    async def list_attributes(self, obj: str, *, show_archived: bool = True,
                              page_size: int = ATTRIBUTE_PAGE_SIZE) -> list[JSON]:
        return [a async for a in self.iter_attributes(obj, show_archived=show_archived,
                                                      page_size=page_size)]

    async def list_options(self, obj: str, attribute: str, *, show_archived: bool = True) -> list[JSON]:
        return list(await self.get_data(f"/v2/objects/{obj}/attributes/{attribute}/options",
                                        show_archived=show_archived))

    async def list_statuses(self, obj: str, attribute: str, *, show_archived: bool = True) -> list[JSON]:
        return list(await self.get_data(f"/v2/objects/{obj}/attributes/{attribute}/statuses",
                                        show_archived=show_archived))

    async def list_members(self) -> list[JSON]:
        return list(await self.get_data("/v2/workspace_members"))

    async def assert_record(self, obj: str, matching_attribute: str, values: Mapping[str, Any]) -> JSON:
        """`PUT /v2/objects/{obj}/records?matching_attribute=...`: create or update by a unique key."""
        path = f"/v2/objects/{obj}/records"
        body = await self.request("PUT", path, params={"matching_attribute": matching_attribute},
                                  json_body={"data": {"values": dict(values)}})
        return _unwrap(body, "PUT", path)

    async def create_record(self, obj: str, values: Mapping[str, Any]) -> JSON:
        """`POST /v2/objects/{obj}/records`. Not retried after it may have reached Attio."""
        path = f"/v2/objects/{obj}/records"
        body = await self.request("POST", path, json_body={"data": {"values": dict(values)}})
        return _unwrap(body, "POST", path)

    async def update_record(self, obj: str, record_id: str, values: Mapping[str, Any], *,
                            append: bool = True) -> JSON:
        """PATCH (append multiselect values) or PUT (overwrite them) a record by id."""
        method = "PATCH" if append else "PUT"
        path = f"/v2/objects/{obj}/records/{record_id}"
        body = await self.request(method, path, json_body={"data": {"values": dict(values)}})
        return _unwrap(body, method, path)

    async def get_record(self, obj: str, record_id: str) -> JSON:
        return await self.get_data(f"/v2/objects/{obj}/records/{record_id}")

    async def query_records(self, obj: str, *, filter: Mapping[str, Any] | None = None,
                            sorts: Sequence[Mapping[str, Any]] | None = None,
                            limit: int = 500, offset: int = 0) -> list[JSON]:
        path = f"/v2/objects/{obj}/records/query"
        payload: dict[str, Any] = {"limit": limit, "offset": offset}
        if filter is not None:
            payload["filter"] = dict(filter)
        if sorts is not None:
            payload["sorts"] = list(sorts)
        return list(_unwrap(await self.request("POST", path, json_body=payload), "POST", path))


# -- translating failures: the one boundary ----------------------------------------------


def _error_for_response(response: httpx.Response, method: str, path: str) -> ApiError:
    """The `toolkit.errors` class and fields for a non-2xx answer, JSON body or not."""
    status = response.status_code
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "execution_id": response.headers.get("x-attio-execution-id"),
    }
    message = f"HTTP {status}"
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        fields["type"] = body.get("type")
        fields["code"] = body.get("code")
        errors = body.get("validation_errors")
        if isinstance(errors, list):
            fields["validation_errors"] = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    else:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        excerpt = " ".join(response.text[:_BODY_EXCERPT].split())
        message = f"HTTP {status} with a non-JSON body ({kind}): {excerpt}" if excerpt else message
        fields["body"] = response.text[:_BODY_EXCERPT]

    if status == 429:
        return RateLimitError(message, retry_after=parse_retry_after(response.headers.get("retry-after")),
                              **fields)
    if status >= 500:
        return ServerError(message, **fields)
    if status in {401, 403}:
        return AuthError(message, **fields)
    if status == 404:
        return NotFoundError(message, **fields)
    if status == 409 or fields.get("code") == "uniqueness_conflict":
        return ConflictError(message, **fields)
    return InvalidRequestError(message, **fields)


def _error_for_exception(exc: httpx.HTTPError, method: str, path: str) -> TransportError:
    """A `TransportError` for httpx's timeouts and connection failures.

    `sent=False` only where httpx never handed the request to a connection, so repeating
    even a create is safe.
    """
    never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    reason = str(exc) or type(exc).__name__
    return TransportError(f"{type(exc).__name__}: {reason}", sent=not never_sent, method=method, path=path)


def _json_body(response: httpx.Response, method: str, path: str) -> JSON:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ServerError(
            f"HTTP {response.status_code} with a body that is not JSON",
            method=method, path=path, status=response.status_code,
            execution_id=response.headers.get("x-attio-execution-id"),
            body=response.text[:_BODY_EXCERPT],
        ) from exc


def _unwrap(body: JSON, method: str, path: str) -> JSON:
    if not isinstance(body, dict) or "data" not in body:
        raise ServerError("the answer has no 'data' envelope", method=method, path=path, status=200,
                          body=json.dumps(body)[:_BODY_EXCERPT])
    return body["data"]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
