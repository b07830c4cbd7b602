"""`CircuitBreaker`: stop sending while Attio is down, probe until it answers, give up after a while.

One breaker belongs to one `AttioClient` (so to one run). The client asks it before every attempt
(`await breaker.gate(...)`) and tells it every attempt's outcome (`record`); the rule:

- **Outage-like** failures are 5xx answers and transport failures (timeouts, refused or dropped
  connections): `is_outage`. Any other answer (2xx, 3xx, 4xx, 429 included) proves that Attio
  answers: it ends the streak. A 429 is about our pace, not Attio's health; its `Retry-After`
  is the client's business.
- **unarmed**: until Attio has answered once (any answer that is not outage-like), failures are
  left to each request's own retry budget, as without a breaker: a host that never answers is
  more likely a wrong address than an outage, and a user at a terminal should hear so in
  seconds, not minutes. (A sync sends its first request alone and stops the run when it gets no
  answer; see `toolkit.sync`.) `armed=True` engages it from the start.
- **closed**: requests pass. It opens at `threshold` (5) outage-like failures in a row, when they
  came from at least two different requests. One request failing alone again and again (a
  request Attio fails for its own reasons, with nothing else in flight) is left to that
  request's retry budget, exactly as without a breaker. `failing_since` is when the first
  failure of the streak came.
- **open**: no request is sent; each waits at the gate, in arrival order. After a wait
  (`first_wait`, 1 s, doubling after each failed probe up to `max_wait`, 30 s) the first waiting
  request goes alone, as the **probe** (half-open). An answer to it closes the breaker and every
  waiting request goes; an outage-like failure opens it again with the next, longer wait, and
  sends the probe's request to the back of the line (so one request Attio always fails cannot
  keep the others from probing).
- **stopped**: once `outage_timeout` seconds (5 minutes) have passed since `failing_since` and
  Attio has not answered, every waiting request and every new one raises `OutageError` without
  being sent. The check is made whenever the breaker is not waiting for a probe's answer, so the
  stop can come late by at most one probe's duration. It lasts until `reset()`.

A failure that comes while the breaker is open, or that opens it, or that joins a streak of
failures of more than one request (an outage in the making), is *excused* (`record` returns
True): the client does not count it against the request's attempts or deadline, and sends the
request again once the gate lets it through. Requests sent before the breaker opened may still
answer; an answer closes it at once.

Opening, closing and stopping are logged (WARNING, INFO, WARNING), with times and counts only:
never a header, a key or a body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from .config import DEFAULT_OUTAGE_TIMEOUT
from .errors import ApiError, OutageError, ServerError, TransportError

__all__ = ["BreakerState", "CircuitBreaker", "Ticket", "is_outage"]

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half-open", "stopped"]


def is_outage(error: ApiError) -> bool:
    """Whether `error` says Attio (or the way to it) is down: a 5xx answer or no answer at all.

    A `ServerError` raised for a 2xx answer the client could not use (too large, not JSON) is an
    answer, not an outage.
    """
    if isinstance(error, TransportError):
        return True
    return isinstance(error, ServerError) and error.status is not None and error.status >= 500


@dataclass(eq=False)
class Ticket:
    """Leave to send one attempt, from `CircuitBreaker.gate`; give it back with `record` or `release`.

    Attributes:
        key: the request the attempt belongs to (every attempt of one request shares it).
        probe: True when this attempt is the probe of an open breaker.
    """

    key: Hashable
    probe: bool = False
    settled: bool = field(default=False, repr=False)


@dataclass(eq=False)
class _Waiter:
    """A request waiting at the gate."""


class CircuitBreaker:
    """Pauses every request while Attio fails, probes with growing waits, stops after `outage_timeout`.

    The rule is in the module's docstring.

    Args:
        threshold: outage-like failures in a row (from two requests or more) that open it.
        outage_timeout: seconds after the first failure of the streak at which waiting requests
            raise `OutageError` instead of waiting on.
        first_wait: seconds from opening to the first probe.
        max_wait: the longest wait between probes; the wait doubles after each failed probe.
        clock: a monotonic time source, in seconds.
        sleep: waits that many seconds (replaceable in tests, with `clock`).
        wall: seconds since the epoch, for `failing_since` and the messages.
    """

    def __init__(
        self,
        *,
        threshold: int = 5,
        outage_timeout: float = DEFAULT_OUTAGE_TIMEOUT,
        first_wait: float = 1.0,
        max_wait: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
        armed: bool = False,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {threshold!r}")
        if outage_timeout <= 0:
            raise ValueError(f"outage_timeout must be above 0, got {outage_timeout!r}")
        if not 0 < first_wait <= max_wait:
            raise ValueError(f"need 0 < first_wait <= max_wait, got {first_wait!r} and {max_wait!r}")
        self.threshold = threshold
        self.outage_timeout = outage_timeout
        self.first_wait = first_wait
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._state: BreakerState = "closed"
        self._queue: deque[_Waiter] = deque()
        self._changed = asyncio.Event()
        self._probe: Ticket | None = None
        self._probe_at = 0.0
        self._wait = first_wait
        # The current streak of outage-like failures (see `_clear_streak`).
        self._failures = 0
        self._spread = False  # the streak holds failures of two requests or more
        self._first_key: Hashable = None
        self._since_mono = 0.0
        self._since_wall = 0.0
        self._last: ApiError | None = None
        #: Whether Attio has answered once: only then do outage-like failures count.
        self.armed = armed

    def __repr__(self) -> str:
        return (f"CircuitBreaker(state={self._state!r}, failures={self._failures}, "
                f"waiting={len(self._queue)}, outage_timeout={self.outage_timeout:g})")

    # -- what it knows -------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """"closed", "open", "half-open" (a probe is out) or "stopped" (past the outage timeout)."""
        return self._state

    @property
    def failing_since(self) -> float | None:
        """When the current streak of outage-like failures began (epoch seconds), or None."""
        return self._since_wall if self._failures else None

    @property
    def failures(self) -> int:
        """Outage-like failures in a row so far (the current streak)."""
        return self._failures

    @property
    def waiting(self) -> int:
        """Requests waiting at the gate now."""
        return len(self._queue)

    @property
    def next_wait(self) -> float:
        """The wait before the next probe, as it stands (grows after each failed probe)."""
        return self._wait

    # -- the gate ------------------------------------------------------------------------

    async def gate(self, method: str = "-", path: str = "-", *, key: Hashable | None = None) -> Ticket:
        """Wait until an attempt of this request may be sent, and return the leave to send it.

        Returns at once while the breaker is closed. While it is open, waits in line; the first
        in line becomes the probe when the wait is over.

        Args:
            method, path: the request, for the `OutageError`.
            key: identifies the request across its attempts (a new one for each call if None).

        Raises:
            OutageError: the outage timeout has passed (the request was not sent).
        """
        request_key: Hashable = object() if key is None else key
        if self._state == "closed":
            return Ticket(request_key)
        me = _Waiter()
        self._queue.append(me)
        try:
            while True:
                changed = self._changed
                self._check_timeout()
                state = self.state  # not narrowed: every await above may have changed it
                if state == "stopped":
                    raise self._outage_error(method, path)
                if state == "closed":
                    return Ticket(request_key)
                if state == "open" and self._queue[0] is me:
                    now = self._clock()
                    if now >= self._probe_at:
                        ticket = Ticket(request_key, probe=True)
                        self._probe, self._state = ticket, "half-open"
                        return ticket
                    until = min(self._probe_at, self._since_mono + self.outage_timeout)
                    await self._wait_for_change(changed, max(0.0, until - now))
                else:
                    # Half-open (the probe's answer decides), or not first in line.
                    await changed.wait()
        finally:
            first = bool(self._queue) and self._queue[0] is me
            self._queue.remove(me)
            if first:
                self._notify()  # the next in line keeps the time now

    def admits(self, ticket: Ticket) -> bool:
        """Whether `ticket` still allows sending (call it just before sending).

        A ticket taken while the breaker was closed is void once it has opened: the attempt must
        go back to the gate, unsent. The probe's ticket is valid while it is the probe.
        """
        if self._state == "closed":
            return True
        return self._state == "half-open" and ticket is self._probe

    # -- outcomes ------------------------------------------------------------------------

    def record(self, ticket: Ticket, error: ApiError | None) -> bool:
        """Note the outcome of a sent attempt: None for a success, else the error it met.

        Returns:
            True when the failure is excused: outage-like, and the breaker is open (or this
            failure opened it). The client then neither counts the attempt nor its time, and
            sends it again once the gate lets it through.
        """
        if ticket.settled:
            return False
        ticket.settled = True
        was_probe = ticket is self._probe
        if was_probe:
            self._probe = None
        if error is None or not is_outage(error):
            self.armed = True
            if self._state in ("open", "half-open"):
                self._close()
            elif self._state == "closed":
                self._clear_streak()
            return False

        if not self.armed:
            return False  # never answered: the request's own retry budget decides
        now = self._clock()
        if not self._failures:
            self._since_mono, self._since_wall, self._first_key = now, self._wall(), ticket.key
        elif ticket.key != self._first_key:
            self._spread = True
        self._failures += 1
        self._last = error
        if self._state == "closed":
            if self._failures >= self.threshold and self._spread:
                self._open(now)
                return True
            # Several requests failing at once look like an outage already: none spends its
            # budget on it while the streak decides (at most `threshold` failures away).
            return self._spread
        if was_probe and self._state == "half-open":
            self._wait = min(self._wait * 2.0, self.max_wait)
            self._probe_at, self._state = now + self._wait, "open"
            log.info("Attio still failing (%s): next probe in %s", _summary(error), _seconds(self._wait))
            self._check_timeout()
            self._notify()
        return True

    def release(self, ticket: Ticket) -> None:
        """Give back a ticket whose attempt was not sent, or whose outcome is unknown (cancelled).

        A probe given back lets the next in line probe at once.
        """
        if ticket.settled:
            return
        ticket.settled = True
        if ticket is self._probe:
            self._probe = None
            if self._state == "half-open":
                self._state, self._probe_at = "open", self._clock()
                self._notify()

    def reset(self) -> None:
        """Back to closed with no streak, whatever the state (a stopped breaker included)."""
        self._probe = None
        self._state = "closed"
        self._wait = self.first_wait
        self._clear_streak()
        self._notify()

    # -- transitions ---------------------------------------------------------------------

    def _clear_streak(self) -> None:
        self._failures = 0
        self._spread = False
        self._first_key = None
        self._since_mono = 0.0
        self._since_wall = 0.0
        self._last = None

    def _open(self, now: float) -> None:
        self._state, self._wait = "open", self.first_wait
        self._probe_at = now + self._wait
        log.warning("Attio failing since %s (%d in a row, the last %s): sending paused; probing in %s",
                    _utc(self._since_wall, "%H:%M:%S UTC"), self._failures, _summary(self._last),
                    _seconds(self._wait))
        self._notify()

    def _close(self) -> None:
        log.info("Attio answers again after %s: sending resumed", _seconds(self._clock() - self._since_mono))
        self._state = "closed"
        self._probe = None
        self._wait = self.first_wait
        self._clear_streak()
        self._notify()

    def _check_timeout(self) -> None:
        """Stop when past the outage timeout, unless closed, stopped, or waiting for a probe."""
        if self._state != "open" or self._clock() - self._since_mono < self.outage_timeout:
            return
        self._state = "stopped"
        log.warning("%s", self._outage_message())
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for_change(self, changed: asyncio.Event, seconds: float) -> None:
        """Wait `seconds` (with the injected sleep), or less if the state changes first."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, woken):
                task.cancel()
            await asyncio.gather(sleeper, woken, return_exceptions=True)

    def _outage_message(self) -> str:
        return (f"Attio has been failing since {_utc(self._since_wall, '%Y-%m-%d %H:%M:%S UTC')} "
                f"({self._failures} failed requests in a row, the last {_summary(self._last)}); "
                f"stopped after the outage timeout ({_seconds(self.outage_timeout)})")

    def _outage_error(self, method: str, path: str) -> OutageError:
        return OutageError(self._outage_message(), since=self._since_wall, failures=self._failures,
                           timeout=self.outage_timeout, last=self._last, method=method, path=path)


def _utc(epoch: float, form: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(form)


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.3g} s"


def _summary(error: ApiError | None) -> str:
    """A short name for a failure: `HTTP 503 service_unavailable`, or the transport's message."""
    if error is None:
        return "unknown"
    if isinstance(error, TransportError) or error.status is None:
        text = error.message
        return text if len(text) <= 120 else text[:117] + "..."
    return f"HTTP {error.status}" + (f" {error.code}" if error.code else "")
