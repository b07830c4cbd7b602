"""A run left alone: a refused key stops it at once, an outage is waited out, nothing is final
from a condition that will pass (issue 11), against the sandbox.

What these test is the client's breaker and the engine's stopping, the same on any database:
the slower ones run on SQLite only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from databases import sqlite_only
from sqlmodel import col, select
from sync_harness import SyncHarness

from toolkit.backoff import BackoffPolicy
from toolkit.breaker import CircuitBreaker
from toolkit.errors import AuthError, OutageError, RedirectError
from toolkit.models import EventRecord, Run


@pytest.fixture
def h(database_url: str) -> SyncHarness:
    return SyncHarness(database_url)


def people(count: int, prefix: str = "p") -> list[dict[str, Any]]:
    return [{"type": "identify", "messageId": f"{prefix}{n}", "userId": f"{prefix}{n}",
             "traits": {"email": f"{prefix}{n}@example.com"}} for n in range(count)]


def recorded(h: SyncHarness) -> dict[str, str]:
    """message -> the newest outcome any run gave it (duplicates aside)."""
    with h.cache.session() as session:
        rows = session.exec(select(EventRecord).where(col(EventRecord.status) != "duplicate")
                            .order_by(col(EventRecord.id)))
        return {row.message_key: row.status for row in rows}


@sqlite_only
def test_a_refused_key_sends_one_request_and_the_right_key_finishes_the_work(h: SyncHarness) -> None:
    events = people(300)
    with pytest.raises(AuthError):
        h.sync(events, token="revoked" + "0" * 57, concurrency=16)
    assert len(h.app.log) == 1 and h.app.log[0].status == 401  # one request, then the run stopped
    assert recorded(h) == {}  # no event got an outcome from it
    with h.cache.session() as session:
        assert session.exec(select(Run)).one().state == "interrupted"
    result = h.sync(events)  # the same input, the right key
    assert result.counts["synced"] == 300 and result.counts["duplicate"] == 0


def test_a_redirect_stops_the_run_saying_the_base_url_is_wrong(h: SyncHarness) -> None:
    h.app.fail_requests(301)
    with pytest.raises(RedirectError, match="the base URL is probably wrong"):
        h.sync(people(50))
    assert len(h.app.log) == 1 and recorded(h) == {}


def test_a_host_that_never_answers_stops_the_run_instead_of_failing_every_event(h: SyncHarness) -> None:
    h.app.fail_requests(503)  # down from the start: nothing tells an outage from a wrong address
    with pytest.raises(Exception) as stopped:
        h.sync(people(200), max_attempts=2)
    assert getattr(stopped.value, "status", None) == 503
    # The first request goes alone; when it gets no answer the run stops (a request or two that
    # were waiting for it may try before the stop reaches them): not 200 events x 2 attempts.
    assert len(h.app.log) < 10 and recorded(h) == {}


def outage_client(**breaker: Any) -> dict[str, Any]:
    """Client options of a run: two attempts, a breaker probing often (the test waits less)."""
    return {"policy": BackoffPolicy(max_attempts=2, base=0.001, cap=0.01, retry_after_cap=0.01),
            "breaker": CircuitBreaker(**{"first_wait": 0.5, "max_wait": 5.0, **breaker})}


@pytest.mark.slow(seconds=70)
@sqlite_only  # a minute of waiting for Attio
def test_a_minute_long_outage_mid_run_is_waited_out_and_every_event_syncs(h: SyncHarness) -> None:
    events = people(2000)
    outage: list[Any] = []

    def start_outage(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 500 and not outage:
            outage.append(h.app.fail_requests(503))
            asyncio.get_running_loop().call_later(60.0, h.app.rules.remove, outage[0])

    began = time.monotonic()
    result = h.sync(events, run_options={"on_progress": start_outage}, concurrency=16, **outage_client())
    took = time.monotonic() - began
    assert outage and took >= 60.0
    assert result.counts["synced"] == 2000 and result.counts["failed"] == 0
    failed_requests = sum(1 for e in h.app.log if e.status == 503)
    assert failed_requests < 16 + 5 + 60 / 0.5  # in flight, the streak, probes: not 2,000 x 2 attempts
    assert len(h.records("people")) == 2000


@sqlite_only
def test_an_outage_past_the_timeout_stops_the_run_and_a_rerun_finishes_it(h: SyncHarness) -> None:
    events = people(600)
    outage: list[Any] = []

    def start_outage(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 100 and not outage:
            outage.append(h.app.fail_requests(503))

    with pytest.raises(OutageError, match="Attio has been failing since .* stopped after the outage timeout"):
        h.sync(events, run_options={"on_progress": start_outage}, **outage_client(outage_timeout=2.0))
    first = recorded(h)
    assert 100 <= len(first) < 600 and set(first.values()) == {"synced"}  # nothing failed from the outage
    with h.cache.session() as session:
        assert session.exec(select(Run)).one().state == "interrupted"
    h.app.rules.remove(outage[0])
    again = h.sync(events)
    assert again.counts["duplicate"] == len(first) and again.counts["synced"] == 600 - len(first)
    assert len(h.records("people")) == 600


def test_events_that_fail_for_their_own_reasons_still_end_failed(h: SyncHarness) -> None:
    h.app.fail_requests(503, body="p7@")  # Attio answers everything else
    result = h.sync(people(40), **outage_client())
    assert result.counts["failed"] == 1 and result.counts["synced"] == 39
    assert recorded(h)["p7"] == "failed"


@sqlite_only
def test_stopping_does_not_hang_on_events_waiting_for_attio(h: SyncHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stop (a signal) while every event waits at the breaker: the run still ends within the
    # drain time, and the waiting events get no outcome.
    stop = asyncio.Event()
    outage: list[Any] = []

    def start_outage(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 50 and not outage:
            outage.append(h.app.fail_requests(503))
            asyncio.get_running_loop().call_later(1.0, stop.set)

    from toolkit import sync

    monkeypatch.setattr(sync, "DRAIN_SECONDS", 1.0)
    began = time.monotonic()
    result = h.sync(people(300), run_options={"on_progress": start_outage, "stop": stop}, **outage_client())
    assert result.interrupted and time.monotonic() - began < 1.0 + sync.DRAIN_SECONDS + 10
    assert set(recorded(h).values()) == {"synced"}
