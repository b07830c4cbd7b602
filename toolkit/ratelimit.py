"""Client-side rate limiting: Attio allows 100 reads and 25 writes per second (api-notes 1.3).

A `RateLimiter` of `limit` requests per `window` (1 s plus a small `guard`) is shared by every
concurrent request of one client, so a pull that fans out 800 requests at once still sends them
no faster than the budget. Waiters are served in arrival order. The rule:

    a request may go while fewer than `limit` requests are in flight or ended less than
    `window` ago. A request is in flight from its release until it ends (`Turn.end`), which is
    the first of: `allowance` (50 ms by default) after it was wholly written to the socket
    (`Turn.sent`), the head of its answer, a failure, or giving up. A request released but
    never handed to the transport frees its place at once (`Turn.unsent`).

The assumption, and the only one: a request reaches Attio within `allowance` of being wholly
written. Attio's limit counts *arrivals*. Suppose `limit + 1` requests arrived within one
second, and take the one of them released last, at time `g`. Each of the other `limit` was
released before `g` and arrived less than a second before the last of the arrivals, which came
after `g`; each ended after it arrived (its answer follows its arrival, and by the assumption
so does `allowance` after its writing), so after `g` less one second. At `g` all `limit` still
held their places, and the last one could not have gone. So the server never sees more than
`limit` in a second, however long the waits before the writing (a busy event loop, a
connection) and however long Attio takes to answer: the time Attio spends on a request after
it arrived is not charged to the budget. A place's cycle is the window plus the time from
release to writing plus at most `allowance`: about 0.95 of the limit at worst, 0.98 or more
with quick writes or quick answers. When the assumption fails (a request that takes longer
than `allowance` to arrive: a congested network, Attio queueing requests before counting
them), `limit + 1` arrivals within one second are possible and the last is refused with a 429:
the budget then pauses until its `Retry-After`, and the request is retried, as below. A
transport that does not report the writing (httpx's mock and ASGI transports; only httpcore,
httpx's network transport, emits the trace events the client listens to) ends its turns at the
answer, which needs no assumption at all.

Why a sliding window rather than a token bucket: a bucket that starts full lets through a burst
of `2 * limit` across a second boundary; this never exceeds `limit` in any window, whatever the
server's window alignment (Attio's clock seconds included). The `guard` covers clocks and
timestamps that are not exactly alike at both ends.

After a 429 the budget is spent whatever the count says (another client of the workspace, a
lower limit during an incident): `pause` holds every release until the `Retry-After` time, so
the waiting requests do not spend attempts on more 429s. The refused request is retried by the
client's own policy (`toolkit.backoff`), as any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from .config import DEFAULT_ARRIVAL_ALLOWANCE

__all__ = ["DEFAULT_ALLOWANCE", "DEFAULT_GUARD", "Budgets", "RateLimiter", "Turn", "budget_for"]

_EPSILON = 1e-9
#: Seconds added to each window: clock and timestamp differences between client and server.
DEFAULT_GUARD = 0.005
#: Seconds within which a request wholly written to the socket is assumed to reach Attio.
DEFAULT_ALLOWANCE = DEFAULT_ARRIVAL_ALLOWANCE

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Turn:
    """One request's place in a `RateLimiter`, in flight from its release until it ends."""

    __slots__ = ("_limiter", "_timer", "ended")

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._timer: asyncio.TimerHandle | None = None
        self.ended = False

    def sent(self) -> None:
        """The request was wholly written to the socket: it ends `allowance` from now, unless
        its answer ends it first. Calling it again, or after the end, does nothing."""
        if self.ended or self._timer is not None:
            return
        allowance = self._limiter.allowance
        if allowance <= 0:
            self.end()
        else:
            self._timer = asyncio.get_running_loop().call_later(allowance, self.end)

    def end(self) -> None:
        """The request has arrived (its answer's head came back, or `allowance` passed since it
        was sent), failed, or was given up: the place frees one window from now. Calling it
        again does nothing."""
        if not self.ended:
            self.ended = True
            self._cancel_timer()
            self._limiter._end()

    def unsent(self) -> None:
        """The request was never handed to the transport: the place frees at once. Only before
        `sent()`; after it, or after the end, it does what `end()` does."""
        if self.ended or self._timer is not None:
            self.end()
            return
        self.ended = True
        self._limiter._forget()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class RateLimiter:
    """At most `limit` requests in flight or ended within any sliding `window`.

    Args:
        rate: requests per second (a fraction like 2.5 becomes 2 per 0.8 s).
        guard: seconds added to the window as a safety margin.
        allowance: seconds after a request is wholly written (`Turn.sent`) by which it is
            assumed to have reached the server, and so stops being in flight (see the module
            docstring). Its timer runs on the event loop's clock.
        clock, sleep: injectable for tests; default the monotonic clock and `asyncio.sleep`.
    """

    def __init__(
        self,
        rate: float,
        *,
        guard: float = DEFAULT_GUARD,
        allowance: float = DEFAULT_ALLOWANCE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be above 0, got {rate!r}")
        if allowance < 0:
            raise ValueError(f"allowance must be 0 or more, got {allowance!r}")
        self.rate = rate
        self.allowance = allowance
        self.limit = max(1, math.floor(rate))
        self.window = self.limit / rate + guard
        self._clock = clock
        self._sleep = sleep
        self._in_flight = 0
        #: When each finished request ended, oldest first (ends come in clock order).
        self._ended: deque[float] = deque()
        self._paused_until = -math.inf
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Requests released and not yet ended."""
        return self._in_flight

    async def acquire(self) -> Turn:
        """Wait until one more request fits, then take its place; `sent()` the turn when the
        request is written and `end()` it when its answer arrives. Prefer `turn()`, which
        cannot forget to end it."""
        async with self._lock:
            while True:
                now = self._clock()
                # The epsilons stop a wait of one float ulp from looping forever when
                # `now + wait` rounds to just short of the pause's or the window's end.
                if now < self._paused_until - _EPSILON:
                    await self._sleep(self._paused_until - now)
                    continue
                while self._ended and now - self._ended[0] >= self.window - _EPSILON:
                    self._ended.popleft()
                if self._in_flight + len(self._ended) < self.limit:
                    self._in_flight += 1
                    return Turn(self)
                if self._ended:
                    # A request still in flight frees its place later than the oldest ended one.
                    await self._sleep(self._ended[0] + self.window - now)
                else:
                    self._changed.clear()
                    await self._changed.wait()  # all `limit` in flight: the first end, then a window

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[Turn]:
        """`acquire()` a place, and end it when the block ends if nothing ended it before."""
        held = await self.acquire()
        try:
            yield held
        finally:
            held.end()

    def pause(self, seconds: float) -> None:
        """Release nothing for `seconds` from now (a 429's `Retry-After`); never shortens a pause."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
        self._changed.set()

    def _end(self) -> None:
        self._in_flight -= 1
        self._ended.append(self._clock())
        self._changed.set()

    def _forget(self) -> None:
        self._in_flight -= 1
        self._changed.set()

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate!r}, window={self.window:.3f})"


@dataclass
class Budgets:
    """The read and write budgets of one client."""

    read: RateLimiter
    write: RateLimiter

    @classmethod
    def per_second(cls, read: float = 100.0, write: float = 25.0, *, guard: float = DEFAULT_GUARD,
                   allowance: float = DEFAULT_ALLOWANCE, clock: Clock = time.monotonic,
                   sleep: Sleep = asyncio.sleep) -> Budgets:
        timing = {"guard": guard, "allowance": allowance}
        return cls(read=RateLimiter(read, **timing, clock=clock, sleep=sleep),
                   write=RateLimiter(write, **timing, clock=clock, sleep=sleep))

    def for_request(self, method: str, path: str) -> RateLimiter:
        return self.read if budget_for(method, path) == "read" else self.write


def budget_for(method: str, path: str) -> str:
    """Which budget a request spends: "read" or "write".

    `POST .../records/query` reads; a third party says Attio counts it as a read
    (api-notes 1.3, unconfirmed), and a read budget four times larger is what makes
    lookups cheap. Every other POST, PUT, PATCH and DELETE writes.
    """
    if method in {"GET", "HEAD", "OPTIONS"}:
        return "read"
    if method == "POST" and path.rstrip("/").endswith("/query"):
        return "read"
    return "write"
