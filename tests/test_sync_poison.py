"""Poison lines end to end: each ends `invalid` with its reason, the good lines around them sync."""

from __future__ import annotations

import json
from pathlib import Path

from sync_harness import SyncHarness

MAPPING = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\njob_title = "$.traits.title"\n'


def good(n: int) -> bytes:
    return json.dumps({"type": "identify", "messageId": f"good-{n}", "userId": f"u{n}",
                       "traits": {"email": f"u{n}@example.com", "name": f"Good {n}"}}).encode()


def test_poison_lines_end_invalid_with_their_reason_and_the_good_lines_sync(database_url: str) -> None:
    h = SyncHarness(database_url)
    poison = {
        b'{"type": "identify", "messageId": "digits", "userId": "ud", "traits": {"email": "d@example.com", '
        b'"seats": ' + b"9" * 5000 + b"}}": "a number with more than 4300 digits",
        b'{"type": "identify", "messageId": "m\\ud800", "userId": "us1", "traits": {"email": "s1@example.com"}}':
            "contains a lone surrogate (\\ud800) at $.messageId",
        b'{"type": "identify", "messageId": "s2", "userId": "u\\udfff", "traits": {"email": "s2@example.com"}}':
            "contains a lone surrogate (\\udfff) at $.userId",
        b'{"type": "identify", "messageId": "s3", "userId": "us3", "traits": {"email": "s3\\uD800@example.com"}}':
            "contains a lone surrogate (\\ud800) at $.traits.email",
        b'{"type": "identify", "messageId": "s4", "userId": "us4", "traits": {"email": "s4@example.com", '
        b'"name": "Ada \\udc00"}}': "contains a lone surrogate (\\udc00) at $.traits.name",
        b'{"type": "identify", "messageId": 777, "userId": "u777", "traits": {"email": "n@example.com"}}':
            "messageId must be a string (got int 777)",
        b'{"type": "identify", "messageId": "t1", "userId": "ut", "timestamp": "2026-13-01T00:00:00Z", '
        b'"traits": {"email": "t@example.com"}}': "timestamp: not an ISO-8601 time: '2026-13-01T00:00:00Z'",
    }
    lines = [good(0), *poison, good(1)]
    result = h.sync(b"\n".join(lines), MAPPING)
    outcomes = h.outcomes()
    assert outcomes[1][0] == "synced" and outcomes[len(lines)][0] == "synced", outcomes
    for line, reason in enumerate(poison.values(), start=2):
        status, recorded = outcomes[line]
        assert status == "invalid" and reason in recorded, (line, status, recorded)
    assert result.counts["invalid"] == len(poison) and result.counts["synced"] == 2
    assert {r["values"]["email_addresses"][0]["email_address"] for r in h.records("people")} == {
        "u0@example.com", "u1@example.com"}


def test_message_id_777_does_not_shadow_the_string_777(database_url: str) -> None:
    h = SyncHarness(database_url)
    number = {"type": "identify", "messageId": 777, "userId": "u1", "traits": {"email": "a@example.com"}}
    text = {"type": "identify", "messageId": "777", "userId": "u2", "traits": {"email": "b@example.com"}}
    h.sync([number, text], MAPPING)
    outcomes = h.outcomes()
    assert outcomes[1][0] == "invalid" and "messageId must be a string (got int 777)" in outcomes[1][1]
    assert outcomes[2][0] == "synced"


def test_the_newer_instant_wins_whatever_the_offsets_say(database_url: str) -> None:
    h = SyncHarness(database_url)
    newer = {"type": "identify", "messageId": "newer", "userId": "u1", "timestamp": "2026-01-01T06:00:00Z",
             "traits": {"email": "a@example.com", "title": "CEO"}}
    older = {"type": "identify", "messageId": "older", "userId": "u1", "timestamp": "2026-01-01T10:00:00+05:00",
             "traits": {"email": "a@example.com", "title": "Intern"}}  # 05:00 UTC: an hour before
    h.sync([newer], MAPPING)
    assert h.sync([older], MAPPING).counts["unchanged"] == 1
    assert h.find("people", "email_addresses", "a@example.com")["values"]["job_title"][0]["value"] == "CEO"


def test_a_300_mb_line_through_the_command_stays_in_bounded_memory(tmp_path: Path) -> None:
    """The whole path a user runs (counting lines for the progress bar, reading, recording) keeps
    a 300 MB line out of memory: the command peaks far below the line's size."""
    import os
    import subprocess
    import sys

    h = SyncHarness(tmp_path)  # pulls the schema into tmp_path/sync.db (SQLite)
    source = tmp_path / "big.jsonl"
    with source.open("wb") as out:
        out.write(good(0) + b"\n" + b'{"type": "identify", "traits": {"bio": "')
        for _ in range(300):
            out.write(b"x" * (1 << 20))
        out.write(b'"}}\n' + good(1) + b"\n")
    command = [sys.executable, "-m", "toolkit", "sync", str(source), "--dry-run", "--json", "--db", h.cache.url]
    # A parent of its own, so that its children's peak memory is the command's alone.
    measure = ("import json, resource, subprocess, sys; "
               "done = subprocess.run(json.loads(sys.argv[1]), capture_output=True); "
               "sys.stderr.buffer.write(done.stderr); sys.stdout.buffer.write(done.stdout); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    run = subprocess.run([sys.executable, "-c", measure, json.dumps(command)], capture_output=True, timeout=120,
                         env={**os.environ, "ATTIO_BASE_URL": "http://127.0.0.1:9"})
    *output, peak_kb = run.stdout.decode().splitlines()
    summary = json.loads("\n".join(output))
    assert (summary["synced"], summary["invalid"]) == (2, 1), run.stderr.decode()[-2000:]
    assert int(peak_kb) < 200 * 1024  # imports and schema take about 80 MB; the line is 300 MB
    outcomes = h.outcomes()
    assert outcomes[2][0] == "invalid" and "bytes, over the 1,048,576-byte limit" in outcomes[2][1]
