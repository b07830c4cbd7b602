"""The circuit breaker on its own, in virtual time: when it opens, how it probes, when it stops.

`ManualTime` is a clock that moves only when a test says so; a sleeper wakes when the clock
passes its wake time. So a five-minute outage takes no real time, and "no probe before 1 s"
is checked at 0.99 s exactly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

import pytest

from toolkit.breaker import CircuitBreaker, Ticket, is_outage
from toolkit.errors import (
    ApiError,
    AuthError,
    InvalidRequestError,
    OutageError,
    RateLimitError,
    ServerError,
    TransportError,
)

EPOCH = 1_795_953_600.0  # 2026-11-29 12:00:00 UTC
WHERE: dict[str, Any] = {"method": "PUT", "path": "/v2/objects/people/records"}


class ManualTime:
    """A clock that moves only on `advance`; `sleep` waits until the clock passes its wake time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        entry = (self.now + seconds, asyncio.get_running_loop().create_future())
        self.sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self.sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for when, future in list(self.sleepers):
            if when <= self.now + 1e-9 and not future.done():
                future.set_result(None)
        await settle()


async def settle() -> None:
    """Let every task run until it waits for something."""
    for _ in range(50):
        await asyncio.sleep(0)


def breaker(time: ManualTime, **kwargs: float | bool) -> CircuitBreaker:
    kwargs.setdefault("armed", True)  # Attio has answered: the breaker counts failures
    return CircuitBreaker(clock=time.clock, sleep=time.sleep, wall=time.wall, **kwargs)  # type: ignore[arg-type]


def unavailable() -> ServerError:
    return ServerError("Service unavailable", status=503, code="service_unavailable", **WHERE)


def refused() -> TransportError:
    return TransportError("ConnectError: [Errno 111] Connection refused", sent=False, **WHERE)


def fail(b: CircuitBreaker, error: ApiError, key: Hashable | None = None) -> bool:
    """One sent attempt of request `key` (a new request if None) that met `error`."""
    return b.record(Ticket(object() if key is None else key), error)


def open_breaker(b: CircuitBreaker) -> None:
    for _ in range(b.threshold):
        fail(b, unavailable())
    assert b.state == "open"


def waiters(b: CircuitBreaker, count: int) -> list[asyncio.Task[Ticket]]:
    return [asyncio.create_task(b.gate(**WHERE, key=f"r{n}")) for n in range(count)]


# -- what counts -----------------------------------------------------------------------------


def test_outage_like_means_5xx_or_no_answer() -> None:
    assert is_outage(unavailable()) and is_outage(refused())
    assert is_outage(TransportError("ReadTimeout", **WHERE))
    assert is_outage(ServerError("bad gateway", status=502, **WHERE))
    assert not is_outage(RateLimitError("slow down", status=429, retry_after=1.0, **WHERE))
    assert not is_outage(InvalidRequestError("bad value", status=400, **WHERE))
    assert not is_outage(AuthError("bad key", status=401, **WHERE))
    # An answer the client could not use (too large, not JSON) came from a working Attio.
    assert not is_outage(ServerError("over max_response_bytes", status=200, **WHERE))


@pytest.mark.anyio
async def test_it_opens_at_the_threshold_of_5xx_and_transport_failures() -> None:
    time = ManualTime()
    b = breaker(time)
    for n in range(4):
        time.now = n * 0.5
        # The first failure is the request's own; once a second request fails too, an outage is
        # in the making and the failures are excused while the streak decides.
        assert fail(b, unavailable() if n % 2 else refused()) is (n > 0)
    assert (b.state, b.failures, b.failing_since) == ("closed", 4, EPOCH)
    time.now = 2.5
    assert fail(b, unavailable()) is True  # the failure that opens it is excused
    assert b.state == "open" and b.failures == 5
    assert b.failing_since == EPOCH  # the first failure of the streak, not the one that opened it


@pytest.mark.anyio
async def test_429s_and_4xx_never_open_it_and_end_a_streak() -> None:
    b = breaker(ManualTime())
    for _ in range(50):
        fail(b, RateLimitError("Rate limit exceeded", status=429, retry_after=1.0, **WHERE))
        fail(b, InvalidRequestError("bad value", status=400, **WHERE))
    assert (b.state, b.failures) == ("closed", 0)
    for _ in range(4):
        fail(b, unavailable())
    fail(b, RateLimitError("Rate limit exceeded", status=429, **WHERE))  # Attio answered
    for _ in range(4):
        fail(b, unavailable())
    assert (b.state, b.failures) == ("closed", 4)


@pytest.mark.anyio
async def test_a_success_resets_the_streak() -> None:
    b = breaker(ManualTime())
    for _ in range(3):
        for _ in range(4):
            fail(b, unavailable())
        b.record(Ticket("ok"), None)
        assert (b.state, b.failures, b.failing_since) == ("closed", 0, None)


@pytest.mark.anyio
async def test_one_request_failing_alone_is_left_to_its_own_retries() -> None:
    # Nothing else in flight, and Attio fails this one request again and again: its own problem.
    b = breaker(ManualTime())
    assert not any(fail(b, unavailable(), key="the same request") for _ in range(20))
    assert b.state == "closed"
    # A second request failing too makes it an outage.
    assert fail(b, unavailable(), key="another request") is True
    assert b.state == "open"


@pytest.mark.anyio
async def test_the_gate_is_open_while_closed() -> None:
    b = breaker(ManualTime())
    ticket = await b.gate(**WHERE)
    assert not ticket.probe and b.admits(ticket)


# -- open: waiting and probing ---------------------------------------------------------------


@pytest.mark.anyio
async def test_probes_go_one_at_a_time_after_growing_waits() -> None:
    time = ManualTime()
    b = breaker(time, first_wait=1.0, max_wait=30.0, outage_timeout=10_000.0)
    open_breaker(b)
    tasks = waiters(b, 3)
    await settle()
    waits = []
    for _ in range(8):
        wait = b.next_wait
        waits.append(wait)
        await time.advance(wait - 0.01)
        assert not any(t.done() for t in tasks), "a probe before its wait was over"
        await time.advance(0.01)
        probes = [t for t in tasks if t.done()]
        assert len(probes) == 1 and b.state == "half-open"
        probe = probes[0].result()
        assert probe.probe and b.admits(probe)
        await time.advance(100.0)  # however long the probe takes, no second one goes meanwhile
        assert sum(t.done() for t in tasks) == 1
        assert b.record(probe, unavailable()) is True  # a failed probe is excused
        assert b.state == "open"
        tasks = [t for t in tasks if not t.done()] + [asyncio.create_task(b.gate(**WHERE, key=probe.key))]
        await settle()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    for task in tasks:
        task.cancel()


@pytest.mark.anyio
async def test_a_probe_that_gets_an_answer_closes_it_and_everyone_goes() -> None:
    time = ManualTime()
    b = breaker(time)
    open_breaker(b)
    tasks = waiters(b, 5)
    await settle()
    await time.advance(1.0)
    (probe,) = [t.result() for t in tasks if t.done()]
    assert b.record(probe, None) is False
    await settle()
    assert b.state == "closed" and all(t.done() for t in tasks)
    assert all(b.admits(t.result()) for t in tasks) and b.waiting == 0
    assert (b.failures, b.failing_since) == (0, None)
    # Closed again: the next outage starts over from the first wait.
    open_breaker(b)
    assert b.next_wait == 1.0


@pytest.mark.anyio
async def test_a_probe_answered_4xx_or_429_closes_it_too() -> None:
    for answer in (InvalidRequestError("bad", status=400, **WHERE), RateLimitError("slow", status=429, **WHERE)):
        time = ManualTime()
        b = breaker(time)
        open_breaker(b)
        (task,) = waiters(b, 1)
        await time.advance(1.0)
        assert b.record(task.result(), answer) is False
        assert b.state == "closed"


@pytest.mark.anyio
async def test_a_failed_probe_sends_its_request_to_the_back_of_the_line() -> None:
    time = ManualTime()
    b = breaker(time)
    open_breaker(b)
    first = asyncio.create_task(b.gate(key="poison"))
    await settle()
    second = asyncio.create_task(b.gate(key="healthy"))
    await time.advance(1.0)
    assert first.done() and not second.done()
    b.record(first.result(), unavailable())
    again = asyncio.create_task(b.gate(key="poison"))
    await time.advance(2.0)
    assert second.done() and second.result().probe and not again.done()
    b.record(second.result(), None)
    await settle()
    assert again.done() and b.state == "closed"


@pytest.mark.anyio
async def test_an_unsent_probe_lets_the_next_in_line_probe_at_once() -> None:
    time = ManualTime()
    b = breaker(time)
    open_breaker(b)
    tasks = waiters(b, 2)
    await time.advance(1.0)
    (probe,) = [t.result() for t in tasks if t.done()]
    b.release(probe)  # cancelled before it was sent
    await settle()
    assert all(t.done() for t in tasks) and b.state == "half-open"
    assert b.next_wait == 1.0  # an unsent probe says nothing about Attio


@pytest.mark.anyio
async def test_a_ticket_taken_before_the_breaker_opened_no_longer_admits() -> None:
    b = breaker(ManualTime())
    early = await b.gate()
    open_breaker(b)
    assert not b.admits(early)  # the client sends it back to the gate, unsent
    b.release(early)
    assert b.state == "open"


@pytest.mark.anyio
async def test_an_answer_to_a_request_sent_before_the_opening_closes_it() -> None:
    time = ManualTime()
    b = breaker(time)
    in_flight = await b.gate()
    open_breaker(b)
    tasks = waiters(b, 3)
    await settle()
    assert fail(b, unavailable()) is True  # another request in flight fails: excused, still open
    b.record(in_flight, None)
    await settle()
    assert b.state == "closed" and all(t.done() for t in tasks)


@pytest.mark.anyio
async def test_a_cancelled_waiter_leaves_the_line() -> None:
    time = ManualTime()
    b = breaker(time)
    open_breaker(b)
    first, second = waiters(b, 2)
    await settle()
    first.cancel()
    await settle()
    assert b.waiting == 1
    await time.advance(1.0)
    assert second.done() and second.result().probe


# -- past the outage timeout -------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_waiter_raises_outage_error_past_the_timeout() -> None:
    time = ManualTime()
    b = breaker(time, outage_timeout=300.0)
    time.now = 3.0
    open_breaker(b)  # the streak began at 3 s
    tasks = waiters(b, 10)
    await settle()
    probes = 0
    while b.state != "stopped":
        await time.advance(0.5)
        for task in list(tasks):
            if task.done() and not task.exception() and task.result().probe:
                probes += 1
                assert b.record(task.result(), unavailable()) is True
                tasks.remove(task)
                tasks.append(asyncio.create_task(b.gate(**WHERE, key=task.result().key)))
        await settle()
        assert time.now < 400
    assert time.now == pytest.approx(303.0)  # 300 s after the first failure, at 3 s
    # Probes 1, 2, 4, 8, 16, then every 30 s after the opening: 13 of them until 303 s.
    assert probes == 13
    assert len(tasks) == 10 and all(t.done() for t in tasks)
    errors = [t.exception() for t in tasks]
    assert all(isinstance(e, OutageError) for e in errors)
    error = errors[0]
    assert isinstance(error, OutageError)
    assert error.since == EPOCH + 3.0
    assert error.failures == 5 + 13  # the streak that opened it, then each failed probe
    assert error.timeout == 300.0 and error.last is not None and error.last.status == 503
    assert error.message == ("Attio has been failing since 2026-11-29 12:00:03 UTC (18 failed requests in a row, "
                             "the last HTTP 503 service_unavailable); stopped after the outage timeout (300 s)")
    assert (error.method, error.path) == (WHERE["method"], WHERE["path"])
    with pytest.raises(OutageError):
        await b.gate()  # a new request too, without waiting
    b.reset()
    assert (await b.gate()).probe is False


@pytest.mark.anyio
async def test_a_probe_out_at_the_timeout_has_its_answer_heard() -> None:
    time = ManualTime()
    b = breaker(time, outage_timeout=10.0, first_wait=8.0, max_wait=8.0)
    open_breaker(b)
    (task,) = waiters(b, 1)
    await time.advance(8.0)
    probe = task.result()
    await time.advance(5.0)  # past the timeout while the probe is out: its answer decides
    assert b.state == "half-open"
    b.record(probe, None)
    assert b.state == "closed"


@pytest.mark.anyio
async def test_opening_and_closing_are_logged_with_times_only(caplog: pytest.LogCaptureFixture) -> None:
    time = ManualTime()
    b = breaker(time)
    time.now = 3.0
    with caplog.at_level(logging.INFO, logger="toolkit.breaker"):
        open_breaker(b)
        (task,) = waiters(b, 1)
        await time.advance(1.0)
        b.record(task.result(), unavailable())
        (task,) = waiters(b, 1)
        await time.advance(2.0)
        time.now = 66.0
        b.record(task.result(), None)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Attio failing since 12:00:03 UTC (5 in a row, the last HTTP 503 service_unavailable): sending paused; "
        "probing in 1 s",
        "Attio still failing (HTTP 503 service_unavailable): next probe in 2 s",
        "Attio answers again after 63 s: sending resumed",
    ]
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO", "INFO"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(threshold=0)
    with pytest.raises(ValueError, match="outage_timeout"):
        CircuitBreaker(outage_timeout=0)
    with pytest.raises(ValueError, match="first_wait"):
        CircuitBreaker(first_wait=5.0, max_wait=1.0)
