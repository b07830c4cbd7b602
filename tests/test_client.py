"""The client against httpx.MockTransport: error mapping, retries, pagination, secrecy, the
answer size cap, and the attempt hooks (fixed at build) and listeners (per context)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from attio_data import workspace
from fake_attio import FakeAttio, attio_error

from toolkit import backoff
from toolkit.backoff import BackoffPolicy
from toolkit.client import Attempt, AttioClient, OffsetPaginator, report_attempts_to
from toolkit.config import DEFAULT_MAX_RESPONSE_BYTES, Secret, Settings
from toolkit.errors import (
    ApiError,
    AuthError,
    ConflictError,
    FatalApiError,
    InvalidRequestError,
    NotFoundError,
    PaginationLoopError,
    RateLimitError,
    RetryableApiError,
    ServerError,
    TransportError,
)

KEY = "sk_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """Retries sleep for real in production; here a wait only moves this clock."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


TIME = FakeTime()


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the client asked for, with jitter stubbed so they are exact."""
    monkeypatch.setattr(backoff, "jitter", lambda seconds: seconds)
    TIME.reset()
    return TIME.waits


def client_for(handler: Handler, **kwargs: Any) -> AttioClient:
    return AttioClient(KEY, base_url="https://api.attio.test", transport=httpx.MockTransport(handler),
                       clock=TIME.clock, sleep=TIME.sleep, **kwargs)


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


VALIDATION = attio_error(
    400, "invalid_request_error", "validation_type", 'An invalid value was passed to attribute with slug "name".',
    validation_errors=[{"code": "invalid_type", "path": ["first_name"], "message": "Required",
                        "expected": "string", "received": "undefined"}])

CASES = [
    # (answer, expected class, code, message fragment)
    (lambda r: VALIDATION, InvalidRequestError, "validation_type", "invalid value"),
    (lambda r: attio_error(400, "invalid_request_error", "value_not_found",
                           'Cannot find select attribute with select option title "X".'),
     InvalidRequestError, "value_not_found", "select option"),
    (lambda r: attio_error(400, "invalid_request_error", "uniqueness_conflict", "conflicts with one already"),
     ConflictError, "uniqueness_conflict", "conflicts"),
    (lambda r: attio_error(401, "auth_error", "unauthorized", "The Authorization header was not provided."),
     AuthError, "unauthorized", "Authorization header"),
    (lambda r: attio_error(403, "auth_error", "billing_error", "Not on your plan."),
     AuthError, "billing_error", "plan"),
    (lambda r: attio_error(404, "invalid_request_error", "not_found", 'Object with slug/ID "peopel" not found.'),
     NotFoundError, "not_found", "peopel"),
    (lambda r: attio_error(409, "invalid_request_error", "slug_conflict", "same API slug"),
     ConflictError, "slug_conflict", "slug"),
    (lambda r: httpx.Response(429, json={"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                                         "message": "Rate limit exceeded, please try again later"},
                              headers={"Retry-After": "Tue, 23 May 2023 14:42:01 GMT"}),
     RateLimitError, "rate_limit_exceeded", "Rate limit"),
    (lambda r: httpx.Response(429, json={"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                                         "message": "Rate limit exceeded"}, headers={"Retry-After": "2"}),
     RateLimitError, "rate_limit_exceeded", "Rate limit"),
    (lambda r: httpx.Response(500, json={"status_code": 500, "type": "api_error", "code": "internal",
                                         "message": "boom"}),
     ServerError, "internal", "boom"),
    (lambda r: httpx.Response(503, text="<html><body><h1>503 Service Unavailable</h1>cloudflare</body></html>",
                              headers={"content-type": "text/html"}),
     ServerError, None, "non-JSON body (text/html)"),
    (raising(httpx.ConnectTimeout("connect timed out")), TransportError, None, "ConnectTimeout"),
    (raising(httpx.ReadTimeout("read timed out")), TransportError, None, "ReadTimeout"),
    (raising(httpx.ConnectError("[Errno 111] Connection refused")), TransportError, None, "refused"),
    (raising(httpx.ReadError("connection reset by peer")), TransportError, None, "reset"),
    (raising(httpx.RemoteProtocolError("server disconnected")), TransportError, None, "disconnected"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "expected", "code", "fragment"), CASES)
async def test_every_failure_maps_to_one_error_class(answer: Handler, expected: type[ApiError], code: str | None,
                                                     fragment: str) -> None:
    async with client_for(answer, policy=BackoffPolicy(max_attempts=1)) as client:
        with pytest.raises(expected) as caught:
            await client.request("GET", "/v2/objects/people")
    error = caught.value
    assert type(error) is expected
    assert error.code == code
    assert fragment in error.message
    assert (error.method, error.path) == ("GET", "/v2/objects/people")
    assert KEY not in str(error) and KEY not in repr(error)


@pytest.mark.anyio
async def test_attio_error_fields_are_all_kept() -> None:
    async with client_for(lambda r: VALIDATION) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.request("PUT", "/v2/objects/people/records", params={"matching_attribute": "email_addresses"},
                                 json_body={"data": {"values": {}}})
    error = caught.value
    assert error.status == 400 and error.type == "invalid_request_error"
    assert error.execution_id == "exec-validation_type"
    assert error.validation_errors[0]["path"] == ["first_name"]
    assert "first_name: Required" in str(error)
    assert str(error).startswith("[execution exec-validation_type] PUT /v2/objects/people/records"
                                 " -> 400 validation_type")


def test_every_documented_status_class_maps_somewhere_in_the_tree() -> None:
    # The table above must cover each branch of the error tree the client can raise.
    covered = {case[1] for case in CASES}
    leaves = {InvalidRequestError, ConflictError, AuthError, NotFoundError, RateLimitError, ServerError, TransportError}
    assert leaves <= covered
    assert all(issubclass(c, (RetryableApiError, FatalApiError)) for c in covered)


def sequence(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer
    return handler, seen


OK = httpx.Response(200, json={"data": {"ok": True}})
RATE_LIMITED = httpx.Response(429, json={"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                                         "message": "Rate limit exceeded"}, headers={"Retry-After": "1"})


@pytest.mark.anyio
async def test_429_then_200_waits_retry_after_and_succeeds(no_real_waits: list[float]) -> None:
    handler, seen = sequence(RATE_LIMITED, OK)
    async with client_for(handler) as client:
        assert await client.request("POST", "/v2/objects/people/records", json_body={}) == {"data": {"ok": True}}
    assert len(seen) == 2
    assert no_real_waits == [1.0]  # a create is retried after 429: Attio did not process it


@pytest.mark.anyio
async def test_5xx_backs_off_exponentially_then_gives_up(no_real_waits: list[float]) -> None:
    handler, seen = sequence(httpx.Response(503, text="down"))
    async with client_for(handler, policy=BackoffPolicy(max_attempts=4, base=0.5)) as client:
        with pytest.raises(ServerError):
            await client.request("GET", "/v2/objects")
    assert len(seen) == 4
    assert no_real_waits == [0.5, 1.0, 2.0]


@pytest.mark.anyio
async def test_a_create_is_not_repeated_after_it_may_have_reached_attio() -> None:
    handler, seen = sequence(httpx.Response(500, text="oops"), OK)
    async with client_for(handler) as client:
        with pytest.raises(ServerError):
            await client.request("POST", "/v2/objects/people/records", json_body={})
    assert len(seen) == 1


@pytest.mark.anyio
async def test_a_create_is_repeated_when_the_connection_was_never_made() -> None:
    handler, seen = sequence(httpx.ConnectError("refused"), OK)
    async with client_for(handler) as client:
        await client.request("POST", "/v2/objects/people/records", json_body={})
    assert len(seen) == 2


@pytest.mark.anyio
async def test_an_assert_is_repeated_after_a_dropped_connection() -> None:
    handler, seen = sequence(httpx.ReadError("reset"), httpx.ReadTimeout("slow"), OK)
    async with client_for(handler) as client:
        await client.request("PUT", "/v2/objects/people/records", json_body={})
    assert len(seen) == 3


@pytest.mark.anyio
async def test_the_deadline_stops_retries_before_the_attempts_run_out(no_real_waits: list[float]) -> None:
    handler, seen = sequence(httpx.Response(502, text="bad gateway"))
    async with client_for(handler, policy=BackoffPolicy(max_attempts=10, base=4.0, cap=4.0, deadline=5.0)) as client:
        with pytest.raises(ServerError):
            await client.request("GET", "/v2/objects")
    assert len(seen) == 2  # the third attempt would start after 8 s, past the 5 s deadline
    assert no_real_waits == [4.0]


@pytest.mark.anyio
async def test_4xx_is_never_retried() -> None:
    handler, seen = sequence(VALIDATION, OK)
    async with client_for(handler) as client:
        with pytest.raises(InvalidRequestError):
            await client.request("PUT", "/v2/objects/people/records", json_body={})
    assert len(seen) == 1


@pytest.mark.anyio
async def test_every_attempt_reaches_the_hook_without_the_key() -> None:
    attempts: list[Attempt] = []
    handler, _ = sequence(RATE_LIMITED, httpx.Response(503, text="x"), OK)
    async with client_for(handler, on_attempt=attempts.append) as client:
        await client.request("PUT", "/v2/objects/people/records", params={"matching_attribute": "email_addresses"},
                             json_body={})
    assert [(a.attempt, a.status, a.will_retry) for a in attempts] == [(1, 429, True), (2, 503, True), (3, 200, False)]
    assert attempts[0].code == "rate_limit_exceeded" and attempts[0].wait == 1.0
    assert attempts[0].params == {"matching_attribute": "email_addresses"}
    assert all(KEY not in repr(a) for a in attempts)


@pytest.mark.anyio
async def test_the_key_goes_only_into_the_authorization_header() -> None:
    handler, seen = sequence(OK)
    async with client_for(handler) as client:
        await client.request("GET", "/v2/self")
        assert KEY not in repr(client)
    request = seen[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(request.url)


def test_a_client_without_a_key_refuses_to_start() -> None:
    with pytest.raises(AuthError, match="no API key"):
        AttioClient("")


# -- pagination ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_attributes_are_paged_until_a_short_page() -> None:
    fake = FakeAttio(workspace(), token=KEY)
    async with AttioClient(KEY, base_url="https://api.attio.test", transport=fake.transport()) as client:
        listed = await client.list_attributes("people", page_size=3)
    assert [a["api_slug"] for a in listed] == [a["api_slug"] for a in fake.data["attributes"]["people"]]
    # 10 attributes in pages of 3: 3 + 3 + 3 + 1 (the short page ends it).
    assert fake.count("/attributes") == 4
    offsets = [int(r.url.params["offset"]) for r in fake.requests]
    assert offsets == [0, 3, 6, 9]
    assert all(r.url.params["show_archived"] == "true" for r in fake.requests)


@pytest.mark.anyio
async def test_an_exact_multiple_needs_one_empty_page() -> None:
    fake = FakeAttio(workspace(), token=KEY)
    async with AttioClient(KEY, base_url="https://api.attio.test", transport=fake.transport()) as client:
        listed = await client.list_attributes("people", page_size=5)
    assert len(listed) == 10 and fake.count("/attributes") == 3


@pytest.mark.anyio
async def test_a_server_that_ignores_the_limit_is_read_once() -> None:
    fake = FakeAttio(workspace(), token=KEY, ignore_paging=True)
    async with AttioClient(KEY, base_url="https://api.attio.test", transport=fake.transport()) as client:
        listed = await client.list_attributes("people", page_size=3)
    assert len(listed) == 10 and fake.count("/attributes") == 1


@pytest.mark.anyio
async def test_a_repeated_page_raises_instead_of_looping() -> None:
    fake = FakeAttio(workspace(), token=KEY, ignore_offset=True)
    async with AttioClient(KEY, base_url="https://api.attio.test", transport=fake.transport()) as client:
        with pytest.raises(PaginationLoopError, match="repeats the previous page"):
            await client.list_attributes("people", page_size=3)
    assert fake.count("/attributes") == 2


def test_paginator_offsets() -> None:
    pages = OffsetPaginator(limit=2)
    pages.advance([1, 2])
    pages.advance([3, 4])
    assert (pages.offset, pages.finished) == (4, False)
    pages.advance([5])
    assert (pages.offset, pages.finished) == (5, True)
    with pytest.raises(RuntimeError):
        pages.advance([])


@pytest.mark.anyio
async def test_retries_are_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    handler, _ = sequence(RATE_LIMITED, OK)
    with caplog.at_level("DEBUG"):
        async with client_for(handler) as client:
            await client.request("GET", "/v2/objects")
    assert "retry 1 of GET /v2/objects in 1.00s after 429" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.anyio
@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ReadError("reset")])
async def test_a_translated_httpx_failure_keeps_its_cause(exc: httpx.HTTPError) -> None:
    async with client_for(raising(exc), policy=BackoffPolicy(max_attempts=2)) as client:
        with pytest.raises(TransportError) as caught:
            await client.request("GET", "/v2/objects")
    assert caught.value.__cause__ is exc


# -- answers over the size cap ---------------------------------------------------------------


@pytest.mark.anyio
async def test_an_answer_declared_over_the_cap_is_not_read_and_is_retried(no_real_waits: list[float]) -> None:
    handler, seen = sequence(httpx.Response(200, content=b"[" + b"0," * 600 + b"0]"))
    attempts: list[Attempt] = []
    async with client_for(handler, max_response_bytes=1000, on_attempt=attempts.append,
                          policy=BackoffPolicy(max_attempts=3)) as client:
        with pytest.raises(ServerError) as caught:
            await client.request("GET", "/v2/objects")
    assert len(seen) == 3 and no_real_waits == [0.5, 1.0]
    assert "declares 1,203 bytes, over 1,000 (max_response_bytes); not read" in caught.value.message
    assert caught.value.status == 200 and KEY not in str(caught.value)
    assert [(a.status, a.error, a.will_retry) for a in attempts] == [(200, "ServerError", True)] * 2 + [
        (200, "ServerError", False)]


def endless(pulled: list[int], chunk: bytes = b"0," * 512) -> Handler:
    """An answer with no length that never ends; `pulled` counts the chunks the client took."""
    async def body() -> AsyncIterator[bytes]:
        yield b"["
        while True:
            pulled.append(len(chunk))
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())
    return handler


@pytest.mark.anyio
async def test_reading_stops_at_the_cap_when_no_length_is_declared() -> None:
    pulled: list[int] = []
    async with client_for(endless(pulled), max_response_bytes=10_000, policy=BackoffPolicy(max_attempts=1)) as client:
        with pytest.raises(ServerError, match=r"over 10,000 bytes \(max_response_bytes\); stopped reading"):
            await client.request("GET", "/v2/objects")
    assert 10_000 < sum(pulled) <= 11_024  # the chunk that crossed the cap, and not one more


@pytest.mark.anyio
async def test_a_create_with_an_answer_over_the_cap_is_not_repeated() -> None:
    pulled: list[int] = []
    async with client_for(endless(pulled), max_response_bytes=10_000) as client:
        with pytest.raises(ServerError):
            await client.request("POST", "/v2/objects/people/records", json_body={})
    assert sum(pulled) <= 11_024  # one attempt: the create may have been applied


@pytest.mark.anyio
async def test_an_answer_at_the_cap_is_read() -> None:
    body = b'{"data": "' + b"x" * 988 + b'"}'
    assert len(body) == 1000
    async with client_for(lambda r: httpx.Response(200, content=body), max_response_bytes=1000) as client:
        assert await client.get_data("/v2/self") == "x" * 988


@pytest.mark.anyio
async def test_an_error_body_is_read_through_the_cap_too() -> None:
    async with client_for(lambda r: VALIDATION, max_response_bytes=10,
                          policy=BackoffPolicy(max_attempts=1)) as client:
        with pytest.raises(ServerError, match="max_response_bytes") as caught:
            await client.request("GET", "/v2/objects")
    assert caught.value.status == 400 and caught.value.execution_id == "exec-validation_type"


def test_the_cap_defaults_to_64_mib_and_comes_from_settings() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 64 * 1024 * 1024
    assert AttioClient(KEY).max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES
    assert Settings().max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES
    settings = Settings(api_key=Secret(KEY), max_response_bytes=4096)
    assert AttioClient.from_settings(settings).max_response_bytes == 4096
    assert AttioClient.from_settings(settings, max_response_bytes=10).max_response_bytes == 10
    with pytest.raises(ValueError, match="max_response_bytes must be above 0"):
        AttioClient(KEY, max_response_bytes=0)


# -- attempt hooks: fixed at build, plus listeners of the context --------------------------------


@pytest.mark.anyio
async def test_hooks_given_at_build_get_every_attempt() -> None:
    first: list[Attempt] = []
    second: list[Attempt] = []
    handler, _ = sequence(RATE_LIMITED, OK)
    async with client_for(handler, on_attempt=[first.append, second.append]) as client:
        assert client.hooks == (first.append, second.append)
        await client.request("GET", "/v2/objects")
        await client.request("GET", "/v2/objects")
    assert [(a.attempt, a.status) for a in first] == [(1, 429), (2, 200), (1, 200)]
    assert second == first


def test_hooks_cannot_be_replaced_after_build() -> None:
    client = AttioClient(KEY, on_attempt=print)
    assert client.hooks == (print,)
    with pytest.raises(AttributeError):
        client.on_attempt = print  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        client.hooks = ()  # type: ignore[misc]
    assert AttioClient(KEY).hooks == ()


@pytest.mark.anyio
async def test_a_listener_hears_the_requests_made_inside_its_block_only() -> None:
    heard: list[Attempt] = []
    built: list[Attempt] = []
    async with client_for(lambda r: OK, on_attempt=built.append) as client:
        await client.request("GET", "/v2/before")
        with report_attempts_to(heard.append):
            await client.request("GET", "/v2/inside")
            task = asyncio.create_task(client.request("GET", "/v2/task"))
        await client.request("GET", "/v2/after")
        await task  # created in the block, so it carries the listener even when it runs after it
        other = asyncio.create_task(client.request("GET", "/v2/other-task"))
        await other
    assert sorted(a.path for a in heard) == ["/v2/inside", "/v2/task"]
    assert sorted(a.path for a in built) == ["/v2/after", "/v2/before", "/v2/inside", "/v2/other-task", "/v2/task"]


@pytest.mark.anyio
async def test_listeners_stack_and_come_after_the_build_time_hooks() -> None:
    calls: list[str] = []
    async with client_for(lambda r: OK, on_attempt=lambda a: calls.append(f"built {a.path}")) as client:
        with report_attempts_to(lambda a: calls.append(f"outer {a.path}")):
            await client.request("GET", "/v2/one")
            with report_attempts_to(lambda a: calls.append(f"inner {a.path}")):
                await client.request("GET", "/v2/two")
            await client.request("GET", "/v2/three")
    assert calls == ["built /v2/one", "outer /v2/one",
                     "built /v2/two", "outer /v2/two", "inner /v2/two",
                     "built /v2/three", "outer /v2/three"]
