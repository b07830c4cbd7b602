"""Kill `attio-sync sync` with SIGKILL at random moments; re-runs must finish the work exactly.

The sandbox serves over real loopback HTTP from this test process, so it outlives the killed
sync processes. After twenty kills and a final run, every event must have exactly one final
outcome in the audit database, and the sandbox must hold exactly one record per person,
user, company and workspace: nothing lost, nothing sent twice that had been confirmed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from toolkit.audit import FINAL_STATUSES
from toolkit.cache import open_cache
from toolkit.models import EventRecord, RequestRecord, Run
from toolkit.sandbox import SandboxConfig, create_app, serve_in_thread

EVENTS = 1000
KILLS = 20


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[object, str]]:
    # company_from_email off: companies are counted below, and only the group events make them.
    app = create_app(SandboxConfig(token="crash-token", activate=frozenset({"users", "workspaces"}),
                                   read_rate=None, write_rate=None, company_from_email=False))
    with serve_in_thread(app) as url:
        yield app, url


def events() -> list[dict[str, object]]:
    rng = random.Random(2026)
    out: list[dict[str, object]] = []
    for n in range(EVENTS):
        if n % 5 == 4:
            user = rng.randrange(0, max(1, len([e for e in out if e["type"] == "identify"])))
            out.append({"type": "group", "messageId": f"g{n}", "userId": f"u{user}", "groupId": f"w{(n // 5) % 40}",
                        "traits": {"website": f"company{(n // 5) % 40}.example.com"}})
        else:
            count = len([e for e in out if e["type"] == "identify"])
            out.append({"type": "identify", "messageId": f"i{n}", "userId": f"u{count}",
                        "traits": {"email": f"user{count}@example.com"}})
    return out


@pytest.mark.slow(seconds=32)
def test_killed_runs_lose_nothing_and_send_nothing_twice(served: tuple[object, str], tmp_path: Path) -> None:
    app, url = served
    data = events()
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps(e) for e in data) + "\n")
    db = tmp_path / "crash.db"
    env = {**os.environ, "ATTIO_API_KEY": "crash-token", "ATTIO_BASE_URL": url, "ATTIO_SYNC_DB": str(db)}
    command = [sys.executable, "-m", "toolkit"]
    subprocess.run([*command, "schema", "pull"], env=env, check=True, capture_output=True, timeout=60)
    sync = [*command, "sync", str(source), "--write-rate", "2000", "--read-rate", "2000", "--json"]

    rng = random.Random(7)
    for _ in range(KILLS):
        process = subprocess.Popen(sync, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill only once this process is sending (start-up time varies with the machine's load),
        # after a random number of its requests and a random extra moment.
        before, wanted = len(app.log), rng.randint(1, 40)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while len(app.log) < before + wanted and process.poll() is None and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    final = subprocess.run(sync, env=env, capture_output=True, timeout=300)
    summary = json.loads(final.stdout)
    assert final.returncode == 0, final.stderr.decode()[-2000:]

    cache = open_cache(str(db))
    with cache.session() as session:
        runs = session.exec(select(Run)).all()
        finals = Counter(session.exec(select(EventRecord.message_key)
                                      .where(col(EventRecord.status).in_(FINAL_STATUSES))).all())
        statuses = Counter(session.exec(select(EventRecord.status)).all())
    # Every kill landed while its run was sending, so each left a run that never finished
    # (but for runs that had already finished everything by the time they were killed).
    killed = [r for r in runs if r.state == "running"]
    assert len(runs) == KILLS + 1 and len(killed) >= KILLS // 2
    with cache.session() as session:
        mid_run = {r for r in session.exec(select(EventRecord.run_id).where(
            col(EventRecord.run_id).in_([r.id for r in killed]), col(EventRecord.status) == "synced")).all()}
    assert mid_run, "no kill landed after a run had recorded events"
    assert set(finals) == {e["messageId"] for e in data}, "an event has no final outcome"
    assert max(finals.values()) == 1, "an event was given a final outcome twice"
    assert statuses["synced"] + statuses["unchanged"] == EVENTS and statuses["invalid"] == 0
    assert summary["events"] == EVENTS

    dump = app.dump()  # type: ignore[attr-defined]
    identifies = sum(1 for e in data if e["type"] == "identify")
    assert len(dump["people"]) == identifies and len(dump["users"]) == identifies
    assert len(dump["workspaces"]) == 40 and len(dump["companies"]) == 40
    emails = Counter(v["email_address"] for r in dump["people"] for v in r["values"]["email_addresses"])
    assert max(emails.values()) == 1


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_cleanly_says_how_to_resume_and_loses_nothing(served: tuple[object, str], tmp_path: Path,
                                                                   sent: signal.Signals, status: int) -> None:
    app, url = served
    prefix = f"{sent.name.lower()}-"
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(json.dumps({"type": "identify", "messageId": f"{prefix}{n}", "userId": f"{prefix}{n}",
                                            "traits": {"email": f"{prefix}{n}@example.com"}}) for n in range(400)))
    db = tmp_path / "signal.db"
    env = {**os.environ, "ATTIO_API_KEY": "crash-token", "ATTIO_BASE_URL": url, "ATTIO_SYNC_DB": str(db)}
    subprocess.run([sys.executable, "-m", "toolkit", "schema", "pull"], env=env, check=True, capture_output=True)
    sync = [sys.executable, "-m", "toolkit", "sync", str(source), "--write-rate", "40"]
    process = subprocess.Popen(sync, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while sum(1 for e in app.log if prefix in json.dumps(e.body)) < 40 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    process.send_signal(sent)
    output, _ = process.communicate(timeout=60)
    text = " ".join(output.decode().split())
    assert process.returncode == status, text[-2000:]
    assert f"interrupted by {sent.name}: run 1 stopped" in text and "Run the same command again to finish" in text
    assert "Traceback" not in text
    cache = open_cache(str(db))
    with cache.session() as session:
        run = session.exec(select(Run)).one()
        requests = session.exec(select(RequestRecord)).all()
    assert run.state == "interrupted" and 0 < run.synced < 400
    assert requests and all(r.status == 200 for r in requests)  # the requests in flight finished and are recorded
    finished = subprocess.run([*sync[:-2], "--write-rate", "2000", "--json"], env=env, capture_output=True, timeout=120)
    summary = json.loads(finished.stdout)
    assert summary["duplicate"] == run.synced and summary["synced"] == 400 - run.synced
    people = [r for r in app.dump()["people"]  # type: ignore[attr-defined]
              if any(v["email_address"].startswith(prefix) for v in r["values"]["email_addresses"])]
    assert len(people) == 400  # each person once: nothing sent twice into a second record
