"""The door: the event-collection HTTP API (`shared/receiver.md`) up to "committed to the queue".

`receiver_app(inbox, write_keys, max_queue=..., metrics=...)` is a Starlette app serving
``POST /v1/batch`` and the single-event paths (``/v1/identify``, ``/v1/group``, ``/v1/track``,
``/v1/page``, ``/v1/screen``, ``/v1/alias``) the Segment, Customer.io and RudderStack libraries
send to, and ``GET /healthz``. A request goes:

1. Shutting down (`is_accepting()` false)? 503 with Retry-After.
2. Authenticated? HTTP Basic with a write key as the user name (the password is ignored), or
   ``Bearer KEY`` (the Customer.io library sends its ``pk_``/``sk_`` keys so), or, without an
   Authorization header, ``writeKey`` in the body. Keys are compared by their SHA-256 digests
   with `hmac.compare_digest`, against every configured key (no early exit, and no length
   leak). Wrong or missing: 401 with ``WWW-Authenticate: Basic``. A key is never logged,
   stored (``writeKey`` is taken out of the body and every event) or counted.
3. Read, streaming, at most `MAX_REQUEST_BYTES` as sent, and (``Content-Encoding: gzip``) at
   most as many again decompressed, inflated a bounded piece at a time so a gzip bomb costs no
   memory. Beyond either: 400 naming the limit. Not UTF-8, not JSON, not an object, or a batch
   whose ``batch`` is not a list: 400 saying so. These never pass on retry, so 4xx is right.
4. Each event is checked on its own; one refused is listed in the 200 answer as
   ``{"index": i, "reason": "..."}`` and the rest still go in. Refused: not an object; no
   ``type`` (in a batch; a single-event path gives the type, and a body ``type`` that
   contradicts it is refused); over `MAX_EVENT_BYTES` as compact JSON (the event as sent, as
   the libraries measure it); a number Python cannot hold (over 4,300 digits) or one JSON does
   not allow (NaN, Infinity, 1e999). Anything else, however odd, is queued for the engine to
   judge, which records an outcome that `history` shows.
5. A batch's top-level ``context`` and ``integrations`` are merged into each event (the event's
   own keys win), its ``sentAt`` kept on each event without one, and ``receivedAt`` (now, UTC)
   set on each event without one.
6. Back-pressure: if the queue holds events and would pass `max_queue` with these, or the
   database cannot commit: 503 with Retry-After. The libraries retry 429 and 5xx and drop
   other 4xx, so nothing that will pass later is ever answered 4xx.
7. One transaction for the request (`Inbox.accept`), deduped by messageId (an event without a
   usable one gets a ``serve-`` key of its own, its text unchanged), and only after it
   committed the answer ``{"success": true, "accepted": N, "duplicates": D, "refused": [...]}``.

Parsing, checking and committing run in a worker thread, so the event loop keeps serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import threading
import time
import uuid
import zlib
from base64 import b64decode
from binascii import Error as Base64Error
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..cache import utcnow
from ..errors import CacheError, ConfigError
from .inbox import AcceptedEvent, Inbox, inbox_key
from .metrics import ServeMetrics

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "MAX_REQUEST_BYTES",
    "REFUSAL_REASONS",
    "receiver_app",
]

log = logging.getLogger(__name__)

#: The single-event paths, one per event type (``/v1/<type>``).
EVENT_TYPES = ("identify", "group", "track", "page", "screen", "alias")
#: The most a request may carry, as sent and again decompressed (Segment's "500 KB per batch";
#: the libraries cap a batch at 475,000 bytes before gzip).
MAX_REQUEST_BYTES = 500 * 1024
#: The most one event may take as compact JSON (the libraries' own check: ``32 << 10``).
MAX_EVENT_BYTES = 32 * 1024
#: The codes of refusals at the door (the `reason` label of ``attio_sync_events_refused``).
REFUSAL_REASONS = ("not_an_object", "no_type", "type_mismatch", "too_large", "unstorable")
#: What the door answers a sender that is shut out, in seconds (the Retry-After header).
DEFAULT_RETRY_AFTER = 5.0
#: How long a counted queue depth is trusted: a busy door does not count the queue per request.
DEPTH_TTL = 0.25
#: How much the gzip decoder inflates per call: what it holds beyond the limit, at most.
_INFLATE_STEP = 64 * 1024
_GZIP = 16 + zlib.MAX_WBITS  # zlib's window bits for the gzip wrapper

_JSON_HEADERS = {"Cache-Control": "no-store"}


# -- parsing: numbers JSON allows but Python or JSON output cannot hold ------------------------


class _Unstorable:
    """Stands in for a number that cannot be kept; refuses its event when serialised."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _RefusedError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _parse_int(text: str) -> int | _Unstorable:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits() (4,300 by default)
        return _Unstorable(f"holds an integer of {len(text.lstrip('-')):,} digits, more than can be stored")


def _parse_float(text: str) -> float | _Unstorable:
    value = float(text)
    if math.isfinite(value):
        return value
    return _Unstorable(f"holds the number {text[:20]}{'...' if len(text) > 20 else ''}, too large to store")


def _parse_constant(text: str) -> _Unstorable:
    return _Unstorable(f"holds {text}, which JSON does not allow")


def _unstorable(value: object) -> Any:
    if isinstance(value, _Unstorable):
        raise _RefusedError("unstorable", value.reason)
    raise TypeError(f"{type(value).__name__} is not JSON")  # pragma: no cover - json.loads makes no others


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


#: One encoder for every event (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=_unstorable)


def _dumps(value: Any) -> str:
    """Compact JSON with every non-ASCII character escaped (lone surrogates included)."""
    try:
        return _ENCODER.encode(value)
    except RecursionError as exc:
        raise _RefusedError("unstorable", "is nested too deeply to store") from exc


# -- answers ---------------------------------------------------------------------------------


class _AnswerError(Exception):
    """An answer other than 200: its status, code, message and headers."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> Response:
        # `code` and `message` are what the libraries read from an error body (APIError).
        body = {"success": False, "code": self.code, "message": self.message, **self.extra}
        return JSONResponse(body, status_code=self.status, headers={**_JSON_HEADERS, **self.headers})


def _too_large(what: str, limit: int) -> _AnswerError:
    return _AnswerError(400, "request_too_large", f"the {what} is over the {limit:,}-byte limit per request "
                        f"({limit // 1024} KB); send smaller batches", limit_bytes=limit)


def _bad_request(code: str, message: str) -> _AnswerError:
    return _AnswerError(400, code, message)


_UNAUTHORIZED = (
    "a valid write key is required: HTTP Basic auth with the write key as the user name and an empty "
    "password (or writeKey in the body)")


# -- the door --------------------------------------------------------------------------------


@dataclass
class _Depth:
    """The queue depth as last counted, and when (monotonic seconds)."""

    value: int = 0
    counted_at: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Prepared:
    events: list[AcceptedEvent]
    refused: list[dict[str, Any]]
    received: int


class _Door:
    """The state behind one receiver app; see `receiver_app`."""

    def __init__(self, inbox: Inbox, write_keys: Sequence[str], *, max_queue: int, metrics: ServeMetrics,
                 is_accepting: Callable[[], bool] | None, on_accepted: Callable[[], None] | None,
                 clock: Callable[[], datetime],
                 monotonic: Callable[[], float], retry_after: float, max_request_bytes: int,
                 max_event_bytes: int, depth_ttl: float) -> None:
        keys = [key for key in write_keys if key]
        if not keys:
            raise ConfigError(["serve needs at least one write key (--write-key, or ATTIO_SYNC_WRITE_KEYS "
                               "comma-separated): senders authenticate with it"])
        if max_queue < 1:
            raise ConfigError([f"the queue limit must be at least 1, not {max_queue}"])
        self._key_digests = [hashlib.sha256(key.encode("utf-8")).digest() for key in keys]
        self.inbox = inbox
        self.max_queue = max_queue
        self.metrics = metrics
        self.is_accepting = is_accepting
        self.on_accepted = on_accepted
        self.clock = clock
        self.monotonic = monotonic
        self.retry_after = retry_after
        self.max_request_bytes = max_request_bytes
        self.max_event_bytes = max_event_bytes
        self.depth_ttl = depth_ttl
        self._depth = _Depth()

    # -- authentication ------------------------------------------------------------------

    def _is_key(self, candidate: bytes) -> bool:
        digest = hashlib.sha256(candidate).digest()
        found = False
        for known in self._key_digests:  # every key, always: the time taken says nothing
            found |= hmac.compare_digest(digest, known)
        return found

    def _header_key(self, header: str) -> bytes | None:
        """The key an Authorization header carries; None when it carries none."""
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            return credentials.encode("latin-1")  # the bytes as sent (Starlette decodes headers as latin-1)
        if scheme.lower() != "basic":
            return None
        try:
            decoded = b64decode(credentials, validate=True)
        except (Base64Error, ValueError):
            return None
        return decoded.partition(b":")[0]

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, request: Request) -> bytes:
        """The body, decoded from gzip when so sent; every limit enforced as it streams in."""
        limit = self.max_request_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise _too_large("request body", limit)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", ""):
            raise _AnswerError(415, "unsupported_encoding",
                               f"Content-Encoding {encoding[:40]!r} is not supported: send gzip or none")
        inflater = _Inflater(limit) if encoding in ("gzip", "x-gzip") else None
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large("request body", limit)
                if inflater is not None:
                    inflater.feed(chunk)
                else:
                    chunks.append(chunk)
        except ClientDisconnect as exc:
            raise _bad_request("incomplete_body", "the request body ended early") from exc
        return inflater.finish() if inflater is not None else b"".join(chunks)

    # -- the request -----------------------------------------------------------------------

    async def handle(self, request: Request, event_type: str | None) -> Response:
        started = self.monotonic()
        try:
            if self.is_accepting is not None and not self.is_accepting():
                raise self._busy("shutting_down", "the server is shutting down; send again shortly")
            header = request.headers.get("authorization")
            authenticated = False
            if header is not None:
                candidate = self._header_key(header)
                if candidate is None or not self._is_key(candidate):
                    raise self._unauthorized()
                authenticated = True
            body = await self._read(request)
            answer = await run_in_threadpool(self._process, body, event_type, authenticated)
        except _AnswerError as exc:
            response = exc.response()
        except Exception:  # a bug: 500, which the libraries retry, rather than a dropped connection
            log.exception("serve: a request to %s failed", request.url.path)
            response = _AnswerError(500, "internal_error", "the server failed to handle this request").response()
        else:
            response = JSONResponse(answer, headers=_JSON_HEADERS)
            self.metrics.ack_seconds.observe(self.monotonic() - started)
        self.metrics.requests.labels(status=str(response.status_code)).inc()
        return response

    def _process(self, body: bytes, event_type: str | None, authenticated: bool) -> dict[str, Any]:
        """Parse, authenticate (by body key), check, commit; the 200 answer's body."""
        parsed = self._parse(body)
        if not isinstance(parsed, dict):
            raise _bad_request("not_an_object", "the body must be a JSON object")
        key = parsed.pop("writeKey", None)
        if not authenticated and not (isinstance(key, str) and key
                                      and self._is_key(key.encode("utf-8", "surrogatepass"))):
            raise self._unauthorized()
        prepared = self._prepare(parsed, event_type)
        metrics = self.metrics
        metrics.events_received.inc(prepared.received)
        for refusal in prepared.refused:
            metrics.events_refused.labels(reason=refusal.pop("code")).inc()
        if not prepared.events:  # nothing to queue: every event was refused, or none was sent
            return {"success": True, "accepted": 0, "duplicates": 0, "refused": prepared.refused}
        count = len(prepared.events)
        self._make_room(count)
        try:
            result = self.inbox.accept(prepared.events)
        except CacheError as exc:
            self._settle(count, 0)
            log.warning("serve: could not queue %d events: %s", count, exc)
            raise self._busy("database", "the database cannot commit events just now; send again shortly") from exc
        self._settle(count, result.accepted)
        metrics.events_accepted.inc(result.accepted)
        metrics.events_duplicate.inc(result.duplicates)
        if result.accepted and self.on_accepted is not None:
            self.on_accepted()
        return {"success": True, "accepted": result.accepted, "duplicates": result.duplicates,
                "refused": prepared.refused}

    def _parse(self, body: bytes) -> Any:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad_request("invalid_encoding", f"the body is not valid UTF-8 (byte {exc.start:,})") from exc
        try:
            return _loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            raise _bad_request("invalid_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                                               f"column {exc.colno}") from exc
        except RecursionError as exc:
            raise _bad_request("invalid_json", "the body is nested too deeply") from exc

    def _prepare(self, body: dict[str, Any], event_type: str | None) -> _Prepared:
        now = self.clock().astimezone(UTC)
        received_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if event_type is not None:
            items: list[Any] = [body]
            shared: dict[str, Any] = {}
        else:
            batch = body.get("batch")
            if not isinstance(batch, list):
                raise _bad_request("invalid_batch", 'a batch must be a JSON object whose "batch" is a list of events')
            items = batch
            shared = {name: body[name] for name in ("context", "integrations") if isinstance(body.get(name), dict)}
            if "sentAt" in body:
                shared["sentAt"] = body["sentAt"]
        events: list[AcceptedEvent] = []
        refused: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                events.append(self._event(item, event_type, shared, received_at))
            except _RefusedError as exc:
                refused.append({"index": index, "reason": exc.reason, "code": exc.code})
        return _Prepared(events=events, refused=refused, received=len(items))

    def _event(self, item: Any, event_type: str | None, shared: dict[str, Any], received_at: str) -> AcceptedEvent:
        if not isinstance(item, dict):
            raise _RefusedError("not_an_object", "not a JSON object")
        item.pop("writeKey", None)
        if event_type is not None:
            if item.get("type") not in (None, event_type):
                raise _RefusedError("type_mismatch", f"its type contradicts the path /v1/{event_type}")
        elif item.get("type") is None:
            raise _RefusedError("no_type", "no type")
        as_sent = dict(item)  # shallow: measured only when the stored form is over the limit
        if event_type is not None and item.get("type") is None:
            item["type"] = event_type
        for name in ("context", "integrations"):
            if name in shared:
                own = item.get(name)
                if own is None:
                    item[name] = dict(shared[name])
                elif isinstance(own, dict):
                    item[name] = {**shared[name], **own}
        if "sentAt" in shared:
            item.setdefault("sentAt", shared["sentAt"])
        item.setdefault("receivedAt", received_at)
        text = _dumps(item)
        if len(text) > self.max_event_bytes:
            # The limit is on the event as the sender built it (the libraries measure the same
            # way), not on what the door added: a full-sized event is still taken.
            size = len(_dumps(as_sent))
            if size > self.max_event_bytes:
                raise _RefusedError("too_large", f"over the {self.max_event_bytes:,}-byte limit per event "
                                                 f"({self.max_event_bytes // 1024} KB): {size:,} bytes")
        kind = item.get("type")
        plain_type = kind if isinstance(kind, str) and 0 < len(kind) <= 64 and kind.isprintable() else None
        message_id = inbox_key(item.get("messageId")) or f"serve-{uuid.uuid4().hex}"
        return AcceptedEvent(message_id=message_id, event_type=plain_type, event=text)

    # -- back-pressure ---------------------------------------------------------------------

    def _make_room(self, count: int) -> None:
        """Refuse (503) when the queue holds events and `count` more would pass the limit, or
        else reserve room for them (requests in flight count, so concurrent ones cannot all
        squeeze past the limit); `_settle` turns the reservation into what was accepted.

        An empty queue takes any request, so a batch larger than the limit is not refused
        forever.
        """
        depth = self._depth
        with depth.lock:
            now = self.monotonic()
            if now - depth.counted_at >= self.depth_ttl:
                try:
                    depth.value = self.inbox.depth()
                except CacheError as exc:
                    log.warning("serve: could not count the queue: %s", exc)
                    raise self._busy("database", "the database cannot be read just now; send again shortly") \
                        from exc
                depth.counted_at = now
            if depth.value > 0 and depth.value + count > self.max_queue:
                raise self._busy("queue_full", f"the queue is full ({depth.value:,} events waiting, limit "
                                               f"{self.max_queue:,}); send again shortly")
            depth.value += count

    def _settle(self, reserved: int, accepted: int) -> None:
        with self._depth.lock:
            self._depth.value += accepted - reserved

    def _busy(self, reason: str, message: str) -> _AnswerError:
        self.metrics.backpressure.labels(reason=reason).inc()
        seconds = max(1, math.ceil(self.retry_after))
        return _AnswerError(503, reason, message, headers={"Retry-After": str(seconds)}, retry_after=seconds)

    def _unauthorized(self) -> _AnswerError:
        return _AnswerError(401, "unauthorized", _UNAUTHORIZED,
                            headers={"WWW-Authenticate": 'Basic realm="attio-sync", charset="UTF-8"'})


class _Inflater:
    """A gzip decoder that never holds more than `limit` bytes of output (plus one step)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._decoder = zlib.decompressobj(_GZIP)
        self._pending = False  # the last step filled up: zlib may hold more output
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        while True:
            decoder = self._decoder
            if decoder.eof:  # what follows is another gzip member (gzip allows several)
                data = decoder.unused_data + data
                if not data:
                    return
                self._decoder = decoder = zlib.decompressobj(_GZIP)
            elif not data and not self._pending:
                return
            try:
                out = decoder.decompress(data, _INFLATE_STEP)
            except zlib.error as exc:
                raise _bad_request("invalid_gzip", f"the body is not valid gzip ({exc})") from exc
            self._pending = len(out) == _INFLATE_STEP and not decoder.eof
            self._size += len(out)
            if self._size > self.limit:
                raise _too_large("decompressed request body", self.limit)
            self._parts.append(out)
            data = decoder.unconsumed_tail

    def finish(self) -> bytes:
        self.feed(b"")
        if not self._decoder.eof:
            raise _bad_request("invalid_gzip", "the gzip body is truncated")
        return b"".join(self._parts)


def receiver_app(
    inbox: Inbox,
    write_keys: Sequence[str],
    *,
    max_queue: int,
    metrics: ServeMetrics,
    is_accepting: Callable[[], bool] | None = None,
    on_accepted: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    monotonic: Callable[[], float] = time.monotonic,
    retry_after: float = DEFAULT_RETRY_AFTER,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_event_bytes: int = MAX_EVENT_BYTES,
    depth_ttl: float = DEPTH_TTL,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The receiving side of `attio-sync serve` as a Starlette app (see the module docstring).

    Args:
        inbox: where accepted events are committed.
        write_keys: the keys a sender may authenticate with (at least one).
        max_queue: the queue depth beyond which requests are answered 503.
        metrics: the counters the door updates.
        is_accepting: false while the server shuts down (answered 503); None: always accepting.
        on_accepted: called (from a worker thread) after a commit that queued new events.
        clock: now, for ``receivedAt``.
        monotonic: seconds, for the depth cache and the latency histogram.
        retry_after: seconds a refused sender is told to wait (Retry-After; at least 1).
        max_request_bytes: the most a request may carry, as sent and decompressed.
        max_event_bytes: the most one event may take as compact JSON.
        depth_ttl: seconds a counted queue depth is trusted.
        routes: more routes (``/readyz``, ``/metrics``), served after these.

    Raises:
        ConfigError: no write key, or a queue limit under 1.

    The door itself is ``app.state.door``.
    """
    door = _Door(inbox, write_keys, max_queue=max_queue, metrics=metrics, is_accepting=is_accepting,
                 on_accepted=on_accepted, clock=clock,
                 monotonic=monotonic, retry_after=retry_after, max_request_bytes=max_request_bytes,
                 max_event_bytes=max_event_bytes, depth_ttl=depth_ttl)

    def endpoint(event_type: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            return await door.handle(request, event_type)
        return receive

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True}, headers=_JSON_HEADERS)

    app = Starlette(routes=[
        Route("/v1/batch", endpoint(None), methods=["POST"]),
        *(Route(f"/v1/{name}", endpoint(name), methods=["POST"]) for name in EVENT_TYPES),
        Route("/healthz", healthz, methods=["GET"]),
        *routes,
    ])
    app.state.door = door
    return app
