"""The door of `attio-sync serve`: the event-collection HTTP API up to "committed to the queue".

Driven in process (httpx's ASGITransport) for the answers, and over loopback by the official
Segment, Customer.io and RudderStack libraries against a real uvicorn server.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import sqlite3
import threading
import time
import tracemalloc
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from toolkit.cache import Cache, open_cache
from toolkit.errors import ConfigError
from toolkit.serve import MAX_EVENT_BYTES, MAX_REQUEST_BYTES, Inbox, ServeMetrics, receiver_app

KEY = "wk_test_0123456789"
OTHER_KEY = "wk_other_abcdef"
NOW = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


class Client:
    """A blocking client of an ASGI app in process: one event loop per request."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            content = kwargs.pop("content", None)
            if isinstance(content, Iterator):  # streamed: no Content-Length
                chunks = list(content)

                async def stream() -> Any:
                    for chunk in chunks:
                        yield chunk
                content = stream()
            transport = httpx.ASGITransport(self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://door.test") as client:
                return await client.request(method, path, content=content, **kwargs)
        return asyncio.run(send())

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


@dataclass
class Door:
    path: Path
    cache: Cache
    inbox: Inbox
    metrics: ServeMetrics
    app: Starlette
    client: Client

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(q.event) for q in self.inbox.queued(limit=100_000)]

    def message_ids(self) -> list[str]:
        return [q.message_id for q in self.inbox.queued(limit=100_000)]

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


MakeDoor = Callable[..., Door]


@pytest.fixture
def make_door(tmp_path: Path) -> Iterator[MakeDoor]:
    made: list[Door] = []

    def make(**options: Any) -> Door:
        path = tmp_path / "serve.db"
        cache = open_cache(str(path))
        inbox = Inbox(cache)
        metrics = ServeMetrics()
        options = {"max_queue": 10_000, "clock": lambda: NOW, "depth_ttl": 0.0, **options}
        app = receiver_app(inbox, options.pop("write_keys", [KEY, OTHER_KEY]), metrics=metrics, **options)
        door = Door(path, cache, inbox, metrics, app, Client(app))
        made.append(door)
        return door

    yield make
    for door in made:
        door.cache.close()


@pytest.fixture
def door(make_door: MakeDoor) -> Door:
    return make_door()


def identify(n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": f"msg-{n}", "userId": f"user-{n}",
            "traits": {"email": f"user{n}@example.com"}, **extra}


def post(door: Door, body: Any, path: str = "/v1/batch", *, key: str | None = KEY, **kwargs: Any) -> Any:
    auth = (key, "") if key is not None else None
    if isinstance(body, bytes):
        return door.client.post(path, content=body, auth=auth, **kwargs)
    return door.client.post(path, json=body, auth=auth, **kwargs)


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [
    None,
    "Basic " + base64.b64encode(b"wrong-key:").decode(),
    "Basic " + base64.b64encode(b":" + KEY.encode()).decode(),  # the key as the password is not the key
    "Basic not-base64!",
    "Bearer wrong-key",
    "Token " + KEY,
])
def test_a_wrong_or_missing_key_is_401(door: Door, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = door.client.post("/v1/batch", json={"batch": [identify()]}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.json()["success"] is False and "write key" in answer.json()["message"]
    assert door.message_ids() == []


def test_every_configured_key_works_with_an_empty_password_or_as_a_bearer(door: Door) -> None:
    assert post(door, {"batch": [identify(1)]}, key=KEY).status_code == 200
    assert post(door, {"batch": [identify(2)]}, key=OTHER_KEY).status_code == 200
    bearer = door.client.post("/v1/batch", json={"batch": [identify(3)]}, headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200  # the Customer.io library sends pk_/sk_ keys so
    assert door.message_ids() == ["msg-1", "msg-2", "msg-3"]


def test_the_key_may_come_in_the_body_and_is_never_stored(door: Door) -> None:
    answer = post(door, {"batch": [identify(1, writeKey=KEY)], "writeKey": KEY}, key=None)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    single = post(door, {"userId": "u", "messageId": "single", "writeKey": KEY}, "/v1/identify", key=None)
    assert single.status_code == 200
    assert post(door, {"batch": [identify(2)], "writeKey": "wrong"}, key=None).status_code == 401
    assert post(door, {"batch": [identify(3)], "writeKey": 12}, key=None).status_code == 401
    assert door.message_ids() == ["msg-1", "single"]
    door.cache.close()  # checkpoint the WAL into the file
    raw = door.path.read_bytes()
    assert KEY.encode() not in raw and b"writeKey" not in raw
    assert KEY not in door.metrics.render().decode()


def test_a_configuration_without_keys_is_refused(tmp_path: Path) -> None:
    cache = open_cache(str(tmp_path / "k.db"))
    try:
        with pytest.raises(ConfigError, match="write key"):
            receiver_app(Inbox(cache), ["", ""], max_queue=10, metrics=ServeMetrics())
    finally:
        cache.close()


# -- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "words"), [
    (b'{"batch": [', "invalid_json", "not valid JSON"),
    (b"", "invalid_json", "not valid JSON"),
    (b'{"batch": ["\xff\xfe"]}', "invalid_encoding", "not valid UTF-8"),
    (b"[1, 2]", "not_an_object", "JSON object"),
    (b'"text"', "not_an_object", "JSON object"),
    (b'{"batch": {"type": "identify"}}', "invalid_batch", "list"),
    (b'{"sentAt": "2026-01-01T00:00:00Z"}', "invalid_batch", "list"),
    (b"[" * 200_000 + b"]" * 200_000, "invalid_json", "nested too deeply"),
])
def test_a_body_that_cannot_be_read_is_400(door: Door, body: bytes, code: str, words: str) -> None:
    answer = post(door, body)
    assert answer.status_code == 400
    assert answer.json()["code"] == code and words in answer.json()["message"]
    assert door.metric("attio_sync_http_requests_total", status="400") == 1


def test_a_single_event_body_must_be_an_object(door: Door) -> None:
    assert post(door, [identify()], "/v1/identify").status_code == 400


def test_a_request_over_500_kb_is_400_naming_the_limit(door: Door) -> None:
    events = [identify(i, traits={"pad": "x" * 20_000}) for i in range(30)]
    body = json.dumps({"batch": events}).encode()
    assert len(body) > MAX_REQUEST_BYTES
    answer = post(door, body)
    assert answer.status_code == 400
    assert answer.json()["limit_bytes"] == MAX_REQUEST_BYTES == 512_000
    assert "500 KB" in answer.json()["message"]
    assert door.message_ids() == []


def test_the_size_limit_holds_without_a_content_length(door: Door) -> None:
    def chunks() -> Iterator[bytes]:  # sent chunked: no Content-Length to trust
        yield b'{"batch": ['
        for _ in range(100):
            yield json.dumps(identify(traits={"pad": "y" * 10_000})).encode() + b","
        yield b"{}]}"

    answer = door.client.post("/v1/batch", content=chunks(), auth=(KEY, ""))
    assert answer.status_code == 400 and answer.json()["code"] == "request_too_large"


def test_a_gzip_body_is_accepted(door: Door) -> None:
    body = gzip.compress(json.dumps({"batch": [identify(1), identify(2)]}).encode())
    answer = post(door, body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["accepted"] == 2
    several_members = gzip.compress(b'{"batch": [') + gzip.compress(json.dumps(identify(3)).encode() + b"]}")
    assert post(door, several_members, headers={"Content-Encoding": "gzip"}).json()["accepted"] == 1
    assert door.message_ids() == ["msg-1", "msg-2", "msg-3"]


@pytest.mark.parametrize(("body", "words"), [
    (b"not gzip at all", "not valid gzip"),
    (gzip.compress(b'{"batch": []}', mtime=0)[:-6], "truncated"),
], ids=["not-gzip", "truncated"])
def test_a_broken_gzip_body_is_400(door: Door, body: bytes, words: str) -> None:
    answer = post(door, body, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 400 and words in answer.json()["message"]


def test_an_unknown_content_encoding_is_refused(door: Door) -> None:
    answer = post(door, b"{}", headers={"Content-Encoding": "br"})
    assert answer.status_code == 415


def test_a_gzip_bomb_is_refused_without_taking_memory(door: Door) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * (1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()  # 200 MB inflated
    assert len(bomb) < MAX_REQUEST_BYTES
    tracemalloc.start()
    try:
        answer = post(door, bomb, headers={"Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 400
    assert answer.json()["code"] == "request_too_large" and "decompressed" in answer.json()["message"]
    assert answer.json()["limit_bytes"] == MAX_REQUEST_BYTES
    assert peak < 8 * MAX_REQUEST_BYTES, f"peak {peak:,} bytes"


# -- events ------------------------------------------------------------------------------


def test_one_bad_event_is_refused_and_the_rest_accepted(door: Door) -> None:
    big = identify(90, traits={"pad": "z" * MAX_EVENT_BYTES})
    body = (
        '{"batch": ['
        + json.dumps(identify(1)) + ", 5, "
        + json.dumps({"messageId": "no-type", "userId": "u"}) + ", "
        + json.dumps(big) + ", "
        + '{"type": "identify", "messageId": "huge-number", "traits": {"n": ' + "7" * 5000 + "}}, "
        + '{"type": "identify", "messageId": "nan", "traits": {"n": NaN}}, '
        + '{"type": "identify", "messageId": "overflow", "traits": {"n": 1e999}}, '
        + json.dumps(identify(2)) + "]}"
    )
    answer = post(door, body.encode())
    assert answer.status_code == 200
    result = answer.json()
    assert result["success"] is True and (result["accepted"], result["duplicates"]) == (2, 0)
    reasons = {r["index"]: r["reason"] for r in result["refused"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert "not a JSON object" in reasons[1]
    assert "no type" in reasons[2]
    assert "32,768-byte limit" in reasons[3]
    assert "5,000 digits" in reasons[4]
    assert "NaN" in reasons[5] and "1e999" in reasons[6]
    assert door.message_ids() == ["msg-1", "msg-2"]
    assert door.metric("attio_sync_events_received_total") == 8
    assert door.metric("attio_sync_events_accepted_total") == 2
    assert door.metric("attio_sync_events_refused_total", reason="too_large") == 1
    assert door.metric("attio_sync_events_refused_total", reason="unstorable") == 3


def test_an_event_just_under_the_limit_is_accepted(door: Door) -> None:
    event = identify(1, traits={"pad": ""})
    event["traits"]["pad"] = "p" * (MAX_EVENT_BYTES - len(json.dumps(event, separators=(",", ":"))))
    assert len(json.dumps(event, separators=(",", ":"))) == MAX_EVENT_BYTES
    assert post(door, {"batch": [event]}).json()["accepted"] == 1


def test_the_same_message_id_is_stored_once(make_door: MakeDoor) -> None:
    door = make_door()
    first = post(door, {"batch": [identify(1), identify(1), identify(2)]}).json()
    assert (first["accepted"], first["duplicates"]) == (2, 1)
    again = post(door, {"batch": [identify(2), identify(3)]}).json()  # a library's retry, with a new one
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    door.cache.close()
    restarted = make_door()  # the same database file: a restart
    after = post(restarted, {"batch": [identify(1), identify(4)]}).json()
    assert (after["accepted"], after["duplicates"]) == (1, 1)
    assert restarted.message_ids() == ["msg-1", "msg-2", "msg-3", "msg-4"]
    assert restarted.metric("attio_sync_events_duplicate_total") == 1


def test_an_event_without_a_usable_message_id_gets_one_and_keeps_its_own(door: Door) -> None:
    events = [{"type": "identify", "userId": "a"}, {"type": "identify", "userId": "b", "messageId": 17},
              {"type": "identify", "userId": "c", "messageId": ""}]
    assert post(door, {"batch": events}).json()["accepted"] == 3
    ids = door.message_ids()
    assert all(i.startswith("serve-") for i in ids) and len(set(ids)) == 3
    rows = door.rows()
    assert "messageId" not in rows[0] and rows[1]["messageId"] == 17 and rows[2]["messageId"] == ""


def test_single_event_paths_take_the_type_from_the_path(door: Door) -> None:
    group = post(door, {"messageId": "g1", "groupId": "acme", "traits": {"website": "acme.com"}}, "/v1/group")
    assert group.json() == {"success": True, "accepted": 1, "duplicates": 0, "refused": []}
    assert post(door, {"messageId": "g2", "type": "group", "groupId": "b"}, "/v1/group").json()["accepted"] == 1
    contradiction = post(door, {"messageId": "g3", "type": "identify", "groupId": "c"}, "/v1/group").json()
    assert contradiction["accepted"] == 0
    assert contradiction["refused"] == [{"index": 0, "reason": "its type contradicts the path /v1/group"}]
    for kind in ("track", "page", "screen", "alias"):
        assert post(door, {"messageId": kind, "userId": "u"}, f"/v1/{kind}").json()["accepted"] == 1
    queued = door.inbox.queued()
    assert [(q.message_id, q.event_type) for q in queued] == [
        ("g1", "group"), ("g2", "group"), ("track", "track"), ("page", "page"), ("screen", "screen"),
        ("alias", "alias")]
    assert json.loads(queued[0].event)["type"] == "group"


def test_batch_context_integrations_and_sent_at_reach_each_event(door: Door) -> None:
    body = {
        "batch": [
            identify(1, context={"ip": "10.0.0.2"}),
            identify(2, sentAt="2026-11-30T11:00:00Z", receivedAt="2026-11-30T11:00:01Z", integrations={"A": False}),
        ],
        "context": {"ip": "10.0.0.1", "library": {"name": "analytics-python"}},
        "integrations": {"All": True},
        "sentAt": "2026-11-30T11:59:59Z",
    }
    assert post(door, body).json()["accepted"] == 2
    first, second = door.rows()
    assert first["context"] == {"ip": "10.0.0.2", "library": {"name": "analytics-python"}}
    assert first["integrations"] == {"All": True}
    assert first["sentAt"] == "2026-11-30T11:59:59Z"
    assert first["receivedAt"] == "2026-11-30T12:00:00.123Z"
    assert second["context"] == {"ip": "10.0.0.1", "library": {"name": "analytics-python"}}
    assert second["integrations"] == {"All": True, "A": False}
    assert (second["sentAt"], second["receivedAt"]) == ("2026-11-30T11:00:00Z", "2026-11-30T11:00:01Z")


def test_stored_event_text_round_trips(door: Door) -> None:
    body = ('{"batch": [{"type": "identify", "messageId": "u1", "userId": "\\ud800-lone", '
            '"traits": {"name": "Zoë 🦄", "n": 12345678901234567890, "f": 1.5, "nul": "a\\u0000b"}}]}')
    assert post(door, body.encode("utf-8")).json()["accepted"] == 1
    (queued,) = door.inbox.queued()
    assert queued.event.isascii()
    event = json.loads(queued.event)
    assert event["userId"] == "\ud800-lone"
    assert event["traits"] == {"name": "Zoë 🦄", "n": 12345678901234567890, "f": 1.5, "nul": "a\x00b"}
    assert queued.message_id == "u1" and queued.event_type == "identify"


# -- back-pressure -----------------------------------------------------------------------


def test_a_full_queue_is_503_with_retry_after(make_door: MakeDoor) -> None:
    door = make_door(max_queue=3, retry_after=7)
    assert post(door, {"batch": [identify(1), identify(2)]}).json()["accepted"] == 2
    answer = post(door, {"batch": [identify(3), identify(4)]})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["code"] == "queue_full" and "queue is full" in answer.json()["message"]
    assert post(door, {"batch": [identify(3)]}).status_code == 200  # room for one
    door.inbox.mark_done_now([q.id for q in door.inbox.queued()])
    assert post(door, {"batch": [identify(i) for i in range(10, 20)]}).status_code == 200  # empty: any batch
    assert door.metric("attio_sync_backpressure_total", reason="queue_full") == 1


def test_the_depth_is_counted_at_most_every_so_often(make_door: MakeDoor) -> None:
    now = [100.0]
    door = make_door(max_queue=5, depth_ttl=10.0, monotonic=lambda: now[0])
    counted: list[int] = []
    real_depth = door.inbox.depth

    def depth() -> int:
        counted.append(1)
        return real_depth()

    door.inbox.depth = depth  # type: ignore[method-assign]
    for i in range(4):
        assert post(door, {"batch": [identify(i)]}).status_code == 200
    assert len(counted) == 1
    assert post(door, {"batch": [identify(10), identify(11)]}).status_code == 503  # 4 + 2 > 5, counted locally
    now[0] += 11
    assert post(door, {"batch": [identify(12)]}).status_code == 200
    assert len(counted) == 2


def test_a_locked_database_is_503_within_seconds(door: Door) -> None:
    holder = sqlite3.connect(door.path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO inbox (message_id, event, size, received_at) VALUES ('held', '{}', 2, '2026-01-01')")
    try:
        started = time.monotonic()
        answer = post(door, {"batch": [identify(1)]})
        elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert answer.status_code == 503 and elapsed < 10
    assert answer.json()["code"] == "database" and int(answer.headers["Retry-After"]) >= 1
    assert post(door, {"batch": [identify(1)]}).json()["accepted"] == 1  # the sender's retry goes in


def test_a_closing_server_is_503(make_door: MakeDoor) -> None:
    accepting = [True]
    door = make_door(is_accepting=lambda: accepting[0])
    assert post(door, {"batch": [identify(1)]}).status_code == 200
    accepting[0] = False
    answer = post(door, {"batch": [identify(2)]})
    assert answer.status_code == 503 and answer.json()["code"] == "shutting_down"
    assert "Retry-After" in answer.headers
    assert door.message_ids() == ["msg-1"]


def test_the_worker_is_told_after_a_commit_that_queued_something(make_door: MakeDoor) -> None:
    told: list[int] = []
    door = make_door(on_accepted=lambda: told.append(door.inbox.depth()))
    post(door, {"batch": [identify(1), identify(2)]})
    post(door, {"batch": [identify(1)]})  # only a duplicate: nothing new to look at
    post(door, {"batch": [5]})
    assert told == [2]  # called once the rows were committed (visible to another connection)


def test_a_failure_of_the_door_itself_is_a_500_the_libraries_retry(door: Door, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    def broken(events: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(door.inbox, "accept", broken)
    answer = post(door, {"batch": [identify(1)]})
    assert answer.status_code == 500 and answer.json()["success"] is False
    assert door.metric("attio_sync_http_requests_total", status="500") == 1
    assert "a bug" in caplog.text and KEY not in caplog.text


def test_healthz_and_metrics(door: Door) -> None:
    assert door.client.get("/healthz").json() == {"ok": True}
    post(door, {"batch": [identify(1)]})
    post(door, {"batch": []}, key="nope")
    text = door.metrics.render().decode()
    assert 'attio_sync_http_requests_total{status="200"} 1.0' in text
    assert 'attio_sync_http_requests_total{status="401"} 1.0' in text
    assert "attio_sync_events_accepted_total 1.0" in text
    for name in ("attio_sync_queue_depth", "attio_sync_queue_oldest_age_seconds", "attio_sync_circuit_state",
                 "attio_sync_ack_seconds_bucket"):
        assert name in text
    assert ServeMetrics().registry is not door.metrics.registry  # two servers in one process never clash


# -- the official libraries over loopback --------------------------------------------------


@contextmanager
def served(app: Starlette) -> Iterator[str]:
    """`app` on a real uvicorn server on 127.0.0.1 (a free port), in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="serve-door-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def send_with(client: Any, count: int) -> set[str]:
    """Half identify, half group events through a library client; their messageIds."""
    sent: set[str] = set()
    for i in range(count):
        if i % 2:
            ok, message = client.group(user_id=f"user-{i}", group_id=f"ws-{i % 7}",
                                       traits={"website": f"acme{i % 7}.com", "name": f"Acme {i % 7}"})
        else:
            ok, message = client.identify(user_id=f"user-{i}", traits={"email": f"u{i}@example.com", "plan": "pro"})
        assert ok
        sent.add(message["messageId"])
    client.flush()
    client.shutdown()
    return sent


def library_client(kind: str, host: str, errors: list[Any], *, gzip: bool) -> Any:
    common = {"host": host, "gzip": gzip, "on_error": lambda error, batch: errors.append(error),
              "max_retries": 2, "upload_interval": 0.05}
    if kind == "segment":
        from segment.analytics import Client as SegmentClient
        return SegmentClient(KEY, **common)
    if kind == "customerio":
        from customerio.analytics import Client as CustomerioClient
        return CustomerioClient(KEY, **common)
    from rudderstack.analytics import Client as RudderClient
    return RudderClient(KEY, **common)


@pytest.mark.parametrize(("kind", "gzip_on"), [("segment", False), ("customerio", True), ("rudderstack", False)])
def test_an_official_library_delivers_every_event_once(make_door: MakeDoor, kind: str, gzip_on: bool) -> None:
    door = make_door()
    errors: list[Any] = []
    with served(door.app) as host:
        client = library_client(kind, host, errors, gzip=gzip_on)
        sent = send_with(client, 200)
    assert errors == []
    stored = door.message_ids()
    assert len(stored) == len(sent) == 200 and set(stored) == sent
    types = [q.event_type for q in door.inbox.queued(limit=1000)]
    assert types.count("identify") == types.count("group") == 100
    assert door.metric("attio_sync_events_accepted_total") == 200
    rows = door.rows()
    assert all(KEY not in json.dumps(row) for row in rows)
    assert all("sentAt" in row and "receivedAt" in row for row in rows)


def test_a_library_retries_after_back_pressure_and_nothing_is_lost(make_door: MakeDoor) -> None:
    accepting = [False]
    door = make_door(is_accepting=lambda: accepting[0], retry_after=1)
    errors: list[Any] = []
    with served(door.app) as host:
        from customerio.analytics import Client as CustomerioClient
        client = CustomerioClient(KEY, host=host, on_error=lambda e, b: errors.append(e), max_retries=5,
                                  upload_interval=0.05)
        ok, message = client.identify(user_id="late", message_id=str(uuid.uuid4()))
        assert ok
        deadline = time.monotonic() + 10
        while door.metric("attio_sync_backpressure_total", reason="shutting_down") < 1:
            assert time.monotonic() < deadline
            threading.Event().wait(0.01)
        accepting[0] = True
        client.flush()
        client.shutdown()
    assert errors == []
    assert door.message_ids() == [message["messageId"]]
