from __future__ import annotations

from datetime import UTC, datetime

import pytest

from toolkit import backoff
from toolkit.backoff import BackoffPolicy, is_idempotent, may_try_again, parse_retry_after
from toolkit.errors import InvalidRequestError, RateLimitError, ServerError, TransportError

NOW = datetime(2023, 5, 23, 14, 42, 0, 250000, tzinfo=UTC)
FIELDS = {"method": "GET", "path": "/v2/objects"}


def test_retry_after_as_an_http_date_is_seconds_until_that_time() -> None:
    # Attio's documented form (api-notes 1.3): the next clock second, as an HTTP date.
    assert parse_retry_after("Tue, 23 May 2023 14:42:01 GMT", now=NOW) == pytest.approx(0.75)


def test_retry_after_as_integer_seconds_is_accepted() -> None:
    assert parse_retry_after("3", now=NOW) == 3.0


@pytest.mark.parametrize("value", [None, "", "soon", "Tue, 99 Foo"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_in_the_past_is_zero_not_negative() -> None:
    assert parse_retry_after("Tue, 23 May 2023 14:41:00 GMT", now=NOW) == 0.0


def test_backoff_doubles_up_to_the_cap_with_jitter_stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff, "jitter", lambda seconds: seconds)
    policy = BackoffPolicy(base=0.5, cap=4.0)
    error = ServerError("down", status=503, **FIELDS)
    assert [policy.wait_for(error, n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_stays_within_half_and_whole_of_the_backoff() -> None:
    waits = [backoff.jitter(2.0) for _ in range(200)]
    assert all(1.0 <= w <= 2.0 for w in waits)
    assert len(set(waits)) > 1


def test_429_waits_for_retry_after_but_never_beyond_the_cap() -> None:
    policy = BackoffPolicy(retry_after_cap=60.0)
    assert policy.wait_for(RateLimitError("slow", retry_after=0.75, status=429, **FIELDS), 1) == 0.75
    assert policy.wait_for(RateLimitError("slow", retry_after=3600, status=429, **FIELDS), 1) == 60.0


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (RateLimitError("r", status=429, **FIELDS), False, True),  # 429: never processed
        (ServerError("s", status=503, **FIELDS), True, True),
        (ServerError("s", status=500, **FIELDS), False, False),  # a create may have happened
        (TransportError("t", sent=False, **FIELDS), False, True),  # never left the machine
        (TransportError("t", sent=True, **FIELDS), False, False),
        (TransportError("t", sent=True, **FIELDS), True, True),
        (InvalidRequestError("bad", status=400, **FIELDS), True, False),
    ],
)
def test_should_retry(error: Exception, idempotent: bool, expected: bool) -> None:
    assert may_try_again(error, idempotent=idempotent) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v2/objects", True),
        ("PUT", "/v2/objects/people/records", True),
        ("PATCH", "/v2/objects/people/records/1", True),
        ("DELETE", "/v2/objects/people/records/1", True),
        ("POST", "/v2/objects/people/records/query", True),
        ("POST", "/v2/objects/people/records", False),
    ],
)
def test_idempotency_by_method_and_path(method: str, path: str, expected: bool) -> None:
    assert is_idempotent(method, path) is expected
