"""Benchmark: `attio-sync serve` acknowledging events durably, and sending them on at Attio's limit.

Everything runs as a user runs it, through the installed CLI: `attio-sync sandbox` (Attio's
limits: 25 writes/s, 100 reads/s), `attio-sync schema pull` into a fresh SQLite file, then
`attio-sync serve` on it. Clients are threads of this process, one keep-alive `http.client`
connection each, POSTing pre-built `/v1/batch` bodies of 100 typical events (identify and group,
as the Segment library sends them, unique messageIds). The machine has 2 cores, shared by the
clients, the server and the sandbox: the figures are for all of them together.

1. Ingest, sender idle: serve with ``--write-rate 0.01`` (one write per 100 s, so the sender
   takes the queue's first events and waits): the door and the inbox alone.
2. Bare: the same rows (the JSON texts the door stores) committed to a fresh file with the same
   ``inbox`` table (the project's migrations), plain `sqlite3` executemany, one transaction per
   100 rows, one thread, no HTTP. Measured just before and just after 1; the ratio uses the faster
   (other load on the machine only ever slows it down).
3. Ingest while sending: serve restarted on the same file at its default write rate (Attio's
   25/s), the sender draining what 1 queued while the clients send as many events again.
4. End to end: the clients keep sending (``--e2e-rate`` events/s, far above what 25 writes/s can
   sync) until ``--seconds`` after the restart; then serve is stopped (SIGTERM) and the
   database's ``request`` table gives the writes Attio accepted per second over the steady
   window (whole clock seconds, as Attio counts, from the third with a write to the last before
   the stop), as a ratio of the limit, and the 429s.

``--max-queue`` is raised to 1,000,000 because the bench queues twice ``--events`` and more.
Aims (issue 13): ingest at least 5,000 events/s and 0.5 of bare; writes 0.95 of the limit.

    .venv/bin/python bench/serve.py [--events 50000] [--clients 4] [--seconds 30] [--e2e-rate 200]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import free_port, wait_for  # noqa: E402  (bench/common.py)

from toolkit.cache import open_cache  # noqa: E402

CLI = str(Path(sys.executable).with_name("attio-sync"))
TOKEN = "bench" + "0" * 59
WRITE_KEY = "wk_bench"
AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
WRITE_LIMIT = 25  # Attio's writes per second (api-notes), the sandbox's and serve's default
BATCH = 100
CONTEXT = {"library": {"name": "analytics-python", "version": "2.4.0"}, "ip": "203.0.113.7", "locale": "en-GB",
           "timezone": "Europe/London"}


def event(tag: str, n: int, now: str) -> dict[str, object]:
    """A typical event as a server library sends it: identify (even n) or group (odd n)."""
    base = {"messageId": str(uuid.uuid4()), "timestamp": now, "context": CONTEXT, "integrations": {},
            "anonymousId": None, "userId": f"user-{tag}-{n - n % 2}"}
    if n % 2 == 0:
        return {**base, "type": "identify", "traits": {
            "email": f"user.{tag}.{n}@example.com", "name": f"User Number {n}", "title": "Engineer",
            "plan": "pro", "created_at": "2025-06-01T12:00:00Z", "logins": n % 97}}
    return {**base, "type": "group", "groupId": f"ws-{tag}-{n}", "traits": {
        "name": f"Workspace {n}", "website": f"company-{tag}-{n}.example.com", "plan": "enterprise",
        "employees": 10 + n % 500, "industry": "Software"}}


def batches(tag: str, count: int) -> list[list[dict[str, object]]]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    events = [event(tag, n, now) for n in range(count)]
    return [events[i:i + BATCH] for i in range(0, count, BATCH)]


def body(batch: list[dict[str, object]]) -> bytes:
    sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"batch": batch, "sentAt": sent_at}).encode()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(port: int, bodies: list[bytes], clients: int, *, pace: float = 0.0) -> tuple[float, int, list[float]]:
    """Send `bodies` over `clients` connections (each `pace` s apart per client, else at once);
    returns (seconds, events accepted, per-request latencies). Anything but 200 stops the bench."""
    latencies: list[float] = []
    accepted = [0]
    errors: list[str] = []
    lock = threading.Lock()

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": AUTH, "Content-Type": "application/json"}
        due = time.perf_counter()
        for data in mine:
            if pace:
                time.sleep(max(0.0, due - time.perf_counter()))
                due += pace
            started = time.perf_counter()
            conn.request("POST", "/v1/batch", data, headers)
            response = conn.getresponse()
            answer = response.read()
            took = time.perf_counter() - started
            if response.status != 200:
                errors.append(f"serve answered {response.status}: {answer[:300]!r}")
                return
            with lock:
                latencies.append(took)
                accepted[0] += json.loads(answer)["accepted"]
        conn.close()

    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(errors[0])
    return time.perf_counter() - started, accepted[0], latencies


def bare(path: Path, batches_: list[list[dict[str, object]]]) -> tuple[float, float]:
    """Events/s committing the rows the door would store, 100 per transaction, plain sqlite3; and
    the CPU milliseconds per 100 rows."""
    open_cache(str(path)).close()  # the same inbox table, WAL, as serve's database
    received = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")  # as SQLAlchemy stores it
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = [[(e["messageId"], e["type"], text, len(text), received) for e in batch
             for text in [json.dumps({**e, "sentAt": stamp, "receivedAt": stamp}, separators=(",", ":"))]]
            for batch in batches_]
    db = sqlite3.connect(path, isolation_level=None)
    started, cpu = time.perf_counter(), time.process_time()
    for chunk in rows:
        db.execute("BEGIN")
        db.executemany("INSERT INTO inbox (message_id, event_type, event, size, received_at) VALUES (?, ?, ?, ?, ?)",
                       chunk)
        db.execute("COMMIT")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return sum(len(chunk) for chunk in rows) / seconds, 1000 * cpu / len(rows)


running: list[subprocess.Popen[bytes]] = []  # what to stop if the bench fails half-way


class Serve:
    """`attio-sync serve` in a subprocess, as a user starts it."""

    def __init__(self, db: Path, env: dict[str, str], log: Path, *extra: str) -> None:
        self.port = free_port()
        self.command = [CLI, "serve", "--db", str(db), "--port", str(self.port), "--max-queue", "1000000", *extra]
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(self.command, env=env, stdout=out, stderr=subprocess.STDOUT)
        running.append(self.process)
        wait_for(self.port)
        post(self.port, [body(b) for b in batches(uuid.uuid4().hex[:8], 4 * BATCH)], 4)  # warm up

    def ingest(self, bodies: list[bytes], clients: int) -> tuple[float, int, list[float], float]:
        """`post` at full speed, plus the server's CPU milliseconds per request."""
        before = cpu_seconds(self.process.pid)
        seconds, accepted, latencies = post(self.port, bodies, clients)
        return seconds, accepted, latencies, 1000 * (cpu_seconds(self.process.pid) - before) / len(bodies)

    def stop(self) -> float:
        """SIGTERM; returns the time it was sent (epoch seconds) once the process has exited."""
        at = time.time()
        self.process.terminate()
        if self.process.wait(timeout=60) != 0:
            raise SystemExit(f"serve exited {self.process.returncode}:\n{self.log.read_text()[-2000:]}")
        return at


def last_run(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM run").fetchone()[0])


def writes(db: Path, after_run: int, stopped: float) -> tuple[float, int, int, dict[str, int]]:
    """From the request table, for the runs after `after_run`: accepted writes per second over the
    steady window, all accepted writes, 429s, and the events' outcomes."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT started_at, status FROM request WHERE method != 'GET' AND run_id > ?",
                        (after_run,)).fetchall()
    outcomes = dict(conn.execute("SELECT status, count(*) FROM event WHERE run_id > ? GROUP BY status",
                                 (after_run,)).fetchall())
    conn.close()
    # SQLite keeps the UTC time as text, without its offset.
    ok = sorted(datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp() for at, status in rows
                if status is not None and status < 300)
    # Whole clock seconds, as Attio counts: from the third second with writes to the last before the stop.
    seconds = range(int(ok[0]) + 2, int(stopped)) if ok else range(0)
    steady = sum(1 for at in ok if int(at) in seconds) / len(seconds) if seconds else float("nan")
    return steady, len(ok), sum(1 for _, status in rows if status == 429), outcomes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per ingest measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (connections)")
    parser.add_argument("--seconds", type=float, default=30.0, help="the end-to-end phase, from serve's restart")
    parser.add_argument("--e2e-rate", type=float, default=200.0, help="events/s sent after the second ingest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        sandbox_port = free_port()
        env = {**os.environ, "ATTIO_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "ATTIO_API_KEY": TOKEN,
               "ATTIO_SYNC_WRITE_KEYS": WRITE_KEY}
        env.pop("ATTIO_SYNC_DB", None)
        running.append(subprocess.Popen([CLI, "sandbox", "--port", str(sandbox_port), "--token", TOKEN,
                                         "--activate", "users,workspaces", "--write-rate", str(WRITE_LIMIT),
                                         "--read-rate", "100"], stdout=subprocess.DEVNULL))
        try:
            wait_for(sandbox_port)
            db = tmp / "serve.db"
            subprocess.run([CLI, "schema", "pull", "--db", str(db)], env=env, check=True, capture_output=True)
            first, second = batches("a", args.events), batches("b", args.events)
            paced = batches("c", int(args.seconds * args.e2e_rate))
            log = tmp / "serve.log"

            bare_before = bare(tmp / "bare1.db", first)
            idle = Serve(db, env, log, "--write-rate", "0.01")
            idle_run = idle.ingest([body(b) for b in first], args.clients)
            idle.stop()
            bare_after = bare(tmp / "bare2.db", first)

            restarted, before = time.time(), last_run(db)
            busy = Serve(db, env, log)
            busy_run = busy.ingest([body(b) for b in second], args.clients)
            left = args.seconds - (time.time() - restarted)
            count = max(0, int(left * args.e2e_rate / BATCH))
            post(busy.port, [body(b) for b in paced[:count]], 1, pace=BATCH / args.e2e_rate)
            stopped = busy.stop()
            steady, accepted_writes, rejected, outcomes = writes(db, before, stopped)
        finally:
            for process in running:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)

    size = sum(len(json.dumps(e)) for b in first for e in b) / args.events
    (bare1, bare1_cpu), (bare2, bare2_cpu) = bare_before, bare_after
    bare_rate = max(bare1, bare2)
    print(f"serve ingest: {args.events:,} events per measurement in batches of {BATCH} (~{size:.0f} bytes each), "
          f"{args.clients} clients; 2 cores shared by clients, server and sandbox")
    print(f"  {'':32}{'events/s':>9}{'x bare':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/100':>11}")
    print(f"  {'bare sqlite3, 100 rows a commit':32}{bare_rate:9.0f}{1:8.2f}{'':16}{min(bare1_cpu, bare2_cpu):11.2f}"
          f"  (before {bare1:.0f}/s, after {bare2:.0f}/s)")
    for name, (seconds, accepted, latencies, cpu) in (("serve, sender idle", idle_run),
                                                      ("serve, sender at 25 writes/s", busy_run)):
        rate = accepted / seconds
        print(f"  {name:32}{rate:9.0f}{rate / bare_rate:8.2f}{pct(latencies, 0.5):8.1f}{pct(latencies, 0.99):8.1f}"
              f"{cpu:11.2f}  ({accepted:,} in {seconds:.1f} s)")
    print("  aims: >= 5,000 events/s, >= 0.5 x bare.  CPU ms/100: the server process's (bare: this one's) per batch")
    print(f"end to end: {args.seconds:.0f} s from serve's restart, write limit {WRITE_LIMIT}/s (sandbox and serve)")
    print(f"  writes/s  : {steady:.2f} = {steady / WRITE_LIMIT:.3f} of the limit over the steady window (aim >= 0.95)")
    print(f"  writes    : {accepted_writes} accepted, {rejected} answered 429")
    print(f"  outcomes  : {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'none'}")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")


if __name__ == "__main__":
    main()
