"""`attio-sync sync` through click's runner, on a real database, against the in-process sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sync_harness import BASE_URL, SyncHarness

from toolkit.cli import cli
from toolkit.sandbox import SandboxTransport


@pytest.fixture
def h(tmp_path: Path) -> SyncHarness:
    return SyncHarness(tmp_path)


def run(h: SyncHarness, args: list[str], input: bytes | None = None) -> Result:
    env = {"ATTIO_API_KEY": h.app.config.token, "ATTIO_BASE_URL": BASE_URL,
           "ATTIO_SYNC_DB": h.cache.engine.url.database or ""}
    return CliRunner().invoke(cli, ["sync", *args, "--write-rate", "1000", "--read-rate", "1000"], env=env,
                              input=input, obj={"transport": SandboxTransport(h.app)})


def write_events(path: Path, events: list[dict[str, object]]) -> str:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return str(path)


EVENTS = [
    {"type": "identify", "messageId": "a", "userId": "u1", "traits": {"email": "a@example.com"}},
    {"type": "identify", "messageId": "b", "userId": "u2", "traits": {"email": "b@example.com"}},
    {"type": "group", "messageId": "c", "userId": "u1", "groupId": "w1", "traits": {"website": "acme.com"}},
]


def test_sync_prints_counts_per_outcome_as_json(h: SyncHarness, tmp_path: Path) -> None:
    result = run(h, [write_events(tmp_path / "e.jsonl", EVENTS), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {k: summary[k] for k in ("synced", "unchanged", "invalid", "rejected", "failed", "duplicate")} == {
        "synced": 3, "unchanged": 0, "invalid": 0, "rejected": 0, "failed": 0, "duplicate": 0}
    assert summary["requests"] > 0
    again = json.loads(run(h, [str(tmp_path / "e.jsonl"), "--json"]).output)
    assert again["duplicate"] == 3 and again["requests"] == 0


def test_an_invalid_event_makes_the_exit_status_1_unless_fail_on_says_otherwise(h: SyncHarness, tmp_path: Path) -> None:
    events = write_events(tmp_path / "e.jsonl", [*EVENTS, {"type": "identify", "messageId": "x", "userId": "u9",
                                                           "traits": {"email": "broken"}}])
    failing = run(h, [events, "--json"])
    assert failing.exit_code == 1 and json.loads(failing.output)["invalid"] == 1
    tolerant = run(h, [events, "--json", "--fail-on", "rejected,failed"])
    assert tolerant.exit_code == 0


def test_a_mapping_that_cannot_work_stops_the_run_before_any_event(h: SyncHarness, tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[[action]]\nkind = "identify-user"\n[action.person_attributes]\ntwiter = "$.traits.email"\n')
    result = run(h, [write_events(tmp_path / "e.jsonl", EVENTS), "--mapping", str(mapping)])
    assert result.exit_code == 1
    assert "the mapping cannot work" in result.output and "twiter" in result.output and "twitter" in result.output
    assert "nothing was sent" in result.output
    assert h.app.log == []
    forced = run(h, [str(tmp_path / "e.jsonl"), "--mapping", str(mapping), "--no-check", "--json"])
    # Forced past the check, each identify is caught on its own (unknown slug), and the group
    # event has no action in this mapping: three invalid, nothing sent.
    assert json.loads(forced.output)["invalid"] == 3
    assert h.writes() == []


def test_a_dry_run_says_nothing_was_sent(h: SyncHarness, tmp_path: Path) -> None:
    result = run(h, [write_events(tmp_path / "e.jsonl", EVENTS), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was sent to Attio" in result.output and "would sync" in result.output
    assert h.app.log == []


def test_events_from_stdin_and_from_a_json_array(h: SyncHarness, tmp_path: Path) -> None:
    piped = run(h, ["-", "--json"], input="\n".join(json.dumps(e) for e in EVENTS[:2]).encode())
    assert json.loads(piped.output)["synced"] == 2
    array = tmp_path / "events.json"
    array.write_text(json.dumps([EVENTS[2], {"type": "identify", "messageId": "d", "userId": "u4",
                                            "traits": {"email": "d@example.com"}}], indent=2))
    assert json.loads(run(h, [str(array), "--json"]).output)["synced"] == 2


def test_unknown_fail_on_outcome_is_a_usage_error(h: SyncHarness, tmp_path: Path) -> None:
    result = run(h, [write_events(tmp_path / "e.jsonl", EVENTS), "--fail-on", "synced,oops"])
    assert result.exit_code == 2 and "oops" in result.output


def test_a_missing_events_file_is_one_clear_line(h: SyncHarness, tmp_path: Path) -> None:
    result = run(h, [str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1 and "cannot read events from" in result.output


def test_the_summary_shows_the_first_problems_with_their_lines(h: SyncHarness, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(EVENTS[0]) + "\nnot json\n" + json.dumps(
        {"type": "identify", "messageId": "z", "userId": "u5", "traits": {"email": "no-at-sign"}}) + "\n")
    result = run(h, [str(events)])
    assert result.exit_code == 1
    assert "First problems (of 2):" in result.output
    assert "line 2: invalid: not JSON" in result.output
    assert "line 3: invalid: people.email_addresses:" in result.output


def test_an_empty_input_says_no_events_and_exits_0(h: SyncHarness, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = run(h, [str(empty)])
    assert result.exit_code == 0 and f"no events in {empty}: nothing to do" in result.stderr


def test_without_a_terminal_a_progress_line_comes_every_few_seconds(h: SyncHarness, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit.cli.sync

    monkeypatch.setattr(toolkit.cli.sync, "LOG_EVERY", 0.05)
    events = [{"type": "identify", "messageId": f"p{n}", "userId": f"p{n}", "traits": {"email": f"p{n}@example.com"}}
              for n in range(300)]
    result = run(h, [write_events(tmp_path / "e.jsonl", events), "--json"])
    assert result.exit_code == 0, result.output
    import re

    shape = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC run 1: [\d,]+ of 300 events, [\d,]+/s(; synced [\d,]+)?")
    lines = result.stderr.splitlines()
    assert lines and all(shape.fullmatch(line) for line in lines), result.stderr
    assert json.loads(result.stdout)["synced"] == 300  # the summary on standard output stays clean JSON
