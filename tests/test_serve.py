"""`serve` end to end: official libraries send, the sandbox receives, history tells.

The server runs in-process (`serve_harness`) on a real loopback socket; the Segment,
Customer.io and RudderStack libraries send to it as they would to their vendors.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from serve_harness import KEY, ServeHarness
from sqlalchemy import text, update

from toolkit.cli import cli
from toolkit.models import InboxEvent
from toolkit.sandbox import SandboxConfig
from toolkit.sandbox.catalog import Catalog


@pytest.fixture
def harness(tmp_path: Path) -> Any:
    made = ServeHarness(tmp_path)
    yield made
    made.stop()


def library(kind: str, host: str, errors: list[Any], *, gzip: bool = False) -> Any:
    common = {"host": host, "gzip": gzip, "on_error": lambda error, batch: errors.append(error),
              "max_retries": 3, "upload_interval": 0.05}
    if kind == "segment":
        from segment.analytics import Client as SegmentClient
        return SegmentClient(KEY, **common)
    if kind == "customerio":
        from customerio.analytics import Client as CustomerioClient
        return CustomerioClient(KEY, **common)
    from rudderstack.analytics import Client as RudderClient
    return RudderClient(KEY, **common)


def send_people(client: Any, count: int, prefix: str) -> set[str]:
    """Identify `count` users, then put each in one of 5 workspaces; their messageIds."""
    sent: set[str] = set()
    for i in range(count):
        ok, message = client.identify(user_id=f"{prefix}-{i}", traits={"email": f"{prefix}{i}@example.com"})
        assert ok
        sent.add(message["messageId"])
    for i in range(count):
        ok, message = client.group(user_id=f"{prefix}-{i}", group_id=f"{prefix}-ws-{i % 5}",
                                   traits={"website": f"{prefix}{i % 5}.example.com"})
        assert ok
        sent.add(message["messageId"])
    client.flush()
    client.shutdown()
    return sent


@pytest.mark.parametrize(("kind", "gzip_on"), [("segment", False), ("customerio", True), ("rudderstack", False)])
def test_a_library_sends_and_every_event_is_synced_and_traceable(harness: ServeHarness, kind: str,
                                                                 gzip_on: bool) -> None:
    url = harness.start()
    errors: list[Any] = []
    sent = send_people(library(kind, url, errors, gzip=gzip_on), 100, kind)
    assert errors == []
    harness.wait_for(lambda: len(harness.served()) >= len(sent), what="an outcome for every event")
    outcomes = harness.served()
    assert set(outcomes) == sent and set(outcomes.values()) == {"synced"}
    assert len(harness.records("users")) == 100 and len(harness.records("workspaces")) == 5
    assert harness.scalar("SELECT count(*) FROM inbox WHERE done_at IS NULL") == 0

    # Traceable by messageId, like a file sync's events.
    one = sorted(sent)[0]
    traced = CliRunner().invoke(cli, ["history", "trace", one, "--db", harness.cache.url, "--json"])
    assert traced.exit_code == 0, traced.output
    steps = json.loads(traced.output)["steps"]
    assert [s["event"]["status"] for s in steps] == ["synced"] and steps[0]["requests"], steps
    assert steps[0]["run"]["command"] == "serve"


def test_events_for_one_record_keep_their_order_and_the_newest_wins(harness: ServeHarness) -> None:
    url = harness.start('[[action]]\nkind = "identify-user"\n[action.person_attributes]\nname = "$.traits.name"\n')
    batch = [{"type": "identify", "userId": "u-1", "messageId": f"m-{n}",
              "timestamp": f"2026-11-30T10:00:{n:02d}Z",
              "traits": {"email": "ada@example.com", "name": f"Ada {n}"}} for n in range(30)]
    answer = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=(KEY, ""))
    assert answer.status_code == 200 and answer.json()["accepted"] == 30
    harness.wait_for(lambda: len(harness.served()) == 30, what="30 outcomes")
    (person,) = harness.records("people")
    assert person["values"]["name"][0]["full_name"] == "Ada 29"


def test_an_event_refused_at_the_door_and_a_bad_one_inside(harness: ServeHarness) -> None:
    url = harness.start()
    batch = [{"type": "identify", "userId": "u-1", "messageId": "good", "traits": {"email": "a@example.com"}},
             {"userId": "no-type", "messageId": "no-type"},
             {"type": "identify", "userId": "u-2", "messageId": "bad-email", "traits": {"email": "not an email"}}]
    answer = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=(KEY, ""))
    body = answer.json()
    assert answer.status_code == 200 and body["accepted"] == 2
    assert [r["index"] for r in body["refused"]] == [1]
    harness.wait_for(lambda: len(harness.served()) == 2, what="2 outcomes")
    assert harness.served() == {"good": "synced", "bad-email": "invalid"}


def test_a_retried_request_is_not_sent_twice(harness: ServeHarness) -> None:
    url = harness.start()
    event = {"type": "identify", "userId": "u-1", "messageId": "once", "traits": {"email": "a@example.com"}}
    for _ in range(3):  # a library retrying after a lost answer
        assert httpx.post(f"{url}/v1/identify", json=event, auth=(KEY, "")).status_code == 200
    harness.wait_for(lambda: "once" in harness.served(), what="the outcome")
    time.sleep(0.3)  # anything else would have come by now
    assert harness.served() == {"once": "synced"}
    asserts = [e for e in harness.app.log if e.method == "PUT" and "/users/records" in e.path]
    assert len(asserts) == 1


def test_a_retry_after_its_sent_event_left_the_queue_is_not_sent_twice(tmp_path: Path) -> None:
    harness = ServeHarness(tmp_path)
    url = harness.start()
    event = {"type": "identify", "userId": "u-1", "messageId": "late", "traits": {"email": "a@example.com"}}
    assert httpx.post(f"{url}/v1/identify", json=event, auth=(KEY, "")).status_code == 200
    harness.wait_for(lambda: harness.served() == {"late": "synced"}, what="the outcome")
    harness.stop()
    with harness.cache.engine.begin() as connection:  # sent eight days ago (stored as the column stores times)
        connection.execute(update(InboxEvent).values(done_at=datetime.now(UTC) - timedelta(days=8)))

    again = ServeHarness.__new__(ServeHarness)
    again.__dict__.update(harness.__dict__)
    url = again.start()  # a sender prunes what was sent over a week ago when it starts
    again.wait_for(lambda: again.scalar("SELECT count(*) FROM inbox") == 0, what="the queue pruned")
    assert httpx.post(f"{url}/v1/identify", json=event, auth=(KEY, "")).status_code == 200  # a late retry

    def outcomes() -> list[str]:
        with again.cache.engine.connect() as connection:
            return list(connection.execute(text("SELECT status FROM event WHERE message_id = 'late' ORDER BY id"))
                        .scalars())

    again.wait_for(lambda: len(outcomes()) == 2, what="the retry's outcome")
    again.stop()
    assert outcomes() == ["synced", "duplicate"]  # the audit log still knew it
    assert len([e for e in again.app.log if e.method == "PUT" and "/users/records" in e.path]) == 1


def test_what_is_queued_at_a_stop_is_sent_at_the_next_start(tmp_path: Path) -> None:
    config = SandboxConfig(activate=frozenset({"users", "workspaces"}), read_rate=None, write_rate=None)
    first = ServeHarness(tmp_path, config)
    url = first.start(concurrency=1)
    first.app.fail_requests(503, method="PUT", times=10_000)  # Attio down: nothing goes out
    events = [{"type": "identify", "userId": f"u-{n}", "messageId": f"q-{n}",
               "traits": {"email": f"u{n}@example.com"}} for n in range(20)]
    assert httpx.post(f"{url}/v1/batch", json={"batch": events}, auth=(KEY, "")).status_code == 200
    first.stop()
    assert first.scalar("SELECT count(*) FROM inbox WHERE done_at IS NULL") == 20
    assert not [s for s in first.served().values() if s != "failed"]

    first.app.rules.clear()
    second = ServeHarness.__new__(ServeHarness)
    second.__dict__.update(first.__dict__)
    second.start()
    second.wait_for(lambda: sum(s == "synced" for s in second.served().values()) == 20, what="20 synced")
    second.stop()
    assert second.scalar("SELECT count(*) FROM inbox WHERE done_at IS NULL") == 0


def test_ready_and_metrics(harness: ServeHarness) -> None:
    url = harness.start()
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["mapping"] == {"ok": True}
    event = {"type": "identify", "userId": "u-1", "messageId": "m", "traits": {"email": "a@example.com"}}
    httpx.post(f"{url}/v1/identify", json=event, auth=(KEY, ""))
    harness.wait_for(lambda: "m" in harness.served(), what="the outcome")
    metrics = httpx.get(f"{url}/metrics").text
    assert 'attio_sync_outcomes_total{status="synced"} 1.0' in metrics
    assert "attio_sync_queue_depth 0.0" in metrics
    assert 'attio_sync_attio_requests_total{status="200"}' in metrics
    assert KEY not in metrics


def archived(harness: ServeHarness, target: str, value: bool) -> None:
    """Archive (or unarchive) an attribute in the sandbox, as a workspace admin would in Attio."""
    obj, slug = target.split(".")
    schema = harness.app.catalog.schema
    changed = replace(schema, attributes=tuple(
        replace(a, is_archived=value) if (a.object_slug, a.api_slug) == (obj, slug) else a for a in schema.attributes))
    harness.app.catalog = harness.app.store.catalog = Catalog(changed)


def test_when_the_mapping_stops_holding_sending_pauses_and_resumes(harness: ServeHarness) -> None:
    mapping = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\ndescription = "$.traits.bio"\n'
    url = harness.start(mapping, schema_refresh=0.2)

    def event(n: int) -> dict[str, Any]:
        return {"type": "identify", "userId": f"u-{n}", "messageId": f"m-{n}",
                "traits": {"email": f"u{n}@example.com", "bio": f"bio {n}"}}

    httpx.post(f"{url}/v1/identify", json=event(1), auth=(KEY, ""))
    harness.wait_for(lambda: harness.served() == {"m-1": "synced"}, what="the first event synced")

    archived(harness, "people.description", True)
    harness.wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 503, what="not ready")
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["sending"] == "paused" and "mapping" in ready["reason"]
    assert any("people.description is archived" in p for p in ready["checks"]["mapping"]["problems"])
    answer = httpx.post(f"{url}/v1/identify", json=event(2), auth=(KEY, ""))
    assert answer.status_code == 200  # still accepted: the queue keeps filling
    time.sleep(0.5)
    assert "m-2" not in harness.served()
    assert harness.scalar("SELECT count(*) FROM inbox WHERE done_at IS NULL") == 1

    archived(harness, "people.description", False)
    harness.wait_for(lambda: harness.served().get("m-2") == "synced", what="the queued event synced")
    assert httpx.get(f"{url}/readyz").status_code == 200


def test_serve_refuses_to_start_without_a_write_key_and_says_how_to_set_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.db")], env={"ATTIO_API_KEY": "k"})
    assert result.exit_code == 1
    assert "serve needs at least one write key" in result.output and "ATTIO_SYNC_WRITE_KEYS" in result.output


def test_serve_says_when_its_port_is_taken(harness: ServeHarness) -> None:
    url = harness.start()
    port = url.rsplit(":", 1)[1]
    result = CliRunner().invoke(cli, ["serve", "--port", port, "--write-key", "k", "--db", harness.cache.url,
                                      "--base-url", "http://127.0.0.1:9"], env={"ATTIO_API_KEY": "k"})
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "in use" in result.output
    assert "Traceback" not in result.output
