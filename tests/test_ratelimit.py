from __future__ import annotations

import asyncio

import pytest

from toolkit.ratelimit import Budgets, RateLimiter, budget_for


class FakeTime:
    """A clock that only moves when someone sleeps, so limits are tested exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


@pytest.mark.anyio
async def test_no_window_of_one_second_holds_more_than_the_limit() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10, guard=0.0, clock=fake.clock, sleep=fake.sleep)
    granted: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        granted.append(fake.now)

    await asyncio.gather(*(one() for _ in range(45)))
    assert len(granted) == 45
    assert max_in_any_window(granted, 1.0) == 10
    # 45 grants at 10/s need 4 full windows of waiting, and no more.
    assert granted[-1] - granted[0] == pytest.approx(4.0)


@pytest.mark.anyio
async def test_read_and_write_budgets_are_separate_and_shared_by_concurrent_callers() -> None:
    fake = FakeTime()
    budgets = Budgets(read=RateLimiter(100, guard=0.0, clock=fake.clock, sleep=fake.sleep),
                      write=RateLimiter(25, guard=0.0, clock=fake.clock, sleep=fake.sleep))
    stamps: dict[str, list[float]] = {"read": [], "write": []}

    async def call(kind: str, method: str, path: str) -> None:
        await budgets.for_request(method, path).acquire()
        stamps[kind].append(fake.now)

    calls = [call("read", "GET", "/v2/objects") for _ in range(250)]
    calls += [call("write", "PUT", "/v2/objects/people/records") for _ in range(60)]
    await asyncio.gather(*calls)
    assert max_in_any_window(stamps["read"], 1.0) == 100
    assert max_in_any_window(stamps["write"], 1.0) == 25
    assert len(stamps["read"]) == 250 and len(stamps["write"]) == 60


@pytest.mark.anyio
async def test_fractional_rates_are_honoured() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2.5, guard=0.0, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(11):
        await limiter.acquire()
        stamps.append(fake.now)
    assert (stamps[-1] - stamps[0]) == pytest.approx(4.0)  # 10 intervals at 2.5/s


def test_the_guard_widens_the_window() -> None:
    assert RateLimiter(100, guard=0.05).window == pytest.approx(1.05)


def test_queries_spend_the_read_budget() -> None:
    assert budget_for("POST", "/v2/objects/people/records/query") == "read"
    assert budget_for("POST", "/v2/objects/people/records") == "write"
    assert budget_for("PATCH", "/v2/objects/people/records/x") == "write"
    assert budget_for("GET", "/v2/self") == "read"


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
