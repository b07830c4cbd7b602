"""The engine's promises under faults: the newest value wins, and no outcome is lost.

Each test here reproduces a way the first engine lost data (issue 10), against the sandbox.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from typing import Any

import pytest
from databases import is_postgres, sqlite_only
from sqlalchemy import create_engine, delete, event, update
from sqlalchemy.pool import NullPool
from sqlmodel import col, func, select
from sync_harness import SyncHarness

from toolkit.errors import RecordingError
from toolkit.models import EventRecord, Lease, Run

MAPPING = """
[[action]]
kind = "identify-user"
[action.person_attributes]
job_title = "$.traits.plan"
phone_numbers = "$.traits.phone"
"""


@pytest.fixture
def h(database_url: str) -> SyncHarness:
    return SyncHarness(database_url)


def identify(n: int, at: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": f"m{n}", "userId": "u1", "timestamp": at,
            "traits": {"email": "ada@example.com", **traits}}


def job_title(h: SyncHarness, email: str = "ada@example.com") -> str:
    person = h.find("people", "email_addresses", email)
    return str(person["values"]["job_title"][0]["value"])


def test_a_newer_value_survives_a_partly_failed_event_and_its_rerun(h: SyncHarness) -> None:
    events = [identify(1, "2026-01-01T10:00:00Z", plan="Free"),
              identify(2, "2026-01-01T11:00:00Z", plan="Pro", phone="+15558675309"),
              identify(3, "2026-01-01T12:00:00Z", plan="Free")]
    # The second event's assert lands; its phone append (a PATCH carrying the number) fails.
    rule = h.app.fail_requests(503, method="PATCH", body="+15558675309")
    first = h.sync(events, MAPPING)
    assert h.outcomes() == {1: ("synced", ""), 2: ("failed", h.outcomes()[2][1]), 3: ("synced", "")}
    assert first.counts["failed"] == 1
    assert job_title(h) == "Free"  # the third event's value, though Attio had Pro in between
    h.app.rules.remove(rule)
    rerun = h.sync(events, MAPPING)
    assert rerun.counts["synced"] == 1 and rerun.counts["duplicate"] == 2
    assert job_title(h) == "Free"  # the re-sent second event did not write its older Pro back
    person = h.find("people", "email_addresses", "ada@example.com")
    assert [p["original_phone_number"] for p in person["values"]["phone_numbers"]] == ["+15558675309"]


def test_an_assert_that_failed_after_it_landed_does_not_hide_a_newer_value(h: SyncHarness) -> None:
    # The second event's assert is applied, then answered 500: the engine cannot know it landed.
    h.app.fail_requests(500, method="PUT", path="/people/", body='"Pro"', after=True)
    h.sync([identify(1, "2026-01-01T10:00:00Z", plan="Free"), identify(2, "2026-01-01T11:00:00Z", plan="Pro"),
            identify(3, "2026-01-01T12:00:00Z", plan="Free")], MAPPING, max_attempts=1)
    assert job_title(h) == "Free"


def test_event_times_are_compared_as_instants(h: SyncHarness) -> None:
    # 10:00+05:00 is 05:00Z: the event at 06:00Z is the newer one, though it comes first.
    h.sync([identify(1, "2026-01-01T06:00:00Z", plan="Pro"), identify(2, "2026-01-01T10:00:00+05:00", plan="Free")],
           MAPPING)
    assert job_title(h) == "Pro"


class _WriteLock:
    """Another connection holding a lock that keeps the run from recording outcomes, as
    `history prune` would: SQLite's write lock, or on PostgreSQL a lock on the event table."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.held = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        if not is_postgres(self.database):
            connection = sqlite3.connect(self.database, timeout=30)
            connection.execute("BEGIN IMMEDIATE")
            self.held.set()
            self.release.wait(60)
            connection.rollback()
            connection.close()
            return
        engine = create_engine(self.database, poolclass=NullPool)
        with engine.connect() as locking:
            locking.exec_driver_sql("LOCK TABLE event IN EXCLUSIVE MODE")  # reads go on, writes wait
            self.held.set()
            self.release.wait(60)
            locking.rollback()
        engine.dispose()

    def __enter__(self) -> _WriteLock:
        self.thread.start()
        self.held.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(10)


def many(count: int) -> list[dict[str, Any]]:
    return [{"type": "identify", "messageId": f"b{n}", "userId": f"u{n}", "traits": {"email": f"u{n}@example.com"}}
            for n in range(count)]


def stored(h: SyncHarness, run_id: int) -> int:
    with h.cache.session() as session:
        return int(session.exec(select(func.count()).select_from(EventRecord)
                                .where(col(EventRecord.run_id) == run_id)).one())


def short_busy_timeout(h: SyncHarness) -> None:
    """Each commit try waits out SQLite's busy timeout (PostgreSQL's lock_timeout: 5 s); 0.1 s
    keeps these tests short while a lock held for seconds still outlasts many tries."""

    def shorten(connection: Any, _: Any) -> None:
        if not is_postgres(h.database):
            connection.execute("PRAGMA busy_timeout=100")
            return
        connection.autocommit = True  # outside a transaction, so that it lasts
        connection.execute("SET lock_timeout = '100ms'")
        connection.autocommit = False

    event.listen(h.cache.engine, "connect", shorten)
    h.cache.engine.dispose()


@sqlite_only  # PostgreSQL's lock timeout is the next test's; this one would only take longer
def test_outcomes_survive_a_database_locked_for_seconds(h: SyncHarness) -> None:
    short_busy_timeout(h)
    lock = _WriteLock(h.database)

    def lock_for_a_while(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 150 and not lock.thread.is_alive():
            lock.__enter__()
            threading.Timer(2.0, lock.release.set).start()  # twenty busy timeouts

    result = h.sync(many(600), run_options={"on_progress": lock_for_a_while})
    lock.__exit__()
    assert result.counts["synced"] == 600
    assert stored(h, result.run_id) == 600


def test_outcomes_that_cannot_be_recorded_stop_the_run_and_are_named(h: SyncHarness) -> None:
    short_busy_timeout(h)
    lock = _WriteLock(h.database)

    def lock_for_good(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 15 and not lock.thread.is_alive():
            lock.__enter__()

    with pytest.raises(RecordingError) as stopped:
        h.sync(many(50), run_options={"persist_timeout": 0.5, "flush_every": 10, "on_progress": lock_for_good})
    lock.__exit__()
    assert "outcomes are not recorded (lines " in str(stopped.value)
    assert "running the same command again sends those events again" in str(stopped.value)
    assert stopped.value.lines and set(stopped.value.lines) <= set(range(11, 51))
    with h.cache.session() as session:
        runs = list(session.exec(select(Run)))
        # Closing the row needs the database too: it says failed, or stays running until its
        # heartbeat goes stale and history shows it interrupted. Never finished.
        assert [run.state for run in runs] in (["failed"], ["running"])
        assert stored(h, runs[0].id or 0) < 50
    # The stopped run could not even let go of its lease (the database stayed locked); its process
    # would exit, which frees the lease at once for the next run. This process goes on: free it.
    with h.cache.engine.begin() as connection:
        connection.execute(delete(Lease))
    rerun = h.sync(many(50))  # what was not recorded is sent again: the same input finishes the work
    assert rerun.counts["duplicate"] == stored(h, runs[0].id or 0)
    assert rerun.counts["synced"] + rerun.counts["unchanged"] + rerun.counts["duplicate"] == 50


def test_an_exception_in_an_event_task_stops_the_run_instead_of_vanishing(h: SyncHarness,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit import sync

    original = sync._Engine._send_plan
    calls = 0

    async def broken(self: Any, plan: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("a bug in one event's path")
        return await original(self, plan)

    monkeypatch.setattr(sync._Engine, "_send_plan", broken)
    with pytest.raises(RuntimeError, match="a bug in one event's path"):
        h.sync(many(40))
    with h.cache.session() as session:
        assert {r.state for r in session.exec(select(Run))} == {"failed"}


# -- a run under every kind of fault, then plain re-runs ---------------------------------------

PEOPLE = 60
FAULTS = "429=0.2,500=0.05,503=0.05,drop_before=0.025,drop_after=0.025,slow=0.02:0.05"


def fault_events(count: int, seed: int = 10) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Identify events for a few people, each setting a job title at a random time (not in
    input order), and the title each person must end with: the one of their newest event."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    newest: dict[str, tuple[int, str]] = {}
    for n in range(count):
        person = rng.randrange(PEOPLE)
        second = rng.randrange(10**6)
        title = f"title {n}"
        email = f"p{person}@example.com"
        events.append({"type": "identify", "messageId": f"f{n}", "userId": f"user{person}",
                       "timestamp": f"2026-01-{1 + second // 86400 % 28:02d}T{second // 3600 % 24:02d}:"
                                    f"{second // 60 % 60:02d}:{second % 60:02d}Z",
                       "traits": {"email": email, "plan": title}})
        at = int(events[-1]["timestamp"][8:10]) * 86400 + second % 86400
        if email not in newest or at > newest[email][0]:
            newest[email] = (at, title)
    return events, {email: title for email, (_, title) in newest.items()}


@sqlite_only  # 2,000 events up to eight times: the record state on PostgreSQL is the other tests'
def test_a_run_under_faults_then_plain_reruns_ends_with_every_newest_value(h: SyncHarness) -> None:
    events, newest = fault_events(2000)
    h.inject(FAULTS, seed=3)
    statuses: dict[str, str] = {}
    for _ in range(8):
        h.sync(events, MAPPING, max_attempts=2, concurrency=16)
        with h.cache.session() as session:
            for row in session.exec(select(EventRecord).order_by(col(EventRecord.id))):
                if row.status != "duplicate":
                    statuses[row.message_key] = row.status
        if all(statuses.get(f"f{n}") in ("synced", "unchanged") for n in range(len(events))):
            break
    assert len(statuses) == len(events) and set(statuses.values()) <= {"synced", "unchanged"}
    h.inject("")
    wrong = {email: (job_title(h, email), title) for email, title in newest.items() if job_title(h, email) != title}
    assert wrong == {}
    assert len(h.records("people")) == len(newest)  # nothing asserted twice into two records


def test_a_run_whose_lease_is_taken_over_stops_sending(h: SyncHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit import sync
    from toolkit.errors import LeaseLostError

    monkeypatch.setattr(sync, "HEARTBEAT_SECONDS", 0.05)

    def steal(counts: dict[str, int]) -> None:
        if sum(counts.values()) == 20:  # as another machine would once this run's heartbeat looked stale
            with h.cache.engine.begin() as connection:
                connection.execute(update(Lease).values(holder="elsewhere:1:abcd"))

    with pytest.raises(LeaseLostError, match="taken over by another run"):
        h.sync(many(600), run_options={"on_progress": steal})
    with h.cache.session() as session:
        run = session.exec(select(Run)).one()
        lease = session.exec(select(Lease)).one()
    assert run.state == "interrupted" and lease.holder == "elsewhere:1:abcd"
    assert run.events < 600 and len(h.writes()) < 2 * 600  # it stopped, and did not send the rest
