"""`AttioClient`: Attio's REST API v2 over one `httpx.AsyncClient`.

It owns everything about talking to Attio that the rest of the toolkit should not think about:
the bearer header, timeouts, the read and write budgets, retries with backoff, pagination, and
turning every failure into one class of `toolkit.errors` (in `_error_for_response` and
`_error_for_exception`, the only places that look at httpx's exceptions and status codes).

Every attempt, failed or not, is reported as an `Attempt` to the hooks given when the client
is built (`on_attempt=`), then to the listeners of the current context (`report_attempts_to`),
so the audit log can keep a row per HTTP exchange without touching the client.

Two limits hold whatever the server does: an answer is read as a stream and abandoned once it
runs past `max_response_bytes`, and every attempt (sending and reading the whole answer) ends
when the request's total deadline (`BackoffPolicy.deadline`, counted in time spent trying) is
reached, however slowly the bytes arrive.

Two things stop requests before they are sent, for every request of the client at once:

- a `CircuitBreaker` (`toolkit.breaker`): while Attio keeps failing (5xx, timeouts, refused
  connections) requests wait at its gate instead of spending their attempts, one probe at a
  time finds out when Attio answers again, and past the outage timeout they raise `OutageError`;
- a refusal latch: the first 401 or 403 (`AuthError`), or any 3xx (`RedirectError`: a wrong
  base URL), is raised again by every later request at once, without sending it. Requests
  already sent may still finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import httpx

from . import __version__
from .backoff import BackoffPolicy, is_idempotent, may_try_again, parse_retry_after
from .breaker import CircuitBreaker, Ticket, is_outage
from .config import DEFAULT_MAX_RESPONSE_BYTES, Secret, Settings
from .errors import (
    ApiError,
    AuthError,
    ConflictError,
    FatalApiError,
    InvalidRequestError,
    NotFoundError,
    PaginationLoopError,
    RateLimitError,
    RedirectError,
    ServerError,
    TransportError,
)
from .ratelimit import DEFAULT_ALLOWANCE, Budgets, RateLimiter, Turn

__all__ = ["Attempt", "AttemptHook", "AttioClient", "OffsetPaginator", "PaginationLoopError", "report_attempts_to"]

JSON = Any
log = logging.getLogger(__name__)
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
#: Attributes are fetched in pages of this size (api-notes 1.4: limit/offset, short page ends).
ATTRIBUTE_PAGE_SIZE: Final = 500
_BODY_EXCERPT: Final = 300


class _Unsent(enum.Enum):
    """Why an attempt was not sent once it had its turn."""

    PAUSED = "the breaker opened: back to its gate"
    REFUSED = "the client latched a refusal"


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

#: Listeners of the current context (`report_attempts_to`); asyncio tasks inherit a copy.
_attempt_listeners: contextvars.ContextVar[tuple[AttemptHook, ...]] = contextvars.ContextVar(
    "attio_attempt_listeners", default=()
)


@contextlib.contextmanager
def report_attempts_to(hook: AttemptHook) -> Iterator[None]:
    """Within the block, report every attempt of any `AttioClient` to `hook` as well.

    Only requests made in this context hear it: code in the block, and asyncio tasks created in
    it (they copy the context when created). Blocks stack; the outer listeners are called first.
    Use it to observe the attempts made on your behalf without touching a shared client::

        with report_attempts_to(rows.append):
            await client.get_self()
    """
    token = _attempt_listeners.set((*_attempt_listeners.get(), hook))
    try:
        yield
    finally:
        _attempt_listeners.reset(token)


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
        arrival_allowance: seconds within which a request wholly written to the socket is
            assumed to reach Attio; from then on it no longer counts as in flight in its budget,
            so Attio's time to answer is not charged (`toolkit.ratelimit`). 0.05 by default.
        policy: retry numbers (attempts, deadline, backoff).
        max_concurrency: requests in flight at once (connection slots). A request takes its slot
            before its place in the rate budget, so waiting for a slot costs the budget nothing.
        transport: an httpx transport to use instead of the network (tests, the sandbox).
        on_attempt: a hook, or several, called with an `Attempt` after every try. Fixed here:
            to observe a stretch of work later, use `report_attempts_to`.
        max_response_bytes: the largest answer read (decoded); a longer one fails the attempt
            with a retryable `ServerError`, and the rest is never read.
        clock, sleep: the time source, and the wait between retries and for the rate budgets
            (replaceable in tests).
        breaker: the circuit breaker every attempt passes (`toolkit.breaker`). When omitted the
            client builds one with the defaults (5 failures in a row from two requests or more
            open it; 5 minutes of outage stop it) and this client's `clock` and `sleep`. Give
            each client its own: it holds the state of one run.

    Use it as an async context manager, or call `aclose()`.
    """

    __slots__ = ("_answered", "_clock", "_first", "_hooks", "_http", "_max_response_bytes", "_refusal", "_sleep",
                 "_slots", "base_url", "breaker", "budgets", "policy", "requests_sent")

    def __init__(
        self,
        api_key: Secret | str,
        *,
        base_url: str = "https://api.attio.com",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        read_rate: float = 100.0,
        write_rate: float = 25.0,
        arrival_allowance: float = DEFAULT_ALLOWANCE,
        policy: BackoffPolicy | None = None,
        max_concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        on_attempt: AttemptHook | Sequence[AttemptHook] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, Secret) else Secret(api_key)
        if not secret:
            raise AuthError("no API key given", method="-", path="-")
        if max_response_bytes <= 0:
            raise ValueError(f"max_response_bytes must be above 0, got {max_response_bytes!r}")
        self.base_url = base_url.rstrip("/")
        self.policy = policy or BackoffPolicy()
        self.budgets = Budgets.per_second(read_rate, write_rate, allowance=arrival_allowance, clock=clock,
                                          sleep=sleep)
        self.requests_sent = 0
        self._hooks = _as_hooks(on_attempt)
        self._max_response_bytes = max_response_bytes
        self._clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(max_concurrency)
        self.breaker = breaker or CircuitBreaker(clock=clock, sleep=sleep)
        self._refusal: FatalApiError | None = None
        #: Whether Attio has answered this client once; until then requests go one at a time.
        self._answered = False
        self._first = asyncio.Lock()
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
        """A client configured from `Settings`; keyword arguments override them.

        Its breaker stops waiting after `settings.outage_timeout` (unless `breaker=` is given).
        """
        options: dict[str, Any] = {
            "base_url": settings.base_url,
            "timeout": httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
            "read_rate": settings.read_rate,
            "write_rate": settings.write_rate,
            "policy": BackoffPolicy(max_attempts=settings.max_attempts, deadline=settings.deadline),
            "max_response_bytes": settings.max_response_bytes,
            "arrival_allowance": settings.arrival_allowance,
        }
        options.update(kwargs)
        if options.get("breaker") is None:
            timing = {name: options[name] for name in ("clock", "sleep") if name in options}
            options["breaker"] = CircuitBreaker(outage_timeout=settings.outage_timeout, **timing)
        return cls(settings.require_key(), **options)

    def __repr__(self) -> str:
        return f"AttioClient(base_url={self.base_url!r})"

    @property
    def hooks(self) -> tuple[AttemptHook, ...]:
        """The attempt hooks given when the client was built (read-only)."""
        return self._hooks

    @property
    def max_response_bytes(self) -> int:
        """The largest answer this client reads."""
        return self._max_response_bytes

    @property
    def answered(self) -> bool:
        """Whether Attio has answered this client once (a success or a refusal; a 5xx is no answer)."""
        return self._answered

    @property
    def refusal(self) -> FatalApiError | None:
        """The 401, 403 or 3xx that made this client refuse to send anything more, if any."""
        return self._refusal

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

        Until Attio has answered this client once, requests go one at a time: with a wrong key
        or address, the first answer (or its absence) is known before a second request is sent.

        Every attempt first passes the breaker's gate (`toolkit.breaker`): while Attio is down
        the request waits there, unsent. An attempt that fails with an outage (5xx, timeout,
        refused or dropped connection) while the breaker is open, or that opens it, is excused:
        it counts neither against `policy.max_attempts` nor against `policy.deadline`, and the
        request goes back to the gate without a backoff. Time at the gate is not counted either:
        `policy.deadline` measures the time spent trying, from the first attempt's start. No new
        attempt starts after it, and an attempt still sending or reading when it comes is cut off
        (a `TransportError`), however the server dribbles its bytes.

        Raises:
            AuthError, RedirectError: Attio refused the key (401, 403) or redirected (3xx), in
                this request or an earlier one of this client: nothing more is sent.
            OutageError: Attio kept failing past the breaker's outage timeout; not sent.
            RetryableApiError: a retryable failure outlasted the attempts or the deadline.
            FatalApiError: Attio refused the request; retrying would not help.
        """
        if not self._answered:
            async with self._first:
                if not self._answered:
                    return await self._request(method, path, params, json_body, idempotent)
        return await self._request(method, path, params, json_body, idempotent)

    async def _request(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: JSON,
                       idempotent: bool | None) -> JSON:
        method = method.upper()
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        safe_to_repeat = is_idempotent(method, path) if idempotent is None else idempotent
        budget = self.budgets.for_request(method, path)
        self._raise_if_refused()
        key = object()  # this request, to the breaker, across its attempts
        first_start: float | None = None
        paused = 0.0  # since the first attempt: seconds at the gate or in excused attempts
        attempt = 0  # attempts made (as reported)
        counted = 0  # attempts counted against policy.max_attempts
        while True:
            entered = self._clock()
            ticket = await self.breaker.gate(method, path, key=key)
            passed = self._clock()
            if first_start is not None:
                paused += passed - entered
            exchange: tuple[httpx.Response, bytes] | _Unsent | ApiError
            try:
                # A connection slot first, then a place in the budget, so that the place is taken
                # only when the request can be written at once: it is charged from there until
                # `allowance` after the writing or the answer's head, whichever is first (see
                # toolkit.ratelimit for why, and for the pause after a 429).
                async with self._slots, budget.turn() as turn:
                    started = self._clock()
                    deadline_at = (started if first_start is None else first_start) + paused + self.policy.deadline
                    try:
                        exchange = await self._attempt(method, path, query, json_body, ticket, budget, turn,
                                                       deadline_at=deadline_at)
                    except ApiError as failure:
                        exchange = failure
            except BaseException:
                self.breaker.release(ticket)
                raise
            if exchange is _Unsent.REFUSED:
                raise self._replayed_refusal()
            if exchange is _Unsent.PAUSED:
                # The breaker opened while this attempt waited for its turn: back to the gate.
                if first_start is not None:
                    paused += self._clock() - passed
                continue
            attempt += 1
            if first_start is None:
                first_start = started
            if isinstance(exchange, ApiError):
                error: ApiError = exchange
            else:
                response, body = exchange
                if response.is_success:
                    self._answered = True
                    self.breaker.record(ticket, None)
                    self._report(method, path, query, attempt, started, status=response.status_code,
                                 execution_id=response.headers.get("x-attio-execution-id"))
                    return _json_body(response, body, method, path)
                error = _error_for_response(response, body, method, path)
                self._answered = self._answered or not is_outage(error)
                self._latch(error)
            excused = self.breaker.record(ticket, error)

            retryable = may_try_again(error, idempotent=safe_to_repeat)
            if excused and retryable:
                paused += self._clock() - started
                self._report(method, path, query, attempt, started, status=error.status,
                             execution_id=error.execution_id, error=error, will_retry=True)
                log.debug("attempt %d of %s %s met %s while Attio is failing: waiting at the breaker", attempt,
                          method, path, error.status or type(error).__name__)
                continue
            counted += 1
            retry = retryable and counted < self.policy.max_attempts
            wait = self.policy.wait_for(error, counted) if retry else 0.0
            if retry and self._clock() + wait - first_start - paused > self.policy.deadline:
                retry, wait = False, 0.0
            self._report(method, path, query, attempt, started, status=error.status,
                         execution_id=error.execution_id, error=error, will_retry=retry, wait=wait)
            if not retry:
                raise error
            # Never the headers: the key lives there. Method, path and Attio's answer only.
            log.info("retry %d of %s %s in %.2fs after %s", attempt, method, path, wait,
                        error.status or type(error).__name__)
            await self._sleep(wait)

    async def _attempt(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        json_body: JSON,
        ticket: Ticket,
        budget: RateLimiter,
        turn: Turn,
        *,
        deadline_at: float,
    ) -> tuple[httpx.Response, bytes] | _Unsent:
        """One try, holding a connection slot and its `turn` in `budget`: send the request and
        read its whole answer before `deadline_at` (clock time).

        It sends nothing when the breaker no longer admits `ticket` (`_Unsent.PAUSED`) or the
        client has latched a refusal (`_Unsent.REFUSED`); the turn's place is then freed at once.

        Raises:
            TransportError: no complete answer: httpx failed, or the deadline came first.
            ServerError: the answer runs past `max_response_bytes`.
        """
        if not self.breaker.admits(ticket):
            turn.unsent()
            self.breaker.release(ticket)
            return _Unsent.PAUSED
        if self._refusal is not None:
            turn.unsent()
            self.breaker.release(ticket)
            return _Unsent.REFUSED
        remaining = deadline_at - self._clock()
        if remaining <= 0:
            turn.unsent()
            self.breaker.release(ticket)
            raise TransportError(
                f"the request's deadline ({self.policy.deadline:g} s) passed before it could be sent",
                sent=False, method=method, path=path)
        self.requests_sent += 1
        try:
            async with asyncio.timeout(remaining):
                return await self._exchange(method, path, query, json_body, budget, turn)
        except TimeoutError as exc:
            raise TransportError(
                f"no complete answer within {self.policy.deadline:g} s (the request's deadline)",
                sent=True, method=method, path=path) from exc
        except httpx.HTTPError as exc:
            raise _error_for_exception(exc, method, path) from exc

    def _answered_in(self, budget: RateLimiter, turn: Turn, response: httpx.Response) -> None:
        """The head of an answer arrived: the attempt's `turn` in `budget` ends (if `allowance`
        after the writing did not end it already). A 429 first pauses the whole budget until its
        `Retry-After` (capped; a window when it has none)."""
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            budget.pause(min(budget.window if wait is None else wait, self.policy.retry_after_cap))
        turn.end()

    def _latch(self, error: ApiError) -> None:
        """Remember the first refusal (401, 403) or redirect (3xx): every later request raises it."""
        if self._refusal is None and isinstance(error, (AuthError, RedirectError)):
            self._refusal = error
            # The method, path and Attio's answer only: never the headers.
            log.warning("%s: %s %s answered %s; this client sends nothing more", type(error).__name__,
                        error.method, error.path, error.status)

    def _raise_if_refused(self) -> None:
        if self._refusal is not None:
            raise self._replayed_refusal()

    def _replayed_refusal(self) -> FatalApiError:
        """A copy of the latched refusal, to raise in another request (each raise its own object)."""
        assert self._refusal is not None
        original = self._refusal
        copy = type(original).__new__(type(original))
        copy.__dict__.update(original.__dict__)
        copy.args = original.args
        return copy

    async def _exchange(
        self, method: str, path: str, query: Mapping[str, str], json_body: JSON, budget: RateLimiter,
        turn: Turn,
    ) -> tuple[httpx.Response, bytes]:
        """Send the request and read the answer as a stream, stopping at `max_response_bytes`.

        `turn.sent()` once the request is wholly written (httpcore's trace events; other
        transports report nothing), and `_answered_in` as soon as the answer's head has
        arrived, before the body is read. The response is closed whatever happens, so an
        abandoned answer is never read further (httpx drops the connection rather than drain it).
        """
        request = self._http.build_request(method, path, params=query, json=json_body,
                                           extensions={"trace": functools.partial(_trace_writing, turn)})
        response = await self._http.send(request, stream=True)
        try:
            self._answered_in(budget, turn, response)
            return response, await _read_capped(response, self._max_response_bytes, method, path)
        finally:
            await response.aclose()

    def _report(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        attempt: int,
        started: float,
        *,
        status: int | None = None,
        execution_id: str | None = None,
        error: ApiError | None = None,
        will_retry: bool = False,
        wait: float = 0.0,
    ) -> None:
        """Tell the build-time hooks, then the context's listeners, about one attempt."""
        listeners = _attempt_listeners.get()
        if not self._hooks and not listeners:
            return
        latency = self._clock() - started
        record = Attempt(
            method=method,
            path=path,
            params=dict(query),
            attempt=attempt,
            started_at=time.time() - latency,
            latency=latency,
            status=status,
            code=error.code if error else None,
            message=error.message if error else None,
            execution_id=execution_id,
            error=type(error).__name__ if error else None,
            will_retry=will_retry,
            wait=wait,
        )
        for hook in self._hooks:
            hook(record)
        for hook in listeners:
            hook(record)

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


def _as_hooks(on_attempt: AttemptHook | Sequence[AttemptHook] | None) -> tuple[AttemptHook, ...]:
    """The `on_attempt` argument as a tuple of hooks: none, one, or several."""
    if on_attempt is None:
        return ()
    if callable(on_attempt):
        return (on_attempt,)
    return tuple(on_attempt)


#: httpcore's trace event once a request's body (and so the whole request) is written: HTTP/1.1
#: ("http11.send_request_body.complete") or HTTP/2 ("http2.send_request_body.complete").
_WRITTEN: Final = ".send_request_body.complete"


async def _trace_writing(turn: Turn, event: str, info: Mapping[str, Any]) -> None:
    """httpx's `trace` extension: tell `turn` when its request has been wholly written."""
    if event.endswith(_WRITTEN):
        turn.sent()


async def _read_capped(response: httpx.Response, limit: int, method: str, path: str) -> bytes:
    """The whole decoded body of a streamed `response`, if it is at most `limit` bytes.

    Raises:
        ServerError: the declared length is over `limit` (nothing is read), or the body ran
            past it (reading stops there). Retryable: a later answer may be smaller.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response, f"the answer declares {int(declared):,} bytes, over {limit:,} "
                                   "(max_response_bytes); not read", method, path)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(response, f"the answer is over {limit:,} bytes (max_response_bytes); "
                                       "stopped reading", method, path)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(response: httpx.Response, message: str, method: str, path: str) -> ServerError:
    return ServerError(message, method=method, path=path, status=response.status_code,
                       execution_id=response.headers.get("x-attio-execution-id"))


def _text(response: httpx.Response, body: bytes) -> str:
    """`body` as text, in the answer's charset (UTF-8 by default), undecodable bytes replaced."""
    return body.decode(response.encoding or "utf-8", errors="replace")


def _error_for_response(response: httpx.Response, body: bytes, method: str, path: str) -> ApiError:
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
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        message = str(parsed.get("message") or message)
        fields["type"] = parsed.get("type")
        fields["code"] = parsed.get("code")
        errors = parsed.get("validation_errors")
        if isinstance(errors, list):
            fields["validation_errors"] = [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    else:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        text = _text(response, body[: _BODY_EXCERPT * 4])[:_BODY_EXCERPT]
        excerpt = " ".join(text.split())
        message = f"HTTP {status} with a non-JSON body ({kind}): {excerpt}" if excerpt else message
        fields["body"] = text

    if 300 <= status < 400:
        # Redirects are not followed (the key must not travel to another host): the base URL is wrong.
        location = response.headers.get("location")
        return RedirectError(
            f"Attio answered a redirect ({status}) {f'to {location}' if location else 'without a Location'}: "
            "the base URL is probably wrong (it should be the API's origin, e.g. https://api.attio.com)",
            location=location, **fields)
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


def _json_body(response: httpx.Response, body: bytes, method: str, path: str) -> JSON:
    """The parsed JSON of a successful answer's `body`."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ServerError(
            f"HTTP {response.status_code} with a body that is not JSON",
            method=method, path=path, status=response.status_code,
            execution_id=response.headers.get("x-attio-execution-id"),
            body=_text(response, body[: _BODY_EXCERPT * 4])[:_BODY_EXCERPT],
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
