"""`toolkit.history` as a library: grouping, filters, times, export order, prune."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from history_harness import World, group, make_world, migrate
from sqlalchemy import text
from sqlmodel import col, select

from toolkit import history
from toolkit.cache import open_cache, utcnow
from toolkit.errors import CacheError, ConfigError
from toolkit.history import (
    EventFilter,
    count_events,
    export_events,
    find_events,
    get_run,
    list_runs,
    open_audit_file,
    parse_age,
    parse_since,
    problem_groups,
    problem_key,
    prune,
    trace,
)
from toolkit.models import EventRecord, Run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> World:
    return make_world(tmp_path_factory.mktemp("history-lib"), module_database_url)


@pytest.mark.parametrize(("text", "expected"), [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2)),
    ("90m", timedelta(minutes=90)), ("45s", timedelta(seconds=45)), (" 7 d ", timedelta(days=7)),
])
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "-1d", "1y", "1.5h", ""])
def test_parse_age_refuses_other_shapes(text: str) -> None:
    with pytest.raises(ConfigError, match="write a number and a unit"):
        parse_age(text)


def test_parse_since_reads_ages_and_iso_times_as_utc() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T09:30:00+01:00").astimezone(UTC).hour == 8
    assert parse_since("2026-11-01T09:30:00Z").tzinfo is not None


def test_event_filter_refuses_unknown_statuses() -> None:
    with pytest.raises(ConfigError, match="unknown status lost"):
        EventFilter(statuses=("failed", "lost"))


def test_refusals_of_different_records_at_one_route_group_as_one_problem(tmp_path: Path, database_url: str) -> None:
    """A group event appends its user to the workspace by PATCH /v2/objects/workspaces/records/<id>:
    two such refusals differ only in the record id, so `history show` lists them as one problem."""
    world = make_world(tmp_path, database_url)
    world.app.fail_requests(400, method="PATCH", path="/workspaces/records/")
    result = world.sync([group(21, "u4", "ws-3", "initech.com"), group(22, "u5", "ws-4", "umbrella.com")])
    assert result.counts["rejected"] == 2
    cache = world.cache()
    patched = sorted(e.reason for e in find_events(cache, EventFilter(run_id=result.run_id)))
    assert patched[0] != patched[1]  # the stored reasons name two different records...
    (refused,) = problem_groups(cache, result.run_id)  # ...the summary names the route once
    assert (refused.status, refused.field) == ("rejected", "PATCH /v2/objects/workspaces/records/{id}")
    assert (refused.events, refused.lines) == (2, [1, 2]) and refused.reason.startswith("400 ")
    cache.close()


def test_problem_groups_count_events_and_keep_the_first_lines(world: World) -> None:
    groups = problem_groups(world.cache(), 1, examples=1)
    plan = next(g for g in groups if g.field == "people.plan")
    assert (plan.events, plan.lines) == (2, [10])
    # The two most common, ties broken by status (invalid before failed): 2 events each.
    top = problem_groups(world.cache(), 1, top=2)
    assert [(g.status, g.field, g.events) for g in top] == [
        ("invalid", "people.plan", 2), ("failed", "PUT /v2/objects/people/records", 2)]


def test_counts_come_from_the_event_rows_when_they_disagree_with_the_run_row(tmp_path: Path, database_url: str) -> None:
    cache = make_world(tmp_path, database_url).cache()
    with cache.session() as session:  # as if killed after committing events, before their counts
        run_row = session.get(Run, 1)
        assert run_row is not None
        run_row.synced = 0
    (run,), total = list_runs(cache)
    assert total == 1 and run.counts["synced"] == 7 and run.has_detail and run.seconds is not None
    assert get_run(cache).id == 1
    with pytest.raises(ConfigError, match="no run 7"):
        get_run(cache, 7)


def test_filters_combine(world: World) -> None:
    cache = world.cache()
    where = EventFilter(run_id=1, statuses=("synced",), since=utcnow() - timedelta(hours=1))
    assert count_events(cache, where) == 7
    assert [e.line for e in find_events(cache, where, limit=2, offset=1)] == [2, 4]
    assert count_events(cache, EventFilter(email="u1@example.com", statuses=("failed",))) == 0


def test_export_streams_in_input_order_whatever_the_order_events_finished(world: World) -> None:
    cache = world.cache()
    with cache.session() as session:  # rows are stored as events finish, not in line order
        stored = [e.line for e in session.exec(select(EventRecord).order_by(col(EventRecord.id)))]
    stream = io.StringIO()
    assert export_events(cache, EventFilter(run_id=1), stream, "jsonl") == 14
    exported = [json.loads(line)["line"] for line in stream.getvalue().splitlines()]
    assert exported == sorted(stored) == list(range(1, 15))


def test_trace_by_message_id_and_an_ambiguous_or_unknown_prefix(world: World) -> None:
    cache = world.cache()
    found = trace(cache, "m13")
    assert found.input["groupId"] == "ws-2" and found.steps[0].event["status"] == "synced"
    assert found.planned is not None
    assert {w["object"] for w in found.planned["writes"]} == {"companies", "workspaces"}
    with pytest.raises(ConfigError):
        trace(cache, "sha256:")  # too short a prefix to mean one line


def test_prune_with_a_clock_keeps_recent_runs_and_counts_only_once(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    cache = world.cache()
    assert prune(cache, timedelta(days=30)).runs == []
    later = utcnow() + timedelta(days=31)
    dry = prune(cache, timedelta(days=30), now=later, dry_run=True)
    assert (dry.runs, dry.events, dry.requests) == ([1], 14, 20)
    done = prune(cache, timedelta(days=30), now=later)
    assert (done.runs, done.events) == ([1], 14)
    (run,), _ = list_runs(cache)
    assert run.counts["synced"] == 7 and not run.has_detail
    assert prune(cache, timedelta(days=30), now=later).runs == []


def test_a_dry_runs_counts_are_its_run_row_though_it_records_only_its_problems(database_url: str) -> None:
    """A real run's event rows are the truth for its counts; a dry run's row is (a dry run
    may record only its events with problems, and count the rest)."""
    cache = open_cache(database_url)
    with cache.session() as session:
        dry = Run(started_at=utcnow(), state="finished", dry_run=True, synced=5, invalid=1, events=6)
        real = Run(started_at=utcnow(), state="finished", synced=0, invalid=1, events=1)
        clean = Run(started_at=utcnow(), state="finished", dry_run=True, synced=3, events=3)  # nothing to record
        session.add_all([dry, real, clean])
        session.flush()
        for run in (dry, real):
            assert run.id is not None
            for line, status in enumerate(("invalid", "synced") if run is real else ("invalid",), start=1):
                session.add(EventRecord(run_id=run.id, line=line, message_key=f"m{run.id}-{line}", status=status,
                                        finished_at=utcnow()))
    runs = {run.id: run for run in list_runs(cache)[0]}
    assert dry.id is not None and real.id is not None
    assert (runs[dry.id].counts["synced"], runs[dry.id].would_sync, runs[dry.id].has_detail) == (5, 5, True)
    assert (runs[real.id].counts["synced"], runs[real.id].counts["invalid"]) == (1, 1)
    assert clean.id is not None and runs[clean.id].has_detail and runs[clean.id].would_sync == 3


# -- problem keys: what the audit log stores for `history show` ---------------------------------


PLAN = {"field": "people.plan", "reason": "no option with this title or id", "input": "Platinum",
        "hint": "the closest option is 'Pro'"}


def test_a_problem_key_names_the_problems_as_show_groups_them() -> None:
    key = problem_key([PLAN], "people.plan: no option with this title or id")
    assert key is not None and key.startswith("1:") and len(key) <= 32
    # what `show` does not group by (the input, the hint, the event's own reason) changes nothing
    assert problem_key([{**PLAN, "input": "Gold", "hint": None}], "anything") == key
    refused = {"method": "PATCH", "status": 400, "code": "validation_type", "message": "bad",
               "path": "/v2/objects/workspaces/records/9f2c1e0a-0000-4000-8000-000000000001"}
    other_record = {**refused, "path": refused["path"].replace("0001", "0002")}
    assert problem_key([refused], "x") == problem_key([other_record], "y")
    # another field, reason or problem, or another record-less reason: another key
    assert len({key, problem_key([{**PLAN, "field": "people.name"}], ""),
                problem_key([{**PLAN, "reason": "archived"}], ""), problem_key([PLAN, refused], ""),
                problem_key(None, "users with user_id u-1 does not exist"),
                problem_key(None, "not JSON")}) == 6
    assert problem_key(None, "users with user_id u-1 does not exist") == problem_key([], "users with user_id u-2 "
                                                                                         "does not exist")
    # nothing to group: no key
    assert problem_key(None, "") is None and problem_key([], "") is None and problem_key(["odd", 7], "") is None
    assert problem_key([{"field": "people.name", "reason": "lone \ud83d surrogate"}], "") is not None


def test_the_upgrade_fills_in_the_keys_of_the_events_already_recorded(database_url: str) -> None:
    """Migration 0007 gives every event with a problem outcome recorded before it its key, in
    batches (more events than one batch here), and none to the others."""
    cache = open_cache(database_url)
    migrate(cache, "0006", down=True)
    shapes = [("invalid", [PLAN], "people.plan: no option"), ("failed", None, "users with user_id u-9 does not exist"),
              ("rejected", [{"method": "PUT", "path": "/v2/objects/people/records", "status": 400}], "PUT: 400"),
              ("invalid", [{"field": "(line)", "reason": "not JSON: Expecting value"}], "not JSON"),
              ("synced", None, ""), ("duplicate", None, "this messageId was already processed")]
    with cache.session() as session:
        run = Run(started_at=utcnow(), state="finished")
        session.add(run)
        session.flush()
        rows = [{"run_id": run.id, "line": line, "message_key": f"m{line}", "status": status, "reason": reason,
                 "problems": json.dumps(problems), "finished_at": utcnow(), "seconds": 0.0}
                for line, (status, problems, reason) in enumerate(shapes * 900, start=1)]
        session.execute(text("INSERT INTO event (run_id, line, message_key, status, reason, problems, finished_at, "
                             "seconds) VALUES (:run_id, :line, :message_key, :status, :reason, :problems, "
                             ":finished_at, :seconds)"), rows)
    cache.close()
    cache = open_cache(database_url)  # upgraded on opening
    with cache.session() as session:
        stored = session.exec(select(EventRecord).order_by(col(EventRecord.line))).all()
    assert len(stored) == len(shapes) * 900 > 5000
    for event in stored:
        expected = problem_key(event.problems, event.reason) if event.status in history.PROBLEM_STATUSES else None
        assert event.problem_key == expected, event
    assert sum(event.problem_key is not None for event in stored) == 4 * 900
    groups = problem_groups(cache, run.id or 0)
    assert [(g.status, g.field, g.events, g.lines) for g in groups] == [
        ("invalid", "(line)", 900, [4, 10, 16, 22, 28]), ("invalid", "people.plan", 900, [1, 7, 13, 19, 25]),
        ("rejected", "PUT /v2/objects/people/records", 900, [3, 9, 15, 21, 27]),
        ("failed", "(event)", 900, [2, 8, 14, 20, 26])]
    cache.close()


def test_a_real_sync_records_each_events_problem_key(world: World) -> None:
    """The audit log stores `problem_key(problems, reason)` with every outcome that has a
    problem (as migration 0007 fills it), so that `show` counts a run's problems from an index
    (events without a key are parsed one by one)."""
    cache = world.cache()
    with cache.session() as session:
        events = session.exec(select(EventRecord).where(col(EventRecord.run_id) == 1)).all()
    cache.close()
    assert sum(e.status in history.PROBLEM_STATUSES for e in events) == 7
    assert all(e.problem_key is not None for e in events if e.status in history.PROBLEM_STATUSES)
    assert [e.problem_key for e in events] == [problem_key(e.problems, e.reason)
                                               if e.status in history.PROBLEM_STATUSES else None for e in events]


def test_an_audit_file_is_a_current_sqlite_file_read_only(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    url = f"sqlite:///{db}"
    assert open_audit_file(url) is None  # no file yet: the cache makes it
    cache = open_cache(str(db))
    with cache.session() as session:
        run = Run(started_at=utcnow() - timedelta(days=40), state="finished", synced=1, events=1)
        session.add(run)
        session.flush()
        session.add(EventRecord(run_id=run.id or 0, line=1, message_key="m1", status="synced", finished_at=utcnow()))
    cache.close()
    audit = open_audit_file(url)
    assert audit is not None and audit.url == url and audit.path == db
    assert prune(audit, timedelta(days=30), dry_run=True).events == 1
    with pytest.raises(CacheError, match=f"database {url}: .*readonly"):
        prune(audit, timedelta(days=30))  # SQLite refuses the write
    assert count_events(audit, EventFilter()) == 1
    audit.close()
    for other in ("sqlite://", f"{url}?mode=ro", f"sqlite+pysqlite:///{db}", "postgresql+psycopg://u@/db"):
        assert open_audit_file(other) is None, other
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0006'")  # to be upgraded first
    assert open_audit_file(url) is None
