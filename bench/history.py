"""Benchmark: the `history` commands on an audit log of 10,000, 100,000 and 1,000,000 events.

For each size a fresh SQLite database is made through the project's own code: `open_cache`
(every migration), a schema pulled from the sandbox in process, then three runs written as
bulk inserts into the models' tables (`insert(EventRecord)`, `insert(RequestRecord)`, the rows
the audit log writes, each event with its `problem_key`, 20,000 at a time):

- run 1, started 40 days ago: 1% of the size (at least 100 events), for `prune` to find;
- run 2, started 2 days ago: the size itself, with a real sync's mix of outcomes (60% synced,
  26% unchanged, 4% duplicate, 6% invalid, 2% rejected, 2% failed), their problems, writes and
  raw lines, and its requests (2 per synced event, 1 per rejected one, 4 attempts per failed
  one: about 1.3 per event);
- run 3, a retry of run 2 a day later: its failed events again, now synced.

Then the real CLI runs each command as a subprocess (`attio-sync ... --db FILE`), output to a
file or /dev/null, timed by wall clock: `history export --run 2` as JSON lines and as CSV
(once each; rows/s), and every other `history` command (the best of three; seconds, import
time included: `attio-sync --version` is timed too, to show what is start-up).

It prints, per size, the build time, both exports' seconds and rows/s (as timed, and net of
an export of nothing: start-up and opening the database), and each command's seconds; then the
linearity of the export (rows/s at the largest size / rows/s at the smallest: 1.0 is linear,
and start-up alone makes the first ratio grow with size, hence the net one). Aims (issue 16):
the 1,000,000-row export in at most 60 s, linear, and every other command under one second at
1,000,000 events.

    .venv/bin/python bench/history.py [--sizes 10000,100000,1000000] [--keep DIR]

With --keep the databases stay in DIR (history-N.db) and are used again by the next run with
the same DIR (opened, and so migrated, before anything is timed: the time an upgrade took is
printed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from toolkit.cache import Cache, open_cache  # noqa: E402
from toolkit.history import problem_key  # noqa: E402
from toolkit.models import EventRecord, RequestRecord, Run  # noqa: E402

CLI = str(Path(sys.executable).parent / "attio-sync")
EVENTS, REQUESTS = EventRecord.__table__, RequestRecord.__table__  # type: ignore[attr-defined]
BATCH = 20_000
#: Outcomes of the big run and their shares (a sync of a real export, some of it bad).
MIX = (("synced", 0.60), ("unchanged", 0.26), ("duplicate", 0.04), ("invalid", 0.06), ("rejected", 0.02),
       ("failed", 0.02))
NOW = datetime.now(UTC).replace(microsecond=0)
#: One event in 30 has no messageId: its key is the hash of its line.
NO_MESSAGE_ID = 30


def _record_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _raw(n: int, user: int, with_id: bool) -> str:
    event: dict[str, Any] = {"type": "identify", "userId": f"user-{user}",
                             "timestamp": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                             "traits": {"email": f"user{user}@example.com", "name": f"User {user}",
                                        "title": "Engineer", "phone": f"+1415555{user % 10000:04d}",
                                        "plan": "Pro"}}
    if with_id:
        event["messageId"] = f"msg-{n}"
    return json.dumps(event)


def _writes(rng: random.Random, user: int, sent: bool) -> list[dict[str, Any]]:
    return [
        {"object": "people", "matching_attribute": "email_addresses", "match": [f"user{user}@example.com"],
         "record_id": _record_id(rng), "sent": sent, "values": ["email_addresses", "job_title", "name"] if sent else [],
         "appended": [], "skipped_older": []},
        {"object": "users", "matching_attribute": "user_id", "match": [f"user-{user}"], "record_id": _record_id(rng),
         "sent": sent, "values": ["person", "primary_email_address", "user_id"] if sent else [], "appended": [],
         "skipped_older": []},
    ]


def _api_problem(rng: random.Random, status: int) -> tuple[str, dict[str, Any]]:
    """A refused (400) or failed (503) write: the event's reason and its problem, as the sync stores them."""
    if status == 400:
        method, path = "PUT", "/v2/objects/people/records?matching_attribute=email_addresses"
        code, message = "validation_type", 'Invalid value was passed to attribute with slug "name".'
        problem = {"status": 400, "code": code, "message": message,
                   "validation_errors": [{"code": "invalid_type", "path": ["name"], "message": "Expected a string"}],
                   "execution_id": _record_id(rng), "method": method, "path": path}
    else:
        method, path = "PUT", "/v2/objects/users/records?matching_attribute=user_id"
        code, message = None, "Service Unavailable"
        problem = {"status": 503, "code": None, "message": message, "validation_errors": [], "execution_id": None,
                   "method": method, "path": path}
    return f"{method} {path}: {status} {code or ''}: {message}".replace("  ", " "), problem


def _invalid(n: int, user: int) -> tuple[str, list[dict[str, Any]]]:
    """A value the schema refuses, or a line that is not JSON: the event's reason and problems."""
    kind = n % 3
    if kind == 0:
        problems = [{"action": "identify-user", "field": "people.phone_numbers", "input": f"7946 {user % 10000:04d}",
                     "reason": "not a possible length for a number of this country",
                     "hint": "write it with its country code, e.g. +44 20 7946 0958, or set phone_region"}]
    elif kind == 1:
        problems = [{"action": "identify-user", "field": "people.plan", "input": "Platinum",
                     "reason": "no option with this title or id", "hint": "the closest option is 'Pro'"}]
    else:
        return ("not JSON: Expecting value: line 1 column 42 (char 41)",
                [{"field": "(line)", "reason": "not JSON: Expecting value: line 1 column 42 (char 41)", "bytes": 42}])
    return "; ".join(f"{p['field']}: {p['reason']}" for p in problems), problems


def _rows(rng: random.Random, run_id: int, count: int, started: datetime, *, first: int = 0,
          only: str | None = None) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """One run's event rows and, with each, its request rows."""
    statuses, weights = zip(*MIX, strict=True)
    step = timedelta(seconds=3600 / max(count, 1))  # the run takes an hour
    for i in range(count):
        n = first + i
        status = only or rng.choices(statuses, weights)[0]
        user = rng.randrange(max(count // 3, 1))
        with_id = n % NO_MESSAGE_ID != 0
        raw = _raw(n, user, with_id)
        key = f"msg-{n}" if with_id else "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        finished = started + step * i
        reason, problems, writes, requests = "", None, None, []
        if status == "synced":
            writes = _writes(rng, user, True)
            requests = [dict(method="PUT", path=f"/v2/objects/{obj}/records?matching_attribute={attr}", attempt=1,
                             status=200, latency=rng.uniform(0.05, 0.9), record_id=w["record_id"],
                             matching_attribute=attr)
                        for w, (obj, attr) in zip(writes, (("people", "email_addresses"), ("users", "user_id")),
                                                  strict=True)]
        elif status == "unchanged":
            writes = _writes(rng, user, False)
        elif status == "duplicate":
            reason = "this messageId was already processed"
        elif status == "invalid":
            reason, problems = _invalid(n, user)
        elif status == "rejected":
            reason, problem = _api_problem(rng, 400)
            problems = [problem]
            requests = [dict(method="PUT", path=problem["path"], attempt=1, status=400, code="validation_type",
                             message=problem["message"], execution_id=problem["execution_id"],
                             latency=rng.uniform(0.05, 0.5), matching_attribute="email_addresses")]
        else:  # failed
            reason, problem = _api_problem(rng, 503)
            problems = [problem]
            writes = _writes(rng, user, True)[:1]
            requests = [dict(method="PUT", path=problem["path"], attempt=a, status=503, message="Service Unavailable",
                             latency=rng.uniform(0.05, 2.0), matching_attribute="user_id") for a in range(1, 5)]
        event = {"run_id": run_id, "line": n + 1, "message_key": key, "message_id": key if with_id else None,
                 "event_type": "identify", "user_id": f"user-{user}", "email": f"user{user}@example.com",
                 "status": status, "reason": reason, "problems": problems, "writes": writes,
                 "raw": None if status == "duplicate" else raw, "finished_at": finished,
                 "seconds": rng.uniform(0.01, 0.5), "problem_key": problem_key(problems, reason)}
        yield event, [{"run_id": run_id, "message_key": key, "code": None, "message": None, "execution_id": None,
                       "record_id": None, "started_at": finished, **r} for r in requests]


def _write_run(cache: Cache, rng: random.Random, *, started: datetime, count: int, parent: int | None = None,
               first: int = 0, only: str | None = None) -> tuple[int, list[str]]:
    """A finished run of `count` events, inserted in batches; its id and its failed messageIds."""
    with cache.session() as session:
        run = Run(command="retry" if parent else "sync", started_at=started, heartbeat_at=started,
                  input="/data/segment-export.jsonl", mapping="(default)", base_url="https://api.attio.com",
                  parent_run_id=parent)
        session.add(run)
    assert run.id is not None
    counts = {status: 0 for status, _ in MIX}
    failed: list[str] = []
    requests = 0
    events: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []

    def flush() -> None:
        # The tables' own inserts, as Core executemany (the ORM's bulk insert, which the audit
        # log uses for its batches of 500, took twice as long here).
        with cache.engine.begin() as connection:
            if events:
                connection.execute(insert(EVENTS), events)
            if attempts:
                connection.execute(insert(REQUESTS), attempts)
        events.clear()
        attempts.clear()

    for event, rows in _rows(rng, run.id, count, started, first=first, only=only):
        counts[event["status"]] += 1
        if event["status"] == "failed" and event["message_id"]:
            failed.append(event["message_id"])
        events.append(event)
        attempts.extend(rows)
        requests += len(rows)
        if len(events) >= BATCH:
            flush()
    flush()
    with cache.session() as session:
        stored = session.get(Run, run.id)
        assert stored is not None
        stored.state, stored.finished_at = "finished", started + timedelta(hours=1)
        stored.events, stored.requests = count, requests
        for status, value in counts.items():
            setattr(stored, status, value)
    return run.id, failed


def _pull(path: Path) -> None:
    """The sandbox's schema in the database, as `schema pull` stores it (for `trace`'s re-plan)."""
    from toolkit.client import AttioClient
    from toolkit.pull import pull_schema
    from toolkit.sandbox import SandboxConfig, SandboxTransport, create_app

    async def go() -> None:
        app = create_app(SandboxConfig.unlimited(activate=frozenset({"users", "workspaces"})))
        cache = open_cache(str(path))
        async with AttioClient(app.config.token, base_url="https://api.attio.test", transport=SandboxTransport(app),
                               read_rate=10_000) as client:
            await pull_schema(client, cache)
        cache.close()

    asyncio.run(go())


def build(path: Path, size: int) -> dict[str, Any]:
    """The database of one size (see the module's docstring); what the commands are asked about."""
    rng = random.Random(16)
    _pull(path)
    cache = open_cache(str(path))
    try:
        _write_run(cache, rng, started=NOW - timedelta(days=40), count=max(size // 100, 100), first=10_000_000)
        main_run, failed = _write_run(cache, rng, started=NOW - timedelta(days=2), count=size)
        _write_run(cache, rng, started=NOW - timedelta(days=1), count=len(failed), parent=main_run,
                   first=20_000_000, only="synced")
    finally:
        cache.close()
    return {"run": main_run, "message": failed[len(failed) // 2], "size": size}


def _facts(path: Path) -> dict[str, Any]:
    """What `build` returned, read back from a kept database."""
    with sqlite3.connect(path) as connection:
        (main_run, size), = connection.execute("SELECT id, events FROM run ORDER BY id LIMIT 1 OFFSET 1")
        failed = [row[0] for row in connection.execute(
            "SELECT message_id FROM event WHERE run_id = ? AND status = 'failed' AND message_id IS NOT NULL "
            "ORDER BY line", (main_run,))]
    return {"run": main_run, "message": failed[len(failed) // 2], "size": size}


def _timed(args: list[str], output: Path | None = None) -> float:
    """Seconds the CLI took for `args` (stdout to `output`, or nowhere); it must succeed."""
    started = time.perf_counter()
    with open(output or "/dev/null", "w") as out:
        done = subprocess.run([CLI, *args], stdout=out, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"attio-sync {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def best(args: list[str], times: int = 3) -> float:
    return min(_timed(args) for _ in range(times))


def measure(path: Path, facts: dict[str, Any], folder: Path) -> dict[str, Any]:
    db = ["--db", str(path)]
    run = str(facts["run"])
    report: dict[str, Any] = {}
    # What an export costs with nothing to write (start-up, opening the database): the rate net
    # of it is the one that must not fall as the run grows.
    report["export nothing"] = best(["history", "export", "--run", "999999999", "--format", "jsonl", *db])
    for fmt in ("jsonl", "csv"):
        out = folder / f"export.{fmt}"
        seconds = _timed(["history", "export", "--run", run, "--format", fmt, "--output", str(out), "--force", *db])
        lines = sum(1 for _ in out.open("rb"))
        if fmt == "jsonl" and lines != facts["size"]:
            raise SystemExit(f"the export wrote {lines} lines, not {facts['size']}")
        report[f"export {fmt}"] = (seconds, facts["size"] / seconds)
        out.unlink()
    key = _hashed_key(path, facts["run"])
    commands = {
        "--version": ["--version"],
        "history runs": ["history", "runs", *db],
        "history show RUN": ["history", "show", run, *db],
        "history events --run RUN --status failed": ["history", "events", "--run", run, "--status", "failed", *db],
        "history events --email ...": ["history", "events", "--email", "USER7@example.com", *db],
        "history events --since 36h": ["history", "events", "--since", "36h", *db],
        "history events": ["history", "events", *db],
        "history trace MESSAGE_ID": ["history", "trace", facts["message"], *db],
        "history trace sha256:<16 hex>": ["history", "trace", key[:len("sha256:") + 16], *db],
        "history prune --older-than 30d --dry-run": ["history", "prune", "--older-than", "30d", "--dry-run", *db],
    }
    for name, args in commands.items():
        report[name] = best(args)
    return report


def _hashed_key(path: Path, run_id: int) -> str:
    """The key of an event of the run without a messageId (a sha256: key)."""
    with sqlite3.connect(path) as connection:
        (key,) = connection.execute("SELECT message_key FROM event WHERE run_id = ? AND message_key LIKE 'sha256:%' "
                                    "ORDER BY id LIMIT 1", (run_id,)).fetchone()
    return str(key)


def _net(size: int, seconds: float, report: dict[str, Any]) -> float:
    """Rows per second of an export, less what exporting nothing took."""
    return size / max(seconds - float(report["export nothing"]), 1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated events of the big run")
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder (and use them again)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for size in sizes:
            path = folder / f"history-{size}.db"
            started = time.perf_counter()
            if path.exists():
                open_cache(str(path)).close()  # migrated before anything is timed
                opened = time.perf_counter() - started
                if opened > 1:
                    print(f"{size:>9,} events: upgraded to the newest migration in {opened:.1f}s", flush=True)
                facts, built = _facts(path), None
            else:
                facts = build(path, size)
                built = time.perf_counter() - started
            report = measure(path, facts, Path(tmp))
            results.append((size, built, path.stat().st_size, report))
            shown = "kept" if built is None else f"{built:.1f}s ({size / built:,.0f} events/s)"
            print(f"{size:>9,} events: built {shown}, {path.stat().st_size / 1e6:.0f} MB", flush=True)

    print("\nhistory export --run N: wall time of the CLI, and rows/s with start-up included and net of it "
          "(an export of nothing)")
    print(f"{'events':>10}  {'nothing s':>9}  {'jsonl s':>8}  {'rows/s':>8}  {'net':>8}  {'csv s':>8}  {'rows/s':>8}  "
          f"{'net':>8}")
    for size, _, _, report in results:
        cells = [f"{report['export nothing']:9.2f}"]
        for fmt in ("jsonl", "csv"):
            seconds, rate = report[f"export {fmt}"]
            cells.append(f"{seconds:8.2f}  {rate:8,.0f}  {_net(size, seconds, report):8,.0f}")
        print(f"{size:>10,}  " + "  ".join(cells))
    if len(results) > 1:
        small, large = results[0], results[-1]
        for fmt in ("jsonl", "csv"):
            ratio = large[3][f"export {fmt}"][1] / small[3][f"export {fmt}"][1]
            net = (_net(large[0], large[3][f"export {fmt}"][0], large[3])
                   / _net(small[0], small[3][f"export {fmt}"][0], small[3]))
            print(f"linearity {fmt}: rows/s at {large[0]:,} / rows/s at {small[0]:,} = {ratio:.2f}; net of start-up "
                  f"{net:.2f} (1.0 is linear)")
    largest = results[-1]
    if largest[0] >= 1_000_000:
        seconds = largest[3]["export jsonl"][0]
        print(f"aim: 1,000,000 rows in at most 60 s: jsonl {seconds:.1f} s, csv {largest[3]['export csv'][0]:.1f} s")

    names = [name for name in results[0][3] if not name.startswith("export")]
    print("\nother commands: seconds, best of 3 (aim: under 1 s at 1,000,000 events)")
    print(f"{'':<44}" + "".join(f"{size:>11,}" for size, *_ in results))
    for name in names:
        print(f"{name:<44}" + "".join(f"{report[name]:11.3f}" for *_, report in results))


if __name__ == "__main__":
    main()
