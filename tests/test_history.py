"""`toolkit.history` as a library: grouping, filters, times, export order, prune."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from history_harness import World, group, make_world
from sqlmodel import col, select

from toolkit.cache import utcnow
from toolkit.errors import ConfigError
from toolkit.history import (
    EventFilter,
    count_events,
    export_events,
    find_events,
    get_run,
    list_runs,
    parse_age,
    parse_since,
    problem_groups,
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
