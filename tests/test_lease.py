"""The send lease: one holder at a time, waiting and refusing, expiry, dead holders, renewal; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from toolkit.cache import Cache, open_cache, utcnow
from toolkit.errors import LeaseHeldError, LeaseLostError
from toolkit.lease import LeaseOwner, SendLease, lease_name
from toolkit.models import Lease

NAME = lease_name("https://api.attio.com/", "ws-1")


def test_one_holder_at_a_time_and_release_frees_it(fresh_cache: Cache) -> None:
    first, second = SendLease(fresh_cache, NAME), SendLease(fresh_cache, NAME)
    asyncio.run(first.acquire(wait=0))
    with pytest.raises(LeaseHeldError, match="another run is sending to this workspace") as held:
        asyncio.run(second.acquire(wait=0.3, poll=0.05))
    assert held.value.owner.pid == os.getpid()
    first.release()
    asyncio.run(second.acquire(wait=0))
    assert second.owner() is not None and second.owner().holder == second.holder  # type: ignore[union-attr]


def test_a_waiting_run_is_told_for_whom_and_gets_the_lease_when_it_is_let_go(fresh_cache: Cache) -> None:
    first, second = SendLease(fresh_cache, NAME), SendLease(fresh_cache, NAME)
    told: list[LeaseOwner] = []

    async def scenario() -> None:
        await first.acquire(wait=0)
        first.renew(run_id=41)
        waiting = asyncio.create_task(second.acquire(wait=10, on_wait=told.append, poll=0.05))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        first.release()
        await asyncio.wait_for(waiting, 5)

    asyncio.run(scenario())
    assert [owner.run_id for owner in told] == [41]
    assert "run 41 (pid" in told[0].describe(utcnow())


def test_a_lease_whose_heartbeat_went_stale_is_taken_over(fresh_cache: Cache) -> None:
    first, second = SendLease(fresh_cache, NAME), SendLease(fresh_cache, NAME)
    asyncio.run(first.acquire(wait=0))
    with fresh_cache.engine.begin() as connection:
        connection.execute(update(Lease).values(heartbeat_at=utcnow() - timedelta(seconds=31)))
    asyncio.run(second.acquire(wait=0))
    with pytest.raises(LeaseLostError, match="taken over"):
        first.renew()
    second.renew()  # the new holder's heartbeat goes on


def test_a_lease_held_by_a_dead_process_of_this_machine_is_free_at_once(fresh_cache: Cache) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    ghost = SendLease(fresh_cache, NAME)
    ghost.holder = ghost.holder.replace(f":{os.getpid()}:", f":{pid}:")
    asyncio.run(ghost.acquire(wait=0))
    heir = SendLease(fresh_cache, NAME)
    asyncio.run(heir.acquire(wait=0))  # no wait for the expiry (a live holder would raise LeaseHeldError)
    assert heir.owner() is not None and heir.owner().holder == heir.holder  # type: ignore[union-attr]


def test_leases_of_two_workspaces_are_independent(fresh_cache: Cache) -> None:
    one, two = SendLease(fresh_cache, NAME), SendLease(fresh_cache, lease_name("https://api.attio.com", "ws-2"))
    asyncio.run(one.acquire(wait=0))
    asyncio.run(two.acquire(wait=0))  # a shared lease would raise LeaseHeldError here
    assert [lease.owner().holder for lease in (one, two)] == [one.holder, two.holder]  # type: ignore[union-attr]


def test_only_one_of_many_racing_processes_gets_the_lease(database_url: str, tmp_path: Path) -> None:
    db = database_url
    open_cache(db).close()
    go, end = tmp_path / "go", tmp_path / "end"
    # Every process tries at the same moment, however slowly it started (a barrier on files),
    # and the winner holds the lease until every other has tried.
    script = (
        "import asyncio, os, sys, time\n"
        "from toolkit.cache import open_cache\n"
        "from toolkit.lease import SendLease, LeaseHeldError\n"
        f"lease = SendLease(open_cache({db!r}), {NAME!r})\n"
        "print('ready', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        "try:\n"
        "    asyncio.run(lease.acquire(wait=0))\n"
        "    print('won', flush=True)\n"
        f"    while not os.path.exists({str(end)!r}): time.sleep(0.01)\n"
        "except LeaseHeldError:\n"
        "    print('lost', flush=True)\n"
    )
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    assert [run.stdout.readline().strip() for run in runs if run.stdout] == ["ready"] * 6
    go.touch()
    said = [run.stdout.readline().strip() for run in runs if run.stdout]
    end.touch()
    for run in runs:
        run.communicate(timeout=60)
    assert sorted(said) == ["lost"] * 5 + ["won"]
