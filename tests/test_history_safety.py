"""`history` on whatever the database holds: runs killed mid-way (heartbeats), odd but valid
rows, and an export that must never harm the database or a file it was not told to replace.

Rows are inserted directly, so these tests do not depend on the sync engine.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from databases import is_postgres
from sqlmodel import select

import toolkit.history
from toolkit.cache import Cache, open_cache, storable_text, utcnow
from toolkit.cli import cli
from toolkit.errors import ConfigError
from toolkit.heartbeat import STALE_AFTER_SECONDS, effective_state
from toolkit.history import EventFilter, export_to_file, get_run, list_runs, prune
from toolkit.models import EventRecord, RequestRecord, Run

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def invoke(db: Path | str, *args: str) -> Result:
    """`attio-sync ARGS --db DB` through click's runner."""
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


def json_of(db: Path | str, *args: str) -> Any:
    result = invoke(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def add_run(cache: Cache, *, state: str = "finished", started: datetime | None = None,
            heartbeat: datetime | None = None, events: int = 0) -> int:
    """A run row (with `events` synced event rows and one request each); returns its id."""
    started = started or utcnow()
    with cache.session() as session:
        run = Run(started_at=started, state=state, heartbeat_at=heartbeat, input="events.jsonl",
                  finished_at=None if state == "running" else started + timedelta(seconds=3), synced=events,
                  events=events)
        session.add(run)
        session.flush()
        assert run.id is not None
        for line in range(1, events + 1):
            session.add(EventRecord(run_id=run.id, line=line, message_key=f"r{run.id}-m{line}", status="synced",
                                    finished_at=started))
            session.add(RequestRecord(run_id=run.id, message_key=f"r{run.id}-m{line}", method="PUT",
                                      path="/v2/objects/people/records", status=200, started_at=started))
        return run.id


# -- heartbeat: a killed run is interrupted, not running forever ------------------------------------


@pytest.mark.parametrize(("state", "age", "expected"), [
    ("running", 0, "running"),
    ("running", STALE_AFTER_SECONDS - 1, "running"),
    ("running", STALE_AFTER_SECONDS, "running"),  # older than, not as old as
    ("running", STALE_AFTER_SECONDS + 1, "interrupted"),
    ("running", 3600, "interrupted"),
    ("running", -60, "running"),  # a clock a little ahead
    ("running", None, "interrupted"),
    ("finished", 3600, "finished"),
    ("interrupted", 0, "interrupted"),
    ("failed", None, "failed"),
])
def test_effective_state(state: str, age: int | None, expected: str) -> None:
    beat = None if age is None else NOW - timedelta(seconds=age)
    assert effective_state(state, beat, NOW) == expected


def test_effective_state_takes_naive_datetimes_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    fresh, stale = NOW - timedelta(seconds=5), NOW - timedelta(minutes=5)
    assert effective_state("running", fresh.replace(tzinfo=None), NOW) == "running"
    assert effective_state("running", fresh, naive_now) == "running"
    assert effective_state("running", stale.replace(tzinfo=None), naive_now) == "interrupted"
    ahead = datetime(2026, 11, 29, 13, 0, 0, tzinfo=UTC).astimezone()  # any zone: the same instant
    assert effective_state("running", NOW, ahead) == "interrupted"


@pytest.fixture
def runs_db(database_url: str) -> tuple[str, dict[str, int]]:
    """One run of each kind, started an hour ago (but `new`, started just now)."""
    db = database_url
    cache = open_cache(db)
    now, hour_ago = utcnow(), utcnow() - timedelta(hours=1)
    ids = {
        "finished": add_run(cache, state="finished", started=hour_ago),
        "live": add_run(cache, state="running", started=hour_ago, heartbeat=now - timedelta(seconds=2)),
        "killed": add_run(cache, state="running", started=hour_ago, heartbeat=now - timedelta(minutes=10)),
        "old version": add_run(cache, state="running", started=hour_ago),  # no heartbeat column then
        "new": add_run(cache, state="running", started=now),  # no heartbeat yet, just started
        "stopped": add_run(cache, state="interrupted", started=hour_ago),
    }
    cache.close()
    return db, ids


EXPECTED_STATES = {"finished": "finished", "live": "running", "killed": "interrupted",
                   "old version": "interrupted", "new": "running", "stopped": "interrupted"}


def test_list_runs_and_get_run_show_a_stale_running_run_as_interrupted(runs_db: tuple[str, dict[str, int]]) -> None:
    db, ids = runs_db
    cache = open_cache(db)
    runs, _ = list_runs(cache)
    states = {run.id: run.state for run in runs}
    assert {name: states[run_id] for name, run_id in ids.items()} == EXPECTED_STATES
    assert {name: get_run(cache, run_id).state for name, run_id in ids.items()} == EXPECTED_STATES
    assert get_run(cache, ids["live"], now=utcnow() + timedelta(minutes=5)).state == "interrupted"
    cache.close()


def test_history_runs_and_show_print_the_effective_state(runs_db: tuple[str, dict[str, int]]) -> None:
    db, ids = runs_db
    data = json_of(db, "history", "runs")
    assert {run["id"]: run["state"] for run in data["runs"]} == {ids[k]: v for k, v in EXPECTED_STATES.items()}
    heartbeats = {run["id"]: run["heartbeat_at"] for run in data["runs"]}
    assert heartbeats[ids["old version"]] is None and heartbeats[ids["live"]].endswith("+00:00")
    table = invoke(db, "history", "runs")
    assert table.exit_code == 0
    rows = {line.split()[1]: line for line in table.output.splitlines() if line.split()[1:2] and
            line.split()[1].isdigit()}
    assert "[interrupted]" in rows[str(ids["killed"])] and "[running]" in rows[str(ids["live"])]
    assert "(sync, interrupted)" in invoke(db, "history", "show", str(ids["killed"])).output
    assert "(sync, running)" in invoke(db, "history", "show", str(ids["live"])).output
    assert json_of(db, "history", "show", str(ids["old version"]))["run"]["state"] == "interrupted"


def test_prune_treats_a_stale_running_run_as_finished_and_spares_a_live_one(database_url: str) -> None:
    cache = open_cache(database_url)
    now = utcnow()
    long_ago = now - timedelta(days=40)
    finished = add_run(cache, state="finished", started=long_ago, events=2)
    live = add_run(cache, state="running", started=long_ago, heartbeat=now - timedelta(seconds=3), events=2)
    killed = add_run(cache, state="running", started=long_ago, heartbeat=long_ago + timedelta(hours=1), events=2)
    old_version = add_run(cache, state="running", started=long_ago, events=2)

    dry = prune(cache, timedelta(days=30), now=now, dry_run=True)
    assert (dry.runs, dry.events, dry.requests) == ([finished, killed, old_version], 6, 6)
    done = prune(cache, timedelta(days=30), now=now)
    assert done.runs == [finished, killed, old_version]
    with cache.session() as session:
        events_left = set(session.exec(select(EventRecord.run_id)))
        requests_left = set(session.exec(select(RequestRecord.run_id)))
    assert events_left == requests_left == {live}
    assert get_run(cache, live, now=now).has_detail and not get_run(cache, killed, now=now).has_detail
    cache.close()


# -- odd but valid rows: every history command shows them -------------------------------------------


ODD_REASON = ("line one\nline two\ttabbed \x1b[31mred\x1b[0m \x07 bell \x00 nul \r return "
              "[bold]not markup[/bold] [/oops] 100% ends with a backslash \\")
LONG_RAW = "x" * 10_000
QUOTED_KEY = """key with "double" and 'single' quotes, 50% and _under_scores"""
EMOJI_KEY = "emoji 😀 and 𝕏 (non-BMP) key"
ODD_PROBLEMS = [
    {"field": "[/people.name]", "reason": "multi\nline [red]", "input": {"deep": [1, 2.5, None, True, {"e": "😀"}]},
     "hint": {"not": ["a", "string"]}},
    {"method": "PUT", "path": "/v2/objects/people/records", "status": None, "code": ["odd"], "message": "💩"},
    "a bare string problem",
    42,
    None,
    {"field": "people.name", "reason": "lone surrogate", "input": "\ud83d"},
]
ODD_WRITES = [
    {"object": "[/people]", "record_id": None, "values": [1, {"nested": []}], "appended": "not a list"},
    {"object": "users", "record_id": "rec [1]", "values": "a string", "appended": ["a", 2]},
    "a bare string write",
    {"no object": True},
    17,
]
# Valid JSON that a Python string reads with a lone surrogate in it.
SURROGATE_RAW = '{"type": "identify", "userId": "u\\ud83d", "traits": {"name": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀 \\u001b[2J"}}'


@dataclass
class Odd:
    """A database of odd rows: the keys of its events, and what was stored."""

    db: str
    rows: dict[str, dict[str, Any]]

    def text(self, value: str | None) -> str | None:
        """A stored text as it reads back: PostgreSQL text cannot hold a NUL, which is kept as
        its escape (`toolkit.cache.storable_text`); SQLite keeps any text as it is."""
        return storable_text(value) if value is not None and is_postgres(self.db) else value


@pytest.fixture(scope="module")
def odd(module_database_url: str) -> Odd:
    db = module_database_url
    cache = open_cache(db)
    run_id = add_run(cache, state="finished")
    rows: dict[str, dict[str, Any]] = {
        QUOTED_KEY: dict(line=1, message_id=QUOTED_KEY, event_type="identify", user_id=None, email=None,
                         status="invalid", reason=ODD_REASON, problems=ODD_PROBLEMS, writes=ODD_WRITES, raw=LONG_RAW),
        EMOJI_KEY: dict(line=2, message_id=None, event_type="[/weird type]", user_id="u 😀 [/x]", email="Ü@example.com",
                        status="rejected", reason="users with user_id 😀 does not exist", problems=[], writes=[],
                        raw=SURROGATE_RAW),
        "100%_done": dict(line=3, message_id="100%_done", event_type=None, user_id=None, email=None, status="synced",
                          reason="", problems=None, writes=None, raw=None),
        "dict-shaped": dict(line=4, message_id="dict-shaped", event_type="group", user_id="", email="",
                            status="failed", reason="\\", problems={"field": "x", "reason": "a dict, not a list"},
                            writes={"object": "people", "record_id": "r1"}, raw="[1, 2, 3]"),
    }
    with cache.session() as session:
        for key, row in rows.items():
            session.add(EventRecord(run_id=run_id, message_key=key, finished_at=utcnow(), seconds=0.5, **row))
        session.add(RequestRecord(run_id=run_id, message_key=QUOTED_KEY, method="PUT [/m]", path="/v2/[/p]\n",
                                  attempt=1, status=None, code="[/code]", message="line\nbreak \x1b[1m 😀",
                                  execution_id="[/exec]", record_id="[/rec]", latency=0.01, started_at=utcnow()))
    cache.close()
    return Odd(db, rows)


def test_events_table_and_json_show_odd_rows(odd: Odd) -> None:
    table = invoke(odd.db, "history", "events")
    assert table.exit_code == 0, table.output
    assert "events 1-4 of 4" in table.output
    assert "[/weird type]" in table.output and "u 😀 [/x]" in table.output and "100%_done" in table.output
    assert "\x1b" not in table.output and "\\x1b" in table.output  # shown, never sent to the terminal

    data = json_of(odd.db, "history", "events")
    assert data["total"] == 4
    by_key = {e["message_key"]: e for e in data["events"]}
    assert set(by_key) == set(odd.rows)
    for key, row in odd.rows.items():
        event = by_key[key]
        expected = (odd.text(row["reason"]), row["raw"], row["user_id"])
        assert (event["reason"], event["raw"], event["user_id"]) == expected
        assert event["problems"] == (row["problems"] or []) and event["writes"] == (row["writes"] or [])


@pytest.mark.parametrize("key", [QUOTED_KEY, EMOJI_KEY, "100%_done", "dict-shaped"])
def test_trace_shows_each_odd_row(odd: Odd, key: str) -> None:
    table = invoke(odd.db, "history", "trace", key)
    assert table.exit_code == 0, table.output
    assert "\x1b" not in table.output
    data = json_of(odd.db, "history", "trace", key)
    assert data["message_key"] == key
    (step,) = data["steps"]
    assert step["event"]["reason"] == odd.text(odd.rows[key]["reason"])


def test_trace_prints_odd_problems_writes_and_requests(odd: Odd) -> None:
    output = invoke(odd.db, "history", "trace", QUOTED_KEY).output
    assert "[/people.name]" in output and "a bare string problem" in output and "[/oops]" in output
    assert "[/people]" in output and "rec [1]" in output and "a bare string write" in output
    assert "[/exec]" in output and "PUT [/m]" in output
    assert LONG_RAW[:100] in output
    data = json_of(odd.db, "history", "trace", QUOTED_KEY)
    assert data["steps"][0]["record_ids"] == ["rec [1]"]
    assert data["steps"][0]["event"]["problems"][-1]["input"] == "\ud83d"  # JSON escapes it; it reads back

    emoji = invoke(odd.db, "history", "trace", EMOJI_KEY).output
    assert "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀" in emoji
    assert json_of(odd.db, "history", "trace", EMOJI_KEY)["input"]["userId"] == "u\ud83d"


def test_show_groups_odd_problems(odd: Odd) -> None:
    result = invoke(odd.db, "history", "show")
    assert result.exit_code == 0, result.output
    assert "[/people.name]" in result.output
    assert json_of(odd.db, "history", "show")["run"]["invalid"] == 1


def test_export_csv_and_jsonl_keep_odd_rows_exactly(odd: Odd, tmp_path: Path) -> None:
    for fmt in ("csv", "jsonl"):
        to_stdout = invoke(odd.db, "history", "export", "--format", fmt)
        assert to_stdout.exit_code == 0, to_stdout.output
        out = tmp_path / f"odd.{fmt}"
        to_file = invoke(odd.db, "history", "export", "--format", fmt, "--output", str(out))
        assert to_file.exit_code == 0, to_file.output
        assert "wrote 4 events" in to_file.stderr
        text = out.read_bytes().decode("utf-8")  # valid UTF-8, lone surrogates and all
        assert text.replace("\r\n", "\n") == to_stdout.stdout  # (the runner reads CSV's line ends so)
        if fmt == "csv":
            rows = {r["message_key"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
            for key, row in odd.rows.items():
                assert (rows[key]["reason"], rows[key]["raw"]) == (odd.text(row["reason"]), row["raw"] or "")
                assert json.loads(rows[key]["problems"]) == (row["problems"] or [])
                assert json.loads(rows[key]["writes"]) == (row["writes"] or [])
        else:
            exported = {r["message_key"]: r for r in map(json.loads, text.rstrip("\n").split("\n"))}
            for key, row in odd.rows.items():
                assert (exported[key]["reason"], exported[key]["raw"]) == (odd.text(row["reason"]), row["raw"])
                assert exported[key]["problems"] == (row["problems"] or [])
                assert exported[key]["writes"] == (row["writes"] or [])


# -- export never harms the database, nor a file it was not told to replace -------------------------


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A database with one run of three events; the tests run in its folder."""
    db = tmp_path / "attio-sync.db"
    cache = open_cache(str(db))
    add_run(cache, events=3)
    cache.close()
    return db


def events_in(db: Path) -> int:
    cache = open_cache(str(db))
    try:
        return len(toolkit.history.find_events(cache, EventFilter(), limit=None))
    finally:
        cache.close()


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    message = result.stderr.strip()
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", ["attio-sync.db", "attio-sync.db-wal", "attio-sync.db-shm",
                                  "attio-sync.db-journal", "./sub/../attio-sync.db"])
@pytest.mark.parametrize("force", [False, True])
def test_export_refuses_to_write_over_the_database_or_its_files(small: Path, name: str, force: bool,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(small.parent)
    (small.parent / "sub").mkdir()
    before = small.read_bytes()
    result = invoke(small, "history", "export", "--format", "csv", "--output", name, *(["--force"] if force else []))
    assert_one_line_error(result, "database in use", "choose another --output")
    assert small.read_bytes() == before and events_in(small) == 3


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_export_refuses_the_database_under_another_name(small: Path, link: str) -> None:
    other = small.parent / "elsewhere" / "copy.csv"
    other.parent.mkdir()
    (os.symlink if link == "symlink" else os.link)(small, other)
    before = small.read_bytes()
    result = invoke(small, "history", "export", "--format", "jsonl", "--output", str(other), "--force")
    assert_one_line_error(result, "database in use")
    assert small.read_bytes() == before and events_in(small) == 3


def test_export_refuses_an_existing_file_without_force(small: Path) -> None:
    out = small.parent / "report.csv"
    out.write_text("keep me\n")
    result = invoke(small, "history", "export", "--format", "csv", "--output", str(out))
    assert_one_line_error(result, "already exists", "--force")
    assert out.read_text() == "keep me\n"

    forced = invoke(small, "history", "export", "--format", "csv", "--output", str(out), "--force")
    assert forced.exit_code == 0 and "wrote 3 events" in forced.stderr
    assert len(list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))) == 3


def test_export_to_a_folder_that_does_not_exist_is_one_line(small: Path) -> None:
    out = small.parent / "no" / "such" / "folder" / "out.csv"
    result = invoke(small, "history", "export", "--format", "csv", "--output", str(out))
    assert_one_line_error(result, "does not exist", "--output")
    assert not out.parent.exists()


def test_export_writes_a_new_file_owner_only_and_an_overwritten_one_keeps_its_mode(small: Path) -> None:
    new = small.parent / "new.jsonl"
    assert invoke(small, "history", "export", "--format", "jsonl", "--output", str(new)).exit_code == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o600 and len(new.read_text().splitlines()) == 3
    shared = small.parent / "shared.jsonl"
    shared.write_text("old\n")
    shared.chmod(0o644)
    assert invoke(small, "history", "export", "--format", "jsonl", "--output", str(shared), "--force").exit_code == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644 and len(shared.read_text().splitlines()) == 3


class Boom(Exception):
    """Stands for anything that stops an export half-way."""


@pytest.mark.parametrize("failure", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [False, True])
def test_an_export_stopped_half_way_leaves_the_target_as_it_was_and_no_temporary_file(
        small: Path, monkeypatch: pytest.MonkeyPatch, failure: type[BaseException], existing: bool) -> None:
    real = toolkit.history._iter_events

    def fail_on_the_second_row(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for event in real(*args, **kwargs):
            if event["line"] == 2:
                raise failure()
            yield event

    monkeypatch.setattr(toolkit.history, "_iter_events", fail_on_the_second_row)
    out = small.parent / "out.csv"
    if existing:
        out.write_text("the previous export\n")
    before = sorted(p.name for p in small.parent.iterdir())
    cache = open_cache(str(small))
    with pytest.raises(failure):
        export_to_file(cache, EventFilter(), out, "csv", force=True)
    cache.close()
    assert sorted(p.name for p in small.parent.iterdir()) == before
    assert (out.read_text() if existing else out.exists()) == ("the previous export\n" if existing else False)


def test_a_write_error_is_one_line_and_leaves_no_temporary_file(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*_args: Any, **_kwargs: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(toolkit.history, "export_events", disk_full)
    before = sorted(p.name for p in small.parent.iterdir())
    result = invoke(small, "history", "export", "--format", "csv", "--output", str(small.parent / "out.csv"))
    assert_one_line_error(result, "No space left on device")
    assert sorted(p.name for p in small.parent.iterdir()) == before


def test_export_to_file_refuses_the_database_as_a_library_call_too(small: Path) -> None:
    cache = open_cache(str(small))
    with pytest.raises(ConfigError, match="database in use"):
        export_to_file(cache, EventFilter(), small, "csv", force=True)
    cache.close()
