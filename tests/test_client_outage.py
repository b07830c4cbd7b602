"""The client when Attio is down or refuses it: the circuit breaker, and the refusal latch.

Against the in-process sandbox (`SandboxApp.fail_requests` makes the outage) in real time, with
short breaker waits so a test lasts seconds; one test runs a minute-long outage in virtual time.
Bounds on counts and times are generous: the machine running these is shared and slow.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from toolkit.backoff import BackoffPolicy
from toolkit.breaker import CircuitBreaker
from toolkit.client import Attempt, AttioClient
from toolkit.config import DEFAULT_OUTAGE_TIMEOUT, Secret, Settings
from toolkit.errors import AuthError, ConfigError, OutageError, RedirectError, ServerError
from toolkit.sandbox import SandboxApp, SandboxConfig, SandboxTransport, create_app

BASE_URL = "http://127.0.0.1:9"  # loopback: without the in-process transport it is refused
WRONG_KEY = "sk_wrong_" + "0" * 55
CONCURRENCY = 16  # the client's default max_concurrency


def sandbox() -> SandboxApp:
    return create_app(SandboxConfig(read_rate=None, write_rate=None, activate=frozenset({"users", "workspaces"})))


def client_for(app: SandboxApp, *, token: str | None = None, max_attempts: int = 3, **kwargs: Any) -> AttioClient:
    kwargs.setdefault("policy", BackoffPolicy(max_attempts=max_attempts, base=0.001, cap=0.01, retry_after_cap=0.01))
    return AttioClient(token or app.config.token, base_url=BASE_URL, transport=SandboxTransport(app),
                       read_rate=5000, write_rate=5000, **kwargs)


async def assert_person(client: AttioClient, n: int) -> Any:
    return await client.assert_record("people", "email_addresses",
                                      {"email_addresses": [{"email_address": f"p{n}@example.com"}]})


# -- the circuit breaker -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_requests_wait_out_a_total_outage_and_all_succeed() -> None:
    app = sandbox()
    breaker = CircuitBreaker(first_wait=0.1, max_wait=0.4)
    attempts: list[Attempt] = []

    async def end_outage() -> int:
        await asyncio.sleep(2.0)
        app.rules.remove(outage)
        return len(app.log)

    began = time.monotonic()
    async with client_for(app, breaker=breaker, on_attempt=attempts.append) as client:
        await client.get_self()  # Attio has answered: what follows is an outage, not a wrong address
        app.clear_log()
        outage = app.fail_requests(503)
        ender = asyncio.create_task(end_outage())
        records = await asyncio.gather(*(assert_person(client, n) for n in range(200)))
        during = await ender
    took = time.monotonic() - began
    # With 3 attempts each and backoffs of 10 ms at most, every one would fail without the breaker
    # (see the next test); here each waits in place and succeeds once Attio answers.
    assert len(records) == 200 and len(app.dump()["people"]) == 200
    assert breaker.state == "closed"
    # Sent during the outage: what was in flight when the breaker opened, and one probe per
    # wait (0.1, 0.2, 0.4, 0.4 s... : about 6 in 2 s). Not 200 x 3.
    assert during <= CONCURRENCY + breaker.threshold + 15, f"{during} requests sent during the outage"
    assert sum(1 for e in app.log if e.status == 503) == during
    assert 2.0 <= took < 30.0
    # Failures during the outage were reported, each as going to be retried.
    failures = [a for a in attempts if a.status == 503]
    assert len(failures) == during and all(a.will_retry for a in failures)


@pytest.mark.anyio
async def test_without_the_breaker_the_same_outage_fails_every_request() -> None:
    app = sandbox()
    app.fail_requests(503)
    async with client_for(app, breaker=CircuitBreaker(threshold=10**9)) as client:
        results = await asyncio.gather(*(assert_person(client, n) for n in range(200)), return_exceptions=True)
    assert all(isinstance(r, ServerError) and r.status == 503 for r in results)
    assert len(app.log) == 200 * 3


@pytest.mark.anyio
async def test_an_outage_past_the_timeout_raises_outage_error_for_every_request() -> None:
    app = sandbox()
    breaker = CircuitBreaker(outage_timeout=1.0, first_wait=0.1, max_wait=0.2)
    async with client_for(app, breaker=breaker) as client:
        await client.get_self()  # Attio has answered: what follows is an outage, not a wrong address
        app.clear_log()
        app.fail_requests(503)
        began_wall, began = time.time(), time.monotonic()
        results = await asyncio.gather(*(assert_person(client, n) for n in range(200)), return_exceptions=True)
        took = time.monotonic() - began
        sent = len(app.log)
        with pytest.raises(OutageError):
            await client.get_self()  # a new request: raised at once, not sent
        assert len(app.log) == sent
    assert all(isinstance(r, OutageError) for r in results), {type(r).__name__ for r in results}
    error = results[0]
    assert isinstance(error, OutageError)
    assert began_wall - 1 <= error.since <= began_wall + 5
    assert error.failures == sent  # every request sent failed, in a row
    assert error.last is not None and error.last.status == 503
    assert error.message.startswith("Attio has been failing since ")
    assert error.message.endswith("stopped after the outage timeout (1 s)")
    assert (error.method, error.path) == ("PUT", "/v2/objects/people/records")
    assert sent <= CONCURRENCY + breaker.threshold + 15, f"{sent} requests sent"
    assert 1.0 <= took < 30.0
    assert breaker.state == "stopped"


@pytest.mark.anyio
async def test_a_request_attio_fails_for_its_own_reasons_still_fails() -> None:
    # Attio answers everything but one request: the breaker stays closed, that request spends
    # its attempts and fails, exactly as without a breaker.
    app = sandbox()
    app.fail_requests(503, body="p7@")
    async with client_for(app) as client:
        results = await asyncio.gather(*(assert_person(client, n) for n in range(30)), return_exceptions=True)
        assert client.breaker.state == "closed"
    assert isinstance(results[7], ServerError)
    assert sum(isinstance(r, dict) for r in results) == 29
    assert sum(1 for e in app.log if e.status == 503) == 3


@pytest.mark.anyio
async def test_one_request_failing_alone_spends_its_attempts_as_before() -> None:
    app = sandbox()
    app.fail_requests(503)
    async with client_for(app, max_attempts=8) as client:
        with pytest.raises(ServerError):
            await assert_person(client, 1)
        assert client.breaker.state == "closed"
    assert len(app.log) == 8


class FakeTime:
    """Virtual time: a sleep moves the clock at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_minute_long_outage_spends_neither_attempts_nor_deadline() -> None:
    fake = FakeTime()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/self":
            return httpx.Response(200, json={"active": True})
        sent_at.append(fake.now)
        if fake.now < 60.0:
            return httpx.Response(503, json={"status_code": 503, "type": "api_error", "code": "service_unavailable",
                                             "message": "down"})
        return httpx.Response(200, json={"data": {"ok": True}})

    attempts: list[Attempt] = []
    # Two attempts and 10 s per request: a 60 s outage would end every request twice over.
    async with AttioClient(WRONG_KEY, base_url="https://api.attio.test", transport=httpx.MockTransport(handler),
                           clock=fake.clock, sleep=fake.sleep, write_rate=1000, on_attempt=attempts.append,
                           policy=BackoffPolicy(max_attempts=2, deadline=10.0),
                           breaker=CircuitBreaker(clock=fake.clock, sleep=fake.sleep)) as client:
        await client.get_self()  # Attio has answered: what follows is an outage, not a wrong address
        results = await asyncio.gather(*(client.request("PUT", f"/v2/objects/people/records/{n}", json_body={})
                                         for n in range(40)))
    assert results == [{"data": {"ok": True}}] * 40
    during = sum(1 for at in sent_at if at < 60.0)
    # In flight when it opened, then probes after 1, 2, 4, 8, 16 and 30 s.
    assert during <= CONCURRENCY + 5 + 6, f"{during} requests sent during the outage"
    assert 60.0 <= fake.now < 200.0
    excused = [a for a in attempts if a.status == 503 and a.wait == 0.0]
    assert excused and all(a.will_retry for a in excused)


# -- the refusal latch -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_refused_key_stops_every_later_request_before_it_is_sent() -> None:
    app = sandbox()
    async with client_for(app, token=WRONG_KEY) as client:
        with pytest.raises(AuthError) as first:
            await client.get_self()
        assert first.value.status == 401 and len(app.log) == 1
        assert client.refusal is first.value
        results = await asyncio.gather(*(assert_person(client, n) for n in range(50)), return_exceptions=True)
        assert client.breaker.state == "closed"
    assert len(app.log) == 1
    assert all(isinstance(r, AuthError) and r.status == 401 and r.message == first.value.message for r in results)
    assert len({id(r) for r in results}) == 50  # each request raises its own copy
    assert WRONG_KEY not in str(first.value) and WRONG_KEY not in repr(results[0])


@pytest.mark.anyio
async def test_a_refused_key_sends_no_more_than_the_requests_already_in_flight() -> None:
    app = sandbox()
    async with client_for(app, token=WRONG_KEY) as client:
        results = await asyncio.gather(*(assert_person(client, n) for n in range(50)), return_exceptions=True)
    assert all(isinstance(r, AuthError) for r in results)
    assert 1 <= len(app.log) <= CONCURRENCY


@pytest.mark.anyio
async def test_a_403_latches_too() -> None:
    app = sandbox()
    app.fail_requests(403, times=1)
    async with client_for(app) as client:
        with pytest.raises(AuthError):
            await assert_person(client, 1)
        with pytest.raises(AuthError) as later:
            await client.get_self()  # the rule is spent: Attio would answer, but nothing is sent
    assert later.value.status == 403 and len(app.log) == 1


@pytest.mark.anyio
async def test_a_redirect_means_a_wrong_base_url_and_stops_every_later_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(301, headers={"location": "https://www.attio.com/v2/self"}, text="Moved Permanently")

    async with AttioClient(WRONG_KEY, base_url="https://attio.com", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RedirectError) as caught:
            await client.get_self()
        results = await asyncio.gather(*(client.get_self() for _ in range(20)), return_exceptions=True)
    error = caught.value
    assert error.message == ("Attio answered a redirect (301) to https://www.attio.com/v2/self: the base URL is "
                             "probably wrong (it should be the API's origin, e.g. https://api.attio.com)")
    assert error.location == "https://www.attio.com/v2/self" and error.status == 301
    assert all(isinstance(r, RedirectError) for r in results)
    assert len(seen) == 1


@pytest.mark.anyio
async def test_a_redirect_from_the_sandbox_without_a_location() -> None:
    app = sandbox()
    app.fail_requests(302)
    async with client_for(app) as client:
        with pytest.raises(RedirectError, match=r"redirect \(302\) without a Location: the base URL is probably wrong"):
            await assert_person(client, 1)
    assert len(app.log) == 1


# -- settings ----------------------------------------------------------------------------------


def test_the_outage_timeout_comes_from_settings_and_the_environment() -> None:
    assert Settings().outage_timeout == DEFAULT_OUTAGE_TIMEOUT == 300.0
    assert Settings.load(environ={}).outage_timeout == 300.0
    assert Settings.load(environ={"ATTIO_SYNC_OUTAGE_TIMEOUT": "42"}).outage_timeout == 42.0
    assert Settings.load(outage_timeout=7, environ={"ATTIO_SYNC_OUTAGE_TIMEOUT": "42"}).outage_timeout == 7.0
    with pytest.raises(ConfigError, match="outage timeout must be above 0"):
        Settings.load(environ={"ATTIO_SYNC_OUTAGE_TIMEOUT": "0"})
    with pytest.raises(ConfigError, match="outage timeout must be a number"):
        Settings.load(environ={"ATTIO_SYNC_OUTAGE_TIMEOUT": "soon"})
    settings = Settings(api_key=Secret(WRONG_KEY), outage_timeout=12.0)
    assert AttioClient.from_settings(settings).breaker.outage_timeout == 12.0
    mine = CircuitBreaker(outage_timeout=1.0)
    assert AttioClient.from_settings(settings, breaker=mine).breaker is mine


def test_each_client_has_a_breaker_of_its_own() -> None:
    first, second = AttioClient(WRONG_KEY), AttioClient(WRONG_KEY)
    assert first.breaker is not second.breaker
    assert first.breaker.outage_timeout == DEFAULT_OUTAGE_TIMEOUT and first.breaker.threshold == 5
    assert first.refusal is None
