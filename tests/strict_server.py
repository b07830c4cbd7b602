"""Attio at its strictest behind a jittery network, on simulated time (tests/virtual_time.py).

`StrictServer` refuses a request that arrives while `limit` accepted ones arrived less than a
second before, as bench/schema_pull.py's server does; a refusal uses no budget. `jitter` is a
request's way to it once written: a few milliseconds, but tens for one in three, as on a loaded
machine. `JitteryAttio` puts both in front of an httpx handler, for `AttioClient`, and tells the
client when each request has been written as httpcore does (the `trace` extension), so the
client's budgets see what they see over a real socket.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from toolkit.ratelimit import budget_for

__all__ = ["WRITING", "Delay", "JitteryAttio", "StrictServer", "jitter", "quick_answer", "quick_way", "slow_write"]

RATE_LIMITED = {"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded",
                "message": "Rate limit exceeded, please try again later"}


def now() -> float:
    return asyncio.get_running_loop().time()


@dataclass
class StrictServer:
    """More than `limit` arrivals in any one-second window: the extra ones are refused."""

    limit: int
    accepted: list[float] = field(default_factory=list)
    refused: int = 0
    _recent: deque[float] = field(default_factory=deque)

    def arrive(self, at: float) -> bool:
        while self._recent and at - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.limit:
            self.refused += 1
            return False
        self._recent.append(at)
        self.accepted.append(at)
        return True

    def rate(self) -> float:
        """Accepted requests per second once the first window's worth had gone at once."""
        return (len(self.accepted) - self.limit) / (self.accepted[-1] - self.accepted[0])

    def steady_rate(self) -> float:
        """Accepted requests per second as the budget's places cycle: `limit` over the mean time
        from each accepted request to the `limit`-th after it. Unlike `rate()`, it does not
        assume a whole window's worth went at the start (a client with fewer requests in flight
        than `limit` cannot send that)."""
        spans = [later - at for at, later in zip(self.accepted, self.accepted[self.limit:], strict=False)]
        return self.limit * len(spans) / sum(spans)


def jitter(rng: random.Random) -> float:
    """A request's way to the server: 1-5 ms, but 30-50 ms for one in three (a busy loop or server)."""
    return rng.uniform(0.030, 0.050) if rng.random() < 1 / 3 else rng.uniform(0.001, 0.005)


Delay = Callable[[random.Random], float]


def quick_answer(rng: random.Random) -> float:
    """Attio's time to answer once a request arrived, and the answer's way back: 1-5 ms."""
    return rng.uniform(0.001, 0.005)


def slow_write(rng: random.Random) -> float:
    """Attio asserting a record: 150-250 ms from the arrival to the answer's head back."""
    return rng.uniform(0.150, 0.250)


def quick_way(rng: random.Random) -> float:
    """A request's way to Attio once written: 5-20 ms."""
    return rng.uniform(0.005, 0.020)


#: The trace events httpcore's HTTP/1.1 connection emits around writing a request, in order.
WRITING = ("http11.send_request_headers.started", "http11.send_request_headers.complete",
           "http11.send_request_body.started", "http11.send_request_body.complete")


class JitteryAttio(httpx.AsyncBaseTransport):
    """`handle` behind a jittery network and strict read and write limits, on the loop's clock.

    Each request is written at once (the `trace` extension hears httpcore's events), reaches
    the server `arrival(rng)` later (`jitter` by default), and its answer is back `answer(rng)`
    after it arrived (Attio's processing and the way back; `quick_answer` by default).
    A refused request is answered 429 with `Retry-After: 1` (seconds); `refusals` keeps when
    each refusal arrived and when its answer was back at the client.
    """

    def __init__(self, handle: Callable[[httpx.Request], httpx.Response], *, reads: int = 100, writes: int = 25,
                 seed: int = 1, arrival: Delay = jitter, answer: Delay = quick_answer) -> None:
        self.handle = handle
        self.servers = {"read": StrictServer(reads), "write": StrictServer(writes)}
        self.refusals: list[tuple[float, float]] = []
        self.arrival, self.answer = arrival, answer
        self._rng = random.Random(seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None:
            for event in WRITING:
                await trace(event, {"request": request})
        await asyncio.sleep(self.arrival(self._rng))
        arrived = now()
        accepted = self.servers[budget_for(request.method, request.url.path)].arrive(arrived)
        response = (self.handle(request) if accepted
                    else httpx.Response(429, json=RATE_LIMITED, headers={"retry-after": "1"}))
        await asyncio.sleep(self.answer(self._rng))
        if not accepted:
            self.refusals.append((arrived, now()))
        return response
