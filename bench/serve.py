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
5. Receivers (issue 14): step 1 again on PostgreSQL with 1, 2 and 3 receivers (``--receivers``),
   each its own `attio-sync serve` process on its own port, all on one database (one holds the
   lease and sends, the others stand by), the clients spread round-robin over them (client i to
   receiver i mod n), beside step 1's SQLite figure. Each configuration gets a new database
   (``CREATE DATABASE``, then ``schema pull`` into it). Bare PostgreSQL: the same rows, psycopg
   executemany, one transaction per 100 rows, on a new database just before and just after.
   More receivers add processes, not cores: on this machine they share the same 2 with the
   clients, the sandbox and the PostgreSQL server. The server is ``--postgres URL`` (default
   ``$ATTIO_SYNC_TEST_PG``), else a throw-away one that .ci/postgres starts and removes; without
   PostgreSQL installed, or psycopg (the ``postgres`` extra), this step is skipped and says why.

``--max-queue`` is raised to 1,000,000 because the bench queues twice ``--events`` and more.
Aims (issue 13): ingest at least 5,000 events/s and 0.5 of bare; writes 0.95 of the limit.

    .venv/bin/python bench/serve.py [--events 50000] [--clients 4] [--seconds 30] [--e2e-rate 200]
                                    [--postgres URL] [--receivers 1,2,3] [--only receivers]

``--only receivers`` runs steps 1, 2 and 5 (the SQLite row and the PostgreSQL rows) and skips
3 and 4.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import http.client
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
IDLE = ("--write-rate", "0.01")  # the sender takes the queue's first events and waits
CORES = len(os.sched_getaffinity(0))
INSERT = "INSERT INTO inbox (message_id, event_type, event, size, received_at) VALUES ({0}, {0}, {0}, {0}, {0})"


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


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """CPU time (user + system) the process has used so far, from /proc (Linux); with `reaped`,
    plus that of its children that have exited and been waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """(busy, all) clock ticks of every core so far, whoever used them, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # idle and iowait are not busy


def post(ports: Sequence[int], bodies: list[bytes], clients: int, *,
         pace: float = 0.0) -> tuple[float, int, list[float]]:
    """Send `bodies` over `clients` connections (client i to ports[i mod len(ports)]; each `pace` s
    apart per client, else at once); returns (seconds, events accepted, per-request latencies).
    Anything but 200 stops the bench."""
    latencies: list[float] = []
    accepted = [0]
    errors: list[str] = []
    lock = threading.Lock()

    def client(port: int, mine: list[bytes]) -> None:
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

    threads = [threading.Thread(target=client, args=(ports[i % len(ports)], bodies[i::clients]))
               for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(errors[0])
    return time.perf_counter() - started, accepted[0], latencies


def stored(batches_: list[list[dict[str, object]]]) -> list[list[tuple[str, str, str, int]]]:
    """The rows the door would store, 100 a batch: (message_id, type, event text, its size)."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [[(str(e["messageId"]), str(e["type"]), text, len(text)) for e in batch
             for text in [json.dumps({**e, "sentAt": stamp, "receivedAt": stamp}, separators=(",", ":"))]]
            for batch in batches_]


@dataclass(frozen=True)
class Bare:
    """Committing the stored rows without serve: events/s, and CPU ms per 100 rows of this
    process and of the database server (None: SQLite, which runs in this process)."""

    rate: float
    cpu: float
    db_cpu: float | None = None


def bare(path: Path, batches_: list[list[dict[str, object]]]) -> Bare:
    """The rows the door would store, committed 100 per transaction, plain sqlite3."""
    open_cache(str(path)).close()  # the same inbox table, WAL, as serve's database
    received = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")  # as SQLAlchemy stores it
    rows = [[(*row, received) for row in chunk] for chunk in stored(batches_)]
    db = sqlite3.connect(path, isolation_level=None)
    started, cpu = time.perf_counter(), time.process_time()
    for chunk in rows:
        db.execute("BEGIN")
        db.executemany(INSERT.format("?"), chunk)
        db.execute("COMMIT")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    return Bare(sum(len(chunk) for chunk in rows) / seconds, 1000 * cpu / len(rows))


def bare_postgres(server: Postgres, batches_: list[list[dict[str, object]]]) -> Bare:
    """The same rows committed 100 per transaction to a new database, psycopg executemany (as the
    door's insert, less its ON CONFLICT and SQLAlchemy)."""
    url = server.create("bare")
    open_cache(url).close()  # the inbox table, by the project's migrations
    received = datetime.now(UTC)
    rows = [[(*row, received) for row in chunk] for chunk in stored(batches_)]
    with server.connect(make_url(url).database, autocommit=True) as db, db.cursor() as cursor:
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), server.cpu_seconds()
        for chunk in rows:
            with db.transaction():
                cursor.executemany(INSERT.format("%s"), chunk)
        seconds, cpu, db_after = time.perf_counter() - started, time.process_time() - cpu, server.cpu_seconds()
    server.drop(url)
    return Bare(sum(len(chunk) for chunk in rows) / seconds, 1000 * cpu / len(rows),
                None if db_cpu is None or db_after is None else 1000 * (db_after - db_cpu) / len(rows))


running: list[subprocess.Popen[bytes]] = []  # what to stop if the bench fails half-way


class Serve:
    """`attio-sync serve` in a subprocess, as a user starts it."""

    def __init__(self, db: str, env: dict[str, str], log: Path, *extra: str) -> None:
        self.port = free_port()
        self.command = [CLI, "serve", "--db", db, "--port", str(self.port), "--max-queue", "1000000", *extra]
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(self.command, env=env, stdout=out, stderr=subprocess.STDOUT)
        running.append(self.process)
        wait_for(self.port)
        post([self.port], [body(b) for b in batches(uuid.uuid4().hex[:8], 4 * BATCH)], 4)  # warm up

    def stop(self) -> float:
        """SIGTERM; returns the time it was sent (epoch seconds) once the process has exited."""
        at = self.terminate()
        self.wait()
        return at

    def terminate(self) -> float:
        at = time.time()
        self.process.terminate()
        return at

    def wait(self) -> None:
        if self.process.wait(timeout=60) != 0:
            raise SystemExit(f"serve exited {self.process.returncode}:\n{self.log.read_text()[-2000:]}")


@dataclass(frozen=True)
class Ingest:
    """One ingest measurement: events acknowledged in `seconds`, each request's latency, the CPU
    ms per request (100 events) of the receivers together, of the database server (None: SQLite,
    inside the receivers) and of the clients (this process), and the share of the machine's
    cores busy meanwhile."""

    seconds: float
    accepted: int
    latencies: list[float]
    cpu: float
    db_cpu: float | None
    client_cpu: float
    busy: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    @property
    def ours(self) -> float:
        """The share of the machine's cores the receivers, the database server and the clients used."""
        per_request = self.cpu + (self.db_cpu or 0.0) + self.client_cpu
        return per_request * self.accepted / BATCH / 1000 / self.seconds / CORES


def ingest(receivers: Sequence[Serve], bodies: list[bytes], clients: int, server: Postgres | None = None) -> Ingest:
    """`post` at full speed, the clients spread round-robin over `receivers`."""
    def serve_cpu() -> float:
        return sum(cpu_seconds(receiver.process.pid) for receiver in receivers)

    def db_cpu() -> float | None:
        return None if server is None else server.cpu_seconds()

    cpu, db, mine, (busy, ticks) = serve_cpu(), db_cpu(), time.process_time(), machine_cpu()
    seconds, accepted, latencies = post([receiver.port for receiver in receivers], bodies, clients)
    cpu, db_after, mine = serve_cpu() - cpu, db_cpu(), time.process_time() - mine
    busy_after, ticks_after = machine_cpu()
    per_request = 1000 / len(bodies)
    return Ingest(seconds, accepted, latencies, cpu * per_request,
                  None if db is None or db_after is None else (db_after - db) * per_request,
                  mine * per_request, (busy_after - busy) / max(1, ticks_after - ticks))


def initdb() -> str | None:
    """Where PostgreSQL's initdb is (as .ci/postgres looks for it), or None: not installed."""
    return shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)


class Postgres:
    """The PostgreSQL server of step 5, and the databases the bench creates on it.

    `url` (a SQLAlchemy URL whose user may create databases) is used as it is; None starts a
    throw-away server with .ci/postgres. `close` drops every database this object created and
    stops (and removes) a throw-away server.
    """

    def __init__(self, url: str | None) -> None:
        import psycopg  # the `postgres` extra; main says so when it is missing

        self._psycopg = psycopg
        self.folder: str | None = None
        if url is None:
            started = subprocess.run(["bash", str(ROOT / ".ci" / "postgres"), "start"], capture_output=True,
                                     text=True)
            if started.returncode != 0:
                raise SystemExit(f".ci/postgres start failed:\n{started.stderr[-2000:]}")
            exports = dict(shlex.split(line)[1].split("=", 1) for line in started.stdout.splitlines()
                           if line.startswith("export "))
            url, self.folder = exports["ATTIO_SYNC_TEST_PG"], exports["ATTIO_SYNC_TEST_PG_DIR"]
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.created: list[str] = []  # the databases to drop
        try:
            with self.connect() as conn:
                self.version, self.fsync, self.synchronous_commit = (
                    conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("server_version", "fsync", "synchronous_commit"))
                self.postmaster = self._postmaster(conn)
        except BaseException:
            self.close()
            raise

    def connect(self, database: str | None = "postgres", **options: Any) -> Any:
        """A psycopg connection to `database` on the server (by default its `postgres` database)."""
        args: dict[str, Any] = self.url.translate_connect_args(username="user", database="dbname")
        args.update({key: value for key, value in self.url.query.items() if isinstance(value, str)})
        args["dbname"] = database
        return self._psycopg.connect(**args, **options)

    def create(self, label: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"bench_serve_{os.getpid()}_{len(self.created)}_{label}"
        identifier = self._psycopg.sql.Identifier(name)
        with self.connect(autocommit=True) as conn:
            conn.execute(self._psycopg.sql.SQL("CREATE DATABASE {}").format(identifier))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.connect(autocommit=True) as conn:
            conn.execute(self._psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(self._psycopg.sql.Identifier(name)))
        self.created.remove(name)

    def _postmaster(self, conn: Any) -> int | None:
        """The server's main process when it runs on this machine and we may read its pid file;
        else None (then its CPU is not measured)."""
        host = str(self.url.query.get("host") or self.url.host or "")
        if host and not host.startswith("/") and host not in ("localhost", "127.0.0.1", "::1"):
            return None
        try:
            pid = int(conn.execute("SELECT pg_read_file('postmaster.pid')").fetchone()[0].split()[0])
        except self._psycopg.Error:
            return None
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
                return pid
        return None

    def cpu_seconds(self) -> float | None:
        """CPU the server has used so far: its main process, its live processes (one per
        connection, and its workers) and those that have exited."""
        if self.postmaster is None:
            return None
        total = cpu_seconds(self.postmaster, reaped=True)
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.postmaster:
                    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def describe(self) -> str:
        where = "a throw-away server (.ci/postgres)" if self.folder else self.url.render_as_string()
        return (f"PostgreSQL {self.version.split()[0]}, {where}: fsync {self.fsync}, synchronous_commit "
                f"{self.synchronous_commit}")

    def close(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(self._psycopg.Error):
                self.drop(self.url.set(database=name).render_as_string(hide_password=False))
        if self.folder:
            subprocess.run(["bash", str(ROOT / ".ci" / "postgres"), "stop", self.folder], check=False)


def open_postgres(url: str | None) -> tuple[Postgres | None, str]:
    """The server for step 5, or None and why there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed: pip install 'attio-sync[postgres]'"
    if url is None and initdb() is None:
        return None, ("PostgreSQL is not installed (no initdb): install it (Debian: apt-get install postgresql) "
                      "or pass --postgres URL")
    return Postgres(url), ""


def receivers_on_postgres(server: Postgres, env: dict[str, str], tmp: Path, events: list[list[dict[str, object]]],
                          clients: int, counts: Sequence[int]) -> tuple[Bare, dict[int, Ingest], Bare]:
    """Step 5: bare before, each count of receivers on a new database, bare after."""
    bodies = [body(b) for b in events]
    before = bare_postgres(server, events)
    runs: dict[int, Ingest] = {}
    for count in counts:
        url = server.create(f"{count}_receivers")
        subprocess.run([CLI, "schema", "pull", "--db", url], env=env, check=True, capture_output=True)
        receivers: list[Serve] = []
        for n in range(count):
            receivers.append(Serve(url, env, tmp / f"serve-pg-{count}-{n}.log", *IDLE))
        runs[count] = ingest(receivers, bodies, clients, server)
        for receiver in receivers:  # all at once: a standby takes some 15 s to stop
            receiver.terminate()
        for receiver in receivers:
            receiver.wait()
        server.drop(url)
    return before, runs, bare_postgres(server, events)


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


def spread(clients: int, receivers: int) -> str:
    """How many clients each receiver gets, round-robin: '2+1+1'."""
    return "+".join(str(len(range(i, clients, receivers))) for i in range(receivers))


def report_ingest(args: argparse.Namespace, size: float, bare_rate: float, bare_cpu: float, bare_runs: list[Bare],
                  runs: Sequence[tuple[str, Ingest]]) -> None:
    """Steps 1 to 3's table, as before issue 14."""
    print(f"serve ingest: {args.events:,} events per measurement in batches of {BATCH} (~{size:.0f} bytes each), "
          f"{args.clients} clients; 2 cores shared by clients, server and sandbox")
    print(f"  {'':32}{'events/s':>9}{'x bare':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/100':>11}")
    print(f"  {'bare sqlite3, 100 rows a commit':32}{bare_rate:9.0f}{1:8.2f}{'':16}{bare_cpu:11.2f}"
          f"  (before {bare_runs[0].rate:.0f}/s, after {bare_runs[1].rate:.0f}/s)")
    for name, run in runs:
        print(f"  {name:32}{run.rate:9.0f}{run.rate / bare_rate:8.2f}{pct(run.latencies, 0.5):8.1f}"
              f"{pct(run.latencies, 0.99):8.1f}{run.cpu:11.2f}  ({run.accepted:,} in {run.seconds:.1f} s)")
    print("  aims: >= 5,000 events/s, >= 0.5 x bare.  CPU ms/100: the server process's (bare: this one's) per batch")


def report_receivers(args: argparse.Namespace, sqlite: tuple[list[Bare], Ingest], server: Postgres | None,
                     postgres: tuple[Bare, dict[int, Ingest], Bare] | None, skipped: str) -> None:
    """Step 5's table: SQLite's row and PostgreSQL's, each against its own bare figure."""
    print(f"receivers: acknowledged events/s, sender idle (--write-rate 0.01), {args.events:,} events per "
          f"configuration, {args.clients} clients spread round-robin over the receivers, a new database each")
    print(f"  all on one machine: its {CORES} cores are shared by the clients, every receiver, the sandbox and "
          "the database server (and whatever else runs): more receivers add processes, not cores")

    def optional(value: float | None, width: int) -> str:
        return " " * width if value is None else f"{value:{width}.2f}"

    print(f"  {'':67}{'CPU ms per 100 events':>24}{f'of the {CORES} cores':>15}")
    print(f"  {'':34}{'events/s':>9}{'x bare':>8}{'p50 ms':>8}{'p99 ms':>8}{'serve':>9}{'db':>6}"
          f"{'clients':>9}{'ours':>8}{'busy':>7}")

    def bare_row(name: str, runs: Sequence[Bare]) -> float:
        best = max(run.rate for run in runs)
        cpus = [run.db_cpu for run in runs if run.db_cpu is not None]
        print(f"  {name:34}{best:9.0f}{1:8.2f}{'':16}{min(run.cpu for run in runs):9.2f}"
              f"{optional(min(cpus) if cpus else None, 6)}{'':24}  (before {runs[0].rate:.0f}/s, after "
              f"{runs[1].rate:.0f}/s)")
        return best

    def row(name: str, run: Ingest, bare_rate: float) -> None:
        print(f"  {name:34}{run.rate:9.0f}{run.rate / bare_rate:8.2f}{pct(run.latencies, 0.5):8.1f}"
              f"{pct(run.latencies, 0.99):8.1f}{run.cpu:9.2f}{optional(run.db_cpu, 6)}"
              f"{run.client_cpu:9.2f}{run.ours:8.0%}{run.busy:7.0%}"
              f"  ({run.accepted:,} in {run.seconds:.1f} s)")

    rate = bare_row("SQLite, bare sqlite3", sqlite[0])
    row("SQLite, 1 receiver", sqlite[1], rate)
    if server is None or postgres is None:
        print(f"  PostgreSQL: skipped, {skipped}")
    else:
        before, runs, after = postgres
        rate = bare_row("PostgreSQL, bare psycopg", [before, after])
        for count, run in runs.items():
            clients = f" ({spread(args.clients, count)})" if count > 1 else ""
            row(f"PostgreSQL, {count} receiver{'s' if count > 1 else ''}{clients}", run, rate)
        print(f"  {server.describe()}")
    print("  x bare: against the same database's bare figure (100 rows a commit, no HTTP, the faster of before "
          "and after)")
    print("  CPU: of the receivers together (bare: of this process), of the PostgreSQL server's processes, of "
          "the clients (this process); cores: the share of them these used (ours), and that anything used (busy), "
          "over the measurement")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per ingest measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (connections)")
    parser.add_argument("--seconds", type=float, default=30.0, help="the end-to-end phase, from serve's restart")
    parser.add_argument("--e2e-rate", type=float, default=200.0, help="events/s sent after the second ingest")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("ATTIO_SYNC_TEST_PG") or None,
                        help="PostgreSQL server for the receivers comparison, as a SQLAlchemy URL whose user may "
                             "create databases [default: $ATTIO_SYNC_TEST_PG, else a throw-away server]")
    parser.add_argument("--receivers", default="1,2,3", help="receiver counts to compare on PostgreSQL")
    parser.add_argument("--only", choices=["receivers"], help="run only the receivers comparison (steps 1, 2, 5)")
    args = parser.parse_args()
    counts = [int(count) for count in args.receivers.split(",")]
    server: Postgres | None = None
    postgres = None
    with tempfile.TemporaryDirectory() as tmp_, contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_)
        server, skipped = open_postgres(args.postgres)
        if server is not None:
            cleanup.callback(server.close)
        cleanup.callback(stop_running)  # first: the receivers, then their databases and server
        sandbox_port = free_port()
        env = {**os.environ, "ATTIO_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "ATTIO_API_KEY": TOKEN,
               "ATTIO_SYNC_WRITE_KEYS": WRITE_KEY}
        env.pop("ATTIO_SYNC_DB", None)
        running.append(subprocess.Popen([CLI, "sandbox", "--port", str(sandbox_port), "--token", TOKEN,
                                         "--activate", "users,workspaces", "--write-rate", str(WRITE_LIMIT),
                                         "--read-rate", "100"], stdout=subprocess.DEVNULL))
        wait_for(sandbox_port)
        db = tmp / "serve.db"
        subprocess.run([CLI, "schema", "pull", "--db", str(db)], env=env, check=True, capture_output=True)
        first, second = batches("a", args.events), batches("b", args.events)
        log = tmp / "serve.log"

        bare_runs = [bare(tmp / "bare1.db", first)]
        idle = Serve(str(db), env, log, *IDLE)
        idle_run = ingest([idle], [body(b) for b in first], args.clients)
        idle.stop()
        bare_runs.append(bare(tmp / "bare2.db", first))

        if args.only is None:
            paced = batches("c", int(args.seconds * args.e2e_rate))
            restarted, before = time.time(), last_run(db)
            busy = Serve(str(db), env, log)
            busy_run = ingest([busy], [body(b) for b in second], args.clients)
            left = args.seconds - (time.time() - restarted)
            count = max(0, int(left * args.e2e_rate / BATCH))
            post([busy.port], [body(b) for b in paced[:count]], 1, pace=BATCH / args.e2e_rate)
            stopped = busy.stop()
            steady, accepted_writes, rejected, outcomes = writes(db, before, stopped)

        if server is not None:
            postgres = receivers_on_postgres(server, env, tmp, first, args.clients, counts)

    size = sum(len(json.dumps(e)) for b in first for e in b) / args.events
    bare_rate = max(run.rate for run in bare_runs)
    if args.only is None:
        report_ingest(args, size, bare_rate, min(run.cpu for run in bare_runs), bare_runs,
                      (("serve, sender idle", idle_run), ("serve, sender at 25 writes/s", busy_run)))
        print(f"end to end: {args.seconds:.0f} s from serve's restart, write limit {WRITE_LIMIT}/s (sandbox and serve)")
        print(f"  writes/s  : {steady:.2f} = {steady / WRITE_LIMIT:.3f} of the limit over the steady window "
              "(aim >= 0.95)")
        print(f"  writes    : {accepted_writes} accepted, {rejected} answered 429")
        print(f"  outcomes  : {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'none'}")
    report_receivers(args, (bare_runs, idle_run), server, postgres, skipped)
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")


def stop_running() -> None:
    for process in running:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
