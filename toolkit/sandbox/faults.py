"""Rate limits and injected faults: the two ways the sandbox is unreliable on purpose.

Rate limits follow api-notes 1.3: separate read and write budgets per fixed clock second, a 429
with the documented body and a `Retry-After` HTTP date of the next second. Faults are drawn from
a `random.Random(seed)`, so a given seed and request order always fail the same way.
"""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from .config import FaultSpec

__all__ = ["RATE_LIMIT_BODY", "FaultDecision", "FaultInjector", "FaultRule", "RateLimiter", "predrawn_fault",
           "retry_after"]

RATE_LIMIT_BODY = {
    "status_code": 429,
    "type": "rate_limit_error",
    "code": "rate_limit_exceeded",
    "message": "Rate limit exceeded, please try again later",
}


def retry_after(epoch_second: int) -> str:
    """A `Retry-After` value: the HTTP date of that second (api-notes 1.3: a date, not seconds)."""
    return format_datetime(datetime.fromtimestamp(epoch_second, UTC), usegmt=True)


@dataclass(frozen=True)
class FaultDecision:
    """The fate of one request: at most one of the failure kinds, and whether it is slow."""

    kind: str | None = None
    slow: bool = False
    slow_seconds: float = 0.0


@dataclass
class FaultRule:
    """A failure for the requests that match, where a test needs one request to fail on purpose.

    Attributes:
        status: the status to answer (429 and 5xx bodies are Attio's; others a 400-style body).
        method: match only this method (None: any).
        path: match only paths containing this (None: any).
        body: match only bodies whose compact JSON text contains this (None: any).
        times: how many matching requests fail (None: every one).
        after: process the request first, then answer `status` (the write happened and the
            client heard a failure), instead of failing without processing it.
        hits: how many requests it has failed so far.
    """

    status: int
    method: str | None = None
    path: str | None = None
    body: str | None = None
    times: int | None = None
    after: bool = False
    hits: int = 0

    def take(self, method: str, path: str, body_text: str) -> bool:
        """Whether this request fails by this rule (counting it when it does)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if (self.method not in (None, method) or (self.path is not None and self.path not in path)
                or (self.body is not None and self.body not in body_text)):
            return False
        self.hits += 1
        return True


#: Set by `SandboxTransport` around the in-process call: the transport drew this request's fault
#: itself (it alone can raise connection errors on the client side), so the app must not draw again.
predrawn_fault: contextvars.ContextVar[FaultDecision | None] = contextvars.ContextVar(
    "sandbox_predrawn_fault", default=None
)


class FaultInjector:
    """Draws `FaultDecision`s from a seeded generator.

    Args:
        spec: the shares of each fault.
        seed: the generator's seed.
    """

    def __init__(self, spec: FaultSpec, seed: int = 0) -> None:
        self.spec = spec
        self._rng = random.Random(seed)
        self.drawn = 0

    def draw(self) -> FaultDecision:
        """The next request's fate (no draw is taken when no fault is configured)."""
        if not self.spec.any:
            return FaultDecision()
        self.drawn += 1
        kind, slow = self.spec.draw(self._rng)
        return FaultDecision(kind, slow, self.spec.slow_seconds if slow else 0.0)


class RateLimiter:
    """Fixed one-second windows with separate read and write budgets.

    Args:
        read_rate: reads per second, or None for no limit.
        write_rate: writes per second, or None for no limit.
        clock: seconds since the epoch; injectable for tests.
    """

    def __init__(self, read_rate: int | None, write_rate: int | None, clock: Callable[[], float] = time.time) -> None:
        self.rates = {"read": read_rate, "write": write_rate}
        self.clock = clock
        self._window = -1
        self._counts = {"read": 0, "write": 0}

    def acquire(self, kind: str) -> str | None:
        """Count one request of `kind` ("read" or "write").

        Returns:
            None when it is within the budget; else the `Retry-After` HTTP date (the start of
            the next clock second). A refused request does not use up budget.
        """
        rate = self.rates[kind]
        if rate is None:
            return None
        now = self.clock()
        window = int(now)
        if window != self._window:
            self._window = window
            self._counts = {"read": 0, "write": 0}
        if self._counts[kind] >= rate:
            return retry_after(window + 1)
        self._counts[kind] += 1
        return None
