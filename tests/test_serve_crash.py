"""SIGKILL `attio-sync serve` while a library keeps sending; restarts must lose nothing.

The sandbox serves over loopback from this test process, so it outlives the killed servers.
The Segment library sends continuously from a thread and retries what a dead server did not
answer, as it would in production. After ten kills and a clean stop, every event the library
saw acknowledged (all it did not report as failed) has exactly one outcome, `synced`, and the
sandbox holds exactly one record per person, user, company and workspace.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from toolkit.cache import open_cache
from toolkit.sandbox import SandboxConfig, create_app, serve_in_thread

KILLS = 10
KEY = "wk_crash"
USERS = 400


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Any, str]]:
    # company_from_email off: companies are counted below, and only the group events make them.
    app = create_app(SandboxConfig(token="serve-crash-token", activate=frozenset({"users", "workspaces"}),
                                   read_rate=None, write_rate=None, latency=0.002, company_from_email=False))
    with serve_in_thread(app) as url:
        yield app, url


def pulled(url: str, database: str) -> dict[str, str]:
    """The environment of an attio-sync process on `database` and the sandbox at `url`, whose
    schema it has pulled."""
    env = {**os.environ, "ATTIO_API_KEY": "serve-crash-token", "ATTIO_BASE_URL": url, "ATTIO_SYNC_DB": database}
    subprocess.run([sys.executable, "-m", "toolkit", "schema", "pull"], env=env, check=True, capture_output=True,
                   timeout=60)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`attio-sync serve` as a process, started again after each kill on the same port."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.command = [sys.executable, "-m", "toolkit", "serve", "--port", str(port), "--write-key", KEY,
                        "--write-rate", "3000", "--read-rate", "3000", "--schema-refresh", "0"]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.drain: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()  # the first line says it listens
        assert "listening on" in line, line + self.process.stdout.read().decode()[-2000:]
        self.drain = threading.Thread(target=self.process.stdout.read, daemon=True)  # keep the pipe drained
        self.drain.start()

    def kill(self) -> None:
        self.end(signal.SIGKILL)

    def stop(self) -> int:
        return self.end(signal.SIGTERM)

    def end(self, sent: signal.Signals) -> int:
        assert self.process is not None and self.process.stdout is not None and self.drain is not None
        self.process.send_signal(sent)
        status = self.process.wait(timeout=60)
        self.drain.join(10)
        self.process.stdout.close()
        return status


@pytest.mark.slow(seconds=25)
def test_killed_servers_lose_no_acknowledged_event_and_send_none_twice(served: tuple[Any, str],
                                                                      tmp_path: Path) -> None:
    from segment.analytics import Client

    app, url = served
    db = tmp_path / "serve-crash.db"
    env = pulled(url, str(db))
    port = free_port()
    server = Server(env, port)
    server.start()

    failed: list[Any] = []
    client = Client(KEY, host=f"http://127.0.0.1:{port}", upload_interval=0.05, upload_size=50, max_retries=12,
                    on_error=lambda error, batch: failed.extend(batch))
    sent: list[str] = []
    done = threading.Event()

    def send() -> None:  # a product's traffic: each user identified, then added to a workspace
        for n in range(USERS):
            _, message = client.identify(user_id=f"u{n}", traits={"email": f"user{n}@example.com"})
            sent.append(message["messageId"])
            _, message = client.group(user_id=f"u{n}", group_id=f"w{n % 20}",
                                      traits={"website": f"company{n % 20}.example.com"})
            sent.append(message["messageId"])
            time.sleep(0.004)
        done.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    rng = random.Random(13)
    cache = open_cache(str(db))
    outcomes_seen = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.2))
        with cache.engine.connect() as connection:
            outcomes_seen.append(connection.execute(text("SELECT count(*) FROM event")).scalar())
        server.kill()
        server.start()
    assert done.wait(120), "the library did not finish sending"
    client.flush()
    client.shutdown()

    acknowledged = set(sent) - {m["messageId"] for m in failed}
    deadline = time.monotonic() + 120
    while True:
        with cache.engine.connect() as connection:
            rows = connection.execute(text("SELECT e.message_id, e.status FROM event e")).all()
        if {m for m, _ in rows} >= acknowledged or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert server.stop() == 0

    with cache.engine.connect() as connection:
        rows = connection.execute(text("SELECT e.message_id, e.status FROM event e")).all()
        runs = connection.execute(text("SELECT count(*) FROM run WHERE command = 'serve'")).scalar()
        queued = connection.execute(text("SELECT count(*) FROM inbox WHERE done_at IS NULL")).scalar()
    per_message = Counter(m for m, _ in rows)
    assert failed == [], f"the library gave up on {len(failed)} events"
    assert {m for m, _ in rows} == acknowledged == set(sent), "an acknowledged event has no outcome"
    assert max(per_message.values()) == 1, "an event was given two outcomes"
    assert {s for _, s in rows} == {"synced"}
    # A run per start, but for starts killed before their run began (slow start-ups under load).
    assert queued == 0 and KILLS // 2 < runs <= KILLS + 1
    assert len(set(outcomes_seen)) > 1, "no kill landed while events were being recorded"

    dump = app.dump()
    assert len(dump["people"]) == USERS and len(dump["users"]) == USERS
    assert len(dump["workspaces"]) == 20 and len(dump["companies"]) == 20
    emails = Counter(v["email_address"] for r in dump["people"] for v in r["values"]["email_addresses"])
    assert max(emails.values()) == 1


def test_sigterm_stops_accepting_finishes_what_is_in_flight_and_the_rest_waits(served: tuple[Any, str],
                                                                                tmp_path: Path) -> None:
    import httpx

    app, url = served
    db = tmp_path / "serve-term.db"
    env = pulled(url, str(db))
    port = free_port()
    server = Server(env, port)
    server.command[server.command.index("--write-rate") + 1] = "10"  # slow enough to stop mid-queue
    server.start()
    batch = [{"type": "identify", "userId": f"t{n}", "messageId": f"term-{n}",
              "traits": {"email": f"term{n}@example.com"}} for n in range(60)]
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/batch", json={"batch": batch}, auth=(KEY, ""))
    assert answer.json()["accepted"] == 60
    cache = open_cache(str(db))

    def recorded() -> int:
        with cache.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM event")).scalar() or 0)

    deadline = time.monotonic() + 30
    while recorded() < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.stop() == 0
    with cache.engine.connect() as connection:
        done = connection.execute(text("SELECT count(*) FROM event WHERE status = 'synced'")).scalar()
        queued = connection.execute(text("SELECT count(*) FROM inbox WHERE done_at IS NULL")).scalar()
        state = connection.execute(text("SELECT state FROM run")).scalar()
    assert state == "interrupted" and done and queued and done + queued == 60

    server.command[server.command.index("--write-rate") + 1] = "3000"
    server.start()
    deadline = time.monotonic() + 60
    while recorded() < 60:
        assert time.monotonic() < deadline, "the queue left at a stop was not sent at the next start"
        time.sleep(0.05)
    assert server.stop() == 0


def test_a_standby_stops_at_once_on_sigterm(served: tuple[Any, str], tmp_path: Path) -> None:
    """A receiver standing by for the send lease has nothing in flight: SIGTERM ends it without
    waiting out the drain time."""
    app, url = served
    db = tmp_path / "standby.db"
    env = pulled(url, str(db))
    sender, standby = Server(env, free_port()), Server(env, free_port())
    sender.start()
    cache = open_cache(str(db))
    deadline = time.monotonic() + 30
    while True:  # the first holds the lease before the second starts
        with cache.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM lease")).scalar():
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    standby.start()
    time.sleep(0.5)  # it is waiting for the lease now
    started = time.monotonic()
    assert standby.stop() == 0
    assert time.monotonic() - started < 5
    assert sender.stop() == 0
