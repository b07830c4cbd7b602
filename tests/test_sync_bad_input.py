"""A corpus of broken input: each line ends `invalid` with its line number, and the run goes on."""

from __future__ import annotations

import json

from sync_harness import SyncHarness

MAPPING = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\ndescription = "$.traits.bio"\n'


def good(n: int) -> bytes:
    return json.dumps({"type": "identify", "messageId": f"good-{n}", "userId": f"u{n}",
                       "traits": {"email": f"u{n}@example.com"}}).encode()


def test_every_broken_line_is_invalid_with_its_line_and_the_run_goes_on(database_url: str) -> None:
    h = SyncHarness(database_url)
    broken = [
        b"this is not json",
        b'{"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"',  # cut short
        b"[1, 2, 3]",
        b"null",
        b'"a string"',
        b'{"userId": "no-type", "traits": {"email": "t@example.com"}}',
        b'{"type": 5, "userId": "u", "traits": {"email": "t@example.com"}}',
        b'{"type": "identify", "messageId": "wt1", "userId": "u", "traits": "not an object"}',
        b'{"type": "identify", "messageId": "wt2", "userId": {"id": 1}, "traits": {"email": "t@example.com"}}',
        b'{"type": "identify", "messageId": "wt3", "userId": "u", "traits": {"email": ["x@example.com", 5]}}',
        json.dumps({"type": "identify", "messageId": "big", "userId": "u-big",
                    "traits": {"email": "big@example.com", "bio": "x" * 10_500_000}}).encode(),
        json.dumps({"type": "identify", "messageId": "bigmail", "userId": "u-bm",
                    "traits": {"email": "y" * 10_000_000 + "@example.com"}}).encode(),
        b'{"type": "identify", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"type": "identify", "messageId": "utf", "userId": "\xff\xfe", "traits": {"email": "u@example.com"}}',
        b'{"type": "identify", "messageId": "nul", "userId": "u\\u0000x", "traits": {"email": "n@example.com"}}',
    ]
    lines = [good(0), *broken, good(1)]
    result = h.sync(b"\n".join(lines), MAPPING)
    outcomes = h.outcomes()
    assert outcomes[1][0] == "synced" and outcomes[len(lines)][0] == "synced", outcomes
    for line in range(2, len(lines)):
        status, reason = outcomes[line]
        assert status == "invalid", (line, status, reason)
        assert reason, line
    assert result.counts["invalid"] == len(broken)
    assert len(h.records("people")) == 2  # only the two good events reached Attio
    assert outcomes[2][1].startswith("not JSON")
    assert "nested deeper" in outcomes[14][1]
    assert "UTF-8" in outcomes[15][1]
