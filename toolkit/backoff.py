"""When to try a request again, and how long to wait first.

Two small pure functions decide (`may_try_again`, `backoff_seconds`); `BackoffPolicy` holds the
numbers. Jitter lives in its own function so tests can replace it and assert exact waits.

The rules:
- 429 is always safe to retry: Attio did not process the request (api-notes 1.3). Wait for
  `Retry-After` (an HTTP date; integer seconds also accepted), capped.
- A connection that was never made is safe to retry, whatever the method.
- 5xx, timeouts and dropped connections are retried only for idempotent requests: reads,
  asserts (PUT with matching_attribute), PUT/PATCH by record id, DELETE and queries. A plain
  create (POST .../records) may have been applied, so it is never retried automatically.
- Everything else (4xx) is final.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import ApiError, RateLimitError, RetryableApiError, TransportError

__all__ = ["BackoffPolicy", "is_idempotent", "parse_retry_after", "may_try_again"]


@dataclass(frozen=True)
class BackoffPolicy:
    """How many attempts, how long in all, and the shape of the backoff.

    Attributes:
        max_attempts: attempts per request, the first included.
        deadline: seconds from the first attempt's start after which no new attempt starts, and
            an attempt still sending or reading is cut off (the client enforces it).
        base: the first backoff, in seconds; doubled each attempt.
        cap: the longest backoff.
        retry_after_cap: the longest wait a 429's Retry-After can impose.
    """

    max_attempts: int = 5
    deadline: float = 120.0
    base: float = 0.5
    cap: float = 8.0
    retry_after_cap: float = 60.0

    def backoff_seconds(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based), before jitter."""
        return min(self.cap, self.base * 2.0 ** (attempt - 1))

    def wait_for(self, error: ApiError, attempt: int) -> float:
        """How long to wait after `error` on attempt `attempt`, jitter included."""
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.retry_after_cap)
        return jitter(self.backoff_seconds(attempt))


def jitter(seconds: float) -> float:
    """Spread retries of many clients apart: a uniform wait in [seconds/2, seconds].

    Kept apart from the policy so tests can replace it (``monkeypatch`` on this module).
    """
    return seconds / 2 + random.random() * seconds / 2  # noqa: S311 - not for security


def is_idempotent(method: str, path: str) -> bool:
    """Whether sending this request twice leaves Attio as sending it once.

    PATCH on a record appends multiselect values and Attio deduplicates them (api-notes 5.4),
    so repeating it changes nothing. POST is idempotent only for queries.
    """
    if method in {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}:
        return True
    return method == "POST" and path.rstrip("/").endswith("/query")


def may_try_again(error: ApiError, *, idempotent: bool) -> bool:
    """Whether a request that failed with `error` may be sent again."""
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, TransportError) and not error.sent:
        return True
    return isinstance(error, RetryableApiError) and idempotent


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: an HTTP date or a number of seconds.

    Returns None when the header is absent or unreadable; never a negative number.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
