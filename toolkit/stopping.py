"""Stopping a run from outside: SIGINT and SIGTERM end it cleanly, a second signal at once.

`stop_on_signals` is entered inside the running event loop. The first SIGINT (Ctrl-C) or
SIGTERM (`kill`, a container stopping, systemd) sets the run's stop event: no new event starts,
those in flight get a few seconds to finish and be recorded, and the run ends `interrupted`. A
second signal cancels the run at once (what was committed stays; the rest is sent again by the
next run). The exit status then follows the shell's convention: 128 + the signal's number.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Stopped", "stop_on_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Stopped:
    """Which signal stopped the run (None while none came)."""

    signal: signal.Signals | None = None

    @property
    def name(self) -> str:
        return self.signal.name if self.signal is not None else ""

    @property
    def exit_status(self) -> int:
        """128 + the signal's number: 130 after SIGINT, 143 after SIGTERM."""
        return 128 + int(self.signal) if self.signal is not None else 0


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[Stopped]:
    """Inside a running loop: the first SIGINT or SIGTERM sets `stop`, the second cancels the
    task that entered this block. The previous handlers come back on leaving it."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stopped = Stopped()

    def on_signal(number: signal.Signals) -> None:
        if stopped.signal is None:
            stopped.signal = number
            stop.set()
        elif task is not None:
            task.cancel()

    for number in _SIGNALS:
        loop.add_signal_handler(number, on_signal, number)
    try:
        yield stopped
    finally:
        for number in _SIGNALS:
            loop.remove_signal_handler(number)
