"""`attio-sync retry`: re-sends exactly the failed (or, when asked, rejected or invalid) events
of a run, from their stored input, as a new run linked to the first (see `history_harness`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from history_harness import World, identify, make_world

from toolkit.errors import ConfigError
from toolkit.retry import select_retry


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> World:
    return make_world(tmp_path, database_url)


def sent_emails(world: World) -> set[str]:
    """The emails in every write the sandbox received since the log was cleared."""
    found = set()
    for entry in world.app.log:
        if entry.method in ("PUT", "PATCH", "POST") and not entry.path.endswith("/query"):
            text = json.dumps(entry.body)
            found.update(e for e in (f"u{n}@example.com" for n in range(1, 12)) if f'"{e}"' in text)
    return found


def test_retry_resends_exactly_the_failed_events_as_a_linked_run(world: World) -> None:
    result = world.invoke("retry", "1")
    assert result.exit_code == 0, result.output
    assert "run 2, a retry of run 1" in result.output

    assert sent_emails(world) == {"u3@example.com", "u7@example.com"}
    events = world.json("history", "events", "--run", "2")["events"]
    assert [(e["line"], e["message_key"], e["status"]) for e in events] == [(3, "m3", "synced"), (7, "m7", "synced")]
    run = world.json("history", "runs")["runs"][0]
    assert (run["id"], run["command"], run["parent_run_id"], run["synced"]) == (2, "retry", 1, 2)
    assert world.json("history", "show", "1")["retries"] == [2]
    people = {v["email_address"] for r in world.app.dump()["people"] for v in r["values"]["email_addresses"]}
    assert {"u3@example.com", "u7@example.com"} <= people


def test_a_second_retry_sends_nothing_the_first_got_through(world: World) -> None:
    assert world.invoke("retry", "1").exit_code == 0
    world.app.clear_log()
    data = world.json("retry", "1")
    assert data["run"] is None and data["skipped_done_since"] == 2
    assert world.app.log == []


def test_events_synced_since_by_a_rerun_of_the_input_are_not_sent_again(world: World) -> None:
    rerun = world.invoke("sync", str(world.events), "--mapping", str(world.mapping), "--json")
    assert json.loads(rerun.stdout)["synced"] == 2  # failed is not final: the re-run sent m3 and m7
    world.app.clear_log()
    result = world.invoke("retry", "1")
    assert result.exit_code == 0
    assert "2 left out: another run has synced them since" in result.output and "nothing to send" in result.output
    assert world.app.log == []


def test_retry_of_rejected_events_after_the_cause_is_fixed(world: World) -> None:
    # m12 was rejected: Attio refused its company. Put that right, then retry.
    assert world.refusal is not None
    world.app.rules.remove(world.refusal)
    world.app.clear_log()
    data = world.json("retry", "1", "--status", "rejected")
    assert data["retried"] == 1 and data["run"]["synced"] == 1
    assert world.json("history", "events", "--run", "2")["events"][0]["message_key"] == "m12"
    assert sent_emails(world) == set()  # neither failed event went with it


def test_retry_of_failed_and_rejected_together(world: World) -> None:
    data = world.json("retry", "1", "--status", "failed,rejected")
    assert data["retried"] == 3
    assert (data["run"]["synced"], data["run"]["rejected"]) == (2, 1)  # the company is still refused


def test_retry_of_invalid_events_with_a_fixed_mapping(world: World) -> None:
    # The plan attribute was mapped from a trait that carries values Attio does not have; the
    # fix drops it from the mapping, and the events are sent again without it.
    world.mapping.write_text(world.mapping.read_text().replace('plan = "$.traits.plan"\n', ""))
    result = world.invoke("retry", "1", "--status", "invalid", "--json")
    assert result.exit_code == 1  # still some invalid: the phone and the broken line
    data = json.loads(result.stdout)
    assert data["retried"] == 4 and data["run"]["synced"] == 2 and data["run"]["invalid"] == 2
    outcomes = {e["line"]: e["status"] for e in world.json("history", "events", "--run", "2")["events"]}
    assert outcomes == {9: "invalid", 10: "synced", 11: "invalid", 14: "synced"}  # line numbers of the input


def test_retry_dry_run_sends_nothing_and_records_a_dry_run(world: World) -> None:
    result = world.invoke("retry", "1", "--dry-run")
    assert result.exit_code == 0 and "Dry run: nothing was sent" in result.output
    assert world.app.log == []
    run = world.json("history", "runs")["runs"][0]
    assert (run["command"], run["dry_run"], run["parent_run_id"], run["would_sync"]) == ("retry", True, 1, 2)
    assert run["synced"] == 0  # a dry run synced nothing
    assert "would sync" in world.invoke("history", "runs").output
    assert world.invoke("retry", "1").exit_code == 0 and sent_emails(world) == {"u3@example.com", "u7@example.com"}


def test_retry_uses_the_runs_mapping_file_by_default_and_checks_it(world: World) -> None:
    world.mapping.write_text(world.mapping.read_text().replace("plan =", "no_such_attribute ="))
    result = world.invoke("retry", "1")
    assert result.exit_code == 1 and "no_such_attribute" in result.output and "nothing was sent" in result.output
    assert world.app.log == []


def test_retry_refuses_statuses_it_cannot_resend_and_unknown_runs(world: World) -> None:
    assert world.invoke("retry", "1", "--status", "synced").exit_code == 2
    unknown = world.invoke("retry", "42")
    assert unknown.exit_code == 1 and "no run 42" in unknown.output
    with pytest.raises(ConfigError):
        select_retry(world.cache(), 1, ("duplicate",))


def test_a_pruned_run_cannot_be_retried_and_says_why(world: World) -> None:
    assert world.invoke("history", "prune", "--older-than", "0s").exit_code == 0
    result = world.invoke("retry", "1")
    assert result.exit_code == 1 and "run 1 was pruned" in result.output and "attio-sync sync" in result.output
    assert world.app.log == []
    with pytest.raises(ConfigError, match="was pruned"):
        select_retry(world.cache(), 1)


def test_plan_keeps_input_order_and_original_line_numbers(world: World) -> None:
    plan = select_retry(world.cache(), 1, ("failed", "rejected", "invalid"))
    assert [e.line for e in plan.events] == [3, 7, 9, 10, 11, 12, 14]
    assert plan.events[0].raw == identify(3) and plan.events[0].event is not None
    assert plan.events[4].problem is not None and plan.events[4].problem.startswith("not JSON")


def test_a_dry_run_cannot_be_retried(world: World) -> None:
    rehearsal = world.invoke("sync", str(world.events), "--mapping", str(world.mapping), "--dry-run", "--json")
    run_id = json.loads(rehearsal.stdout)["run_id"]
    result = world.invoke("retry", str(run_id), "--status", "invalid")
    assert result.exit_code == 1 and "was a dry run and sent nothing" in result.output


def test_a_sigterm_stops_a_retry_cleanly_with_status_143(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from toolkit import retry as retry_module

    real = retry_module.run_sync

    async def terminated_at_once(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill` would, once the retry is under way
        await asyncio.sleep(0.05)  # the loop's handler runs: the stop is set before any event starts
        return await real(*args, **kwargs)

    monkeypatch.setattr(retry_module, "run_sync", terminated_at_once)
    result = world.invoke("retry", "1")
    assert result.exit_code == 143
    assert "interrupted by SIGTERM: the retry of run 1 stopped" in result.stderr
    run = world.json("history", "runs")["runs"][0]
    assert (run["command"], run["state"], run["synced"]) == ("retry", "interrupted", 0)
    monkeypatch.undo()
    assert world.invoke("retry", "1").exit_code == 0  # the same command finishes it
