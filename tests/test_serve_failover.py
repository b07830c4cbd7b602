"""Three `serve` processes on one PostgreSQL database: one sends, two stand by, and the sender dies.

Each receiver accepts events (a library sends to each, as a load balancer would spread them);
exactly one holds the workspace's send lease and sends. The test SIGKILLs whichever process
holds it, ten times, restarting it each time, while the libraries keep sending: every
acknowledged event must end synced exactly once, the sandbox must hold no duplicate, and
the time from each kill to the next sender's first heartbeat is printed. A kill on this machine
is seen at once (the holder's pid is gone); a hung sender (SIGSTOP, as one on another machine
would look) is taken over once its heartbeat is stale.
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from databases import postgres_only
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_serve_crash import KEY, Server, free_port, pulled, served  # noqa: F401  (the module's sandbox fixture)

from toolkit.cache import as_utc, utcnow
from toolkit.heartbeat import HEARTBEAT_SECONDS, STALE_AFTER_SECONDS

KILLS = 10
RECEIVERS = 3
USERS = 150


@pytest.mark.slow(seconds=55)
@postgres_only()
def test_a_standby_takes_over_when_the_sender_dies(served: tuple[Any, str], database_url: str,  # noqa: F811
                                                   tmp_path: Path) -> None:
    from segment.analytics import Client

    app, url = served
    env = pulled(url, database_url)
    ports = [free_port() for _ in range(RECEIVERS)]
    servers = [Server(env, port) for port in ports]
    for server in servers:
        server.start()
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)

    def holder() -> int | None:
        """The pid of the process holding the send lease, when its heartbeat is fresh."""
        with engine.connect() as connection:
            row = connection.execute(text("SELECT holder, heartbeat_at FROM lease")).first()
        if row is None or (utcnow() - as_utc(row.heartbeat_at)).total_seconds() > STALE_AFTER_SECONDS:
            return None
        return int(row.holder.rsplit(":", 2)[1])

    failed: list[Any] = []
    clients = [Client(KEY, host=f"http://127.0.0.1:{port}", upload_interval=0.05, upload_size=50, max_retries=12,
                      on_error=lambda error, batch: failed.extend(batch)) for port in ports]
    sent: list[str] = []
    done = threading.Event()

    def send() -> None:  # each user's events through one receiver, users spread over all three
        for n in range(USERS):
            client = clients[n % RECEIVERS]
            _, message = client.identify(user_id=f"f{n}", traits={"email": f"failover{n}@example.com"})
            sent.append(message["messageId"])
            _, message = client.group(user_id=f"f{n}", group_id=f"fw{n % 10}",
                                      traits={"website": f"failover{n % 10}.example.com"})
            sent.append(message["messageId"])
            time.sleep(0.02)
        done.set()

    threading.Thread(target=send, daemon=True).start()
    takeovers: list[float] = []
    restarts: list[threading.Thread] = []
    for _ in range(KILLS):
        deadline = time.monotonic() + 30
        while (pid := holder()) is None:
            assert time.monotonic() < deadline, "no receiver took the send lease"
            time.sleep(0.05)
        time.sleep(0.5)  # let it send a while
        (victim,) = [s for s in servers if s.process is not None and s.process.pid == pid]
        killed_at = time.monotonic()
        victim.kill()
        while (pid := holder()) is None or pid == victim.process.pid:  # type: ignore[union-attr]
            assert time.monotonic() - killed_at < 30, "no standby took over within 30 s"
            time.sleep(0.02)
        takeovers.append(time.monotonic() - killed_at)
        restart = threading.Thread(target=victim.start)  # back as a standby while the next round goes on
        restart.start()
        restarts.append(restart)
    for restart in restarts:
        restart.join(30)
    # A sender that hangs (SIGSTOP: its pid lives on, as on another machine, so nobody can tell
    # it is dead) is taken over once its heartbeat is STALE_AFTER_SECONDS old.
    pid = holder()
    (frozen,) = [s for s in servers if s.process is not None and s.process.pid == pid]
    stopped_at = time.monotonic()
    frozen.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
    while (pid := holder()) is None or pid == frozen.process.pid:  # type: ignore[union-attr]
        assert time.monotonic() - stopped_at < STALE_AFTER_SECONDS + 15, "no standby took over from a hung sender"
        time.sleep(0.05)
    hung = time.monotonic() - stopped_at
    frozen.kill()
    frozen.start()
    print(f"\ntakeover after SIGKILL of the sender: median {statistics.median(takeovers):.2f}s, "
          f"max {max(takeovers):.2f}s over {KILLS} kills; after SIGSTOP (a hung sender): {hung:.1f}s")

    assert done.wait(120), "the libraries did not finish sending"
    for client in clients:
        client.flush()
        client.shutdown()
    acknowledged = set(sent) - {m["messageId"] for m in failed}
    deadline = time.monotonic() + 120
    while True:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT message_id, status FROM event")).all()
        if {m for m, _ in rows} >= acknowledged or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for server in servers:
        assert server.stop() == 0
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT message_id, status FROM event")).all()
        queued = connection.execute(text("SELECT count(*) FROM inbox WHERE done_at IS NULL")).scalar()
    engine.dispose()

    assert failed == [], f"the libraries gave up on {len(failed)} events"
    assert {m for m, _ in rows} == acknowledged == set(sent), "an acknowledged event has no outcome"
    assert max(Counter(m for m, _ in rows).values()) == 1, "an event was given two outcomes"
    assert {s for _, s in rows} == {"synced"} and queued == 0
    dump = app.dump()
    emails = Counter(v["email_address"] for r in dump["people"] for v in r["values"]["email_addresses"])
    assert sum(1 for e in emails if e.startswith("failover")) == USERS and max(emails.values()) == 1
    users = [r for r in dump["users"] if r["values"]["user_id"][0]["value"].startswith("f")]
    assert len(users) == USERS
    # Stale STALE_AFTER_SECONDS after its last heartbeat, which was at most HEARTBEAT_SECONDS before it hung.
    assert max(takeovers) < 5 and STALE_AFTER_SECONDS - HEARTBEAT_SECONDS <= hung < STALE_AFTER_SECONDS + 10
