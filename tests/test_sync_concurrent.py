"""Two `attio-sync sync` processes on one database at once: one sends, the other waits its turn.

Before the send lease, two runs of the same input re-sent almost every event, and with two
inputs touching one record the newest value could lose. Real processes, a real loopback
sandbox, one database (a SQLite file, or a PostgreSQL database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databases import sqlite_only
from sqlmodel import col, select

from toolkit.cache import open_cache
from toolkit.models import EventRecord, RequestRecord
from toolkit.sandbox import SandboxApp, SandboxConfig, create_app, serve_in_thread

TOKEN = "concurrent-token"
MAPPING = '[[action]]\nkind = "identify-user"\n[action.person_attributes]\njob_title = "$.traits.plan"\n'


@pytest.fixture
def served() -> Iterator[tuple[SandboxApp, str]]:
    app = create_app(SandboxConfig(token=TOKEN, activate=frozenset({"users"}), read_rate=None, write_rate=None))
    with serve_in_thread(app) as url:
        yield app, url


def setup(tmp_path: Path, url: str, database: str) -> tuple[dict[str, str], list[str]]:
    env = {**os.environ, "ATTIO_API_KEY": TOKEN, "ATTIO_BASE_URL": url, "ATTIO_SYNC_DB": database}
    subprocess.run([sys.executable, "-m", "toolkit", "schema", "pull"], env=env, check=True, capture_output=True,
                   timeout=60)
    (tmp_path / "mapping.toml").write_text(MAPPING)
    command = [sys.executable, "-m", "toolkit", "sync", "--mapping", str(tmp_path / "mapping.toml"),
               "--write-rate", "200", "--json"]
    return env, command


def write(path: Path, events: list[dict[str, Any]]) -> str:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return str(path)


def identify(key: str, person: int, plan: str, at: str) -> dict[str, Any]:
    return {"type": "identify", "messageId": key, "userId": f"u{person}", "timestamp": at,
            "traits": {"email": f"p{person}@example.com", "plan": plan}}


def start_both(command: list[str], env: dict[str, str], *inputs: str, wait: str = "120") -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([*command, source, "--wait", wait], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for source in inputs]


def test_two_runs_of_one_input_send_each_event_once(served: tuple[SandboxApp, str], tmp_path: Path,
                                                    database_url: str) -> None:
    app, url = served
    env, command = setup(tmp_path, url, database_url)
    source = write(tmp_path / "events.jsonl",
                   [identify(f"m{n}", n, "Pro", "2026-01-01T00:00:00Z") for n in range(300)])
    app.clear_log()
    runs = start_both(command, env, source, source)
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    summaries = sorted((json.loads(out) for out, _ in outputs), key=lambda s: s["duplicate"])
    assert (summaries[0]["synced"], summaries[1]["duplicate"], summaries[1]["requests"]) == (300, 300, 0)
    # It says for whom it waits ("run 1 (pid ...", or "a run starting (pid ..." before its row is written).
    assert any("waiting up to 120s (--wait) for " in err and " (pid " in err for _, err in outputs)
    writes = Counter(json.dumps(e.body, sort_keys=True) for e in app.log if e.method == "PUT")
    assert len(writes) == 600 and max(writes.values()) == 1  # a person and a user per event, each once
    cache = open_cache(env["ATTIO_SYNC_DB"])
    with cache.session() as session:
        sent = Counter(session.exec(select(RequestRecord.message_key)).all())
        finals = Counter(session.exec(select(EventRecord.message_key)
                                      .where(col(EventRecord.status) != "duplicate")).all())
    cache.close()
    assert set(sent.values()) == {2} and max(finals.values()) == 1


@sqlite_only  # as the next: on PostgreSQL, the lease between processes is the test above's
def test_two_inputs_touching_one_record_keep_the_newest_value(served: tuple[SandboxApp, str],
                                                              tmp_path: Path, database_url: str) -> None:
    app, url = served
    env, command = setup(tmp_path, url, database_url)
    # Both inputs write the same 100 people; the newer value of each is in the first input for
    # even people and in the second for odd ones, so whichever run goes first, half must be kept.
    first = [identify(f"a{n}", n, "new" if n % 2 == 0 else "old",
                      "2026-01-02T00:00:00Z" if n % 2 == 0 else "2026-01-01T00:00:00Z") for n in range(100)]
    second = [identify(f"b{n}", n, "new" if n % 2 else "old",
                       "2026-01-02T00:00:00Z" if n % 2 else "2026-01-01T00:00:00Z") for n in range(100)]
    runs = start_both(command, env, write(tmp_path / "a.jsonl", first), write(tmp_path / "b.jsonl", second))
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    titles = Counter(str(r["values"]["job_title"][0]["value"]) for r in app.dump()["people"])
    assert titles == {"new": 100}


@sqlite_only
def test_a_run_that_will_not_wait_is_refused_with_who_holds_the_lease(served: tuple[SandboxApp, str],
                                                                      tmp_path: Path, database_url: str) -> None:
    app, url = served
    env, command = setup(tmp_path, url, database_url)
    source = write(tmp_path / "events.jsonl",
                   [identify(f"m{n}", n, "Pro", "2026-01-01T00:00:00Z") for n in range(400)])
    slow = subprocess.Popen([*command[:-3], "--write-rate", "40", source], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(e.method == "PUT" for e in app.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = subprocess.run([*command, source, "--wait", "0"], env=env, capture_output=True, text=True,
                                 timeout=60)
    finally:
        slow.kill()
        slow.wait(30)
    message = " ".join(refused.stderr.split())
    assert refused.returncode == 1
    assert "another run is sending to this workspace from this database: run 1 (pid" in message
    assert "pass --wait SECONDS to wait longer" in message and "Traceback" not in message
