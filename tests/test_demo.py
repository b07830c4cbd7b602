"""`attio-sync demo` end to end: in-process sandbox, pull, check, sync, summary, trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.cli import cli
from toolkit.demo import find_examples, run_demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the demo reads ./examples, as `make demo` runs it


def test_demo_runs_end_to_end_and_leaves_an_explorable_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    for step in ("1. schema pull", "2. check", "3. sync", "4. attio-sync history show", "5. attio-sync history trace"):
        assert step in result.output
    assert "most common problems" in result.output and "people.phone_numbers" in result.output
    assert f"Everything is in {db}" in result.output

    # The database it leaves behind answers the history commands.
    runs = CliRunner().invoke(cli, ["history", "runs", "--db", str(db), "--json"])
    (run,) = json.loads(runs.stdout)["runs"]
    assert run["events"] == len((REPO / "examples" / "events.jsonl").read_text(encoding="utf-8").splitlines())


def test_demo_outcomes_include_the_bad_events_of_the_example_file(tmp_path: Path) -> None:
    steps: list[str] = []
    result = run_demo(str(tmp_path / "demo.db"), on_step=lambda name, value: steps.append(name))
    assert steps == ["pull", "check", "sync", "summary", "trace"]
    counts = result.sync.counts
    assert counts["synced"] > 200 and counts["failed"] == 0 and counts["duplicate"] == 1
    assert counts["invalid"] >= 3  # phone without country, broken JSON, a track event (+ plan, date when mapped)
    fields = {p.field for p in result.summary.problems}
    assert {"people.phone_numbers", "(line)"} <= fields
    assert result.trace.steps[0].requests and result.trace.steps[0].record_ids
    assert result.seconds < 30


def test_demo_json_and_a_chosen_trace(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--db", str(tmp_path / "d.db"), "--trace", "msg_bad_phone", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["trace"]["message_key"] == "msg_bad_phone"
    assert data["trace"]["steps"][0]["event"]["status"] == "invalid"


def test_demo_refuses_a_database_that_already_holds_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    assert CliRunner().invoke(cli, ["demo", "--db", db, "--json"]).exit_code == 0
    again = CliRunner().invoke(cli, ["demo", "--db", db])
    assert again.exit_code == 1 and "already holds runs" in again.output


def test_demo_without_db_writes_a_new_temporary_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    (db,) = tmp_path.glob("attio-sync-demo-*/demo.db")
    assert f"Everything is in {db}" in result.output  # never ./attio-sync.db


def test_examples_are_found_from_the_checkout_wherever_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_examples().mapping == REPO / "examples" / "mapping.toml"
