"""`attio-sync history ...` through click's runner, on a database filled by a real sync
against the sandbox (see `history_harness` for what run 1 holds)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from history_harness import World, make_world, migrate
from sqlmodel import col, select

from toolkit.history import AuditFile, open_audit_file
from toolkit.models import EventRecord


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> World:
    """One world for the read-only commands (prune gets its own)."""
    return make_world(tmp_path_factory.mktemp("history"), module_database_url)


def lines(events: list[dict[str, object]]) -> list[object]:
    return [e["line"] for e in events]


# -- runs ----------------------------------------------------------------------------------------


def test_runs_lists_each_run_with_start_duration_input_mapping_and_counts(world: World) -> None:
    data = world.json("history", "runs")
    assert data["total"] == 1
    (run,) = data["runs"]
    assert run["id"] == 1 and run["command"] == "sync" and run["state"] == "finished"
    assert run["input"] == str(world.events) and run["mapping"] == str(world.mapping)
    assert (run["synced"], run["invalid"], run["rejected"], run["failed"], run["events"]) == (7, 4, 1, 2, 14)
    assert run["seconds"] >= 0 and run["started_at"].endswith("+00:00")

    table = world.invoke("history", "runs")
    assert table.exit_code == 0
    assert "runs 1-1 of 1" in table.output and "events.jsonl" in table.output


def test_runs_pages_with_limit_and_offset(world: World) -> None:
    assert world.json("history", "runs", "--offset", "1")["runs"] == []
    assert "no runs after --offset 1" in world.invoke("history", "runs", "--offset", "1").output


# -- show ----------------------------------------------------------------------------------------


def test_show_groups_problems_by_field_and_reason_most_common_first(world: World) -> None:
    data = world.json("history", "show", "1")
    groups = {(p["status"], p["field"]): p for p in data["problems"]}
    plan = groups[("invalid", "people.plan")]
    assert plan["events"] == 2 and plan["lines"] == [10, 14] and "Enterprise" in plan["hint"]
    assert data["problems"][0]["field"] == "people.plan"  # the most common first
    assert groups[("invalid", "people.phone_numbers")]["lines"] == [9]
    assert groups[("invalid", "(line)")]["reason"] == "not JSON"
    failed = groups[("failed", "PUT /v2/objects/people/records")]
    assert failed["events"] == 2 and failed["lines"] == [3, 7] and "503" in failed["reason"]
    rejected = groups[("rejected", "PUT /v2/objects/companies/records")]
    assert rejected["lines"] == [12] and "400" in rejected["reason"]


def test_show_lists_the_slowest_requests_and_attempts_by_status(world: World) -> None:
    data = world.json("history", "show", "1")
    latencies = [r["latency"] for r in data["slowest_requests"]]
    assert latencies == sorted(latencies, reverse=True) and len(latencies) == 5
    assert data["attempts_by_status"]["503"] == 4  # two failing events, two attempts each

    table = world.invoke("history", "show")  # the newest run by default
    assert table.exit_code == 0
    assert "most common problems" in table.output and "slowest requests" in table.output
    assert "people.plan" in table.output
    assert "attio-sync retry 1 --status failed,rejected" in table.output


def test_show_of_an_unknown_run_is_one_line_and_exit_1(world: World) -> None:
    result = world.invoke("history", "show", "99")
    assert result.exit_code == 1
    assert "no run 99" in result.output and "Traceback" not in result.output


# -- events --------------------------------------------------------------------------------------


def test_events_filter_by_run_and_status(world: World) -> None:
    data = world.json("history", "events", "--run", "1", "--status", "invalid,rejected")
    assert data["total"] == 5 and lines(data["events"]) == [9, 10, 11, 12, 14]
    assert all(e["reason"] for e in data["events"])
    assert world.json("history", "events", "--run", "2")["events"] == []


def test_events_filter_by_user_id_and_email_any_case(world: World) -> None:
    assert lines(world.json("history", "events", "--user-id", "u1")["events"]) == [1, 13]
    assert lines(world.json("history", "events", "--email", "U2@Example.COM")["events"]) == [2]


def test_events_filter_by_since_an_age_or_a_time(world: World) -> None:
    assert world.json("history", "events", "--since", "1h")["total"] == 14
    assert world.json("history", "events", "--since", "2099-01-01")["total"] == 0
    result = world.invoke("history", "events", "--since", "yesterday")  # a usage error: exit status 2
    assert result.exit_code == 2 and "cannot read the time 'yesterday'" in result.output


def test_events_pages_and_says_how_to_see_more(world: World) -> None:
    data = world.json("history", "events", "--limit", "3", "--offset", "3")
    assert lines(data["events"]) == [4, 5, 6] and data["total"] == 14
    table = world.invoke("history", "events", "--limit", "3", "--offset", "3")
    assert "events 4-6 of 14; --offset 6 for more" in table.output


def test_events_refuse_an_unknown_status(world: World) -> None:
    result = world.invoke("history", "events", "--status", "lost")
    assert result.exit_code == 2 and "unknown status lost" in result.output


# -- trace ---------------------------------------------------------------------------------------


def test_trace_shows_input_mapped_values_requests_and_record_ids(world: World) -> None:
    data = world.json("history", "trace", "m1")
    assert data["input"]["userId"] == "u1"
    assert data["planned"]["ok"] is True
    person = data["planned"]["writes"][0]
    assert person["object"] == "people" and person["values"]["plan"] == [{"option": "Pro"}]
    (step,) = data["steps"]
    assert step["event"]["status"] == "synced"
    assert [r["status"] for r in step["requests"]] == [200, 200]
    assert all(r["execution_id"] for r in step["requests"])
    people = [r for r in world.app.dump()["people"]
              if any(v.get("email_address") == "u1@example.com" for v in r["values"]["email_addresses"])]
    assert people[0]["id"]["record_id"] in step["record_ids"]
    assert step["requests"][0]["record_id"] == people[0]["id"]["record_id"]  # the record each request wrote

    table = world.invoke("history", "trace", "m1")
    assert table.exit_code == 0
    assert people[0]["id"]["record_id"] in table.output and "PUT /v2/objects/people/records" in table.output


def test_trace_of_a_failed_event_shows_each_attempt_and_attios_answer(world: World) -> None:
    (step,) = world.json("history", "trace", "m3")["steps"]
    assert step["event"]["status"] == "failed"
    assert [(r["attempt"], r["status"], r["code"]) for r in step["requests"]] == [
        (1, 503, "service_unavailable"), (2, 503, "service_unavailable")]


def test_trace_of_an_invalid_event_shows_the_problem_and_its_input(world: World) -> None:
    data = world.json("history", "trace", "m9")
    assert data["steps"][0]["event"]["problems"][0]["input"] == "7946 0958"
    assert data["planned"]["ok"] is False
    assert "too short to be a phone number" in world.invoke("history", "trace", "m9").output


def test_trace_finds_a_line_without_message_id_by_its_key_prefix(world: World) -> None:
    (event,) = world.json("history", "events", "--run", "1", "--status", "invalid", "--limit", "1", "--offset", "2")[
        "events"]
    assert event["line"] == 11
    data = world.json("history", "trace", event["message_key"][:24])
    assert data["message_key"] == event["message_key"] and isinstance(data["input"], str)


def test_trace_of_an_unknown_message_is_one_line_and_exit_1(world: World) -> None:
    result = world.invoke("history", "trace", "nope")
    assert result.exit_code == 1 and "no event with messageId or key 'nope'" in result.output


# -- export --------------------------------------------------------------------------------------


def test_export_csv_to_a_file(world: World, tmp_path: Path) -> None:
    out = tmp_path / "rejected.csv"
    result = world.invoke("history", "export", "--status", "invalid,rejected", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0 and "wrote 5 events" in result.stderr
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["line"]) for r in rows] == [9, 10, 11, 12, 14]
    assert json.loads(rows[0]["problems"])[0]["field"] == "people.phone_numbers"
    assert json.loads(rows[0]["raw"])["messageId"] == "m9"


def test_export_jsonl_to_standard_output(world: World) -> None:
    result = world.invoke("history", "export", "--run", "1", "--user-id", "u1", "--format", "jsonl")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in io.StringIO(result.stdout)]
    assert [r["message_id"] for r in rows] == ["m1", "m13"]
    assert rows[0]["writes"][0]["object"] == "people"


def test_export_needs_a_format(world: World) -> None:
    assert world.invoke("history", "export").exit_code == 2


# -- prune ---------------------------------------------------------------------------------------


def test_prune_removes_old_detail_and_keeps_run_summaries(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    assert world.json("history", "prune", "--older-than", "30d")["events"] == 0  # run 1 is minutes old

    dry = world.json("history", "prune", "--older-than", "0s", "--dry-run")
    assert (dry["runs"], dry["events"], dry["dry_run"]) == ([1], 14, True)
    assert world.json("history", "events")["total"] == 14

    result = world.invoke("history", "prune", "--older-than", "0s")
    assert result.exit_code == 0 and "removed 14 events and 20 requests" in result.output
    assert world.json("history", "events")["total"] == 0
    (run,) = world.json("history", "runs")["runs"]
    assert (run["synced"], run["failed"], run["has_detail"]) == (7, 2, False)  # the summary stays
    assert "detail was pruned" in world.invoke("history", "show", "1").output
    again = world.json("history", "prune", "--older-than", "0s")
    assert again["runs"] == [] and again["events"] == 0


def test_prune_refuses_an_age_it_cannot_read(world: World) -> None:
    result = world.invoke("history", "prune", "--older-than", "a month")
    assert result.exit_code == 2 and "cannot read the age 'a month'" in result.output


# -- a dry run ------------------------------------------------------------------------------------


def test_a_dry_runs_would_be_writes_are_never_counted_as_synced(tmp_path: Path, database_url: str) -> None:
    world = make_world(tmp_path, database_url)
    rehearsal = world.invoke("sync", str(world.events), "--mapping", str(world.mapping), "--dry-run", "--json")
    dry_id = json.loads(rehearsal.stdout)["run_id"]
    runs = {r["id"]: r for r in world.json("history", "runs")["runs"]}
    assert (runs[dry_id]["dry_run"], runs[dry_id]["synced"]) == (True, 0) and runs[dry_id]["would_sync"] > 0
    assert (runs[1]["synced"], runs[1]["would_sync"]) == (7, 0)
    assert runs[dry_id]["events"] == 14  # every line still has its outcome

    table = world.invoke("history", "runs").output
    header = next(line for line in table.splitlines() if "would sync" in line)
    assert header.index("synced") < header.index("would sync") < header.index("unchanged")
    assert "would sync" in world.invoke("history", "show", str(dry_id)).output
    shown = world.json("history", "show", str(dry_id))["run"]
    assert shown["synced"] == 0 and shown["would_sync"] == runs[dry_id]["would_sync"]


def test_trace_with_a_key_prefix_too_short_says_how_long_it_must_be(world: World) -> None:
    result = world.invoke("history", "trace", "sha256:0123")
    assert result.exit_code == 1
    assert "give at least 15 characters" in result.output and "Traceback" not in result.output


# -- a current SQLite file, read without SQLAlchemy ------------------------------------------------


#: Each command that only reads (tables, and JSON where it has it).
READS = [("history", "runs"), ("history", "runs", "--json"), ("history", "show"), ("history", "show", "1", "--json"),
         ("history", "events", "--since", "1h"), ("history", "events", "--run", "1", "--status", "failed", "--json"),
         ("history", "events", "--email", "U2@example.com"), ("history", "trace", "m9"),
         ("history", "trace", "m3", "--json"), ("history", "export", "--format", "jsonl"),
         ("history", "export", "--format", "csv", "--status", "invalid"),
         ("history", "prune", "--older-than", "0s", "--dry-run", "--json")]

_STARTS = """
import json, sys
from toolkit.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="attio-sync", standalone_mode=False)
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("history-file"))


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_reading_a_current_sqlite_file_loads_no_database_library(sqlite_world: World, args: tuple[str, ...]) -> None:
    """Half a second of every `history` command was importing SQLAlchemy, SQLModel and alembic."""
    done = subprocess.run([sys.executable, "-c", _STARTS, *args, "--db", sqlite_world.db], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = {m.partition(".")[0] for m in json.loads(done.stderr.strip().splitlines()[-1])}
    assert not loaded & {"sqlalchemy", "sqlmodel", "alembic", "pydantic", "httpx"}


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_a_sqlite_file_reads_the_same_through_the_cache(sqlite_world: World, args: tuple[str, ...],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[AuditFile | None] = []

    def spied(url: str) -> AuditFile | None:
        opened.append(open_audit_file(url))
        return opened[-1]

    monkeypatch.setattr("toolkit.cli.history.open_audit_file", spied)
    plain = sqlite_world.invoke(*args)
    assert opened and isinstance(opened[0], AuditFile)  # the file was read plainly
    monkeypatch.setattr("toolkit.cli.history.open_audit_file", lambda _url: None)
    through = sqlite_world.invoke(*args)
    assert plain.exit_code == through.exit_code == 0, plain.output + through.output
    if "prune" in args:  # its cutoff is "now", which moved on
        assert {**json.loads(plain.stdout), "cutoff": None} == {**json.loads(through.stdout), "cutoff": None}
    else:
        assert plain.stdout == through.stdout


def test_an_older_database_is_upgraded_and_shows_the_same(tmp_path: Path, database_url: str) -> None:
    """A database from before the problem keys: read through the cache, which upgrades it (its
    events get their keys), and `show` groups them as before."""
    world = make_world(tmp_path, database_url)
    before = world.json("history", "show", "1")
    cache = world.cache()
    migrate(cache, "0006", down=True)
    cache.close()
    assert world.json("history", "show", "1") == before
    cache = world.cache()
    with cache.session() as session:
        keys = session.exec(select(EventRecord.problem_key).where(col(EventRecord.status) == "invalid")).all()
    cache.close()
    assert len(keys) == 4 and all(keys)
