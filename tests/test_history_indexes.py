"""`history` at scale (issue 16): what the queries read, and that reading less changed nothing.

Timings are bench/history.py's; here, on SQLite, each question `toolkit.history` asks of one run
is answered from an index (migrations 0006 and 0007), never by reading the event or request
table whole, and an export reads its rows in order without sorting them. And the faster
`problem_groups` (problems counted per key), listing and export give what the straightforward
way gives, on SQLite and PostgreSQL, through a `Cache` and through an `AuditFile` alike.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from databases import sqlite_only
from sqlalchemy import event, func
from sqlmodel import col, select

from toolkit import history
from toolkit.cache import Cache, open_cache, utcnow
from toolkit.history import AuditFile, EventFilter, ProblemGroup, event_dict, json_text, open_audit_file
from toolkit.models import EventRecord, RequestRecord, Run

PATH = "/v2/objects/people/records/{}/attributes/plan/values"


def _problems(rng: random.Random, line: int) -> tuple[str, Any]:
    """A reason and problems of every shape `problem_groups` reads, hints varying by line."""
    shape = rng.randrange(8)
    if shape == 0:
        return "people.plan: no option", [{"field": "people.plan", "reason": "no option", "input": f"P{line}",
                                           "hint": f"closest to P{line}"}]
    if shape == 1:  # two problems, one of them twice
        twice = {"field": "people.name", "reason": "empty"}
        return "two", [twice, {"field": "people.phone", "reason": "too short", "hint": None}, twice]
    if shape == 2:
        return "not JSON: at 3", [{"field": "(line)", "reason": f"not JSON: Expecting value: column {line}"}]
    if shape == 3:  # Attio refused: the path's record id is left out of the group
        record = f"{rng.getrandbits(32):08x}-0000-4000-8000-{line:012x}"
        return "PUT ...: 400", [{"status": 400, "code": "validation_type", "message": "bad", "method": "PUT",
                                 "path": PATH.format(record)}]
    if shape == 4:
        return "PUT ...: no answer", [{"status": None, "code": None, "message": "timed out", "method": "PUT",
                                       "path": "/v2/objects/users/records"}]
    if shape == 5:  # no problems stored: the reason, its record name left out
        return f"users with user_id u-{line} does not exist", None
    if shape == 6:  # not written by attio-sync: a lone object, and a list of odd items
        return "odd", {"field": "x", "reason": "a dict"}
    return "odd list", ["a bare string", 7, {"field": "people.plan", "reason": "no option", "hint": "late hint"}]


#: How the `mixed` rows carry their problem keys: as the audit log records them, not at all (an
#: older version's rows), some of each, or made by other rules than today's (another version).
KEYS = ("recorded", "none", "some", "other rules")


def _key(mode: str, line: int, problems: Any, reason: str) -> str | None:
    key = history.problem_key(problems, reason)
    if key is None or mode == "recorded" or (mode == "some" and line % 3):
        return key
    return None if mode != "other rules" else "0:" + key[2:]


@pytest.fixture(params=["recorded"])
def mixed(request: pytest.FixtureRequest, database_url: str) -> Iterator[Cache]:
    """Two runs whose 400 problem events are stored out of line order, with their requests; the
    problem keys as `request.param` says (one of `KEYS`)."""
    cache = open_cache(database_url)
    rng = random.Random(16)
    with cache.session() as session:
        runs = [Run(started_at=utcnow() - timedelta(days=days), state="finished") for days in (40, 1)]
        session.add_all(runs)
        session.flush()
        rows: list[dict[str, Any]] = []
        for run in runs:
            lines = list(range(1, 401))
            rng.shuffle(lines)
            for line in lines:
                status = rng.choice(("invalid", "rejected", "failed", "synced", "unchanged"))
                reason, problems = _problems(rng, line) if status not in ("synced", "unchanged") else ("", None)
                key = f"m{run.id}-{line}" if line % 7 else f"sha256:{line:056x}{'f' * 8}"
                rows.append({"run_id": run.id, "line": line, "message_key": key,
                             "message_id": None if key.startswith("sha256:") else key, "event_type": "identify",
                             "user_id": f"u{line % 50}", "email": f"U{line % 50}@Example.com", "status": status,
                             "reason": reason, "problems": problems, "writes": [{"object": "people", "sent": True}],
                             "raw": json.dumps({"line": line}), "finished_at": utcnow() - timedelta(minutes=line),
                             "seconds": 0.25, "problem_key": _key(request.param, line, problems, reason)})
        session.execute(EventRecord.__table__.insert(), rows)  # type: ignore[attr-defined]
        session.execute(RequestRecord.__table__.insert(), [  # type: ignore[attr-defined]
            {"run_id": row["run_id"], "message_key": row["message_key"], "method": "PUT", "path": "/v2/x",
             "attempt": 1, "status": 200, "latency": rng.random(), "started_at": utcnow()} for row in rows])
    yield cache
    cache.close()


def _reference_groups(cache: Cache, run_id: int, *, top: int, examples: int) -> list[ProblemGroup]:
    """`problem_groups` the straightforward way: whole rows in line order, grouped as they come."""
    groups: dict[tuple[str, str, str], ProblemGroup] = {}
    with cache.session() as session:
        rows = session.exec(select(EventRecord).where(col(EventRecord.run_id) == run_id,
                                                      col(EventRecord.status).in_(history.PROBLEM_STATUSES))
                            .order_by(col(EventRecord.line), col(EventRecord.id)))
        for row in rows:
            for where, reason, hint in history._problem_keys(row.problems, row.reason):
                group = groups.setdefault((row.status, where, reason), ProblemGroup(row.status, where, reason, 0,
                                                                                    hint=hint))
                group.events += 1
                if len(group.lines) < examples:
                    group.lines.append(row.line)
    ordered = sorted(groups.values(), key=lambda g: (-g.events, history.PROBLEM_STATUSES.index(g.status), g.field))
    return ordered[:top]


@contextmanager
def _ways_in(cache: Cache) -> Iterator[list[Cache | AuditFile]]:
    """The database as a `Cache` and, on SQLite, as an `AuditFile` too."""
    audit = open_audit_file(f"sqlite:///{cache.engine.url.database}") if cache.engine.dialect.name == "sqlite" else None
    try:
        yield [cache] if audit is None else [cache, audit]
    finally:
        if audit is not None:
            audit.close()


@pytest.mark.parametrize("mixed", KEYS, indirect=True)
@pytest.mark.parametrize(("top", "examples"), [(100, 5), (3, 1), (100, 0), (100, 400)])
def test_problem_groups_are_the_straightforward_ones(mixed: Cache, top: int, examples: int) -> None:
    with _ways_in(mixed) as ways:
        for db in ways:
            for run_id in (1, 2):
                found = history.problem_groups(db, run_id, top=top, examples=examples)
                assert found == _reference_groups(mixed, run_id, top=top, examples=examples)
    every = history.problem_groups(mixed, 2, top=100)
    assert any(g.field == "PUT /v2/objects/people/records/{id}/attributes/plan/values" for g in every)


@pytest.mark.parametrize("mixed", ["recorded", "some"], indirect=True)
def test_problem_groups_parse_one_event_per_key(mixed: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every event keyed, a run's problems are parsed once per (status, key), not once per
    event; rows without a key are parsed one by one (each distinct text once)."""
    parsed: list[Any] = []
    real = history._problem_keys

    def counted(problems: Any, reason: str) -> Iterator[tuple[str, str, str | None]]:
        parsed.append(problems)
        return real(problems, reason)

    monkeypatch.setattr(history, "_problem_keys", counted)
    history.problem_groups(mixed, 2)
    with mixed.session() as session:
        rows = session.exec(select(EventRecord.status, EventRecord.problem_key, EventRecord.problems,
                                   EventRecord.reason)
                            .where(col(EventRecord.run_id) == 2, col(EventRecord.status).in_(history.PROBLEM_STATUSES)))
        keyed, unkeyed = set(), set()
        for status, key, problems, reason in rows:
            if key is None:
                unkeyed.add((json.dumps(problems), reason))
            else:
                keyed.add((status, key))
    assert len(keyed) > 5
    assert len(parsed) == len(keyed) + len(unkeyed)


def _reference_events(cache: Cache, where: EventFilter) -> list[EventRecord]:
    """The events `where` matches, the straightforward way: the ORM, by run, line and id."""
    clauses: list[Any] = []
    if where.run_id is not None:
        clauses.append(col(EventRecord.run_id) == where.run_id)
    if where.statuses:
        clauses.append(col(EventRecord.status).in_(where.statuses))
    if where.email is not None:
        clauses.append(func.lower(col(EventRecord.email)) == where.email.lower())
    if where.since is not None:
        clauses.append(col(EventRecord.finished_at) >= where.since)
    with cache.session() as session:
        return list(session.exec(select(EventRecord).where(*clauses)
                                 .order_by(col(EventRecord.run_id), col(EventRecord.line), col(EventRecord.id))))


FILTERS = [EventFilter(), EventFilter(run_id=2, statuses=("invalid", "failed")), EventFilter(email="u7@example.COM"),
           EventFilter(since=utcnow() - timedelta(minutes=90)),
           EventFilter(run_id=1, since=utcnow() - timedelta(hours=3))]


def test_an_export_is_each_event_as_event_dict_shows_it(mixed: Cache) -> None:
    with _ways_in(mixed) as ways:
        for where in FILTERS:
            expected = [event_dict(row, full=True) for row in _reference_events(mixed, where)]
            for db in ways:
                stream = io.StringIO()
                assert history.export_events(db, where, stream, "jsonl") == len(expected) > 0
                assert stream.getvalue() == "".join(json_text(row) + "\n" for row in expected)


@pytest.mark.parametrize(("limit", "offset"), [(50, 0), (7, 30), (None, 5), (1000, 0)])
def test_events_listed_are_the_straightforward_ones(mixed: Cache, limit: int | None, offset: int) -> None:
    """Listing pages by run, line and id whichever index a filter reads (a time: its own, sorted)."""
    with _ways_in(mixed) as ways:
        for where in FILTERS:
            reference = [event_dict(row, full=True) for row in _reference_events(mixed, where)]
            expected = reference[offset:None if limit is None else offset + limit]
            for db in ways:
                assert history.count_events(db, where) == len(reference)
                assert [event_dict(e, full=True) for e in history.find_events(db, where, limit=limit,
                                                                              offset=offset)] == expected


# -- what each question reads, on SQLite ------------------------------------------------------


@contextmanager
def _plans(cache: Cache) -> Iterator[list[str]]:
    """The query plan of every SELECT run on `cache` inside the block, one line per step."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(cache.engine, "before_cursor_execute", record)
    plans: list[str] = []
    try:
        yield plans
    finally:
        event.remove(cache.engine, "before_cursor_execute", record)
    database = cache.engine.url.database
    assert database
    with sqlite3.connect(database) as connection:
        for statement, parameters in statements:
            steps = connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans.extend(str(step[3]) for step in steps)


def _listed(cache: Cache, where: EventFilter) -> object:
    """What `history events` asks: how many, and the first page."""
    return history.count_events(cache, where), history.find_events(cache, where)


ASKED: dict[str, Callable[[Cache], object]] = {
    "runs": lambda cache: history.list_runs(cache),
    "show": lambda cache: history.run_summary(cache, 2),
    "events of a run by status": lambda cache: _listed(cache, EventFilter(run_id=2, statuses=("failed",))),
    "events by email": lambda cache: _listed(cache, EventFilter(email="u7@example.com")),
    "how many since": lambda cache: history.count_events(cache, EventFilter(since=utcnow() - timedelta(minutes=30))),
    "events since": lambda cache: _listed(cache, EventFilter(since=utcnow() - timedelta(minutes=30))),
    "trace": lambda cache: history.trace(cache, "m2-10", plan=False),
    "trace by key prefix": lambda cache: history.trace(cache, f"sha256:{7:056x}ff", plan=False),
    "prune, dry": lambda cache: history.prune(cache, timedelta(days=30), dry_run=True),
    "export of a run": lambda cache: history.export_events(cache, EventFilter(run_id=2), io.StringIO(), "csv"),
}


@sqlite_only
@pytest.mark.parametrize("asked", sorted(ASKED))
def test_each_question_of_a_run_reads_an_index_not_a_table(mixed: Cache, asked: str) -> None:
    with _plans(mixed) as plans:
        ASKED[asked](mixed)
    touched = [p for p in plans if " event" in p or " request" in p]
    assert touched, plans
    whole = [p for p in touched if p.startswith("SCAN")]
    assert not whole, f"{asked} reads a table whole: {whole}"
    if asked == "export of a run":
        assert not [p for p in plans if "TEMP B-TREE" in p], plans  # streamed in order, never sorted
    if asked == "trace":  # its requests by message, not every request of its runs
        assert any("ix_request_message_key" in p for p in plans), plans
    if asked == "events since":  # the time's matches from its index, not every event in (run, line) order
        assert not [p for p in plans if "ix_event_run_id_line_id" in p], plans
        assert any("COVERING INDEX ix_event_finished_at_run_id_line_id" in p for p in plans), plans
    if asked == "show":  # problems counted per key from the index alone
        assert any("COVERING INDEX ix_event_run_id_status_problem_key" in p for p in plans), plans


@sqlite_only
def test_the_email_index_is_on_lower_case(mixed: Cache) -> None:
    with _plans(mixed) as plans:
        history.count_events(mixed, EventFilter(email="U7@EXAMPLE.COM"))
    assert any("ix_event_email_lower" in p for p in plans), plans
    assert history.count_events(mixed, EventFilter(email="U7@EXAMPLE.COM")) == 16


def test_the_indexes_exist(mixed: Cache, tmp_path: Path) -> None:
    from sqlalchemy import inspect

    if mixed.engine.dialect.name != "postgresql":
        with sqlite3.connect(mixed.engine.url.database or "") as connection:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    else:
        names = {i["name"] for t in ("event", "request") for i in inspect(mixed.engine).get_indexes(t)}
    assert {"ix_event_run_id_line_id", "ix_event_run_id_status_problem_key", "ix_event_message_id",
            "ix_event_email_lower", "ix_event_finished_at_run_id_line_id", "ix_request_run_id_latency",
            "ix_request_run_id_status"} <= names
    assert not {"ix_event_run_id", "ix_event_email", "ix_request_run_id", "ix_event_run_id_status",
                "ix_event_finished_at"} & names
