"""The serve inbox: one transaction per accept, dedupe by messageId (across restarts too),
arrival order, and "done" committed inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from toolkit.cache import Cache, open_cache, utcnow
from toolkit.errors import CacheError
from toolkit.serve.inbox import MAX_KEY_CHARS, AcceptedEvent, Inbox, inbox_key


def accepted(message_id: str, **event: object) -> AcceptedEvent:
    body = {"type": "identify", "messageId": message_id, **event}
    return AcceptedEvent(message_id=message_id, event_type="identify", event=json.dumps(body, ensure_ascii=True))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "serve.db"


@pytest.fixture
def cache(db_path: Path) -> Iterator[Cache]:
    opened = open_cache(str(db_path))
    yield opened
    opened.close()


@pytest.fixture
def inbox(cache: Cache) -> Inbox:
    return Inbox(cache)


def test_accept_commits_new_events_and_counts_the_ones_already_there(inbox: Inbox) -> None:
    first = inbox.accept([accepted("a"), accepted("b"), accepted("a")])
    assert (first.accepted, first.duplicates) == (2, 1)
    second = inbox.accept([accepted("b"), accepted("c")])
    assert (second.accepted, second.duplicates) == (1, 1)
    assert [q.message_id for q in inbox.queued()] == ["a", "b", "c"]
    assert inbox.accept([]).accepted == 0


def test_a_request_is_one_transaction(cache: Cache, inbox: Inbox) -> None:
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split()[0].upper())

    sa_event.listen(cache.engine, "before_cursor_execute", record)
    try:
        inbox.accept([accepted(f"m{i}") for i in range(100)])
    finally:
        sa_event.remove(cache.engine, "before_cursor_execute", record)
    assert statements == ["INSERT"]  # one executemany, in one transaction
    assert inbox.depth() == 100


def test_dedupe_holds_across_a_restart(db_path: Path, cache: Cache, inbox: Inbox) -> None:
    inbox.accept([accepted("kept")])
    cache.close()
    reopened = open_cache(str(db_path))
    try:
        result = Inbox(reopened).accept([accepted("kept"), accepted("new")])
        assert (result.accepted, result.duplicates) == (1, 1)
        assert [q.message_id for q in Inbox(reopened).queued()] == ["kept", "new"]
    finally:
        reopened.close()


def test_a_done_event_still_dedupes(inbox: Inbox) -> None:
    inbox.accept([accepted("x")])
    inbox.mark_done_now([q.id for q in inbox.queued()])
    assert inbox.accept([accepted("x")]).duplicates == 1
    assert inbox.depth() == 0


def test_event_text_round_trips_any_unicode(inbox: Inbox, db_path: Path) -> None:
    event = {"type": "identify", "messageId": "u", "traits": {"name": "Zoë 🦄", "odd": "\ud800 lone", "nul": "a\x00b"}}
    stored = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    inbox.accept([AcceptedEvent(message_id="u", event_type="identify", event=stored)])
    (row,) = inbox.queued()
    assert json.loads(row.event) == event
    assert row.event.isascii()
    (size,) = sqlite3.connect(db_path).execute("select size from inbox").fetchone()
    assert size == len(stored)


def test_queued_pages_in_arrival_order(inbox: Inbox) -> None:
    inbox.accept([accepted(f"m{i}") for i in range(5)])
    first = inbox.queued(limit=2)
    assert [q.message_id for q in first] == ["m0", "m1"]
    rest = inbox.queued(after_id=first[-1].id, limit=10)
    assert [q.message_id for q in rest] == ["m2", "m3", "m4"]
    assert all(q.received_at.tzinfo is not None for q in rest)
    inbox.mark_done_now([first[0].id, rest[0].id])
    assert [q.message_id for q in inbox.queued()] == ["m1", "m3", "m4"]
    assert inbox.depth() == 3


def test_mark_done_commits_with_the_callers_transaction(cache: Cache, inbox: Inbox) -> None:
    inbox.accept([accepted("a"), accepted("b")])
    ids = [q.id for q in inbox.queued()]
    with pytest.raises(RuntimeError), cache.session() as session:
        assert inbox.mark_done(session, ids) == 2
        raise RuntimeError("the outcome could not be recorded")
    assert inbox.depth() == 2  # rolled back together
    with cache.engine.begin() as connection:
        assert inbox.mark_done(connection, ids) == 2
    assert inbox.depth() == 0
    assert inbox.mark_done_now(ids) == 0  # already done: nothing changes


def test_mark_done_takes_more_ids_than_one_statement_binds(inbox: Inbox) -> None:
    inbox.accept([accepted(f"m{i}") for i in range(1200)])
    assert inbox.mark_done_now([q.id for q in inbox.queued(limit=2000)]) == 1200
    assert inbox.depth() == 0


def test_prune_deletes_only_events_done_before_the_horizon(database_url: str) -> None:
    cache = open_cache(database_url)
    inbox = Inbox(cache)
    inbox.accept([accepted(f"m{i}") for i in range(7)])
    ids = [q.id for q in inbox.queued()]
    now = utcnow()
    inbox.mark_done_now(ids[:3], at=now - timedelta(days=8))  # old
    inbox.mark_done_now(ids[3:5], at=now - timedelta(hours=1))  # recent; m5, m6 still queued
    assert inbox.prune(now - timedelta(days=7), chunk=2) == 3  # in chunks of two
    assert inbox.prune(now - timedelta(days=7)) == 0
    assert [q.message_id for q in inbox.queued()] == ["m5", "m6"] and inbox.depth() == 2
    # The recent ones still dedupe a retry; the deleted ones no longer do: queued again.
    again = inbox.accept([accepted("m3"), accepted("m0")])
    assert (again.accepted, again.duplicates) == (1, 1)
    assert [q.message_id for q in inbox.queued()] == ["m5", "m6", "m0"]
    assert inbox.prune(now + timedelta(days=1)) == 2  # the recent ones; never a queued one
    assert inbox.depth() == 3
    cache.close()


def test_oldest_age(inbox: Inbox) -> None:
    assert inbox.oldest_age() is None
    inbox.accept([accepted("a")])
    (row,) = inbox.queued()
    assert inbox.oldest_age(row.received_at + timedelta(seconds=90)) == pytest.approx(90)
    assert inbox.oldest_age(row.received_at - timedelta(seconds=5)) == 0.0


def test_an_id_is_never_handed_out_twice(cache: Cache, inbox: Inbox) -> None:
    inbox.accept([accepted("a"), accepted("b")])
    last = inbox.queued()[-1].id
    with cache.engine.begin() as connection:
        connection.execute(text("delete from inbox where id = :id"), {"id": last})
    inbox.accept([accepted("c")])
    assert inbox.queued()[-1].id > last  # a worker paging by id never skips a new row


def test_concurrent_accepts_share_commits_and_keep_their_own_counts(db_path: Path, cache: Cache,
                                                                     inbox: Inbox) -> None:
    commits: list[int] = []
    sa_event.listen(cache.engine, "commit", lambda conn: commits.append(1))
    results: dict[int, tuple[int, int]] = {}

    def send(n: int) -> None:
        # each sends 50 of its own and 10 shared with the others
        batch = [accepted(f"own-{n}-{i}") for i in range(50)] + [accepted(f"shared-{i}") for i in range(10)]
        result = inbox.accept(batch)
        results[n] = (result.accepted, result.duplicates)

    holder = sqlite3.connect(db_path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # the first commit waits on it; the other seven queue behind
    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 4
        while len(inbox._waiting) < 7:
            assert time.monotonic() < deadline, "the calls did not queue behind the first commit"
            time.sleep(0.005)
    finally:
        holder.rollback()
        holder.close()
    for thread in threads:
        thread.join()
    assert len(commits) == 2  # the first call's, then one for the seven that waited
    assert inbox.depth() == 8 * 50 + 10
    assert sum(accepted for accepted, _ in results.values()) == 410
    assert sorted(duplicates for _, duplicates in results.values()) == [0] + [10] * 7


def test_a_locked_database_raises_cache_error_for_every_waiting_call(db_path: Path, inbox: Inbox) -> None:
    holder = sqlite3.connect(db_path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            inbox.accept([accepted(f"m{n}")])
        except CacheError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        assert inbox.depth() == 0  # readers are not blocked (WAL)
    finally:
        holder.rollback()
        holder.close()
    assert len(errors) == 3 and all("locked" in str(e) for e in errors)
    assert elapsed < 9  # one busy timeout (5 s), not one per waiting call
    assert inbox.accept([accepted("a")]).accepted == 1


@pytest.mark.parametrize(("message_id", "expected"), [
    ("3f0c-uuid", "3f0c-uuid"),
    ("x" * MAX_KEY_CHARS, "x" * MAX_KEY_CHARS),
    ("", None),
    (None, None),
    (42, None),
    (["a"], None),
])
def test_inbox_key(message_id: object, expected: str | None) -> None:
    assert inbox_key(message_id) == expected


@pytest.mark.parametrize("message_id", ["x" * (MAX_KEY_CHARS + 1), "lone \ud800", "nul \x00", "tab\t"])
def test_an_unusual_message_id_is_keyed_by_its_hash(message_id: str) -> None:
    key = inbox_key(message_id)
    assert key is not None and key.startswith("sha256-") and key.isascii() and len(key) == 7 + 64
    assert inbox_key(message_id) == key  # stable: a retry still dedupes


def test_a_claim_takes_each_queued_event_once_per_run_in_arrival_order(inbox: Inbox) -> None:
    inbox.accept([accepted(f"m{n}") for n in range(10)])
    first = inbox.claim(run_id=1, limit=4)
    assert [q.message_id for q in first] == ["m0", "m1", "m2", "m3"]
    assert [q.message_id for q in inbox.claim(run_id=1, limit=100)] == [f"m{n}" for n in range(4, 10)]
    assert inbox.claim(run_id=1, limit=100) == []  # nothing is read twice by one run

    inbox.mark_done_now([q.id for q in first[:2]])
    inbox.accept([accepted("late")])
    # A later run takes what run 1 held without finishing, and what came since; never a done one.
    again = [q.message_id for q in inbox.claim(run_id=2, limit=100)]
    assert again == [f"m{n}" for n in range(2, 10)] + ["late"]


def test_an_earlier_run_never_takes_back_what_a_later_one_claimed(inbox: Inbox) -> None:
    inbox.accept([accepted(f"m{n}") for n in range(400)])
    taken: dict[int, list[int]] = {1: [], 2: []}

    def take(run_id: int) -> None:
        while rows := inbox.claim(run_id=run_id, limit=7):
            taken[run_id].extend(q.id for q in rows)

    threads = [threading.Thread(target=take, args=(run_id,)) for run_id in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Run 2 may take over what run 1 took (a later run resumes an earlier one's work), never the
    # other way round; within one run no event is taken twice, and every event is taken.
    assert len(taken[1]) == len(set(taken[1])) and len(taken[2]) == len(set(taken[2]))
    assert set(taken[1]) | set(taken[2]) == {q.id for q in inbox.queued(limit=1000)}
    assert inbox.claim(run_id=1, limit=1000) == []
