"""One sender at a time: a lease in the database on sending to one Attio workspace.

Two runs sending to the same workspace from one database would send the same events twice
and race on the record state (the older value could win). A run that sends therefore takes
the workspace's lease first and renews it with a heartbeat while it runs; another run waits
for it (saying for whom) or is refused. A killed run stops renewing, so its lease expires after
`STALE_AFTER_SECONDS`; a lease whose holder is a process of this machine that no longer exists
is free at once.

Every step is one conditional statement (an UPDATE with the holder or an expired heartbeat in
its WHERE, or an INSERT that the primary key lets only one process win), so the lease works on
any SQL database that several processes share, SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select

from .cache import Cache, as_utc, utcnow
from .errors import CacheError, LeaseHeldError, LeaseLostError
from .heartbeat import HEARTBEAT_SECONDS, STALE_AFTER_SECONDS
from .models import Lease

__all__ = ["LeaseOwner", "SendLease", "lease_name"]


def lease_name(base_url: str, workspace_id: str) -> str:
    """The lease's name: one per Attio origin and workspace."""
    return f"send {base_url.rstrip('/')} {workspace_id}"


@dataclass(frozen=True)
class LeaseOwner:
    """Who holds a lease, as another run sees it."""

    holder: str
    run_id: int | None
    acquired_at: datetime
    heartbeat_at: datetime

    @property
    def host(self) -> str:
        return self.holder.rsplit(":", 2)[0]

    @property
    def pid(self) -> int | None:
        parts = self.holder.rsplit(":", 2)
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    def describe(self, now: datetime) -> str:
        run = f"run {self.run_id}" if self.run_id is not None else "a run starting"
        age = (as_utc(now) - as_utc(self.heartbeat_at)).total_seconds()
        return f"{run} (pid {self.pid} on {self.host}, last heartbeat {max(age, 0):.0f}s ago)"

    def is_dead_local_process(self) -> bool:
        """Whether the holder was a process of this machine that no longer exists."""
        if self.host != socket.gethostname() or self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class SendLease:
    """The lease on sending to one workspace from one database, for one run.

    Args:
        cache: the database that holds the lease.
        name: see `lease_name`.
        stale_after: seconds without a heartbeat after which the lease is free.
    """

    def __init__(self, cache: Cache, name: str, *, stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.cache = cache
        self.name = name
        self.stale_after = stale_after
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.held = False

    async def acquire(self, *, wait: float, on_wait: Callable[[LeaseOwner], None] | None = None,
                      poll: float = 0.5) -> None:
        """Take the lease, waiting up to `wait` seconds for its holder to let go.

        Raises:
            LeaseHeldError: another run still holds it after `wait` seconds.
        """
        deadline = time.monotonic() + wait
        told = False
        while True:
            owner = self._try_acquire()
            if owner is None:
                self.held = True
                return
            if time.monotonic() >= deadline:
                raise LeaseHeldError(f"another run is sending to this workspace from this database: "
                                f"{owner.describe(utcnow())}", owner)
            if on_wait is not None and not told:
                on_wait(owner)
                told = True
            await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))

    def _try_acquire(self) -> LeaseOwner | None:
        """One try: None when taken, else who holds it."""
        now = utcnow()
        stale = now - timedelta(seconds=self.stale_after)
        try:
            with self.cache.engine.begin() as connection:
                taken = connection.execute(
                    update(Lease).where(col(Lease.name) == self.name,
                                        (col(Lease.heartbeat_at) < stale) | (col(Lease.holder) == self.holder))
                    .values(holder=self.holder, run_id=None, acquired_at=now, heartbeat_at=now)).rowcount
            if taken:
                return None
            try:
                with self.cache.engine.begin() as connection:
                    connection.execute(insert(Lease).values(name=self.name, holder=self.holder, run_id=None,
                                                            acquired_at=now, heartbeat_at=now))
                return None
            except IntegrityError:
                pass
            owner = self.owner()
            if owner is None:
                return self._try_acquire()  # let go of in between
            if owner.is_dead_local_process():
                with self.cache.engine.begin() as connection:
                    taken = connection.execute(
                        update(Lease).where(col(Lease.name) == self.name, col(Lease.holder) == owner.holder)
                        .values(holder=self.holder, run_id=None, acquired_at=now, heartbeat_at=now)).rowcount
                if taken:
                    return None
            return owner
        except SQLAlchemyError as exc:
            raise CacheError(f"database {self.cache.url}: could not take the send lease: {exc}") from exc

    def owner(self) -> LeaseOwner | None:
        """Who holds the lease now (None: nobody)."""
        row = self.cache.first(select(Lease.holder, Lease.run_id, Lease.acquired_at, Lease.heartbeat_at)
                               .where(col(Lease.name) == self.name), {})
        return LeaseOwner(row.holder, row.run_id, row.acquired_at, row.heartbeat_at) if row is not None else None

    def renew(self, run_id: int | None = None) -> None:
        """The heartbeat: note that the holder is alive (and which run it serves).

        Raises:
            LeaseLostError: another run took the lease over.
            CacheError: the database could not be written (try again at the next beat).
        """
        values: dict[str, object] = {"heartbeat_at": utcnow()}
        if run_id is not None:
            values["run_id"] = run_id
        try:
            with self.cache.engine.begin() as connection:
                renewed = connection.execute(update(Lease).where(col(Lease.name) == self.name,
                                                                 col(Lease.holder) == self.holder)
                                             .values(**values)).rowcount
        except SQLAlchemyError as exc:
            raise CacheError(f"database {self.cache.url}: could not renew the send lease: {exc}") from exc
        if not renewed:
            self.held = False
            raise LeaseLostError("this run's send lease was taken over by another run (its heartbeat had gone "
                            f"stale for over {self.stale_after:.0f}s); it stopped sending")

    def release(self) -> None:
        """Let go (only of our own lease); a failure here only delays the next run by the expiry."""
        if not self.held:
            return
        self.held = False
        try:
            with self.cache.engine.begin() as connection:
                connection.execute(delete(Lease).where(col(Lease.name) == self.name,
                                                       col(Lease.holder) == self.holder))
        except SQLAlchemyError:
            pass


assert HEARTBEAT_SECONDS < STALE_AFTER_SECONDS
