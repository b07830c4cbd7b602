"""The sync reads events in batches: which were processed before, and the record states their
plans need, are asked once per batch. These tests put repeats and records across batches and
across commits, where a per-batch lookup could miss what the per-event one found."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from sync_harness import SyncHarness

import toolkit.sync
from toolkit.audit import REHEARSAL_RECORDS
from toolkit.models import EventRecord


@pytest.fixture
def h(tmp_path, database_url: str) -> SyncHarness:  # type: ignore[no-untyped-def]
    return SyncHarness(database_url)


def identify(n: int, message: str | None = None, title: str = "Engineer") -> dict[str, object]:
    return {"type": "identify", "messageId": message or f"m-{n}", "userId": f"u{n}",
            "traits": {"email": f"user{n}@example.com", "title": title}}


MAPPING = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\njob_title = "$.traits.title"\n'


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolkit.sync, "BATCH", 16)  # the harness commits every 50 outcomes


BAD = {"type": "identify", "messageId": "bad", "userId": "u-bad", "traits": {"email": "not an email"}}


@pytest.mark.parametrize(("dry_run", "done"), [(False, None), (False, ("synced", "unchanged")), (True, None)])
def test_repeats_in_the_same_batch_in_the_next_and_after_a_commit_are_duplicates(
        h: SyncHarness, dry_run: bool, done: tuple[str, ...] | None) -> None:
    events = [identify(n) for n in range(100)]
    events[1] = BAD
    events[5] = identify(4)            # the same batch as its first
    events[20] = identify(10)          # the next batch, before any commit
    events[90] = identify(12)          # long after a commit
    events[95] = BAD                   # an invalid one, long after a commit: a row of this run
    events.append(identify(99))        # the very last line, repeating the one before it
    # A commit every 5 outcomes (a dry run: every 50 it counts without a row). With `done`
    # (as `retry` asks) an earlier run's invalid outcome is no reason to skip a message: only
    # this run's own rows make the repeated invalid line a duplicate.
    options = {"flush_every": 5, **({"done_statuses": done} if done else {})}
    result = h.sync(events, MAPPING, dry_run=dry_run, run_options=options)
    assert result.counts["duplicate"] == 5
    assert (result.counts["synced"], result.counts["invalid"]) == (95, 1)  # u1, u5, u20, u90, u95 never came
    if not dry_run:
        assert len(h.records("people")) == 95 and len(h.records("users")) == 95


def test_messages_an_earlier_real_run_processed_are_duplicates_in_any_batch(h: SyncHarness) -> None:
    h.sync([identify(n) for n in range(0, 60, 2)], MAPPING)
    again = h.sync([identify(n) for n in range(60)], MAPPING)
    assert (again.counts["duplicate"], again.counts["synced"]) == (30, 30)
    dry = h.sync([identify(n, message=f"x-{n}") for n in range(60)], MAPPING, dry_run=True)
    assert (dry.counts["unchanged"], dry.counts["duplicate"]) == (60, 0)  # states of both runs, prefetched
    rehearsed = h.sync([identify(n) for n in range(60)], MAPPING, dry_run=True)
    assert rehearsed.counts["duplicate"] == 60  # a dry run asks the database what earlier real runs did


def test_a_record_written_in_one_batch_is_trimmed_in_the_next(h: SyncHarness) -> None:
    # The prefetch of the second batch must not read the database's (older) state over the one
    # the first batch left in memory.
    events = [identify(n) for n in range(16)] + [identify(n, message=f"again-{n}") for n in range(16)]
    events += [identify(n, message=f"new-{n}", title="Founder") for n in range(16)]
    result = h.sync(events, MAPPING)
    assert (result.counts["synced"], result.counts["unchanged"]) == (32, 16)
    assert result.requests == 16 * 2 + 16  # person and user each, then the new titles


def test_a_dry_run_records_its_problems_and_counts_the_rest(h: SyncHarness) -> None:
    events: list[object] = [identify(n) for n in range(80)]
    events[3] = {"type": "identify", "messageId": "bad", "userId": "u3", "traits": {"email": "not an email"}}
    events[40] = "{not json"
    events.append(identify(7))
    dry = h.sync(events, MAPPING, dry_run=True)
    assert (dry.counts["synced"], dry.counts["invalid"], dry.counts["duplicate"]) == (78, 2, 1)
    with h.cache.session() as session:
        rows = session.exec(select(EventRecord.line, EventRecord.status)
                            .where(col(EventRecord.run_id) == dry.run_id)).all()
    assert sorted(rows) == [(4, "invalid"), (41, "invalid")]
    assert {status for _, status in rows} <= set(REHEARSAL_RECORDS)
    real = h.sync(events, MAPPING)  # the rehearsal made nothing a duplicate
    assert (real.counts["synced"], real.counts["duplicate"]) == (78, 1)


def test_overlapping_runs_leave_the_cycle_collector_as_they_found_it() -> None:
    import gc

    before = gc.get_threshold()
    first, second = toolkit.sync._collector_tuned(), toolkit.sync._collector_tuned()
    first.__enter__()
    assert gc.get_threshold()[0] == toolkit.sync.GC_YOUNG and gc.get_freeze_count() > 0
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second runs: still tuned
    assert gc.get_threshold()[0] == toolkit.sync.GC_YOUNG
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
